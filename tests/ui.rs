//! Compile-fail tests of the derives: every error a user can meet, with the message they see.
//! Cases live in `tests/ui/<kind>/`; regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui --all-features` and review the diff.
//!
//! A case whose first line is `//@ feature: NAME` uses a type of an optional feature and runs
//! only when the facade is built with it (`cargo test --workspace --all-features` runs them
//! all). `//@ feature: A, !B` needs A on and B off: rustc names a type by the shortest path
//! in the whole dependency graph, so a diagnostic can depend on another feature's crates
//! (with `postgres`, sqlx re-exports `serde_json::Value` as `JsonValue`). The impls behind
//! features are `#[diagnostic::do_not_recommend]`, so every other case's `.stderr` is the
//! same whichever features are on.

use std::path::PathBuf;

/// The optional type features this build has.
fn features_on() -> Vec<&'static str> {
    let mut on = Vec::new();
    if cfg!(feature = "chrono") {
        on.push("chrono");
    }
    if cfg!(feature = "time") {
        on.push("time");
    }
    if cfg!(feature = "uuid") {
        on.push("uuid");
    }
    if cfg!(feature = "rust_decimal") {
        on.push("rust_decimal");
    }
    if cfg!(feature = "serde_json") {
        on.push("serde_json");
    }
    if cfg!(feature = "postgres") {
        on.push("postgres");
    }
    on
}

/// Whether a case's feature conditions (`A, !B`) hold for the features `on`.
fn conditions_hold(conditions: &str, on: &[&str]) -> bool {
    conditions
        .split(',')
        .map(str::trim)
        .all(|c| match c.strip_prefix('!') {
            Some(off) => !on.contains(&off),
            None => on.contains(&c),
        })
}

/// Every case, with the feature conditions it has (if any).
fn cases() -> Vec<(PathBuf, Option<String>)> {
    let mut cases = Vec::new();
    for kind in std::fs::read_dir("tests/ui").expect("tests/ui") {
        let kind = kind.expect("a folder of tests/ui").path();
        for case in std::fs::read_dir(&kind).expect("a case folder") {
            let path = case.expect("a case").path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a case file");
                let feature = text
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("//@ feature:"))
                    .map(|f| f.trim().to_owned());
                cases.push((path, feature));
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn ui() {
    let on = features_on();
    let t = trybuild::TestCases::new();
    let mut gated = 0;
    for (path, feature) in cases() {
        match feature {
            Some(f) if !conditions_hold(&f, &on) => {}
            Some(_) => {
                gated += 1;
                t.compile_fail(path);
            }
            None => t.compile_fail(path),
        }
    }
    // With every feature on (as CI builds), each optional type feature has its case.
    if ["chrono", "time", "uuid", "rust_decimal", "serde_json"]
        .iter()
        .all(|f| on.contains(f))
    {
        assert!(
            gated >= 5,
            "one case per optional type feature, found {gated}"
        );
    }
}
