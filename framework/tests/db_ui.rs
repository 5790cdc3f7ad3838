//! Compile-time errors of `#[derive(Model)]`: each misuse in
//! `tests/ui/model/fail` must fail with the message pinned in its `.stderr`.

#[test]
fn derive_model_misuse_is_reported_clearly() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/model/fail/*.rs");
}
