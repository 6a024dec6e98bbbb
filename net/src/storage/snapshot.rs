//! Snapshot files `snapshot.<zxid, 16 hex digits>`, written from the bytes the core
//! produced (`DataTree::serialize`), so the runtime can write them off the commit path.
//!
//! Format:
//! ```text
//! magic "ARBS" | version u32 LE (1) | zxid i64 LE | length u64 LE | crc u32 LE | data
//! ```
//! where `crc` is the CRC32C of the zxid and length fields followed by the data.
//!
//! Invariants: a published snapshot is complete (temp file, fsync, rename, dir fsync); a
//! file whose magic or version is not ours is an error (not ours to skip); a file whose
//! zxid, length or CRC is wrong is *damaged* and recovery falls back to an older one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use arbor_core::types::Zxid;

use super::fsutil::{fsync_dir, TMP_SUFFIX};
use super::wal::parse_hex_zxid;
use super::StorageError;

/// Snapshot magic number.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"ARBS";
/// Snapshot format version.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Header length.
pub const SNAPSHOT_HEADER_LEN: usize = 4 + 4 + 8 + 8 + 4;
/// A snapshot file is written and flushed in pieces of this many bytes.
const SNAPSHOT_SYNC_BYTES: usize = 4 << 20;

/// Writes `data` as the snapshot at `zxid` in `dir`, durably, and returns its path. Needs
/// no `&mut` storage, so a runtime can run it on a blocking thread and then register the
/// result with [`super::FileStorage::register_snapshot`].
pub fn write_snapshot_file(dir: &Path, zxid: Zxid, data: &[u8]) -> Result<PathBuf, StorageError> {
    write_snapshot_file_parts(dir, zxid, &[data])
}

/// [`write_snapshot_file`] of the concatenation of `parts` (as
/// `TreeSnapshot::serialize_parts` gives them), without building it.
pub fn write_snapshot_file_parts(
    dir: &Path,
    zxid: Zxid,
    parts: &[&[u8]],
) -> Result<PathBuf, StorageError> {
    let name = snapshot_name(zxid);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let dst = dir.join(&name);
    let mut header = [0u8; SNAPSHOT_HEADER_LEN];
    header[0..4].copy_from_slice(&SNAPSHOT_MAGIC);
    header[4..8].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&zxid.0.to_le_bytes());
    let len: usize = parts.iter().map(|p| p.len()).sum();
    header[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    let crc = parts.iter().fold(crc32c::crc32c(&header[8..24]), |crc, p| {
        crc32c::crc32c_append(crc, p)
    });
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StorageError::io("create", &tmp, e))?;
        f.write_all(&header)
            .map_err(|e| StorageError::io("write", &tmp, e))?;
        // Flushed piece by piece: one fsync of a whole large snapshot (90 MB at 1M znodes)
        // holds the disk for long enough that the WAL's group commits queued behind it
        // stall; a flush per piece lets them in between.
        for piece in parts.iter().flat_map(|p| p.chunks(SNAPSHOT_SYNC_BYTES)) {
            f.write_all(piece)
                .map_err(|e| StorageError::io("write", &tmp, e))?;
            f.sync_data()
                .map_err(|e| StorageError::io("fsync", &tmp, e))?;
        }
        f.sync_all()
            .map_err(|e| StorageError::io("fsync", &tmp, e))?;
    }
    fs::rename(&tmp, &dst).map_err(|e| StorageError::io("rename", &tmp, e))?;
    fsync_dir(dir)?;
    Ok(dst)
}

/// Reads a snapshot file. `Ok(Err(reason))`: the file is damaged (fall back to an older
/// one); `Err`: the file is not ours or the disk failed (stop).
pub(crate) fn read_snapshot_file(
    path: &Path,
    zxid: Zxid,
) -> Result<Result<Vec<u8>, String>, StorageError> {
    let bytes = fs::read(path).map_err(|e| StorageError::io("read", path, e))?;
    let Some(h) = bytes.get(..SNAPSHOT_HEADER_LEN) else {
        return Ok(Err(format!(
            "{} bytes, shorter than the header",
            bytes.len()
        )));
    };
    if h[0..4] != SNAPSHOT_MAGIC {
        return Err(StorageError::BadMagic {
            path: path.to_path_buf(),
        });
    }
    let version = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes"));
    if version != SNAPSHOT_VERSION {
        return Err(StorageError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
            supported: SNAPSHOT_VERSION,
        });
    }
    let header_zxid = Zxid(i64::from_le_bytes(h[8..16].try_into().expect("8 bytes")));
    let len = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
    let stored = u32::from_le_bytes(h[24..28].try_into().expect("4 bytes"));
    let data = &bytes[SNAPSHOT_HEADER_LEN..];
    if len != data.len() as u64 {
        return Ok(Err(format!(
            "length field {len} but {} data bytes",
            data.len()
        )));
    }
    let computed = crc32c::crc32c_append(crc32c::crc32c(&h[8..24]), data);
    if computed != stored {
        return Ok(Err(format!(
            "CRC32C mismatch: stored {stored:#010x}, computed {computed:#010x}"
        )));
    }
    if header_zxid != zxid {
        return Ok(Err(format!(
            "header zxid {header_zxid} differs from the file name's {zxid}"
        )));
    }
    Ok(Ok(bytes[SNAPSHOT_HEADER_LEN..].to_vec()))
}

/// The file name of the snapshot at `zxid`.
pub(crate) fn snapshot_name(zxid: Zxid) -> String {
    format!("{SNAPSHOT_PREFIX}{:016x}", zxid.0 as u64)
}

/// Lists `(zxid, path)` of the snapshots in `dir`, sorted oldest first.
pub(crate) fn list_snapshots(dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for (name, path) in super::file::dir_entries(dir)? {
        let Some(rest) = name.strip_prefix(SNAPSHOT_PREFIX) else {
            continue;
        };
        if rest.ends_with(TMP_SUFFIX) {
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

/// Snapshot file name prefix.
pub(crate) const SNAPSHOT_PREFIX: &str = "snapshot.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_write_the_file_of_their_concatenation() {
        // Pieces larger than the flush piece, an empty one, and odd sizes.
        let a: Vec<u8> = (0..37u32).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..(SNAPSHOT_SYNC_BYTES as u32 * 2 + 12_345))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let c: Vec<u8> = Vec::new();
        let d = b"sessions".to_vec();
        let whole = [&a[..], &b[..], &c[..], &d[..]].concat();
        let z = Zxid(0x2_0000_0007);
        let one = tempfile::tempdir().unwrap();
        let many = tempfile::tempdir().unwrap();
        let p1 = write_snapshot_file(one.path(), z, &whole).unwrap();
        let p2 = write_snapshot_file_parts(many.path(), z, &[&a, &b, &c, &d]).unwrap();
        assert_eq!(fs::read(&p1).unwrap(), fs::read(&p2).unwrap());
        assert_eq!(read_snapshot_file(&p2, z).unwrap().unwrap(), whole);
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let z = Zxid(0x1_0000_0005);
        let p = write_snapshot_file(dir.path(), z, b"tree bytes").unwrap();
        assert_eq!(p.file_name().unwrap(), "snapshot.0000000100000005");
        assert_eq!(read_snapshot_file(&p, z).unwrap().unwrap(), b"tree bytes");
        // Every bit of the header fields after the version and of the data is covered.
        let good = fs::read(&p).unwrap();
        for bit in 64..good.len() * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            fs::write(&p, &b).unwrap();
            assert!(
                read_snapshot_file(&p, z).unwrap().is_err(),
                "flip of bit {bit} undetected"
            );
        }
        // Magic and version are not damage but someone else's file.
        let mut b = good.clone();
        b[0] = b'X';
        fs::write(&p, &b).unwrap();
        assert!(matches!(
            read_snapshot_file(&p, z),
            Err(StorageError::BadMagic { .. })
        ));
        let mut b = good.clone();
        b[4] = 9;
        fs::write(&p, &b).unwrap();
        assert!(matches!(
            read_snapshot_file(&p, z),
            Err(StorageError::UnsupportedVersion { version: 9, .. })
        ));
        fs::write(&p, &good[..10]).unwrap();
        assert!(read_snapshot_file(&p, z).unwrap().is_err());
        fs::write(&p, &good).unwrap();
        assert!(read_snapshot_file(&p, Zxid(1)).unwrap().is_err());
    }
}
