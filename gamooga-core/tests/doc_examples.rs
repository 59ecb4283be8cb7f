//! Core's items show in the facade's docs with their examples, so every example in core's
//! doc comments is written as users read it, `gamooga::…` (the facade is a dev-dependency
//! of this crate, so those examples still run here as doctests).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of doc-comment code blocks that name `gamooga_core`, as `file:line: text`.
fn core_paths_in_examples(file: &Path, source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_block = false;
    for (n, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(doc) = trimmed
            .strip_prefix("///")
            .or_else(|| trimmed.strip_prefix("//!"))
        else {
            in_block = false;
            continue;
        };
        if doc.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if in_block && doc.contains("gamooga_core") {
            found.push(format!("{}:{}: {}", file.display(), n + 1, doc.trim()));
        }
    }
    found
}

#[test]
fn doc_examples_name_the_facade_not_core() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found the sources: {files:?}");
    let found: Vec<String> = files
        .iter()
        .flat_map(|f| core_paths_in_examples(f, &std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        found.is_empty(),
        "doc examples must use gamooga::, not gamooga_core::\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_core_path_in_an_example() {
    let source =
        "/// ```\n/// use gamooga_core::Client;\n/// ```\n/// [`Client`](gamooga_core::Client)\n";
    let found = core_paths_in_examples(Path::new("x.rs"), source);
    assert_eq!(found, ["x.rs:2: use gamooga_core::Client;"]);
}
