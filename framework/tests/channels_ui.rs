//! Compile-time help for the traits a websocket app implements: a route
//! whose factory does not make a consumer, and an event type without its
//! `TYPE`, fail with the hints pinned in `tests/ui/channels/fail/*.stderr`.

#[test]
fn channels_traits_say_what_to_implement() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/channels/fail/*.rs");
}
