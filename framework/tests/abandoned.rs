//! A request whose client goes away before the answer (an HTTP/2 stream
//! reset, a dropped connection) still gets its access-log line, with
//! nginx's status 499. Alone in its test binary: the log is captured with
//! a thread-local subscriber, which a test on another thread could race
//! for the log call sites' cached interest.

#[path = "support/captured_log.rs"]
mod captured_log;

use std::time::Duration;

use manouche::prelude::*;
use manouche::test::Client;

#[tokio::test(flavor = "current_thread")]
async fn a_request_abandoned_by_its_client_is_logged_with_499() {
    let captured = captured_log::Captured::default();
    let _guard = captured.install(tracing::Level::INFO);

    let urls = Urls::new().path("", get(|| async { "home" }), "home").path(
        "slow/",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
        "slow",
    );
    let mut settings = Settings::default();
    settings.server.request_timeout = Duration::from_secs(30);
    let client = Client::new(Project::new(settings).urls(urls)).unwrap();

    // The client gives up after 100 ms: the request's future is dropped
    // while the handler sleeps, as when hyper sees a stream reset.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        client.get("/slow/?page=2").send(),
    )
    .await;
    assert!(gave_up.is_err(), "the handler should still be sleeping");
    // A request that is answered is logged as before.
    assert_eq!(client.get("/").send().await.status(), StatusCode::OK);

    let log = captured.text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("manouche::access"))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let abandoned = lines[0];
    assert!(abandoned.contains("path=/slow/?page=2"), "{abandoned}");
    assert!(abandoned.contains("status=499"), "{abandoned}");
    assert!(abandoned.contains("bytes=-"), "{abandoned}");
    assert!(abandoned.contains("request_id="), "{abandoned}");
    assert!(lines[1].contains("status=200"), "{}", lines[1]);
}
