//! Compile-time help for the mail traits: a type that is not a backend or
//! not an address fails with the hint pinned in `tests/ui/mail/fail/*.stderr`.

#[test]
fn mail_traits_say_what_to_implement() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/mail/fail/*.rs");
}
