//! Tidy: the determinism rules of STYLE.md §6, checked textually over `core/src`.
//!
//! clippy's `disallowed-types` / `disallowed-methods` (core/clippy.toml) catches uses it can
//! resolve; this scan also catches names in macros, fully qualified paths and new crates.
//! A line may opt out only with a trailing `// tidy: allow(<name>) <reason>` comment, and
//! the one allowed hash table (the lookup-only child index of the tree) is listed below.

use std::fs;
use std::path::{Path, PathBuf};

/// Names that must not appear in core's source.
const BANNED: &[&str] = &[
    "std::time",
    "Instant",
    "SystemTime",
    "std::thread",
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "tokio",
    "madsim",
    "thread_rng",
    "rand::rng",
    "getrandom",
    "OsRng",
    "HashMap",
    "HashSet",
    "println!",
    "eprintln!",
    "print!",
    "dbg!",
];

/// Files allowed to use a banned name, and which one: the single lookup-only index.
const ALLOWED_FILES: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("core/src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        let text = fs::read_to_string(&file).expect("source is UTF-8");
        let mut in_tests = false;
        for (n, line) in text.lines().enumerate() {
            // Unit tests at the bottom of a file may use std freely (e.g. HashSet in a model).
            if line.trim_start().starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests {
                continue;
            }
            let code = line.split("//").next().unwrap_or("");
            for name in BANNED {
                if !code.contains(name) {
                    continue;
                }
                let allowed_file = ALLOWED_FILES.iter().any(|(f, b)| *f == rel && b == name);
                let allowed_line = line.contains(&format!("// tidy: allow({name})"));
                if !allowed_file && !allowed_line {
                    found.push(format!(
                        "core/src/{rel}:{}: `{name}`: {}",
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn core_uses_no_banned_api() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&root);
    assert!(
        found.is_empty(),
        "banned APIs in core (STYLE.md §6):\n{}",
        found.join("\n")
    );
}

#[test]
fn tidy_catches_a_banned_name() {
    let dir = std::env::temp_dir().join(format!("arbor-tidy-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    fs::write(
        dir.join("bad.rs"),
        "fn f() { let t = std::time::Instant::now(); }\n",
    )
    .expect("write");
    fs::write(
        dir.join("ok.rs"),
        "// std::time in a comment is fine\nfn g() {}\n",
    )
    .expect("write");
    let found = violations(&dir);
    fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(
        found.len(),
        2,
        "both `std::time` and `Instant` flagged: {found:?}"
    );
    assert!(found.iter().all(|v| v.contains("bad.rs:1")));
}
