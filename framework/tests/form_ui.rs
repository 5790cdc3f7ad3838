//! Compile-time errors of `#[derive(Form)]`: each misuse in
//! `tests/ui/form/fail` must fail with the message pinned in its `.stderr`,
//! pointing at the attribute or field at fault.

#[test]
fn derive_form_misuse_is_reported_clearly() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/form/fail/*.rs");
}
