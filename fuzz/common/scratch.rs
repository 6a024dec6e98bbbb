//! A per-process scratch data directory for the storage fuzz targets, on tmpfs when the
//! machine has one (`/dev/shm`), so that the real `FileStorage` recovery path (files,
//! renames, fsyncs) runs at fuzzing speed. `net/tests/support/storage_files.rs` empties it
//! before each input.

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
