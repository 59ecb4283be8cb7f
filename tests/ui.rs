//! Compile-fail tests of the derives: every error a user can meet, with the message they see.
//! Cases live in `tests/ui/<kind>/`; regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
