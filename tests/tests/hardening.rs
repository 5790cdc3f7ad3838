//! Connection limits against the real `example-site` binary: sockets that
//! never speak, clients that never read, HTTP/2 turned off, load shedding
//! and the per-client cap.

use std::time::{Duration, Instant};

use manouche_e2e::{Server, closed_within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn sockets_that_never_speak_are_closed_and_a_real_client_gets_through() {
    // The header timeout is long: only the first-request timeout can act.
    let server = Server::serve(&[
        ("MANOUCHE_MAX_CONNECTIONS", "20"),
        ("MANOUCHE_FIRST_REQUEST_TIMEOUT", "1s"),
        ("MANOUCHE_HEADER_READ_TIMEOUT", "30s"),
    ]);
    let opened = Instant::now();
    let mut idle = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // Half say nothing, half send the first byte of a request.
        if i % 2 == 1 {
            stream.write_all(b"P").await.unwrap();
        }
        idle.push(stream);
    }
    // Every place under the cap is taken: a real client waits in the
    // listen queue until the silent ones are cut, then is served.
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "served after {waited:?}: was the cap held?"
    );
    assert!(waited < Duration::from_secs(5), "served after {waited:?}");
    for (i, stream) in idle.iter_mut().enumerate() {
        let closed = closed_within(stream, opened, Duration::from_secs(5)).await;
        let closed = closed.unwrap_or_else(|| panic!("idle socket {i} still open after 5 s"));
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(4),
            "socket {i} closed after {closed:?}"
        );
    }
    // A client that speaks in time is served on a connection it keeps.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_after_the_send_timeout() {
    let server = Server::serve(&[("MANOUCHE_SEND_TIMEOUT", "1s")]);
    // A small receive window, so that 5 MB cannot all sit in buffers.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /debug/bytes/5000000/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut one = [0u8; 1];
    stream.read_exact(&mut one).await.unwrap();
    let stopped = Instant::now();
    // Read nothing more for a while: the server gives up on the client.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    let got = 1 + rest.len();
    assert!(
        matches!(read, Ok(Err(_)) | Ok(Ok(_))),
        "the server still held the connection {:?} after the client stopped",
        stopped.elapsed()
    );
    assert!(
        got < 5_000_000,
        "the whole body arrived ({got} bytes): nothing was cut"
    );
    // Meanwhile, others are served.
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A slow reader that keeps reading gets everything.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"GET /debug/bytes/300000/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(all.len() > 300_000, "{} bytes", all.len());
}

#[tokio::test]
async fn http2_off_refuses_prior_knowledge_and_serves_http1() {
    let server = Server::serve(&[("MANOUCHE_HTTP2", "false")]);
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let refused = h2.get(server.url("/")).send().await;
    assert!(refused.is_err(), "HTTP/2 was served: {refused:?}");
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    // On by default.
    let on = Server::serve(&[]);
    let r = h2.get(on.url("/")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
}

#[tokio::test]
async fn past_the_in_flight_cap_requests_get_503_and_the_server_recovers() {
    let server = Server::serve(&[("MANOUCHE_MAX_REQUESTS_IN_FLIGHT", "3")]);
    let http = client();
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let http = http.clone();
            let url = server.url("/debug/slow/2000/");
            tokio::spawn(async move { http.get(url).send().await.unwrap().status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        let r = http.get(server.url("/")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
    }
    for task in slow {
        assert_eq!(task.await.unwrap(), 200);
    }
    // The burst is over: served again.
    for _ in 0..5 {
        assert_eq!(
            http.get(server.url("/")).send().await.unwrap().status(),
            200
        );
    }
}

#[tokio::test]
async fn one_address_gets_at_most_its_share_of_connections() {
    let server = Server::serve(&[("MANOUCHE_MAX_CONNECTIONS_PER_CLIENT", "3")]);
    // Each of the three is served once, so each surely holds a place (the
    // readiness probe's place may still be taken for a moment: a
    // connection refused for it is opened again).
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(admitted_connection(server.addr).await);
    }
    // Accepted, then closed at once.
    let mut fourth = TcpStream::connect(server.addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let closed = closed_within(&mut fourth, Instant::now(), Duration::from_secs(3)).await;
    assert!(
        closed.is_some(),
        "a fourth connection from one address was kept"
    );
    // One of the three goes: there is room again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(server.addr).await.unwrap();
    again
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = again.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

/// A keep-alive connection on which one `GET /` was answered `200`; a
/// connection the server closes before answering is opened again.
async fn admitted_connection(addr: std::net::SocketAddr) -> TcpStream {
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .is_err()
        {
            continue;
        }
        let mut buf = vec![0u8; 64 * 1024];
        match stream.read(&mut buf).await {
            Ok(n) if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200") => {
                return stream;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("no connection was admitted in 20 tries");
}

/// Sends raw bytes and reads until the server closes or 5 s pass.
async fn raw_exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn no_redirect_leaves_the_site_and_an_absolute_target_must_agree_with_host() {
    let server = Server::serve(&[]);
    for target in [
        "//evil.example",
        "//evil.example/x",
        "///evil.example",
        "/blog//evil.example",
    ] {
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let response = raw_exchange(&server, request.as_bytes()).await;
        let location = response.lines().find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        });
        assert!(
            location.is_none_or(|l| !l.starts_with("//") && !l.contains("://")),
            "{target}: {response}"
        );
    }
    let response = raw_exchange(
        &server,
        b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
}

#[tokio::test]
async fn an_http2_client_that_never_finishes_its_headers_is_cut() {
    let server = Server::serve(&[("MANOUCHE_HEADER_READ_TIMEOUT", "1s")]);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // An empty SETTINGS frame, then HEADERS for stream 1 (`:method GET`)
    // without END_HEADERS: the block stays open, no CONTINUATION follows.
    bytes.extend([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    bytes.extend([0, 0, 1, 0x1, 0x1, 0, 0, 0, 1, 0x82]);
    stream.write_all(&bytes).await.unwrap();
    let opened = Instant::now();
    // A client that sends whole requests is served meanwhile.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let closed = closed_within(&mut stream, opened, Duration::from_secs(5)).await;
    let closed = closed.expect("a half-sent header block kept its connection for 5 s");
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(4),
        "closed after {closed:?}"
    );
}
