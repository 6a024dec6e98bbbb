//! The `acceptedEpoch` and `currentEpoch` files (ZooKeeper's names and text format: the
//! epoch in decimal), replaced atomically.
//!
//! Invariants: a file is absent (epoch 0) or holds one decimal `u32` (a trailing newline is
//! accepted); anything else is [`StorageError::BadEpochFile`], never a silent 0.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use arbor_core::types::{Epoch, Zxid};

use super::fsutil::{atomic_write, fsync_dir};
use super::StorageError;

/// ZooKeeper's file name for the accepted epoch.
pub(crate) const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";
/// ZooKeeper's file name for the current epoch.
pub(crate) const CURRENT_EPOCH_FILE: &str = "currentEpoch";

/// The damage marker (`LogRecord::Damaged`): present while this replica waits for a sync
/// to repair a damaged log; holds the damage bound, a zxid in decimal. Ours, not ZooKeeper's.
pub(crate) const DAMAGED_ZXID_FILE: &str = "damagedZxid";

/// Writes (`Some`) or durably removes (`None`) the damage marker.
pub(crate) fn write_damaged(dir: &Path, bound: Option<Zxid>) -> Result<(), StorageError> {
    match bound {
        Some(z) => atomic_write(dir, DAMAGED_ZXID_FILE, format!("{}\n", z.0).as_bytes()),
        None => {
            let path = dir.join(DAMAGED_ZXID_FILE);
            match fs::remove_file(&path) {
                Ok(()) => fsync_dir(dir),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StorageError::io("remove", &path, e)),
            }
        }
    }
}

/// Reads the damage marker: `None` if absent. An unreadable marker is an error (the replica
/// must not start as if it were undamaged).
pub(crate) fn read_damaged(dir: &Path) -> Result<Option<Zxid>, StorageError> {
    let path = dir.join(DAMAGED_ZXID_FILE);
    let bytes = match fs::metadata(&path) {
        Ok(m) if m.len() > EPOCH_FILE_LEN_MAX => {
            return Err(StorageError::BadEpochFile {
                path,
                reason: "file too long",
            })
        }
        Ok(_) => fs::read(&path).map_err(|e| StorageError::io("read", &path, e))?,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("stat", &path, e)),
    };
    let text = std::str::from_utf8(&bytes).ok();
    let digits = text.map(|t| t.strip_suffix('\n').unwrap_or(t));
    match digits.and_then(|d| d.parse::<i64>().ok()) {
        Some(z) if z >= 0 => Ok(Some(Zxid(z))),
        _ => Err(StorageError::BadEpochFile {
            path,
            reason: "damage marker is not a zxid",
        }),
    }
}

/// Writes an epoch file durably.
pub(crate) fn write_epoch(dir: &Path, name: &str, epoch: Epoch) -> Result<(), StorageError> {
    atomic_write(dir, name, format!("{}\n", epoch.0).as_bytes())
}

/// Reads an epoch file: `None` if absent.
pub(crate) fn read_epoch(dir: &Path, name: &str) -> Result<Option<Epoch>, StorageError> {
    let path = dir.join(name);
    let bytes = match fs::metadata(&path) {
        Ok(m) if m.len() > EPOCH_FILE_LEN_MAX => {
            return Err(StorageError::BadEpochFile {
                path,
                reason: "file too long",
            })
        }
        Ok(_) => fs::read(&path).map_err(|e| StorageError::io("read", &path, e))?,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("stat", &path, e)),
    };
    parse_epoch(&bytes)
        .map(Some)
        .map_err(|reason| StorageError::BadEpochFile { path, reason })
}

fn parse_epoch(bytes: &[u8]) -> Result<Epoch, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text")?;
    let digits = text.strip_suffix('\n').unwrap_or(text);
    if digits.is_empty() {
        return Err("empty");
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a decimal number");
    }
    digits
        .parse::<u32>()
        .map(Epoch)
        .map_err(|_| "epoch out of range")
}

/// Far more than any `u32` in decimal; bounds the read of a hostile file.
const EPOCH_FILE_LEN_MAX: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_leftover_tmp_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_epoch(dir.path(), CURRENT_EPOCH_FILE).unwrap(), None);
        write_epoch(dir.path(), CURRENT_EPOCH_FILE, Epoch(7)).unwrap();
        // A crash while writing the next value leaves only the temp file behind.
        fs::write(dir.path().join("currentEpoch.tmp"), b"8").unwrap();
        assert_eq!(
            read_epoch(dir.path(), CURRENT_EPOCH_FILE).unwrap(),
            Some(Epoch(7))
        );
        write_epoch(dir.path(), CURRENT_EPOCH_FILE, Epoch(9)).unwrap();
        assert_eq!(
            read_epoch(dir.path(), CURRENT_EPOCH_FILE).unwrap(),
            Some(Epoch(9))
        );
    }

    #[test]
    fn zookeeper_format_without_newline_is_read() {
        assert_eq!(parse_epoch(b"12"), Ok(Epoch(12)));
        assert_eq!(parse_epoch(b"12\n"), Ok(Epoch(12)));
    }

    #[test]
    fn invalid_contents_are_rejected() {
        assert!(parse_epoch(b"").is_err());
        assert!(parse_epoch(b"\n").is_err());
        assert!(parse_epoch(b"-1").is_err());
        assert!(parse_epoch(b"1 2").is_err());
        assert!(parse_epoch(b"99999999999").is_err());
        assert!(parse_epoch(&[0xff, 0xfe]).is_err());
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(ACCEPTED_EPOCH_FILE), vec![b'1'; 100]).unwrap();
        assert!(matches!(
            read_epoch(dir.path(), ACCEPTED_EPOCH_FILE),
            Err(StorageError::BadEpochFile { .. })
        ));
    }
}
