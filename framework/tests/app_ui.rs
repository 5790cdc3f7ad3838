//! Compile-time help for the traits an app implements: a type that is not a
//! middleware hook or not a settings section fails with the hint pinned in
//! `tests/ui/app/fail/*.stderr`.

#[test]
fn app_traits_say_what_to_implement() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/app/fail/*.rs");
}
