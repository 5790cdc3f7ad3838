//! Compile-time errors of `#[derive(Admin)]`: each misuse in
//! `tests/ui/admin/fail` must fail with the message pinned in its
//! `.stderr`, pointing at the name or option at fault.

#[test]
fn derive_admin_misuse_is_reported_clearly() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/admin/fail/*.rs");
}
