//! A per-process scratch data directory for the storage fuzz targets, on tmpfs when the
//! machine has one (`/dev/shm`), so that the real `FileStorage` recovery path (files,
//! renames, fsyncs) runs at fuzzing speed. The directory holds an `acceptedEpoch` file, so
//! recovery does not refuse a log or snapshot for want of one; `reset` removes every other
//! file (and sub-directory) before each input.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The scratch directory (created on first use).
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "arbor-fuzz-{}-{}",
            env!("CARGO_BIN_NAME"),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the scratch dir");
        dir
    })
}

/// Empties the scratch directory except for its `acceptedEpoch` file (written here).
pub fn reset() -> &'static Path {
    let dir = dir();
    for entry in fs::read_dir(dir).expect("read the scratch dir") {
        let path = entry.expect("scratch dir entry").path();
        if path.is_dir() {
            fs::remove_dir_all(&path).expect("clean the scratch dir");
        } else {
            fs::remove_file(&path).expect("clean the scratch dir");
        }
    }
    fs::write(dir.join("acceptedEpoch"), b"7\n").expect("write acceptedEpoch");
    dir
}
