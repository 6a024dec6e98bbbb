//! The snapshot reader over arbitrary bytes: `DataTree::deserialize` must refuse anything
//! malformed with a typed error (never panic, never allocate beyond the input), and a tree
//! it accepts must satisfy every invariant and re-serialize to a tree with the same digest.
#![no_main]

use arbor_core::tree::{DataTree, TreeConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let config = TreeConfig { extended_types_enabled: true, ..TreeConfig::default() };
    if let Ok(tree) = DataTree::deserialize(bytes, config.clone()) {
        tree.check_invariants_full();
        assert_eq!(tree.digest(), tree.recompute_digest());
        let again = DataTree::deserialize(&tree.serialize(), config).expect("own snapshot loads");
        assert_eq!(again.digest(), tree.digest());
        assert_eq!(again.node_count(), tree.node_count());
    }
});
