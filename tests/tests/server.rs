//! The built-in server, end to end: the real `example-site` binary on a
//! real port, driven over real sockets.

use std::time::{Duration, Instant};

use manouche_e2e::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends raw bytes, then reads until the server closes or `limit` passes.
async fn raw_exchange(server: &Server, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// A CSRF secret, sent as the cookie and in the header: unsafe requests
/// that carry both pass the site's CSRF check without a page first.
const CSRF_SECRET: &str = "lcccccccX2kcccccccY2jcccccccssIC";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_pages_with_security_headers_and_a_request_id() {
    let server = Server::serve(&[]);
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    let id = h["x-request-id"].to_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let body = r.text().await.unwrap();
    assert!(body.contains("href=\"/blog/\""), "{body}");
    // The access log has one line for the request, with its id.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.output();
    let line = log
        .lines()
        .find(|l| l.contains("manouche::access") && l.contains(&id))
        .unwrap_or_else(|| panic!("no access-log line for {id} in:\n{log}"));
    assert!(
        line.contains("GET") && line.contains("200") && line.contains("bytes"),
        "{line}"
    );
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off_after_the_header_timeout() {
    let server = Server::serve(&[("MANOUCHE_HEADER_READ_TIMEOUT", "1s")]);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let start = Instant::now();
    let mut closed_after = None;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        // Has the server hung up?
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed_after = Some(start.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                // hyper may answer 408 before closing; either way, cut off.
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                assert!(
                    !text.contains("200 OK"),
                    "the trickled request was served: {text}"
                );
            }
            Err(_) => {}
        }
    }
    let closed_after =
        closed_after.expect("the server kept a trickling client for the whole request");
    // The whole request would take ~9 s at this pace.
    assert!(
        closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(4),
        "cut off after {closed_after:?}"
    );
}

#[tokio::test]
async fn a_3_mb_body_gets_413() {
    let server = Server::serve(&[]);
    // Declared length: refused without reading the body.
    let response = raw_exchange(
        &server,
        b"POST /debug/echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3145728\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // The same body through a client library, streamed in full.
    let r = client()
        .post(server.url("/debug/echo/"))
        .header("cookie", format!("csrftoken={CSRF_SECRET}"))
        .header("x-csrftoken", CSRF_SECRET)
        .body(vec![b'x'; 3 * 1024 * 1024])
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        // The server may close before the client has written everything.
        Err(err) => assert!(err.is_request() || err.is_body(), "{err}"),
    }

    // Chunked, no length: cut off at the limit while reading.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /debug/echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: csrftoken={CSRF_SECRET}\r\nX-CSRFToken: {CSRF_SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let chunk = vec![b'y'; 64 * 1024];
        for _ in 0..48 {
            let head = format!("{:x}\r\n", chunk.len());
            if writer.write_all(head.as_bytes()).await.is_err()
                || writer.write_all(&chunk).await.is_err()
                || writer.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf))
        .await
        .expect("no answer to the chunked upload")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    sender.abort();
    // Still serving.
    assert_eq!(
        client().get(server.url("/")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn unsafe_requests_need_the_csrf_token() {
    let server = Server::serve(&[]);
    let echo = server.url("/debug/echo/");
    let r = client().post(&echo).body("hello").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = client()
        .post(&echo)
        .header("cookie", format!("csrftoken={CSRF_SECRET}"))
        .header("x-csrftoken", CSRF_SECRET)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "5 bytes");
    // The token from a form field, the body still whole for the view.
    let r = client()
        .post(&echo)
        .header("cookie", format!("csrftoken={CSRF_SECRET}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrfmiddlewaretoken={CSRF_SECRET}&a=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "56 bytes");
    // Another site's page may not post here, token or not.
    let r = client()
        .post(&echo)
        .header("origin", "https://evil.example")
        .header("cookie", format!("csrftoken={CSRF_SECRET}"))
        .header("x-csrftoken", CSRF_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_bad_host_gets_400() {
    let server = Server::serve(&[]);
    for host in ["evil.example", "127.0.0.1.evil.example", "bad host"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let response = raw_exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{host}: {response}");
        assert!(response.contains("x-frame-options: DENY"), "{response}");
    }
    let response = raw_exchange(
        &server,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn a_second_host_odd_targets_and_bad_ports_get_400() {
    let server = Server::serve(&[]);
    let long_port = format!("127.0.0.1:{}", "9".repeat(1000));
    let cases: Vec<(&str, String)> = vec![
        (
            "a second Host",
            "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
                .into(),
        ),
        (
            "authority form",
            "GET 127.0.0.1:8070 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into(),
        ),
        (
            "CONNECT",
            "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\nConnection: close\r\n\r\n"
                .into(),
        ),
        (
            "an ftp target",
            "GET ftp://localhost/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into(),
        ),
        (
            "port 99999",
            "GET / HTTP/1.1\r\nHost: localhost:99999\r\nConnection: close\r\n\r\n".into(),
        ),
        (
            "a 1,000-digit port",
            format!("GET / HTTP/1.1\r\nHost: {long_port}\r\nConnection: close\r\n\r\n"),
        ),
    ];
    for (what, request) in cases {
        let response = raw_exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{what}: {response}");
    }
    // An absolute-form target whose Host agrees is served.
    let response = raw_exchange(
        &server,
        b"GET http://localhost/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn a_panicking_route_gets_500_and_the_server_keeps_serving() {
    let server = Server::serve(&[]);
    let c = client();
    for _ in 0..3 {
        let r = c.get(server.url("/debug/panic/")).send().await.unwrap();
        assert_eq!(r.status(), 500);
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("on purpose"),
            "no panic detail with debug off"
        );
        assert_eq!(c.get(server.url("/")).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn a_request_over_the_request_timeout_gets_503() {
    let server = Server::serve(&[("MANOUCHE_REQUEST_TIMEOUT", "1s")]);
    let start = Instant::now();
    let r = client()
        .get(server.url("/debug/slow/3000/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    let r = client()
        .get(server.url("/debug/slow/10/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        server.output().contains("request timed out after 1s"),
        "{}",
        server.output()
    );
}

#[tokio::test]
async fn http2_with_prior_knowledge() {
    let server = Server::serve(&[]);
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2
        .get(server.url("/blog/articles/1/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.text().await.unwrap().contains("Welcome to Manouche"));
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut server = Server::serve(&[("MANOUCHE_DRAIN_TIMEOUT", "10s")]);
    let url = server.url("/debug/slow/1500/");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.signal("TERM");
    // New connections are refused once draining has begun.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "the listener should be closed while draining"
    );
    let r = in_flight
        .await
        .unwrap()
        .expect("the in-flight request failed");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "slept 1500 ms");
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("the server did not exit after draining");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(
        server.output().contains("SIGTERM received"),
        "{}",
        server.output()
    );
}

#[tokio::test]
async fn serves_on_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("manouche-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("site.sock");
    let bind = format!("unix:{}", socket.display());
    let mut env = manouche_e2e::deploy_env();
    env.push(("MANOUCHE_LOG", "warn".into()));
    let server = Server::spawn(
        &["serve", "--bind", &bind],
        &env,
        "127.0.0.1:1".parse().unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match tokio::net::UnixStream::connect(&socket).await {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            Err(e) => panic!("no unix socket: {e}\n{}", server.output()),
        }
    };
    stream
        .write_all(b"GET /blog/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// The value of one sample line in Prometheus text (`name{labels} value`).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_endpoint_counts_requests_by_route_and_status() {
    let metrics_port = manouche_e2e::free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = Server::serve(&[("MANOUCHE_METRICS", metrics_addr.as_str())]);
    let c = client();
    let scrape = || async {
        client()
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    for path in [
        "/",
        "/",
        "/blog/articles/1/",
        "/nope/",
        "/static/site/app.css",
    ] {
        c.get(server.url(path)).send().await.unwrap();
    }
    let first = scrape().await;
    let home = r#"manouche_requests_total{route="home",status="200"}"#;
    let detail = r#"manouche_requests_total{route="blog:article-detail",status="200"}"#;
    let missing = r#"manouche_requests_total{route="unmatched",status="404"}"#;
    assert_eq!(sample(&first, home), Some(2.0), "{first}");
    assert_eq!(sample(&first, detail), Some(1.0), "{first}");
    assert_eq!(sample(&first, missing), Some(1.0), "{first}");
    let css_len = std::fs::metadata(manouche_e2e::workspace_root().join("static/site/app.css"))
        .unwrap()
        .len() as f64;
    assert_eq!(
        sample(&first, "manouche_static_bytes_total"),
        Some(css_len),
        "{first}"
    );
    assert!(
        first.contains("manouche_request_duration_seconds_bucket{route=\"home\""),
        "{first}"
    );
    assert!(
        sample(&first, "manouche_open_connections").is_some(),
        "{first}"
    );
    assert!(
        first.contains("manouche_db_pool_connections{state=\"idle\"}"),
        "{first}"
    );
    assert_eq!(
        sample(&first, "manouche_requests_in_flight"),
        Some(0.0),
        "{first}"
    );
    assert_eq!(
        sample(&first, "manouche_log_lines_dropped_total"),
        Some(0.0),
        "{first}"
    );

    // An HTTP/2 client resets its stream mid-request: the request is
    // counted with nginx's 499 and leaves the in-flight gauge.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let reset = h2.get(server.url("/debug/slow/5000/")).send().await;
    assert!(reset.is_err(), "the client should have given up");
    let slow = r#"manouche_requests_total{route="debug:slow",status="499"}"#;
    let deadline = Instant::now() + Duration::from_secs(3);
    let abandoned = loop {
        let text = scrape().await;
        if sample(&text, slow).is_some() || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sample(&abandoned, slow), Some(1.0), "{abandoned}");
    assert_eq!(
        sample(&abandoned, "manouche_requests_in_flight"),
        Some(0.0),
        "{abandoned}"
    );

    // The counters move with more requests.
    c.get(server.url("/")).send().await.unwrap();
    c.get(server.url("/static/site/app.css"))
        .send()
        .await
        .unwrap();
    let second = scrape().await;
    assert_eq!(sample(&second, home), Some(3.0), "{second}");
    assert_eq!(
        sample(&second, "manouche_static_bytes_total"),
        Some(2.0 * css_len),
        "{second}"
    );
}
