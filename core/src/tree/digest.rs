//! The tree digest: a wrapping sum over every node of a 64-bit xxh3 hash of the node's
//! full path, data, stored stat fields and ACL list content.
//!
//! A node's contribution is split in two so that the frequent parent updates (pzxid and the
//! child counter change on every child create / delete) never rehash the parent's data:
//! `content = xxh3(path, data)` and `meta = xxh3(path, stored stat, ACL content hash)`.
//! The sum is commutative, so equal trees have equal digests whatever the history.
//!
//! Invariant: `DataTree::digest()` always equals `DataTree::recompute_digest()`.

// The default-secret streaming state: the same hash values as `xxh3::Xxh3` with its default
// secret (and as one-shot `xxh3_64` of the concatenated input), without `Xxh3::new` copying
// the 192-byte secret into every state (pinned by `same_values_as_the_custom_secret_state`).
use xxhash_rust::xxh3::Xxh3Default as Xxh3;

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

    /// Digests are persisted in snapshots and compared across servers: the state type must
    /// not change a value. Each hash equals the custom-secret streaming state's (the content
    /// hash also the one-shot hash of the concatenated input), over paths and data up to past the 240-byte
    /// one-shot boundary.
    #[test]
    fn same_values_as_the_custom_secret_state() {
        let stat = StoredStat {
            czxid: 1,
            mzxid: -2,
            pzxid: 3 << 40,
            ctime: 4,
            mtime: 5,
            ephemeral_owner: i64::MIN,
            version: 6,
            cversion: -7,
            aversion: 8,
        };
        for len in [0usize, 1, 7, 16, 17, 100, 128, 129, 200, 240, 241, 300] {
            let path: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let data = path.as_bytes();
            let mut old = xxhash_rust::xxh3::Xxh3::new();
            old.update(&(path.len() as u64).to_le_bytes());
            old.update(path.as_bytes());
            old.update(&[1]);
            old.update(data);
            let mut flat = (path.len() as u64).to_le_bytes().to_vec();
            flat.extend_from_slice(path.as_bytes());
            flat.push(1);
            flat.extend_from_slice(data);
            let h = content_hash(&path, Some(data));
            assert_eq!(h, old.digest(), "content, len {len}");
            assert_eq!(
                h,
                xxhash_rust::xxh3::xxh3_64(&flat),
                "content one-shot, len {len}"
            );

            // The meta hash against the old state fed the documented layout: path length,
            // path, then the seven 64-bit fields and three 32-bit fields little-endian.
            let mut old = xxhash_rust::xxh3::Xxh3::new();
            old.update(&(path.len() as u64).to_le_bytes());
            old.update(path.as_bytes());
            for f in [
                stat.czxid,
                stat.mzxid,
                stat.pzxid,
                stat.ctime,
                stat.mtime,
                stat.ephemeral_owner,
                9,
            ] {
                old.update(&f.to_le_bytes());
            }
            for f in [stat.version, stat.cversion, stat.aversion] {
                old.update(&f.to_le_bytes());
            }
            assert_eq!(meta_hash(&path, &stat, 9), old.digest(), "meta, len {len}");
        }
    }

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
