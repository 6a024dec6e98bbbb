//! The tree digest: a wrapping sum over every node of a 64-bit xxh3 hash of the node's
//! full path, data, stored stat fields and ACL list content.
//!
//! A node's contribution is split in two so that the frequent parent updates (pzxid and the
//! child counter change on every child create / delete) never rehash the parent's data:
//! `content = xxh3(path, data)` and `meta = xxh3(path, stored stat, ACL content hash)`.
//! The sum is commutative, so equal trees have equal digests whatever the history.
//!
//! Invariant: `DataTree::digest()` always equals `DataTree::recompute_digest()`.

use xxhash_rust::xxh3::Xxh3;

use super::node::StoredStat;

/// Hash of a node's path and data (null data hashes differently from empty data).
pub(crate) fn content_hash(path: &str, data: Option<&[u8]>) -> u64 {
    let mut h = Xxh3::new();
    h.update(&(path.len() as u64).to_le_bytes());
    h.update(path.as_bytes());
    match data {
        None => h.update(&[0]),
        Some(d) => {
            h.update(&[1]);
            h.update(d);
        }
    }
    h.digest()
}

/// Hash of a node's path, stored stat and ACL content hash.
pub(crate) fn meta_hash(path: &str, s: &StoredStat, acl_hash: u64) -> u64 {
    let mut buf = [0u8; 8 * 7 + 4 * 3];
    let fields = [
        s.czxid,
        s.mzxid,
        s.pzxid,
        s.ctime,
        s.mtime,
        s.ephemeral_owner,
        acl_hash as i64,
    ];
    for (i, f) in fields.iter().enumerate() {
        buf[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
    }
    for (i, f) in [s.version, s.cversion, s.aversion].iter().enumerate() {
        buf[56 + i * 4..60 + i * 4].copy_from_slice(&f.to_le_bytes());
    }
    let mut h = Xxh3::new();
    h.update(&(path.len() as u64).to_le_bytes());
    h.update(path.as_bytes());
    h.update(&buf);
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_separate_fields() {
        assert_ne!(content_hash("/a", Some(b"")), content_hash("/a", None));
        assert_ne!(
            content_hash("/a", Some(b"b")),
            content_hash("/ab", Some(b""))
        );
        let s = StoredStat::default();
        let mut t = s;
        t.cversion = 1;
        assert_ne!(meta_hash("/a", &s, 0), meta_hash("/a", &t, 0));
        assert_ne!(meta_hash("/a", &s, 0), meta_hash("/a", &s, 1));
    }
}
