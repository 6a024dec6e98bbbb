//! Every input a fuzz target ever crashed on, replayed through the same checks as the
//! target, in the normal test suite. Inputs live in `tests/fuzz_regressions/TARGET/`; the
//! same files are also in `fuzz/corpus/TARGET/`, so every fuzz run starts from them.

#![allow(clippy::print_stdout)] // the test names each replayed input on its output
use std::fs;
use std::path::PathBuf;

use arbor_core::tree::{DataTree, TreeConfig};

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

/// The `snapshot` target's property: refuse with an error, or load a tree that satisfies
/// every invariant and survives its own serialize / deserialize.
#[test]
fn snapshot_crashes_stay_fixed() {
    for (name, bytes) in inputs("snapshot") {
        let config = TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        };
        match DataTree::deserialize(&bytes, config.clone()) {
            // Refused with a typed error: what the target asks (which error is not pinned).
            Err(_) => {}
            Ok(tree) => {
                tree.check_invariants_full();
                assert_eq!(tree.digest(), tree.recompute_digest(), "{name}");
                let again = DataTree::deserialize(&tree.serialize(), config).expect("reloads");
                assert_eq!(again.digest(), tree.digest(), "{name}");
            }
        }
    }
}
