//! Compile-time behaviour of `#[derive(TemplateResponse)]`: the cases in
//! `tests/ui/template_response/pass` build and run, each misuse in `fail`
//! fails with the message pinned in its `.stderr`.

#[test]
fn derive_template_response() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/template_response/pass/*.rs");
    t.compile_fail("tests/ui/template_response/fail/*.rs");
}
