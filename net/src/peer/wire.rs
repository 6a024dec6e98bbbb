//! Bytes on a peer link: the handshake and length-prefixed frames.
//!
//! Frame: a `u32` big-endian payload length, then the payload (a postcard-encoded
//! [`PeerMessage`] envelope from `arbor_core::zab::message`). A frame of length 0 is a
//! keepalive (link version 2): it carries nothing and is not passed on; an idle writer sends
//! one so that the other end's idle timeout only fires on a dead link. A length above the link's
//! maximum is refused before anything is allocated for it; a payload is read in chunks, so a
//! peer that announces a large frame and stalls costs at most what it actually sent.
//!
//! Handshake: both ends send one [`Hello`] frame right after the TCP connect, the dialer
//! first. Its payload is fixed: magic `ARBP`, protocol version (`u16`), cluster id, sender
//! id, receiver id (`u64`s), all big-endian. A hello with a wrong magic, version, cluster id
//! or ids is a [`PeerLinkError`] and the connection is closed.

use arbor_core::types::ServerId;
#[cfg(test)]
use arbor_core::zab::message::encode_peer;
use arbor_core::zab::message::{decode_peer, PeerMessage, PeerProtocolError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// First bytes of every hello.
pub(crate) const MAGIC: [u8; 4] = *b"ARBP";
/// Version of the link protocol (handshake + framing; the message envelope has its own).
/// Version 2 added the empty keepalive frame.
pub const LINK_VERSION: u16 = 2;
/// Length of a hello payload.
pub(crate) const HELLO_LEN: usize = 4 + 2 + 8 + 8 + 8;
/// Bytes read per step of a large frame.
const READ_CHUNK: usize = 64 * 1024;

/// The handshake record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hello {
    pub version: u16,
    pub cluster_id: u64,
    pub from: ServerId,
    pub to: ServerId,
}

/// Why a peer link was refused or closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerLinkError {
    /// The socket failed or the peer closed it.
    #[error("peer link i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A frame longer than this link accepts.
    #[error("frame length {len} exceeds limit {max}")]
    TooLong {
        /// Announced length.
        len: u32,
        /// Limit.
        max: u32,
    },
    /// The hello does not start with the magic.
    #[error("bad handshake magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// The hello has the wrong length.
    #[error("handshake of {0} bytes, expected {HELLO_LEN}")]
    BadHelloLen(usize),
    /// Another link protocol version.
    #[error("link protocol version {got}, expected {expected}")]
    Version {
        /// Received.
        got: u16,
        /// Ours.
        expected: u16,
    },
    /// The peer belongs to another ensemble.
    #[error("cluster id {got:#x}, expected {expected:#x}")]
    ClusterId {
        /// Received.
        got: u64,
        /// Ours.
        expected: u64,
    },
    /// The peer's ids do not fit this link (unknown sender, wrong receiver, wrong dialer).
    #[error("handshake from server {from} to server {to} refused: {reason}")]
    Ids {
        /// Claimed sender.
        from: ServerId,
        /// Claimed receiver.
        to: ServerId,
        /// What is wrong.
        reason: &'static str,
    },
    /// A message that does not decode.
    #[error(transparent)]
    Decode(#[from] PeerProtocolError),
    /// The handshake did not complete in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// Nothing (not even a keepalive) arrived for this long: the peer or the path is dead.
    #[error("peer silent for {0:?}")]
    Silent(std::time::Duration),
}

impl Hello {
    pub(crate) fn encode(&self) -> [u8; HELLO_LEN] {
        let mut b = [0u8; HELLO_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&self.version.to_be_bytes());
        b[6..14].copy_from_slice(&self.cluster_id.to_be_bytes());
        b[14..22].copy_from_slice(&self.from.0.to_be_bytes());
        b[22..30].copy_from_slice(&self.to.0.to_be_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Result<Hello, PeerLinkError> {
        if b.len() != HELLO_LEN {
            return Err(PeerLinkError::BadHelloLen(b.len()));
        }
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&b[0..4]);
        if magic != MAGIC {
            return Err(PeerLinkError::BadMagic(magic));
        }
        let u64_at = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            u64::from_be_bytes(x)
        };
        Ok(Hello {
            version: u16::from_be_bytes([b[4], b[5]]),
            cluster_id: u64_at(6),
            from: ServerId(u64_at(14)),
            to: ServerId(u64_at(22)),
        })
    }

    /// Checks a received hello against what this end expects: our version and cluster,
    /// addressed to us, from `expected_from` when we dialed (or any id `accept` allows).
    pub(crate) fn check(
        &self,
        cluster_id: u64,
        me: ServerId,
        accept: impl Fn(ServerId) -> Result<(), &'static str>,
    ) -> Result<(), PeerLinkError> {
        if self.version != LINK_VERSION {
            return Err(PeerLinkError::Version {
                got: self.version,
                expected: LINK_VERSION,
            });
        }
        if self.cluster_id != cluster_id {
            return Err(PeerLinkError::ClusterId {
                got: self.cluster_id,
                expected: cluster_id,
            });
        }
        let ids = |reason| PeerLinkError::Ids {
            from: self.from,
            to: self.to,
            reason,
        };
        if self.to != me {
            return Err(ids("addressed to another server"));
        }
        accept(self.from).map_err(ids)
    }
}

/// Writes one frame (length + payload); the caller flushes.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    payload: &[u8],
    max: u32,
) -> Result<(), PeerLinkError> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    if len > max {
        return Err(PeerLinkError::TooLong { len, max });
    }
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(payload).await?;
    Ok(())
}

/// Reads one frame's payload. The allocation grows with the bytes that arrived, never with
/// the announced length alone.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: u32,
) -> Result<Vec<u8>, PeerLinkError> {
    let len = r.read_u32().await?;
    if len > max {
        return Err(PeerLinkError::TooLong { len, max });
    }
    let len = len as usize;
    let mut buf = Vec::with_capacity(len.min(READ_CHUNK));
    while buf.len() < len {
        let step = (len - buf.len()).min(READ_CHUNK);
        let start = buf.len();
        buf.resize(start + step, 0);
        r.read_exact(&mut buf[start..]).await?;
    }
    Ok(buf)
}

/// Writes one peer message as a frame.
#[cfg(test)]
pub(crate) async fn write_message<W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &PeerMessage,
    max: u32,
) -> Result<(), PeerLinkError> {
    write_frame(w, &encode_peer(msg), max).await
}

/// Writes one keepalive (an empty frame); the caller flushes.
pub(crate) async fn write_keepalive<W: AsyncWrite + Unpin>(w: &mut W) -> Result<(), PeerLinkError> {
    w.write_all(&0u32.to_be_bytes()).await?;
    Ok(())
}

/// Reads and decodes one peer message, skipping keepalives.
pub(crate) async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    max: u32,
) -> Result<PeerMessage, PeerLinkError> {
    loop {
        let bytes = read_frame(r, max).await?;
        if !bytes.is_empty() {
            return Ok(decode_peer(&bytes)?);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_core::types::Zxid;

    fn hello() -> Hello {
        Hello {
            version: LINK_VERSION,
            cluster_id: 0xC0FFEE,
            from: ServerId(3),
            to: ServerId(1),
        }
    }

    #[test]
    fn hello_round_trip_and_checks() {
        let h = hello();
        let d = Hello::decode(&h.encode()).unwrap();
        assert_eq!(d, h);
        d.check(0xC0FFEE, ServerId(1), |_| Ok(())).unwrap();
        assert!(matches!(
            d.check(0xBEEF, ServerId(1), |_| Ok(())),
            Err(PeerLinkError::ClusterId { got: 0xC0FFEE, .. })
        ));
        assert!(matches!(
            d.check(0xC0FFEE, ServerId(2), |_| Ok(())),
            Err(PeerLinkError::Ids { .. })
        ));
        assert!(matches!(
            d.check(0xC0FFEE, ServerId(1), |_| Err("unknown server")),
            Err(PeerLinkError::Ids {
                reason: "unknown server",
                ..
            })
        ));
        let mut v = h;
        v.version = 9;
        assert!(matches!(
            Hello::decode(&v.encode())
                .unwrap()
                .check(0xC0FFEE, ServerId(1), |_| Ok(())),
            Err(PeerLinkError::Version { got: 9, .. })
        ));
    }

    #[test]
    fn hello_rejects_garbage() {
        assert!(matches!(
            Hello::decode(b"GET / HTTP/1.1\r\n\r\n"),
            Err(PeerLinkError::BadHelloLen(18))
        ));
        let mut b = hello().encode();
        b[0] = b'X';
        assert!(matches!(Hello::decode(&b), Err(PeerLinkError::BadMagic(_))));
    }

    #[tokio::test]
    async fn frames_round_trip_and_refuse_long_or_garbage() {
        let msg = PeerMessage::Ack { zxid: Zxid(7) };
        let mut buf = Vec::new();
        write_message(&mut buf, &msg, 1024).await.unwrap();
        let mut rd = &buf[..];
        assert_eq!(read_message(&mut rd, 1024).await.unwrap(), msg);

        // A length above the limit is refused before reading the payload.
        let mut rd: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3];
        assert!(matches!(
            read_frame(&mut rd, 1024).await,
            Err(PeerLinkError::TooLong { max: 1024, .. })
        ));
        // A truncated frame is an i/o error (EOF), not a panic.
        let mut rd: &[u8] = &[0, 0, 0, 10, 1, 2];
        assert!(matches!(
            read_frame(&mut rd, 1024).await,
            Err(PeerLinkError::Io(_))
        ));
        // Garbage payload is a decode error.
        let mut rd: &[u8] = &[0, 0, 0, 3, 0xFF, 0xFF, 0xFF];
        assert!(matches!(
            read_message(&mut rd, 1024).await,
            Err(PeerLinkError::Decode(_))
        ));
        // Writing above the limit is refused too.
        let mut out = Vec::new();
        assert!(matches!(
            write_frame(&mut out, &[0u8; 16], 8).await,
            Err(PeerLinkError::TooLong { len: 16, max: 8 })
        ));
    }
}
