//! Idle connections against the real `example-site` binary: parking (an
//! idle HTTP/1 connection gives back hyper's buffers and still serves its
//! next request), the keep-alive limit for HTTP/1 and HTTP/2, and the drain
//! of parked connections.

use std::time::{Duration, Instant};

use manouche_e2e::{Server, closed_within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GET: &[u8] = b"GET /debug/bytes/10/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Reads one whole response to [`GET`] (a 10-byte body) and returns its
/// head.
async fn read_response(stream: &mut TcpStream) -> String {
    read_responses(stream, 1).await.remove(0)
}

/// Reads `n` whole responses (pipelined ones may arrive in one read) and
/// returns their heads.
async fn read_responses(stream: &mut TcpStream, n: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if got.len() < end + 4 + length {
                break;
            }
            got.drain(..end + 4 + length);
            heads.push(head);
        }
        if heads.len() >= n {
            assert!(got.is_empty(), "more than {n} responses");
            return heads;
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("no response within 5 s")
            .unwrap();
        assert!(
            read > 0,
            "closed mid-response: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..read]);
    }
}

/// The value of a gauge in a Prometheus text page.
fn gauge(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
}

async fn scrape(addr: &str) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_idle_connection_is_parked_and_still_serves_what_comes_next() {
    let metrics = format!("127.0.0.1:{}", manouche_e2e::free_port());
    let server = Server::serve(&[("MANOUCHE_METRICS", metrics.as_str())]);
    let mut connections = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(GET).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        connections.push(stream);
    }
    // Quiet for more than a second: parked.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let page = scrape(&metrics).await;
    assert_eq!(gauge(&page, "manouche_parked_connections"), 3.0, "{page}");

    // One request: served on the same connection.
    let [a, b, c] = &mut connections[..] else {
        unreachable!()
    };
    a.write_all(GET).await.unwrap();
    assert!(read_response(a).await.starts_with("HTTP/1.1 200"));
    // Two pipelined requests in one write: both answered, in order.
    b.write_all(&[GET, GET].concat()).await.unwrap();
    for head in read_responses(b, 2).await {
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    // A head that arrives in pieces across the wake-up.
    c.write_all(&GET[..7]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.write_all(&GET[7..]).await.unwrap();
    assert!(read_response(c).await.starts_with("HTTP/1.1 200"));
    let page = scrape(&metrics).await;
    assert_eq!(gauge(&page, "manouche_parked_connections"), 0.0, "{page}");

    // Parked again, and again served.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        gauge(&scrape(&metrics).await, "manouche_parked_connections"),
        3.0
    );
    for stream in &mut connections {
        stream.write_all(GET).await.unwrap();
        assert!(read_response(stream).await.starts_with("HTTP/1.1 200"));
    }
    // A client that goes away while parked is forgotten.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(connections);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = scrape(&metrics).await;
    assert_eq!(gauge(&page, "manouche_parked_connections"), 0.0, "{page}");
}

#[tokio::test]
async fn an_http1_connection_idle_past_the_keep_alive_limit_is_closed() {
    let server = Server::serve(&[("MANOUCHE_KEEP_ALIVE_TIMEOUT", "2s")]);
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(GET).await.unwrap();
    read_response(&mut idle).await;
    let answered = Instant::now();
    // A busy neighbour: a request every half second keeps it open.
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    let closed =
        tokio::spawn(
            async move { closed_within(&mut idle, answered, Duration::from_secs(6)).await },
        );
    for _ in 0..8 {
        busy.write_all(GET).await.unwrap();
        assert!(read_response(&mut busy).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let closed = closed
        .await
        .unwrap()
        .expect("still open 6 s after its response");
    assert!(
        closed >= Duration::from_millis(1900) && closed < Duration::from_secs(4),
        "closed after {closed:?}"
    );
}

/// An HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend([kind, flags]);
    out.extend(stream.to_be_bytes());
    out.extend(payload);
    out
}

#[tokio::test]
async fn an_http2_connection_idle_past_the_keep_alive_limit_gets_goaway() {
    let server = Server::serve(&[("MANOUCHE_KEEP_ALIVE_TIMEOUT", "2s")]);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // Prior knowledge: the preface, empty SETTINGS, and GET / on stream 1
    // (HPACK: :method GET, :scheme http, :path /, then :authority).
    let authority = b"127.0.0.1";
    let mut block = vec![0x82, 0x86, 0x84, 0x01, authority.len() as u8];
    block.extend(authority);
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(0x4, 0, 0, &[]));
    hello.extend(frame(0x1, 0x5, 1, &block));
    stream.write_all(&hello).await.unwrap();
    let mut answered = None;
    let mut goaway = None;
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while goaway.is_none() && start.elapsed() < Duration::from_secs(8) {
        let n = match tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        got.extend_from_slice(&buf[..n]);
        while got.len() >= 9 {
            let length = usize::from(got[0]) << 16 | usize::from(got[1]) << 8 | usize::from(got[2]);
            if got.len() < 9 + length {
                break;
            }
            let (kind, flags, id) = (
                got[3],
                got[4],
                u32::from_be_bytes([got[5], got[6], got[7], got[8]]),
            );
            if kind == 0x4 && flags & 1 == 0 {
                stream.write_all(&frame(0x4, 1, 0, &[])).await.unwrap();
            }
            if id == 1 && flags & 1 == 1 && (kind == 0x0 || kind == 0x1) {
                answered = Some(Instant::now());
            }
            if kind == 0x7 {
                goaway = Some(Instant::now());
            }
            got.drain(..9 + length);
        }
    }
    let answered = answered.expect("stream 1 was not answered");
    let goaway = goaway.expect("no GOAWAY within 8 s");
    let idle = goaway - answered;
    assert!(
        idle >= Duration::from_millis(1900) && idle < Duration::from_secs(4),
        "GOAWAY after {idle:?} idle"
    );
}

#[tokio::test]
async fn sigterm_closes_parked_connections_at_once() {
    let mut server = Server::serve(&[("MANOUCHE_DRAIN_TIMEOUT", "20s")]);
    let mut connections = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(GET).await.unwrap();
        read_response(&mut stream).await;
        connections.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let signalled = Instant::now();
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("the server waited for its parked connections");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(signalled.elapsed() < Duration::from_secs(3));
    for stream in &mut connections {
        assert!(
            closed_within(stream, signalled, Duration::from_secs(1))
                .await
                .is_some(),
            "a parked connection outlived the server"
        );
    }
}
