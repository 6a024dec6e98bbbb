//! Znode path rules: validation exactly as ZooKeeper 3.8's `PathUtils.validatePath`, the
//! "parent by last slash" split that `PrepRequestProcessor` performs before any validation,
//! and the reserved paths under `/zookeeper`.
//!
//! Inputs: path strings from client requests. Outputs: `Ok`/`BadArguments` decisions and
//! parent / child splits. No state.
//!
//! Invariants:
//! - `validate_path(p).is_ok()` implies `p` is `/` or `/c1/.../cn` with every component
//!   non-empty, not `.` / `..`, and free of the forbidden characters.
//! - Java validates UTF-16 code units, so every character outside the Basic Multilingual
//!   Plane (a surrogate pair in Java, inside U+D800–U+F8FF) is rejected here too.

use crate::types::ErrorCode;

/// The root path.
pub const ROOT_PATH: &str = "/";
/// ZooKeeper's own subtree (`Quotas.procZookeeper`).
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
/// The quota subtree (`Quotas.quotaZookeeper`).
pub const QUOTA_PATH: &str = "/zookeeper/quota";
/// The dynamic configuration node (`ZooDefs.CONFIG_NODE`).
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// Checks a full znode path as `PathUtils.validatePath` does; any violation is
/// `BadArguments`.
pub fn validate_path(path: &str) -> Result<(), ErrorCode> {
    if path_problem(path).is_some() {
        return Err(ErrorCode::BadArguments);
    }
    Ok(())
}

/// True for the four paths `DataTree.isSpecialPath` names: `/`, `/zookeeper`,
/// `/zookeeper/quota`, `/zookeeper/config`. Delete and deleteContainer refuse them.
pub fn is_special_path(path: &str) -> bool {
    matches!(path, ROOT_PATH | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
}

/// Splits a path at its last `/` the way `PrepRequestProcessor` does before validating:
/// `("/a/b")` → `("/a", "b")`, `("/a")` → `("", "a")` (the empty string names the root).
/// `None` when there is no `/` at all or the path holds a NUL (both BadArguments in 3.8).
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    // One pass for both questions: paths are short, and a byte loop beats two library
    // scans (memchr, memrchr) and their setup at these lengths.
    let mut last = None;
    for (i, &b) in path.as_bytes().iter().enumerate() {
        if b == b'/' {
            last = Some(i);
        } else if b == 0 {
            return None;
        }
    }
    let last = last?;
    Some((&path[..last], &path[last + 1..]))
}

/// A sequential node's path: `prefix` followed by the parent's `cversion` as Java's
/// `String.format("%010d", n)` prints it (zero-padded to ten characters, sign first:
/// `-000000005`; `i32::MIN` overflows the width as in Java). Equal to
/// `format!("{prefix}{n:010}")`, without the formatting machinery.
pub fn sequential_path(prefix: &str, n: i32) -> String {
    let mut out = String::with_capacity(prefix.len() + 11);
    out.push_str(prefix);
    let mut digits = [b'0'; 10];
    let mut v = n.unsigned_abs();
    let mut i = digits.len();
    while v > 0 {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    // Ten characters in all: a negative number gives one zero to its sign.
    let start = if n < 0 {
        out.push('-');
        i.min(1)
    } else {
        0
    };
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
    out
}

/// The parent path of a valid, non-root path as ZooKeeper names it in watch events (`/` for
/// children of the root).
pub fn parent_for_events(path: &str) -> &str {
    match path.bytes().rposition(|b| b == b'/') {
        Some(0) | None => ROOT_PATH,
        Some(i) => &path[..i],
    }
}

/// Why a path is invalid, or `None` when it is valid. Characters first: one branch-free
/// scan flags any byte that is not printable ASCII, and only then are the characters
/// decoded and judged (so an ASCII path never decodes); then the components between
/// slashes.
fn path_problem(path: &str) -> Option<&'static str> {
    let bytes = path.as_bytes();
    match bytes {
        [] => return Some("empty path"),
        [b'/'] => return None,
        [first, ..] if *first != b'/' => return Some("must start with /"),
        [.., b'/'] => return Some("must not end with /"),
        _ => {}
    }
    // Controls, DEL and every non-ASCII byte; `forbidden_char` covers the first two.
    let unusual = bytes
        .iter()
        .fold(false, |acc, &b| acc | !(0x20..0x7f).contains(&b));
    if unusual && path.chars().any(forbidden_char) {
        return Some("invalid character");
    }
    for component in bytes[1..].split(|&b| b == b'/') {
        match component {
            [] => return Some("empty node name"),
            b"." | b".." => return Some("relative paths not allowed"),
            _ => {}
        }
    }
    None
}

/// The characters `PathUtils` forbids (judged on UTF-16 code units in Java).
fn forbidden_char(c: char) -> bool {
    let u = c as u32;
    u == 0
        || (0x01..=0x1f).contains(&u)
        || (0x7f..=0x9f).contains(&u)
        || (0xd800..=0xf8ff).contains(&u)
        || (0xfff0..=0xffff).contains(&u)
        // A supplementary character is a surrogate pair in Java, which falls in the
        // forbidden U+D800–U+DFFF range.
        || u > 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the two-scan definition (any NUL → None, else split at the last `/`) over
    /// every string of up to five characters from an alphabet that hits each case.
    #[test]
    fn split_parent_and_parent_for_events_match_their_definitions() {
        let alphabet = ['/', 'a', '\0', 'é'];
        let mut cur = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for p in &cur {
                for c in alphabet {
                    let mut q = p.clone();
                    q.push(c);
                    let want = if q.contains('\0') {
                        None
                    } else {
                        q.rfind('/').map(|i| (&q[..i], &q[i + 1..]))
                    };
                    assert_eq!(split_parent(&q), want, "{q:?}");
                    let want_parent = match q.rfind('/') {
                        Some(0) | None => ROOT_PATH,
                        Some(i) => &q[..i],
                    };
                    assert_eq!(parent_for_events(&q), want_parent, "{q:?}");
                    next.push(q);
                }
            }
            cur = next;
        }
    }

    #[test]
    fn sequential_path_prints_as_java_percent_010d() {
        let mut values = vec![0, 1, -1, 9, -9, i32::MAX, i32::MIN, i32::MIN + 1];
        let mut p = 1i64;
        for _ in 0..10 {
            for d in [-1, 0, 1] {
                for sign in [1, -1] {
                    if let Ok(v) = i32::try_from(sign * (p + d)) {
                        values.push(v);
                    }
                }
            }
            p *= 10;
        }
        for v in values {
            for prefix in ["", "/a/lock-", "/"] {
                assert_eq!(
                    sequential_path(prefix, v),
                    format!("{prefix}{v:010}"),
                    "{v}"
                );
            }
        }
        assert_eq!(sequential_path("/q-", 42), "/q-0000000042");
        assert_eq!(sequential_path("/q-", -5), "/q--000000005");
        assert_eq!(sequential_path("/q-", i32::MIN), "/q--2147483648");
    }

    #[test]
    fn valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/a/..b",
            "/.a",
            "/zookeeper",
            "/é",
            "/a b",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn invalid_paths() {
        for p in [
            "",
            "a",
            "a/b",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/../b",
            "/a/./b",
            "/a\0b",
            "/a\u{1}",
            "/a\u{1f}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/a\u{e000}",
            "/a\u{f8ff}",
            "/a\u{fff0}",
            "/a\u{ffff}",
            "/a\u{1f600}",
        ] {
            assert_eq!(validate_path(p), Err(ErrorCode::BadArguments), "{p:?}");
        }
        assert_eq!(validate_path("/a\u{a0}"), Ok(()));
        assert_eq!(validate_path("/a\u{f900}"), Ok(()));
    }

    /// The one-pass check agrees with the rules spelled out directly (components, then
    /// characters) on every string of up to five characters over an alphabet that hits
    /// each rule.
    #[test]
    fn path_check_matches_the_rules_exhaustively() {
        fn reference(path: &str) -> bool {
            if path == "/" {
                return true;
            }
            if !path.starts_with('/') || path.ends_with('/') {
                return false;
            }
            path[1..]
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
                && !path.chars().any(forbidden_char)
        }
        let alphabet = [
            '/',
            '.',
            'a',
            '\0',
            '\u{1}',
            '\u{7f}',
            '\u{9f}',
            'é',
            '\u{e000}',
            '\u{1f600}',
        ];
        let mut checked = 0;
        let mut stack = vec![String::new()];
        while let Some(p) = stack.pop() {
            assert_eq!(validate_path(&p).is_ok(), reference(&p), "{p:?}");
            checked += 1;
            if p.chars().count() < 5 {
                for c in alphabet {
                    let mut q = p.clone();
                    q.push(c);
                    stack.push(q);
                }
            }
        }
        assert_eq!(checked, (0..=5).map(|k| 10usize.pow(k)).sum::<usize>());
    }

    #[test]
    fn split_parent_like_zookeeper() {
        assert_eq!(split_parent("/a/b"), Some(("/a", "b")));
        assert_eq!(split_parent("/a"), Some(("", "a")));
        assert_eq!(split_parent("/"), Some(("", "")));
        assert_eq!(split_parent("vec/x"), Some(("vec", "x")));
        assert_eq!(split_parent("/vec/p//x"), Some(("/vec/p/", "x")));
        assert_eq!(split_parent("abc"), None);
        assert_eq!(split_parent("/a\0"), None);
    }

    #[test]
    fn special_paths() {
        for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
            assert!(is_special_path(p));
        }
        assert!(!is_special_path("/zookeeper/quota/x"));
        assert!(!is_special_path(""));
        assert_eq!(parent_for_events("/a"), "/");
        assert_eq!(parent_for_events("/a/b"), "/a");
    }
}
