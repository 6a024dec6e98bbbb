//! The session handshake: `ConnectRequest` (first client frame) and `ConnectResponse`
//! (first server frame), reference §3. Neither has a request/reply header.
//!
//! Invariants and decisions:
//! - The trailing `readOnly` byte is optional in both directions. Clients older than 3.4
//!   omit it; ZooKeeper (`ZooKeeperServer.processConnectRequest`) then treats the client
//!   as "old" and omits the byte in its answer. `read_only: None` records "absent".
//! - Bytes after the readOnly byte are ignored (ZooKeeper reads the fields it knows and
//!   drops the rest of the frame), so a 46-byte ConnectRequest is accepted.
//! - The password is a `buffer` where null and empty mean the same (no session password).

use crate::proto::jute::error::DecodeError;
use crate::proto::jute::frame::write_frame;
use crate::proto::jute::records::Record;
use crate::proto::jute::wire::{Reader, Writer};
use crate::types::{SessionId, Zxid};

/// The client's first frame (`ConnectRequest`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Always 0 from Apache clients.
    pub protocol_version: i32,
    /// Highest zxid the client has seen (0 for a fresh client).
    pub last_zxid_seen: Zxid,
    /// Requested session timeout, ms.
    pub timeout_ms: i32,
    /// 0 to create a session, else the session to resume.
    pub session_id: SessionId,
    /// Session password (16 bytes when resuming).
    pub passwd: Vec<u8>,
    /// The readOnly flag, or `None` when the client did not send the byte (pre-3.4).
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    const MIN_LEN: usize = 4 + 8 + 4 + 8 + 4;

    fn encode(&self, w: &mut Writer<'_>) {
        w.int(self.protocol_version);
        w.long(self.last_zxid_seen.0);
        w.int(self.timeout_ms);
        w.long(self.session_id.0);
        w.buffer(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            w.boolean(ro);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.int()?,
            last_zxid_seen: Zxid(r.long()?),
            timeout_ms: r.int()?,
            session_id: SessionId(r.long()?),
            passwd: r.buffer_or_empty()?,
            read_only: optional_bool(r)?,
        })
    }
}

/// The server's first frame (`ConnectResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectResponse {
    /// 0.
    pub protocol_version: i32,
    /// Negotiated timeout, ms; 0 tells the client its session is invalid or expired.
    pub timeout_ms: i32,
    /// The session id (0 when invalid).
    pub session_id: SessionId,
    /// The session password (16 zero bytes when invalid).
    pub passwd: Vec<u8>,
    /// Whether this server is read-only; `None` for clients that did not send the byte.
    pub read_only: Option<bool>,
}

impl Record for ConnectResponse {
    const MIN_LEN: usize = 4 + 4 + 8 + 4;

    fn encode(&self, w: &mut Writer<'_>) {
        w.int(self.protocol_version);
        w.int(self.timeout_ms);
        w.long(self.session_id.0);
        w.buffer(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            w.boolean(ro);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.int()?,
            timeout_ms: r.int()?,
            session_id: SessionId(r.long()?),
            passwd: r.buffer_or_empty()?,
            read_only: optional_bool(r)?,
        })
    }
}

/// Server side: decodes the first client frame's payload (without the length prefix).
pub fn decode_connect_request(payload: &[u8]) -> Result<ConnectRequest, DecodeError> {
    ConnectRequest::from_bytes(payload)
}

/// Server side: appends a complete ConnectResponse frame (length prefix included).
pub fn encode_connect_response(resp: &ConnectResponse, out: &mut Vec<u8>) {
    write_frame(out, |w| resp.encode(w));
}

/// Client side: appends a complete ConnectRequest frame (length prefix included).
pub fn encode_connect_request(req: &ConnectRequest, out: &mut Vec<u8>) {
    write_frame(out, |w| req.encode(w));
}

/// Client side: decodes the first server frame's payload (without the length prefix).
pub fn decode_connect_response(payload: &[u8]) -> Result<ConnectResponse, DecodeError> {
    ConnectResponse::from_bytes(payload)
}

fn optional_bool(r: &mut Reader<'_>) -> Result<Option<bool>, DecodeError> {
    if r.is_empty() {
        Ok(None)
    } else {
        r.boolean().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&0x95i64.to_be_bytes());
        b.extend_from_slice(&30_000i32.to_be_bytes());
        b.extend_from_slice(&0x0100_0036_c249_000ci64.to_be_bytes());
        b.extend_from_slice(&16i32.to_be_bytes());
        b.extend_from_slice(&[7; 16]);
        b
    }

    #[test]
    fn readonly_byte_is_optional_and_remembered() {
        let old = request_bytes();
        assert_eq!(old.len(), 44);
        let req = decode_connect_request(&old).unwrap();
        assert_eq!(req.read_only, None);
        assert_eq!(req.last_zxid_seen, Zxid(0x95));
        assert_eq!(req.session_id, SessionId(0x0100_0036_c249_000c));
        assert_eq!(req.passwd, vec![7; 16]);
        assert_eq!(req.to_bytes(), old);

        let mut new = old.clone();
        new.push(1);
        let req = decode_connect_request(&new).unwrap();
        assert_eq!(req.read_only, Some(true));
        assert_eq!(req.to_bytes(), new);
    }

    #[test]
    fn trailing_bytes_after_readonly_are_ignored() {
        let mut b = request_bytes();
        b.extend_from_slice(&[0, 0xaa, 0xbb]);
        assert_eq!(decode_connect_request(&b).unwrap().read_only, Some(false));
    }

    #[test]
    fn truncated_password_is_an_error() {
        let b = request_bytes();
        assert_eq!(
            decode_connect_request(&b[..40]),
            Err(DecodeError::LengthExceedsInput {
                at: 24,
                len: 16,
                remaining: 12
            })
        );
        assert!(decode_connect_request(&b[..10]).is_err());
    }

    #[test]
    fn response_frame_mirrors_readonly_presence() {
        let mut resp = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 1000,
            session_id: SessionId(5),
            passwd: vec![0; 16],
            read_only: None,
        };
        let mut out = Vec::new();
        encode_connect_response(&resp, &mut out);
        assert_eq!(&out[..4], &36i32.to_be_bytes());
        assert_eq!(out.len(), 40);
        resp.read_only = Some(false);
        out.clear();
        encode_connect_response(&resp, &mut out);
        assert_eq!(&out[..4], &37i32.to_be_bytes());
        assert_eq!(decode_connect_response(&out[4..]), Ok(resp));
    }
}
