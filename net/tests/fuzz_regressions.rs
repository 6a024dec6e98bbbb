//! Every input the storage fuzz targets (`wal_record`, `snapshot_file`) ever crashed on,
//! replayed through the same property (`support/storage_files.rs`) in the normal test
//! suite. Inputs live in `tests/fuzz_regressions/TARGET/`; the same files are also in
//! `fuzz/corpus/TARGET/`, so every fuzz run starts from them.

#[path = "support/storage_files.rs"]
mod storage_files;

use std::fs;
use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("read input"))
        })
        .collect()
}

/// `regression-empty-segment-before-torn-header`: a header-only segment followed by a
/// segment torn while being created; the first recovery removed only the torn one and left
/// the record-less one for the second recovery to remove (recovery was not idempotent).
/// `regression-trailing-bytes-after-record`: a frame (valid CRC) whose payload held bytes
/// after the postcard record decoded, and re-encoded to other bytes.
/// `regression-overlong-varint`: a frame whose record used an overlong varint (postcard
/// accepts them) decoded and re-encoded to other bytes. The frame decoder now accepts a
/// payload only if it is exactly the encoding of the record it decodes to.
#[test]
fn wal_record_crashes_stay_fixed() {
    for (_name, bytes) in inputs("wal_record") {
        let dir = tempfile::tempdir().unwrap();
        storage_files::wal_record(dir.path(), &bytes);
    }
}
