//! Small durable-file helpers: directory fsync and atomic replace (write temp, fsync,
//! rename, fsync the directory).
//!
//! Invariant: a file published by [`atomic_write`] is either absent or complete after a
//! crash; a leftover `*.tmp` is never read as data (recovery removes it).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::StorageError;

/// Suffix of files being written; ignored (and removed) by recovery.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Makes a directory's entries (creations, renames, removals) durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    let d = File::open(dir).map_err(|e| StorageError::io("open dir", dir, e))?;
    d.sync_all()
        .map_err(|e| StorageError::io("fsync dir", dir, e))
}

/// Replaces `dir/name` with `bytes` atomically and durably.
pub(crate) fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let dst = dir.join(name);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StorageError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| StorageError::io("write", &tmp, e))?;
        f.sync_all()
            .map_err(|e| StorageError::io("fsync", &tmp, e))?;
    }
    fs::rename(&tmp, &dst).map_err(|e| StorageError::io("rename", &tmp, e))?;
    fsync_dir(dir)
}

/// Removes a file; a file already gone is fine.
pub(crate) fn remove_file(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io("remove", path, e)),
    }
}
