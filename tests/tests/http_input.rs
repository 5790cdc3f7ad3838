//! What the server does with HTTP input a client should not send: heads
//! over the size limits, transfer codings other than `chunked`, an HTTP/2
//! `host` that contradicts `:authority`, HTTP/2 rapid reset; and with
//! input it must accept: a request whose client then half-closes. Also
//! that such clients cannot fill the log or the server's memory. The real
//! `example-site` binary in production mode, over raw sockets.

use std::time::{Duration, Instant};

use manouche_e2e::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` (ignoring a write the server cut short by answering
/// early), then reads until the server closes or `limit` passes.
async fn exchange(server: &Server, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn get_with(header: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: localhost\r\n{header}\r\nConnection: close\r\n\r\n")
}

fn status(response: &str) -> &str {
    response.get(9..12).unwrap_or(response)
}

/// The server's resident memory in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in:\n{status}"))
}

/// Lines of the server's output that name `needle`.
fn lines_with(server: &Server, needle: &str) -> Vec<String> {
    server
        .output()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn header_lines_over_8_kb_and_heads_over_the_limits_get_431() {
    let server = Server::serve(&[]);
    let limit = Duration::from_secs(10);
    let ok = exchange(
        &server,
        get_with(&format!("X-A: {}", "a".repeat(7000))).as_bytes(),
        limit,
    )
    .await;
    assert_eq!(status(&ok), "200", "{ok}");
    // Measured line by line: one 16 KB line.
    let line = exchange(
        &server,
        get_with(&format!("X-A: {}", "a".repeat(16_000))).as_bytes(),
        limit,
    )
    .await;
    assert_eq!(status(&line), "431", "{line}");
    assert!(
        line.contains("x-frame-options: DENY"),
        "the site's error page: {line}"
    );
    // Six lines of 7 KB: each allowed, 42 KB in all is not.
    let many: Vec<String> = (0..6)
        .map(|i| format!("X-{i}: {}", "b".repeat(7000)))
        .collect();
    let total = exchange(&server, get_with(&many.join("\r\n")).as_bytes(), limit).await;
    assert_eq!(status(&total), "431", "{total}");
    // Past the read buffer (request line + headers, 40 KB): the parser's 431,
    // and the connection is closed while the client is still sending.
    for size in [100_000, 390_000] {
        let start = Instant::now();
        let huge = exchange(
            &server,
            get_with(&format!("X-A: {}", "c".repeat(size))).as_bytes(),
            limit,
        )
        .await;
        assert_eq!(
            status(&huge),
            "431",
            "{size}: {}",
            &huge[..huge.len().min(300)]
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    // The server still serves.
    let ok = exchange(&server, get_with("X-B: b").as_bytes(), limit).await;
    assert_eq!(status(&ok), "200", "{ok}");
}

#[tokio::test]
async fn a_request_line_over_8_kb_gets_414() {
    let server = Server::serve(&[]);
    let limit = Duration::from_secs(10);
    let ok = format!(
        "GET /?q={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "a".repeat(8000)
    );
    assert_eq!(
        status(&exchange(&server, ok.as_bytes(), limit).await),
        "200"
    );
    for target in [
        format!("/?q={}", "a".repeat(9000)),
        format!("/{}", "p".repeat(30_000)),
    ] {
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let response = exchange(&server, request.as_bytes(), limit).await;
        assert_eq!(
            status(&response),
            "414",
            "{}",
            &response[..response.len().min(300)]
        );
    }
    let method = format!(
        "{} / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "M".repeat(9000)
    );
    assert_eq!(
        status(&exchange(&server, method.as_bytes(), limit).await),
        "414"
    );
    // A request line past the read buffer (40 KB): 414 when the whole
    // head came in the buffer's last read, else the parser stops it
    // unfinished and cannot tell it from a long head: 431.
    for request in [
        format!(
            "GET /?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "a".repeat(60_000)
        ),
        format!(
            "{} / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "M".repeat(100_000)
        ),
        format!(
            "GET /?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "a".repeat(400_000)
        ),
    ] {
        let response = exchange(&server, request.as_bytes(), limit).await;
        assert!(
            ["414", "431"].contains(&status(&response)),
            "{}",
            &response[..response.len().min(300)]
        );
    }
}

#[tokio::test]
async fn the_limits_follow_the_settings() {
    let server = Server::serve(&[
        ("MANOUCHE_MAX_HEADER_LINE", "1024"),
        ("MANOUCHE_MAX_REQUEST_LINE", "512"),
    ]);
    let limit = Duration::from_secs(10);
    let line = exchange(
        &server,
        get_with(&format!("X-A: {}", "a".repeat(2000))).as_bytes(),
        limit,
    )
    .await;
    assert_eq!(status(&line), "431", "{line}");
    let request = format!(
        "GET /?q={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "a".repeat(600)
    );
    assert_eq!(
        status(&exchange(&server, request.as_bytes(), limit).await),
        "414"
    );
}

#[tokio::test]
async fn transfer_codings_other_than_chunked_alone_get_501_and_the_connection_closes() {
    let server = Server::serve(&[]);
    for coding in [
        "Transfer-Encoding: identity, chunked",
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    ] {
        // No `Connection: close`: the server must close on its own, and
        // must not read the second request smuggled in the body.
        let request = format!(
            "POST /debug/echo/ HTTP/1.1\r\nHost: localhost\r\n{coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /nope/ HTTP/1.1\r\nHost: localhost\r\n\r\n"
        );
        let response = exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(status(&response), "501", "{coding}: {response}");
        assert!(response.contains("connection: close"), "{response}");
        assert_eq!(
            response.matches("HTTP/1.1").count(),
            1,
            "one answer only: {response}"
        );
    }
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_gets_the_whole_response() {
    let server = Server::serve(&[]);
    for path in ["/", "/blog/articles/1/", "/debug/slow/100/"] {
        for _ in 0..10 {
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            let mut buf = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
                .await
                .expect("the server closes after answering")
                .unwrap();
            let text = String::from_utf8_lossy(&buf);
            assert_eq!(status(&text), "200", "{path}: {text:?}");
            let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no content-length: {head}"));
            assert_eq!(body.len(), length, "{path}: the whole body");
        }
    }
}

#[tokio::test]
async fn a_300_kb_bad_host_and_a_flood_of_bad_requests_leave_short_rate_limited_lines() {
    let server = Server::serve(&[]);
    let limit = Duration::from_secs(10);
    // Too big to be a head at all: the parser's 431, one short line.
    let huge = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", "h".repeat(300_000));
    assert_eq!(
        status(&exchange(&server, huge.as_bytes(), limit).await),
        "431"
    );
    // Within the limits but not a host: 400, the value cut in the warning.
    let bad = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        "h".repeat(7000)
    );
    assert_eq!(
        status(&exchange(&server, bad.as_bytes(), limit).await),
        "400"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lines_with(&server, "answered 431").len(),
        1,
        "{}",
        server.output()
    );
    assert_eq!(
        lines_with(&server, "7000 bytes").len(),
        1,
        "{}",
        server.output()
    );
    // A flood from one address: ten warnings per kind, then silence.
    for _ in 0..50 {
        let request = "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
        assert_eq!(
            status(&exchange(&server, request.as_bytes(), limit).await),
            "400"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lines_with(&server, "evil.example").len(),
        9,
        "the burst of 10 took one line for the 7 KB host:\n{}",
        server.output()
    );
    // After the window, the next warning is preceded by the count.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let request = "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(
        status(&exchange(&server, request.as_bytes(), limit).await),
        "400"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let suppressed = lines_with(
        &server,
        "suppressed 41 similar warnings (host) from 127.0.0.1",
    );
    assert_eq!(suppressed.len(), 1, "{}", server.output());
    for line in server.output().lines() {
        assert!(
            line.len() < 1024,
            "a {}-byte line: {}",
            line.len(),
            &line[..300]
        );
    }
}

#[tokio::test]
async fn http2_authority_and_host_must_agree_and_the_head_limits_hold() {
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let server = Server::serve(&[]);
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let port = server.addr.port();
    for (host, expected) in [
        (None, 200),
        (Some(format!("127.0.0.1:{port}")), 200),
        (Some("evil.example".to_owned()), 400),
        (Some(format!("localhost:{port}")), 400),
    ] {
        let mut request = hyper::Request::get(format!("http://127.0.0.1:{port}/"));
        if let Some(host) = &host {
            request = request.header("host", host);
        }
        let response = sender
            .send_request(request.body(String::new()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "host {host:?}");
    }
    // The header line limit holds over HTTP/2 too.
    let request = hyper::Request::get(format!("http://127.0.0.1:{port}/"))
        .header("x-a", "a".repeat(16_000))
        .body(String::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 431);
    // Past the header list size the server announces (40 KB), h2 answers.
    let request = hyper::Request::get(format!("http://127.0.0.1:{port}/"))
        .header("x-a", "a".repeat(60_000))
        .body(String::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 431);
}

/// One HTTP/2 frame: length, type, flags, stream id, payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

#[tokio::test]
async fn http2_rapid_reset_is_counted_in_the_metrics_not_logged() {
    let metrics_addr = format!("127.0.0.1:{}", manouche_e2e::free_port());
    let server = Server::serve(&[("MANOUCHE_METRICS", metrics_addr.as_str())]);
    // `GET / http 127.0.0.1` from the static table and a literal, then a
    // reset of the stream, a thousand times per connection.
    let mut headers = vec![0x82, 0x86, 0x84, 0x41, 9];
    headers.extend(b"127.0.0.1");
    let mut attack = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    attack.extend(frame(0x4, 0, 0, &[]));
    for n in 0..1000u32 {
        let stream = 2 * n + 1;
        attack.extend(frame(0x1, 0x5, stream, &headers));
        attack.extend(frame(0x3, 0, stream, &8u32.to_be_bytes()));
    }
    let connections = 20;
    for _ in 0..connections {
        let reply = exchange(&server, &attack, Duration::from_secs(10)).await;
        // The server's GOAWAY carries ENHANCE_YOUR_CALM (0xb).
        assert!(!reply.is_empty());
    }
    let ok = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(ok.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics
        .lines()
        .find(|l| l.starts_with(r#"manouche_client_errors_total{kind="http2_too_many_resets"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(counted, Some(f64::from(connections)), "{metrics}");
    // Startup's own warnings (checks, static files) aside.
    let warnings: Vec<String> = server
        .output()
        .lines()
        .filter(|l| {
            l.contains("WARN") && !l.contains("manouche::checks") && !l.contains("manouche::static")
        })
        .map(str::to_owned)
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

/// The frames in `bytes` as (type, flags, stream, payload); a cut last
/// frame is left out.
fn frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::try_from(u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]])).unwrap();
        if bytes.len() < 9 + len {
            break;
        }
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        out.push((bytes[3], bytes[4], stream, bytes[9..9 + len].to_vec()));
        bytes = &bytes[9 + len..];
    }
    out
}

#[tokio::test]
async fn http2_streams_past_the_limit_are_refused_and_others_are_served() {
    let server = Server::serve(&[]);
    // `GET /debug/slow/3000/` on 300 streams at once: past the limit of
    // 256 concurrent streams per connection.
    let path = b"/debug/slow/3000/";
    let mut headers = vec![0x82, 0x86, 0x04, u8::try_from(path.len()).unwrap()];
    headers.extend(path);
    headers.extend([0x01, 9]);
    headers.extend(b"127.0.0.1");
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend(frame(0x4, 0, 0, &[]));
    let mut attacker = TcpStream::connect(server.addr).await.unwrap();
    attacker.write_all(&preface).await.unwrap();
    // The server's SETTINGS (with its stream limit) is acknowledged, so
    // that the limit is in force.
    let mut first = vec![0; 1024];
    let n = attacker.read(&mut first).await.unwrap();
    assert!(frames(&first[..n]).iter().any(|f| f.0 == 0x4 && f.1 == 0));
    let mut attack = frame(0x4, 0x1, 0, &[]);
    for n in 0..300u32 {
        attack.extend(frame(0x1, 0x5, 2 * n + 1, &headers));
    }
    attacker.write_all(&attack).await.unwrap();
    // Another client is served at once, while the 256 wait.
    let started = std::time::Instant::now();
    let ok = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The streams past the limit were reset with REFUSED_STREAM (7).
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match attacker.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let refused = frames(&reply)
        .into_iter()
        .filter(|(kind, _, _, payload)| *kind == 0x3 && payload[..] == 7u32.to_be_bytes())
        .count();
    assert_eq!(refused, 300 - 256, "{} bytes of reply", reply.len());
}

#[tokio::test]
async fn stalled_390_kb_headers_from_500_clients_do_not_hold_memory() {
    let server = Server::serve(&[]);
    // Warm up with 500 ordinary clients at once: what any 500 connections
    // make the process keep (the runtime's table of sockets, the
    // allocator's arenas) is in the starting figure, so that what is
    // measured is what the large heads cost.
    let ordinary: Vec<_> = (0..500)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream
                    .write_all(get_with("X-A: a").as_bytes())
                    .await
                    .unwrap();
                let mut buf = Vec::new();
                stream.read_to_end(&mut buf).await.unwrap();
                String::from_utf8_lossy(&buf).into_owned()
            })
        })
        .collect();
    for client in ordinary {
        assert_eq!(status(&client.await.unwrap()), "200");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(server.pid());
    let header = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: {}",
        "a".repeat(390_000)
    );
    let mut clients = Vec::new();
    for _ in 0..500 {
        let addr = server.addr;
        let header = header.clone();
        clients.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            // The head never ends: no blank line.
            let _ = stream.write_all(header.as_bytes()).await;
            stream
        }));
    }
    let mut streams = Vec::new();
    for client in clients {
        streams.push(client.await.unwrap());
    }
    // The clients stall, holding their sockets open.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = rss_kib(server.pid());
    drop(streams);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(server.pid());
    let ok = exchange(
        &server,
        get_with("X-A: a").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status(&ok), "200");
    eprintln!("VmRSS before {before} KiB, stalled {during} KiB, after {after} KiB");
    assert!(
        during < before + 20 * 1024,
        "grew by {} KiB while stalled",
        during - before
    );
    assert!(
        after * 10 <= before * 11,
        "{after} KiB after the clients left, {before} KiB before"
    );
}
