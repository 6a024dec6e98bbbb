//! Length-prefix framing and four-letter-word detection (reference §1 and §15).
//!
//! Inputs: the bytes a runtime has buffered from a socket. Outputs: where the next complete
//! frame's payload lies ([`next_frame`]), or which four-letter word a fresh connection
//! opened with ([`detect_four_letter_word`]). Encoders use [`write_frame`] to produce
//! complete frames.
//!
//! Invariants and decisions:
//! - A frame is a 4-byte big-endian signed length N, then N payload bytes.
//! - N < 0 or N > the limit is rejected as soon as the 4 prefix bytes are there, before
//!   the payload arrives; the connection must be closed (ZooKeeper closes without reply).
//! - `next_frame` allocates nothing and never copies; it returns ranges into `buf`.
//! - Four-letter words must be checked *before* framing on a connection that has not
//!   completed the handshake: their bytes read as an over-limit length (e.g. `ruok` =
//!   1,920,298,859).
//! - The encoders do not enforce the limit on outgoing frames; a caller that must not send
//!   frames above the client's `jute.maxbuffer` checks [`check_frame_len`] itself.

use std::ops::Range;

use crate::proto::jute::error::FrameError;
use crate::proto::jute::wire::Writer;

/// ZooKeeper's default `jute.maxbuffer`: the largest accepted frame payload, 0xfffff.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 0xf_ffff;

/// Bytes of the length prefix.
pub const FRAME_PREFIX_LEN: usize = 4;

/// A complete frame found at the start of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Where the payload (without the prefix) lies in the buffer.
    pub payload: Range<usize>,
    /// Bytes to drop from the front of the buffer to move past this frame.
    pub consumed: usize,
}

/// Finds the first frame in `buf`. `Ok(None)` means more bytes are needed. `max_len` is the
/// largest acceptable payload ([`DEFAULT_MAX_FRAME_LEN`] by default).
pub fn next_frame(buf: &[u8], max_len: u32) -> Result<Option<Frame>, FrameError> {
    let Some(prefix) = buf.first_chunk::<FRAME_PREFIX_LEN>() else {
        return Ok(None);
    };
    let len = i32::from_be_bytes(*prefix);
    let n = check_frame_len(len, max_len)?;
    let end = FRAME_PREFIX_LEN + n;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(Frame {
        payload: FRAME_PREFIX_LEN..end,
        consumed: end,
    }))
}

/// Checks a declared frame length against the limit and returns it as a `usize`.
pub fn check_frame_len(len: i32, max_len: u32) -> Result<usize, FrameError> {
    let n = u32::try_from(len).map_err(|_| FrameError::NegativeLength { len })?;
    if n > max_len {
        return Err(FrameError::TooLong {
            len: n,
            max: max_len,
        });
    }
    // u32 always fits in usize on the 32/64-bit targets we build for.
    usize::try_from(n).map_err(|_| FrameError::TooLong {
        len: n,
        max: max_len,
    })
}

/// Appends a complete frame to `out`: a length prefix, then whatever `body` writes.
pub fn write_frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer<'_>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_PREFIX_LEN]);
    body(&mut Writer::new(out));
    let len = out.len() - start - FRAME_PREFIX_LEN;
    // Our own output: a payload of 2 GiB or more is a caller bug, not hostile input.
    let len = i32::try_from(len).expect("frame payload below 2 GiB");
    out[start..start + FRAME_PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
}

/// The four-letter words ZooKeeper recognises on the client port (`FourLetterCommands`).
/// Listed alphabetically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // each variant is the command of the same name (reference §15)
pub enum FourLetterWord {
    Conf,
    Cons,
    Crst,
    Dirs,
    Dump,
    Envi,
    Gtmk,
    Hash,
    Isro,
    Mntr,
    Ruok,
    Srst,
    Srvr,
    Stat,
    Stmk,
    /// Not a word: the telnet "interrupt process" sequence `ff f4 ff fd`, which ZooKeeper
    /// also treats as a command (it closes the connection).
    TelnetClose,
    Wchc,
    Wchp,
    Wchs,
}

impl FourLetterWord {
    /// Every command, for tests and whitelists.
    pub const ALL: [FourLetterWord; 19] = [
        FourLetterWord::Conf,
        FourLetterWord::Cons,
        FourLetterWord::Crst,
        FourLetterWord::Dirs,
        FourLetterWord::Dump,
        FourLetterWord::Envi,
        FourLetterWord::Gtmk,
        FourLetterWord::Hash,
        FourLetterWord::Isro,
        FourLetterWord::Mntr,
        FourLetterWord::Ruok,
        FourLetterWord::Srst,
        FourLetterWord::Srvr,
        FourLetterWord::Stat,
        FourLetterWord::Stmk,
        FourLetterWord::TelnetClose,
        FourLetterWord::Wchc,
        FourLetterWord::Wchp,
        FourLetterWord::Wchs,
    ];

    /// The four bytes that announce the command.
    pub const fn bytes(self) -> [u8; 4] {
        *self.bytes_static()
    }

    /// The command's name as ZooKeeper prints it.
    pub fn name(self) -> &'static str {
        match self {
            FourLetterWord::TelnetClose => "telnet close",
            // The other variants' bytes are ASCII letters.
            w => std::str::from_utf8(w.bytes_static()).unwrap_or("?"),
        }
    }

    const fn bytes_static(self) -> &'static [u8; 4] {
        match self {
            FourLetterWord::Conf => b"conf",
            FourLetterWord::Cons => b"cons",
            FourLetterWord::Crst => b"crst",
            FourLetterWord::Dirs => b"dirs",
            FourLetterWord::Dump => b"dump",
            FourLetterWord::Envi => b"envi",
            FourLetterWord::Gtmk => b"gtmk",
            FourLetterWord::Hash => b"hash",
            FourLetterWord::Isro => b"isro",
            FourLetterWord::Mntr => b"mntr",
            FourLetterWord::Ruok => b"ruok",
            FourLetterWord::Srst => b"srst",
            FourLetterWord::Srvr => b"srvr",
            FourLetterWord::Stat => b"stat",
            FourLetterWord::Stmk => b"stmk",
            FourLetterWord::TelnetClose => &[0xff, 0xf4, 0xff, 0xfd],
            FourLetterWord::Wchc => b"wchc",
            FourLetterWord::Wchp => b"wchp",
            FourLetterWord::Wchs => b"wchs",
        }
    }
}

/// On a connection that has not sent its ConnectRequest yet: if the first 4 bytes of
/// `buf` are a known four-letter word, which one. `None` if fewer than 4 bytes are
/// buffered or they are anything else (then treat them as a frame length).
pub fn detect_four_letter_word(buf: &[u8]) -> Option<FourLetterWord> {
    let head = buf.first_chunk::<4>()?;
    FourLetterWord::ALL
        .iter()
        .copied()
        .find(|w| &w.bytes() == head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_frames_need_more_bytes() {
        assert_eq!(next_frame(&[], DEFAULT_MAX_FRAME_LEN), Ok(None));
        assert_eq!(next_frame(&[0, 0, 0], DEFAULT_MAX_FRAME_LEN), Ok(None));
        assert_eq!(
            next_frame(&[0, 0, 0, 3, 1, 2], DEFAULT_MAX_FRAME_LEN),
            Ok(None)
        );
    }

    #[test]
    fn complete_frame_and_pipelined_rest() {
        let buf = [0, 0, 0, 2, 9, 8, 0, 0, 0, 0, 0];
        let f = next_frame(&buf, DEFAULT_MAX_FRAME_LEN).unwrap().unwrap();
        assert_eq!(f.payload, 4..6);
        assert_eq!(f.consumed, 6);
        let g = next_frame(&buf[6..], DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .unwrap();
        assert_eq!((g.payload, g.consumed), (4..4, 4));
    }

    #[test]
    fn limits_are_checked_from_the_prefix_alone() {
        let over = 0x10_0000i32.to_be_bytes();
        assert_eq!(
            next_frame(&over, DEFAULT_MAX_FRAME_LEN),
            Err(FrameError::TooLong {
                len: 0x10_0000,
                max: 0xf_ffff
            })
        );
        assert_eq!(
            next_frame(&[0xff; 4], DEFAULT_MAX_FRAME_LEN),
            Err(FrameError::NegativeLength { len: -1 })
        );
        assert_eq!(
            next_frame(&0xf_ffffi32.to_be_bytes(), DEFAULT_MAX_FRAME_LEN),
            Ok(None)
        );
        assert_eq!(
            next_frame(&[0, 0, 0, 9], 8),
            Err(FrameError::TooLong { len: 9, max: 8 })
        );
    }

    #[test]
    fn write_frame_patches_the_length() {
        let mut out = vec![0xaa];
        write_frame(&mut out, |w| w.int(7));
        assert_eq!(out, vec![0xaa, 0, 0, 0, 4, 0, 0, 0, 7]);
    }

    #[test]
    fn four_letter_words_are_detected() {
        assert_eq!(
            detect_four_letter_word(b"ruok\n"),
            Some(FourLetterWord::Ruok)
        );
        assert_eq!(detect_four_letter_word(b"srvr"), Some(FourLetterWord::Srvr));
        assert_eq!(detect_four_letter_word(b"srv"), None);
        assert_eq!(detect_four_letter_word(b"RUOK"), None);
        assert_eq!(detect_four_letter_word(&[0, 0, 0, 45]), None);
        for w in FourLetterWord::ALL {
            assert_eq!(detect_four_letter_word(&w.bytes()), Some(w));
        }
        assert_eq!(FourLetterWord::Mntr.name(), "mntr");
        // A 4lw read as a frame length is always over the default limit.
        for w in FourLetterWord::ALL {
            assert!(next_frame(&w.bytes(), DEFAULT_MAX_FRAME_LEN).is_err());
        }
    }
}
