//! ACLs: the reference-counted ACL table, validation and expansion of ACLs on create /
//! setACL (`PrepRequestProcessor.fixupACL`), the permission check
//! (`ZooKeeperServer.checkACL`), and the built-in schemes `world`, `auth`, `digest`
//! (`DigestAuthenticationProvider`, including the super digest) and `ip`
//! (`IPAuthenticationProvider`, CIDR).
//!
//! Inputs: ACL lists from requests, the caller's authenticated identities. Outputs:
//! validated lists or `InvalidAcl`, allow / deny decisions, identities for an auth packet.
//!
//! Invariants:
//! - Every live table entry has a positive reference count equal to the number of nodes
//!   pointing at it; an entry whose count drops to zero is freed.
//! - Two live entries never hold equal lists.
//!
//! Deviation: 3.8's `ip` provider parses IPv4 only (IPv6 ids are InvalidACL there); Arbor
//! also accepts and matches IPv6 addresses and prefixes, as ZooKeeper 3.9 does.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use sha1::{Digest, Sha1};

use super::cow::CowVec;
use crate::types::{Acl, ErrorCode, Id, Perms};

/// Shared, deduplicated ACL lists; nodes hold a `u32` index (`ReferenceCountedACLCache`).
/// The entries are copy-on-write so that a snapshot can keep a frozen view of them.
#[derive(Debug, Default)]
pub(crate) struct AclTable {
    entries: CowVec<Option<AclEntry>>,
    by_list: BTreeMap<Arc<[Acl]>, u32>,
    free: Vec<u32>,
    /// The index `intern` returned last: most creates carry the same list as the one
    /// before, which one comparison finds without the ordered map's search. Only a hint;
    /// it is used after checking that the entry is live and holds an equal list.
    last: Option<u32>,
}

/// A frozen view of an [`AclTable`]'s lists by index (for a snapshot): later changes to
/// the table never change what it returns.
#[derive(Clone, Debug)]
pub(crate) struct AclLists(CowVec<Option<AclEntry>>);

impl AclLists {
    /// The list at `idx` (live when the view was taken).
    pub fn get(&self, idx: u32) -> &Arc<[Acl]> {
        &live_entry(&self.0, idx).list
    }
}

fn live_entry(entries: &CowVec<Option<AclEntry>>, idx: u32) -> &AclEntry {
    entries.get(idx as usize).as_ref().expect("live ACL entry")
}

#[derive(Clone, Debug)]
struct AclEntry {
    list: Arc<[Acl]>,
    refs: u32,
    hash: u64,
}

impl AclTable {
    /// Adds one reference to `list`, storing it if new; returns its index.
    pub fn intern(&mut self, list: &[Acl]) -> u32 {
        if let Some(idx) = self.last {
            if let Some(e) = self.entries.get(idx as usize) {
                if *e.list == *list {
                    self.entries
                        .get_mut(idx as usize)
                        .as_mut()
                        .expect("checked live above")
                        .refs += 1;
                    return idx;
                }
            }
        }
        let idx = self.intern_searched(list);
        self.last = Some(idx);
        idx
    }

    fn intern_searched(&mut self, list: &[Acl]) -> u32 {
        if let Some(&idx) = self.by_list.get(list) {
            let e = self
                .entries
                .get_mut(idx as usize)
                .as_mut()
                .expect("indexed entry is live");
            e.refs += 1;
            return idx;
        }
        let arc: Arc<[Acl]> = list.into();
        let entry = AclEntry {
            list: arc.clone(),
            refs: 1,
            hash: acl_list_hash(list),
        };
        let idx = if let Some(i) = self.free.pop() {
            *self.entries.get_mut(i as usize) = Some(entry);
            i
        } else {
            self.entries.push(Some(entry));
            u32::try_from(self.entries.len() - 1).expect("fewer than 2^32 ACL lists")
        };
        self.by_list.insert(arc, idx);
        idx
    }

    /// Drops one reference to entry `idx`.
    pub fn release(&mut self, idx: u32) {
        let slot = self.entries.get_mut(idx as usize);
        let e = slot.as_mut().expect("releasing a live ACL entry");
        assert!(e.refs > 0, "ACL refcount underflow");
        e.refs -= 1;
        if e.refs == 0 {
            let e = slot.take().expect("entry is live");
            self.by_list.remove(&e.list);
            self.free.push(idx);
        }
    }

    /// The list at `idx`.
    pub fn get(&self, idx: u32) -> &Arc<[Acl]> {
        &live_entry(&self.entries, idx).list
    }

    /// The content hash of the list at `idx` (for the tree digest).
    pub fn hash(&self, idx: u32) -> u64 {
        live_entry(&self.entries, idx).hash
    }

    /// A frozen view of the lists, O(entries / CHUNK_SLOTS).
    pub fn frozen(&self) -> AclLists {
        AclLists(self.entries.clone())
    }

    /// Reference count of `idx` (0 when free).
    #[cfg(test)]
    pub fn refs(&self, idx: u32) -> u32 {
        if (idx as usize) < self.entries.len() {
            self.entries
                .get(idx as usize)
                .as_ref()
                .map_or(0, |e| e.refs)
        } else {
            0
        }
    }

    /// Number of live entries.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn live(&self) -> usize {
        self.by_list.len()
    }

    /// Live entries as (index, refs), in index order.
    #[cfg(any(test, debug_assertions, feature = "invariants"))]
    pub fn live_refs(&self) -> Vec<(u32, u32)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e.refs)))
            .collect()
    }
}

/// A hash of an ACL list's content, independent of where the table stored it.
pub(crate) fn acl_list_hash(list: &[Acl]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(&(list.len() as u64).to_le_bytes());
    for a in list {
        h.update(&a.perms.0.to_le_bytes());
        h.update(&(a.id.scheme.len() as u64).to_le_bytes());
        h.update(a.id.scheme.as_bytes());
        h.update(&(a.id.id.len() as u64).to_le_bytes());
        h.update(a.id.id.as_bytes());
    }
    h.digest()
}

/// Validates and expands an ACL list as 3.8's `fixupACL`: duplicates removed (first kept),
/// empty → InvalidACL, `world` only with id `anyone`, `auth` expanded into each of the
/// caller's identities whose scheme is an authenticated one (`digest`; not `ip`, not
/// `super`) — InvalidACL if there is none — and `digest` / `ip` ids checked with
/// their providers' `isValid`. Any other scheme is InvalidACL.
pub fn fixup_acl(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        let id = &a.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(a.clone());
        } else if id.scheme == "auth" {
            let mut any = false;
            for cid in auth {
                if is_authenticated_scheme(&cid.scheme) {
                    any = true;
                    out.push(Acl {
                        perms: a.perms,
                        id: cid.clone(),
                    });
                }
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            let valid = match id.scheme.as_str() {
                "digest" => is_valid_digest_id(&id.id),
                "ip" => is_valid_ip_id(&id.id),
                _ => false,
            };
            if !valid {
                return Err(ErrorCode::InvalidAcl);
            }
            out.push(a.clone());
        }
    }
    Ok(out)
}

/// Registered schemes whose provider reports `isAuthenticated() == true` (those `auth`
/// expands to). 3.8 registers `ip` (not authenticated) and `digest` by default; `sasl` /
/// `x509` only when configured, which Arbor does not support yet.
fn is_authenticated_scheme(scheme: &str) -> bool {
    scheme == "digest"
}

/// `ZooKeeperServer.checkACL`: true if `auth` may perform an operation needing any bit of
/// `perm` on a node with `acl`. Empty ACL = open; a `super` identity bypasses; `world:anyone`
/// matches everyone; `digest` ids match exactly; `ip` ids match by address / prefix. The
/// caller's `auth` must include `ip:<peer address>` (3.8 adds it to every connection).
pub fn check_acl(acl: &[Acl], perm: Perms, auth: &[Id]) -> bool {
    if acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return true;
    }
    for a in acl {
        if !a.perms.grants_any(perm) {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return true;
        }
        let matches = |caller: &Id| match a.id.scheme.as_str() {
            "digest" => caller.scheme == "digest" && caller.id == a.id.id,
            "ip" => caller.scheme == "ip" && ip_matches(&caller.id, &a.id.id),
            _ => false,
        };
        if auth.iter().any(matches) {
            return true;
        }
    }
    false
}

/// What getACL returns to a caller without ADMIN: digest ids become `user:x` (3.8
/// `FinalRequestProcessor`, `replaceAll(":.*", ":x")`).
pub fn mask_digest_ids(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let masked = match a.id.id.find(':') {
                    Some(i) => format!("{}:x", &a.id.id[..i]),
                    None => a.id.id.clone(),
                };
                Acl::new(a.perms, "digest", masked)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// `DigestAuthenticationProvider.generateDigest`: `user:BASE64(SHA1(credential))`, where
/// `user` is the credential up to its first `:` (the whole credential if it has none).
pub fn digest_id(credential: &str) -> String {
    let user = credential.split(':').next().unwrap_or("");
    let hash = Sha1::digest(credential.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The identities a `digest` auth packet adds to a connection: `digest:<digest_id>`, and
/// first `super:` when the digest equals the configured super digest
/// (`zookeeper.DigestAuthenticationProvider.superDigest`, in `user:hash` form).
pub fn digest_auth(credential: &[u8], super_digest: Option<&str>) -> Vec<Id> {
    let text = String::from_utf8_lossy(credential);
    let id = digest_id(&text);
    let mut out = Vec::with_capacity(2);
    if super_digest == Some(id.as_str()) {
        out.push(Id::new("super", ""));
    }
    out.push(Id::new("digest", id));
    out
}

/// `DigestAuthenticationProvider.isValid`: Java `id.split(":")` yields exactly two parts
/// (trailing empty parts are dropped by Java's split).
pub fn is_valid_digest_id(id: &str) -> bool {
    java_split_count(id, ':') == 2
}

/// Number of parts Java's `String.split(sep)` returns (trailing empty strings removed).
fn java_split_count(s: &str, sep: char) -> usize {
    let parts: Vec<&str> = s.split(sep).collect();
    let mut n = parts.len();
    while n > 0 && parts[n - 1].is_empty() {
        n -= 1;
    }
    // Java returns [""] (one part) for the empty input string.
    if s.is_empty() {
        1
    } else {
        n
    }
}

/// `IPAuthenticationProvider.isValid`: an address, optionally `/bits` with
/// 0 ≤ bits ≤ address width.
pub fn is_valid_ip_id(id: &str) -> bool {
    parse_ip_expr(id).is_some()
}

/// `IPAuthenticationProvider.matches`: the caller's address equals the ACL address under
/// the ACL's prefix mask.
pub fn ip_matches(remote: &str, expr: &str) -> bool {
    let Some((mut acl_addr, bits)) = parse_ip_expr(expr) else {
        return false;
    };
    let Some(mut remote_addr) = parse_addr(remote) else {
        return false;
    };
    if remote_addr.len() != acl_addr.len() {
        return false;
    }
    mask(&mut acl_addr, bits);
    mask(&mut remote_addr, bits);
    acl_addr == remote_addr
}

fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let bytes = parse_addr(addr)?;
    let width = bytes.len() * 8;
    let bits = match bits {
        None => width,
        Some(b) => {
            let b: i32 = b.parse().ok()?;
            if b < 0 || b as usize > width {
                return None;
            }
            b as usize
        }
    };
    Some((bytes, bits))
}

fn mask(b: &mut [u8], bits: usize) {
    for (i, byte) in b.iter_mut().enumerate() {
        let keep = bits.saturating_sub(i * 8).min(8);
        *byte &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
    }
}

fn parse_addr(s: &str) -> Option<Vec<u8>> {
    parse_v4(s)
        .map(|a| a.to_vec())
        .or_else(|| parse_v6(s).map(|a| a.to_vec()))
}

/// Java `v4addr2Bytes`: exactly four dot-separated `Integer.parseInt` values in 0..=255.
fn parse_v4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 {
            return None;
        }
        let v: i32 = part.parse().ok()?;
        out[n] = u8::try_from(v).ok()?;
        n += 1;
    }
    (n == 4).then_some(out)
}

/// An IPv6 address in textual form (`::` compression and a trailing dotted IPv4 allowed).
fn parse_v6(s: &str) -> Option<[u8; 16]> {
    if !s.contains(':') {
        return None;
    }
    let (head, tail) = match s.find("::") {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let groups = |part: &str, allow_v4: bool| -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        let pieces: Vec<&str> = part.split(':').collect();
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            if allow_v4 && i == pieces.len() - 1 && p.contains('.') {
                let v4 = parse_v4(p)?;
                out.push(u16::from_be_bytes([v4[0], v4[1]]));
                out.push(u16::from_be_bytes([v4[2], v4[3]]));
            } else {
                if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u16::from_str_radix(p, 16).ok()?);
            }
        }
        Some(out)
    };
    let words: Vec<u16> = match tail {
        None => {
            let g = groups(head, true)?;
            if g.len() != 8 {
                return None;
            }
            g
        }
        Some(tail) => {
            if tail.contains("::") {
                return None;
            }
            let h = groups(head, false)?;
            let t = groups(tail, true)?;
            if h.len() + t.len() > 7 {
                return None;
            }
            let mut w = h;
            w.resize(8 - t.len(), 0);
            w.extend(t);
            w
        }
    };
    let mut out = [0u8; 16];
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // The vectors' `digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=` for `alice:secret`.
        assert_eq!(
            digest_id("alice:secret"),
            "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="
        );
        let ids = digest_auth(b"nocolon", None);
        assert_eq!(ids.len(), 1);
        assert!(ids[0].id.starts_with("nocolon:"));
        let sup = digest_id("super:pw");
        let ids = digest_auth(b"super:pw", Some(&sup));
        assert_eq!(ids[0], Id::new("super", ""));
        assert_eq!(ids[1], Id::new("digest", sup));
    }

    #[test]
    fn digest_id_validity_follows_java_split() {
        assert!(is_valid_digest_id("alice:hash"));
        assert!(is_valid_digest_id(":hash"));
        assert!(!is_valid_digest_id("nocolon"));
        assert!(!is_valid_digest_id("alice:"));
        assert!(!is_valid_digest_id("a:b:c"));
        assert!(!is_valid_digest_id(""));
    }

    #[test]
    fn ip_ids_and_matching() {
        assert!(is_valid_ip_id("10.0.0.1"));
        assert!(is_valid_ip_id("10.0.0.0/8"));
        assert!(is_valid_ip_id("10.0.0.0/0"));
        assert!(!is_valid_ip_id("10.0.0.0/33"));
        assert!(!is_valid_ip_id("10.0.0"));
        assert!(!is_valid_ip_id("10.0.0.256"));
        assert!(!is_valid_ip_id("host.example"));
        assert!(!is_valid_ip_id("10.0.0.1/x"));
        assert!(is_valid_ip_id("::1"));
        assert!(is_valid_ip_id("2001:db8::/32"));
        assert!(is_valid_ip_id("::ffff:10.0.0.1"));
        assert!(!is_valid_ip_id("2001:db8::/129"));
        assert!(!is_valid_ip_id("1::2::3"));
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(!ip_matches("10.1.2.4", "10.1.2.3"));
        assert!(ip_matches("10.1.2.4", "10.1.2.0/29"));
        assert!(!ip_matches("10.1.2.4", "10.1.2.0/30"));
        assert!(ip_matches("2001:db8::5", "2001:db8::/32"));
        assert!(!ip_matches("2001:db9::5", "2001:db8::/32"));
        assert!(!ip_matches("10.0.0.1", "::/0"));
        assert!(ip_matches("::1", "0:0:0:0:0:0:0:1"));
    }

    #[test]
    fn fixup_rules() {
        let alice = Id::new("digest", digest_id("alice:secret"));
        let ip = Id::new("ip", "127.0.0.1");
        assert_eq!(fixup_acl(&[], &[]), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup_acl(&[Acl::new(Perms::ALL, "world", "foo")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[Acl::new(Perms::ALL, "nosuchscheme", "x")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&[Acl::new(Perms::ALL, "super", "")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        // auth with only an ip identity: ip is not an "authenticated" provider.
        assert_eq!(
            fixup_acl(&Acl::creator_all(), std::slice::from_ref(&ip)),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&Acl::creator_all(), &[ip.clone(), alice.clone()]),
            Ok(vec![Acl {
                perms: Perms::ALL,
                id: alice.clone()
            }])
        );
        let dup = [Acl::open_unsafe()[0].clone(), Acl::open_unsafe()[0].clone()];
        assert_eq!(fixup_acl(&dup, &[]), Ok(Acl::open_unsafe()));
    }

    #[test]
    fn check_rules() {
        let alice = Id::new("digest", digest_id("alice:secret"));
        let acl = vec![Acl {
            perms: Perms::READ,
            id: alice.clone(),
        }];
        assert!(check_acl(&acl, Perms::READ, std::slice::from_ref(&alice)));
        assert!(!check_acl(&acl, Perms::WRITE, std::slice::from_ref(&alice)));
        assert!(!check_acl(&acl, Perms::READ, &[]));
        assert!(check_acl(&acl, Perms::WRITE, &[Id::new("super", "")]));
        assert!(check_acl(&[], Perms::ADMIN, &[]));
        assert!(check_acl(
            &acl,
            Perms(Perms::READ.0 | Perms::ADMIN.0),
            std::slice::from_ref(&alice)
        ));
        let ipacl = vec![Acl::new(Perms::ALL, "ip", "10.0.0.0/8")];
        assert!(check_acl(&ipacl, Perms::READ, &[Id::new("ip", "10.9.9.9")]));
        assert!(!check_acl(
            &ipacl,
            Perms::READ,
            &[Id::new("ip", "11.9.9.9")]
        ));
        assert!(!check_acl(
            &ipacl,
            Perms::READ,
            &[Id::new("digest", "10.9.9.9")]
        ));
    }

    #[test]
    fn masking() {
        let acl = vec![
            Acl::new(Perms::READ, "digest", "alice:hash"),
            Acl::new(Perms::ALL, "world", "anyone"),
        ];
        let m = mask_digest_ids(&acl);
        assert_eq!(m[0].id.id, "alice:x");
        assert_eq!(m[1], acl[1]);
    }

    #[test]
    fn table_refcounts() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe());
        let b = t.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        assert_eq!(t.refs(a), 2);
        let c = t.intern(&Acl::read_unsafe());
        assert_ne!(a, c);
        t.release(a);
        t.release(a);
        assert_eq!(t.refs(a), 0);
        assert_eq!(t.live(), 1);
        assert_eq!(t.intern(&Acl::creator_all()), a, "slot reused");
    }

    /// The last-interned hint never stands in for the table: after its entry is freed, or
    /// its slot reused by another list, `intern` still finds (or stores) the right entry, and
    /// counts match a table that only ever searched.
    #[test]
    fn last_interned_hint_stays_exact() {
        let lists = [Acl::open_unsafe(), Acl::read_unsafe(), Acl::creator_all()];
        let mut t = AclTable::default();
        let mut want: BTreeMap<Vec<Acl>, (u32, u32)> = BTreeMap::new();
        let mut held: Vec<u32> = Vec::new();
        // A fixed walk (9 = release the newest held reference) that repeats lists (the
        // hint's case), alternates them, frees the hinted entry, and stores another list in
        // the hinted slot before interning the first one again.
        let script = [
            0, 0, 1, 0, 2, 2, 1, 9, 9, 9, 9, 9, 9, 2, 1, 1, 0, 9, 9, 0, 0,
        ];
        for (step, &k) in script.iter().enumerate() {
            if k == 9 {
                let Some(idx) = held.pop() else { continue };
                t.release(idx);
                let (_, n) = want
                    .values_mut()
                    .find(|(i, n)| *i == idx && *n > 0)
                    .expect("a held index is live");
                *n -= 1;
                assert_eq!(t.refs(idx), *n, "step {step}: refs after release");
                continue;
            }
            let idx = t.intern(&lists[k]);
            held.push(idx);
            let e = want.entry(lists[k].clone()).or_insert((idx, 0));
            if e.1 == 0 {
                e.0 = idx;
            }
            assert_eq!(idx, e.0, "step {step}: index of list {k}");
            e.1 += 1;
            assert_eq!(t.refs(idx), e.1, "step {step}: refs of list {k}");
            assert_eq!(&**t.get(idx), &lists[k][..], "step {step}: stored list");
        }
        let mut live: Vec<(u32, u32)> = want.values().copied().filter(|&(_, n)| n > 0).collect();
        live.sort();
        assert_eq!(t.live_refs(), live);
    }
}
