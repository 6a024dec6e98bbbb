//! The write-ahead log's byte format: segment headers, record frames, and the scan that
//! recovery runs over one segment.
//!
//! Segment file `log.<first zxid, 16 hex digits>`:
//! ```text
//! header (16 bytes): magic "ARBL" | version u32 LE (1) | first zxid i64 LE
//! frames, back to back:
//!   len u32 LE      bytes after the crc field (= 9 + payload length)
//!   crc u32 LE      CRC32C of the `len` bytes that follow
//!   zxid i64 LE     the txn's zxid (must equal the payload's)
//!   kind u8         0 AcceptedEpoch, 1 CurrentEpoch, 2 Txn (the LogRecord variant)
//!   payload         postcard(LogRecord)
//! ```
//! Inputs: bytes from disk (hostile: never panic, allocate at most what the file holds).
//! Invariants: `FRAME_LEN_MIN <= len <= RECORD_LEN_MAX + 9`; the CRC is checked when a frame
//! is written (the encoder decodes what it produced in debug builds) and when it is read.

use std::path::{Path, PathBuf};

use arbor_core::replica::LogRecord;
use arbor_core::txn::Txn;
use arbor_core::types::Zxid;

use super::StorageError;

/// Bytes before the payload: len, crc, zxid, kind.
pub const FRAME_HEADER_LEN: usize = 4 + 4 + 8 + 1;
/// Largest payload accepted (ZooKeeper's jute.maxbuffer is 1 MiB; a multi may be larger).
pub const RECORD_LEN_MAX: usize = 32 * 1024 * 1024;
/// Segment file magic number.
pub const SEGMENT_MAGIC: [u8; 4] = *b"ARBL";
/// Segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Segment header length.
pub const SEGMENT_HEADER_LEN: usize = 16;

/// Why one frame does not decode.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The checksum does not match.
    #[error("CRC32C mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc {
        /// CRC in the frame.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// The payload is not exactly the postcard encoding of one `LogRecord`.
    #[error("payload is not the encoding of exactly one log record")]
    Decode,
    /// The kind byte does not match the payload's variant.
    #[error("kind byte {kind} does not match the payload")]
    KindMismatch {
        /// Kind byte.
        kind: u8,
    },
    /// The length field is below the smallest frame.
    #[error("frame length {len} is below the minimum {min}")]
    TooShort {
        /// Length field.
        len: u32,
        /// Minimum.
        min: u32,
    },
    /// The length field is above the largest frame.
    #[error("frame length {len} exceeds the limit {max}")]
    TooLong {
        /// Length field.
        len: u32,
        /// Maximum.
        max: u32,
    },
    /// The input ends inside the frame.
    #[error("input ends {have} bytes into a frame that needs {need}")]
    Truncated {
        /// Bytes available.
        have: usize,
        /// Bytes the frame needs.
        need: usize,
    },
    /// The log holds a record kind it never should (epochs live in the epoch files).
    #[error("record kind {kind} is not a txn")]
    UnexpectedKind {
        /// Kind byte.
        kind: u8,
    },
    /// The frame's zxid differs from the txn's.
    #[error("frame zxid {frame} differs from the txn's {txn}")]
    ZxidMismatch {
        /// Zxid field.
        frame: Zxid,
        /// Zxid in the payload.
        txn: Zxid,
    },
}

/// Encodes a txn as one frame, appended to `out`.
pub fn encode_frame(txn: &Txn, out: &mut Vec<u8>) -> Result<(), StorageError> {
    let start = out.len();
    out.extend_from_slice(&[0; 8]); // len and crc, filled in below
    out.extend_from_slice(&txn.header.zxid.0.to_le_bytes());
    out.push(KIND_TXN);
    // postcard(LogRecord::Txn(txn)) without cloning the txn: the variant index as a varint
    // (one byte) and then the txn (checked against postcard itself in the tests).
    out.push(POSTCARD_TXN_VARIANT);
    // Serializing plain owned data into a Vec cannot fail.
    *out = postcard::to_extend(txn, std::mem::take(out)).expect("txn serializes");
    let payload_len = out.len() - start - FRAME_HEADER_LEN;
    if payload_len > RECORD_LEN_MAX {
        out.truncate(start);
        return Err(StorageError::RecordTooLarge {
            len: payload_len,
            max: RECORD_LEN_MAX,
        });
    }
    let len = (8 + 1 + payload_len) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = crc32c::crc32c(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    // Write-time half of the paired check: what we wrote reads back as the same txn.
    debug_assert_eq!(
        decode_frame(&out[start..]).map(|(t, n)| (t.header.zxid, n)),
        Ok((txn.header.zxid, out.len() - start)),
        "frame does not read back"
    );
    Ok(())
}

/// Decodes the frame at the start of `bytes`: the txn and the frame's length in bytes.
pub fn decode_frame(bytes: &[u8]) -> Result<(Txn, usize), FrameError> {
    if bytes.len() < 8 {
        return Err(FrameError::Truncated {
            have: bytes.len(),
            need: 8,
        });
    }
    let len = u32::from_le_bytes(le4(&bytes[0..4]));
    let stored = u32::from_le_bytes(le4(&bytes[4..8]));
    if (len as usize) < FRAME_LEN_MIN {
        return Err(FrameError::TooShort {
            len,
            min: FRAME_LEN_MIN as u32,
        });
    }
    if len as usize > FRAME_LEN_MAX {
        return Err(FrameError::TooLong {
            len,
            max: FRAME_LEN_MAX as u32,
        });
    }
    let need = 8 + len as usize;
    let Some(body) = bytes.get(8..need) else {
        return Err(FrameError::Truncated {
            have: bytes.len(),
            need,
        });
    };
    let computed = crc32c::crc32c(body);
    if computed != stored {
        return Err(FrameError::Crc { stored, computed });
    }
    let frame_zxid = Zxid(i64::from_le_bytes(le8(&body[0..8])));
    let kind = body[8];
    let payload = &body[9..];
    let record: LogRecord = postcard::from_bytes(payload).map_err(|_| FrameError::Decode)?;
    // Exactly our encoding: postcard also accepts trailing bytes and overlong varints, which
    // our encoder never writes; a frame must re-encode to the bytes it was read from.
    if postcard::to_allocvec(&record).map_or(true, |b| b != payload) {
        return Err(FrameError::Decode);
    }
    if kind_of(&record) != kind {
        return Err(FrameError::KindMismatch { kind });
    }
    let LogRecord::Txn(txn) = record else {
        return Err(FrameError::UnexpectedKind { kind });
    };
    if txn.header.zxid != frame_zxid {
        return Err(FrameError::ZxidMismatch {
            frame: frame_zxid,
            txn: txn.header.zxid,
        });
    }
    Ok((txn, need))
}

/// The segment header for a segment whose first record is `first`.
pub(crate) fn segment_header(first: Zxid) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0; SEGMENT_HEADER_LEN];
    h[0..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4..8].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&first.0.to_le_bytes());
    h
}

/// The file name of the segment starting at `first`.
pub(crate) fn segment_name(first: Zxid) -> String {
    format!("{SEGMENT_PREFIX}{:016x}", first.0 as u64)
}

/// Parses a zxid from the hex suffix of one of our file names.
pub(crate) fn parse_hex_zxid(s: &str) -> Option<Zxid> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().map(|v| Zxid(v as i64))
}

/// One scanned segment.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Valid txns, in file order, with the byte offset of each frame.
    pub(crate) txns: Vec<(u64, Txn)>,
    /// End of the last valid frame.
    pub(crate) valid_len: u64,
    /// The first frame that did not decode, and whether a valid frame follows it.
    pub(crate) damage: Option<Damage>,
}

/// A frame that did not decode.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) offset: u64,
    pub(crate) error: FrameError,
    /// A valid frame starts somewhere after the damage: not a torn tail.
    pub(crate) valid_after: bool,
    /// Every byte from `offset` to the end is zero: the preallocated (or never written)
    /// part of a segment, the clean end of its log (`valid_after` is then false).
    pub(crate) zeros_only: bool,
}

/// Checks a segment's header against its file name. `Ok(None)`: the file is shorter than a
/// header (a segment torn while being created).
pub(crate) fn check_segment_header(
    path: &Path,
    bytes: &[u8],
    first: Zxid,
) -> Result<Option<()>, StorageError> {
    let Some(h) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return Ok(None);
    };
    if h.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    if h[0..4] != SEGMENT_MAGIC {
        return Err(StorageError::BadMagic {
            path: path.to_path_buf(),
        });
    }
    let version = u32::from_le_bytes(le4(&h[4..8]));
    if version != SEGMENT_VERSION {
        return Err(StorageError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
            supported: SEGMENT_VERSION,
        });
    }
    if Zxid(i64::from_le_bytes(le8(&h[8..16]))) != first {
        return Err(StorageError::BadSegmentHeader {
            path: path.to_path_buf(),
            reason: "first zxid differs from the file name",
        });
    }
    Ok(Some(()))
}

/// Scans the frames of a segment (after its header).
pub(crate) fn scan_frames(bytes: &[u8]) -> Scan {
    let mut at = SEGMENT_HEADER_LEN.min(bytes.len());
    let mut txns = Vec::new();
    while at < bytes.len() {
        match decode_frame(&bytes[at..]) {
            Ok((txn, n)) => {
                txns.push((at as u64, txn));
                at += n;
            }
            Err(error) => {
                // Zeros never decode (`FRAME_LEN_MIN`), so an all-zero rest holds no frame;
                // checked first, as it is the common case (preallocated segments).
                let zeros_only = bytes[at..].iter().all(|b| *b == 0);
                // Cheap filter first (a txn frame's kind byte), so that scanning a damaged
                // region does not checksum a candidate at every offset.
                let valid_after = !zeros_only
                    && (at + 1..bytes.len()).any(|o| {
                        bytes.get(o + FRAME_HEADER_LEN - 1) == Some(&KIND_TXN)
                            && decode_frame(&bytes[o..]).is_ok()
                    });
                return Scan {
                    txns,
                    valid_len: at as u64,
                    damage: Some(Damage {
                        offset: at as u64,
                        error,
                        valid_after,
                        zeros_only,
                    }),
                };
            }
        }
    }
    Scan {
        txns,
        valid_len: at as u64,
        damage: None,
    }
}

/// Lists `(first zxid, path)` of the segments in `dir`, sorted.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for (name, path) in super::file::dir_entries(dir)? {
        let Some(rest) = name.strip_prefix(SEGMENT_PREFIX) else {
            continue;
        };
        if rest.ends_with(super::fsutil::TMP_SUFFIX) {
            continue;
        }
        match parse_hex_zxid(rest) {
            Some(z) => out.push((z, path)),
            None => return Err(StorageError::UnknownFile { path }),
        }
    }
    out.sort();
    Ok(out)
}

fn kind_of(record: &LogRecord) -> u8 {
    match record {
        LogRecord::AcceptedEpoch(_) => 0,
        LogRecord::CurrentEpoch(_) => 1,
        LogRecord::Txn(_) => KIND_TXN,
        LogRecord::Damaged(_) => 3,
    }
}

fn le4(b: &[u8]) -> [u8; 4] {
    // Callers slice exactly 4 bytes.
    b.try_into().expect("4 bytes")
}

fn le8(b: &[u8]) -> [u8; 8] {
    // Callers slice exactly 8 bytes.
    b.try_into().expect("8 bytes")
}

/// The kind byte of a txn frame.
const KIND_TXN: u8 = 2;
/// `LogRecord::Txn`'s variant index, as postcard writes it (a one-byte varint).
const POSTCARD_TXN_VARIANT: u8 = 2;
/// Segment file name prefix.
pub(crate) const SEGMENT_PREFIX: &str = "log.";
/// Smallest `len` field: zxid, kind and a one-byte payload. A zero-filled region (a file
/// extended but not written before a crash) therefore never decodes.
const FRAME_LEN_MIN: usize = 8 + 1 + 1;
const FRAME_LEN_MAX: usize = 8 + 1 + RECORD_LEN_MAX;

const _: () = assert!(FRAME_HEADER_LEN == 8 + FRAME_LEN_MIN - 1);
const _: () = assert!(FRAME_LEN_MAX <= u32::MAX as usize);

#[cfg(test)]
mod tests {
    use arbor_core::txn::{TxnBody, TxnHeader};
    use arbor_core::types::{Epoch, SessionId, WallMillis};

    use super::*;

    pub(crate) fn txn(zxid: Zxid) -> Txn {
        Txn::new(
            TxnHeader {
                session: SessionId(1),
                cxid: 1,
                zxid,
                time: WallMillis(0),
            },
            TxnBody::Check {
                path: "/a".into(),
                version: 1,
            },
        )
    }

    #[test]
    fn frame_round_trip_and_layout() {
        let t = txn(Zxid::new(Epoch(1), 2));
        let mut buf = Vec::new();
        encode_frame(&t, &mut buf).unwrap();
        let len = u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
        assert_eq!(buf.len(), 8 + len);
        assert_eq!(&buf[8..16], &Zxid::new(Epoch(1), 2).0.to_le_bytes());
        assert_eq!(buf[16], 2);
        assert_eq!(decode_frame(&buf), Ok((t, buf.len())));
    }

    #[test]
    fn payload_is_postcard_of_the_log_record() {
        let t = txn(Zxid::new(Epoch(3), 9));
        let mut buf = vec![0xaa; 5]; // appends after existing bytes
        encode_frame(&t, &mut buf).unwrap();
        let want = postcard::to_allocvec(&LogRecord::Txn(t.clone())).unwrap();
        assert_eq!(&buf[5 + FRAME_HEADER_LEN..], &want[..]);
        assert_eq!(&buf[..5], &[0xaa; 5]);
        assert_eq!(decode_frame(&buf[5..]), Ok((t, buf.len() - 5)));
    }

    #[test]
    fn oversized_record_is_refused_and_leaves_the_buffer_as_it_was() {
        let mut t = txn(Zxid::new(Epoch(1), 1));
        t.body = std::sync::Arc::new(arbor_core::txn::TxnBody::Create(
            arbor_core::txn::CreateTxn {
                path: "/big".into(),
                data: Some(vec![0; RECORD_LEN_MAX]),
                acl: Vec::new(),
                kind: arbor_core::tree::NodeKind::Persistent,
                parent_cversion: 1,
            },
        ));
        let mut buf = vec![1, 2, 3];
        assert!(matches!(
            encode_frame(&t, &mut buf),
            Err(StorageError::RecordTooLarge { .. })
        ));
        assert_eq!(buf, vec![1, 2, 3]);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let t = txn(Zxid::new(Epoch(1), 2));
        let mut buf = Vec::new();
        encode_frame(&t, &mut buf).unwrap();
        for bit in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_frame(&b).is_err(), "flip of bit {bit} undetected");
        }
    }

    #[test]
    fn hostile_lengths_are_bounded() {
        let mut b = vec![0xff; 16];
        assert!(matches!(decode_frame(&b), Err(FrameError::TooLong { .. })));
        b[0..4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            decode_frame(&b),
            Err(FrameError::Truncated { need: 1008, .. })
        ));
        assert!(matches!(
            decode_frame(&[0; 32]),
            Err(FrameError::TooShort { .. })
        ));
        assert!(matches!(
            decode_frame(&[1, 2]),
            Err(FrameError::Truncated { .. })
        ));
    }

    #[test]
    fn epoch_records_in_the_log_are_rejected() {
        let payload = postcard::to_allocvec(&LogRecord::CurrentEpoch(Epoch(3))).unwrap();
        let mut b = Vec::new();
        b.extend_from_slice(&((9 + payload.len()) as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&0i64.to_le_bytes());
        b.push(1);
        b.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&b[8..]);
        b[4..8].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode_frame(&b),
            Err(FrameError::UnexpectedKind { kind: 1 })
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode_frame(&bytes);
            let _ = scan_frames(&bytes);
        }

        #[test]
        fn corrupting_a_valid_segment_never_panics_nor_yields_a_foreign_txn(
            n in 1u32..6,
            at in 0usize..2000,
            byte in proptest::num::u8::ANY,
        ) {
            let mut buf = segment_header(Zxid::new(Epoch(1), 1)).to_vec();
            let txns: Vec<Txn> = (1..=n).map(|c| txn(Zxid::new(Epoch(1), c))).collect();
            for t in &txns {
                encode_frame(t, &mut buf).unwrap();
            }
            let at = at % buf.len();
            buf[at] = byte;
            let scan = scan_frames(&buf);
            for (_, t) in &scan.txns {
                proptest::prop_assert!(txns.contains(t));
            }
        }
    }

    #[test]
    fn a_zero_tail_is_flagged_zeros_only_and_not_searched() {
        let mut buf = segment_header(Zxid::new(Epoch(1), 1)).to_vec();
        for c in 1..=3 {
            encode_frame(&txn(Zxid::new(Epoch(1), c)), &mut buf).unwrap();
        }
        let end = buf.len();
        buf.resize(end + (4 << 20), 0);
        let scan = scan_frames(&buf);
        assert_eq!(scan.txns.len(), 3);
        assert_eq!(scan.valid_len, end as u64);
        let d = scan.damage.expect("zeros do not decode");
        assert!(d.zeros_only && !d.valid_after);
        assert_eq!(d.offset, end as u64);
        // One non-zero byte anywhere after the last frame: not the clean end.
        for at in [end, end + 17, buf.len() - 1] {
            let mut b = buf.clone();
            b[at] = KIND_TXN;
            let d = scan_frames(&b).damage.expect("damage");
            assert!(!d.zeros_only && !d.valid_after, "byte at {at}");
        }
        // A valid frame after zeros (pages persisted out of order) is still found.
        let mut b = buf[..end + 64].to_vec();
        encode_frame(&txn(Zxid::new(Epoch(1), 9)), &mut b).unwrap();
        b.resize(b.len() + 64, 0);
        let d = scan_frames(&b).damage.expect("damage");
        assert!(!d.zeros_only && d.valid_after);
    }

    #[test]
    fn hex_names() {
        assert_eq!(segment_name(Zxid(0x1_0000_0002)), "log.0000000100000002");
        assert_eq!(
            parse_hex_zxid("0000000100000002"),
            Some(Zxid(0x1_0000_0002))
        );
        assert_eq!(parse_hex_zxid("1a"), Some(Zxid(0x1a)));
        assert_eq!(parse_hex_zxid(""), None);
        assert_eq!(parse_hex_zxid("xyz"), None);
        assert_eq!(parse_hex_zxid("+1"), None);
        assert_eq!(parse_hex_zxid("00000000000000001"), None);
    }
}
