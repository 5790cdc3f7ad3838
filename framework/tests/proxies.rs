//! Trusted proxies through the pipeline: the in-process client has no
//! socket peer, which is how a connection over a Unix socket looks, so
//! `trusted_proxies = ["unix"]` makes it a trusted proxy.

use manouche::prelude::*;
use manouche::request::{ClientInfo, Host};
use manouche::test::Client;

async fn whoami(client: ClientInfo, host: Host) -> String {
    format!(
        "{} {} {}",
        client.addr.map_or("-".to_owned(), |ip| ip.to_string()),
        client.secure,
        host.absolute_url("/x/")
    )
}

fn client(trusted: &[&str]) -> Client {
    let mut settings = Settings::default();
    settings.server.trusted_proxies = trusted.iter().map(|s| (*s).to_owned()).collect();
    Client::new(Project::new(settings).urls(Urls::new().path("", get(whoami), "whoami"))).unwrap()
}

#[tokio::test]
async fn a_trusted_proxy_gives_the_address_and_the_scheme_of_absolute_urls() {
    let response = client(&["unix"])
        .get("/")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(response.text(), "203.0.113.7 true https://testserver/x/");
}

#[tokio::test]
async fn headers_from_a_peer_not_listed_are_ignored() {
    let response = client(&["10.0.0.0/8"])
        .get("/")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(response.text(), "- false http://testserver/x/");
}

#[tokio::test]
async fn a_malformed_header_is_ignored_and_the_request_served() {
    let response = client(&["unix"])
        .get("/")
        .header("x-forwarded-for", "203.0.113.7,,nonsense")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    // The proxies' report is dropped as a whole, scheme included: the
    // client is the peer, as if no proxy had spoken.
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "- false http://testserver/x/");
}
