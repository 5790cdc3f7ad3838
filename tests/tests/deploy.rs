//! Deploying without losing requests, end to end against the real binary:
//! SIGTERM under keep-alive load, the drain's grace for idle connections,
//! the health probes, `serve --pidfile`, the Unix socket removed on exit,
//! and the client address taken from a trusted proxy's header.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use manouche_e2e::Server;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A CSRF secret sent as the cookie and in the header: POSTs that carry
/// both pass the site's CSRF check (see `server.rs`).
const CSRF_SECRET: &str = "lcccccccX2kcccccccY2jcccccccssIC";

/// One HTTP/1.1 response, as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn closes(&self) -> bool {
        self.headers
            .get("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response with a `Content-Length` body; `Err` when the
/// connection ends before it is whole (the request was lost).
async fn read_answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Answer, String> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) => {
                return Err(format!(
                    "connection closed before a response ({} bytes read)",
                    buf.len()
                ));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read failed before a response: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no content-length in {head:?}"))?;
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) => return Err("connection closed in the middle of a body".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read failed in a body: {e}")),
        }
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Sends one request and reads its answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
) -> Result<Answer, String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    read_answer(stream, &mut Vec::new()).await
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

fn post_echo(body: &str) -> Vec<u8> {
    format!(
        "POST /debug/echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: csrftoken={CSRF_SECRET}\r\nX-CSRFToken: {CSRF_SECRET}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What the load client saw.
#[derive(Debug, Default)]
struct Tally {
    answered: AtomicUsize,
    told_to_close: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

/// One keep-alive connection sending requests (two GETs, then a POST),
/// back to back or with a pause, until the server answers `Connection:
/// close`;
/// then it reconnects, and stops when the server no longer accepts.
async fn keep_busy(addr: SocketAddr, worker: usize, tally: Arc<Tally>, signalled: Arc<AtomicBool>) {
    let mut sent = 0usize;
    'connections: loop {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            // Refused: the server stopped accepting, which is the drain.
            assert!(
                signalled.load(Ordering::SeqCst),
                "worker {worker}: connection refused before SIGTERM"
            );
            return;
        };
        let mut buf = Vec::new();
        loop {
            sent += 1;
            // A quick page, a slow one and a POST, so that at any moment
            // some connections are idle between two requests, some have a
            // request in the handler, and some a body on its way.
            let (request, expect) = match sent % 3 {
                0 => {
                    let body = format!("worker {worker} request {sent}");
                    let len = body.len();
                    (post_echo(&body), format!("{len} bytes"))
                }
                1 => (get("/healthz"), "ok\n".to_owned()),
                _ => (get("/debug/slow/5/"), "slept 5 ms".to_owned()),
            };
            // Some clients think between requests (a quarter send back
            // to back): at any moment many connections are idle, which is
            // where a drain that closes idle connections loses requests.
            if !worker.is_multiple_of(4) {
                tokio::time::sleep(Duration::from_millis(5 * (worker % 4) as u64)).await;
            }
            let during_drain = signalled.load(Ordering::SeqCst);
            if let Err(e) = stream.write_all(&request).await {
                tally.failures.lock().unwrap().push(format!(
                    "worker {worker}, request {sent}: write failed: {e}"
                ));
                return;
            }
            match read_answer(&mut stream, &mut buf).await {
                Ok(answer) => {
                    if answer.status != 200 || answer.text() != expect {
                        tally.failures.lock().unwrap().push(format!(
                            "worker {worker}, request {sent}: {} {:?}",
                            answer.status,
                            answer.text()
                        ));
                    }
                    tally.answered.fetch_add(1, Ordering::SeqCst);
                    if answer.closes() {
                        tally.told_to_close.fetch_add(1, Ordering::SeqCst);
                        // Nothing more may come, and the server closes.
                        let mut rest = Vec::new();
                        let _ = tokio::time::timeout(
                            Duration::from_secs(5),
                            stream.read_to_end(&mut rest),
                        )
                        .await;
                        assert!(rest.is_empty(), "bytes after Connection: close");
                        continue 'connections;
                    }
                }
                Err(e) => {
                    // The previous answer kept the connection alive: the
                    // server closed it under a request it had accepted.
                    tally.failures.lock().unwrap().push(format!(
                        "worker {worker}, request {sent} (signalled: {during_drain}): {e}"
                    ));
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_keep_alive_load_loses_no_request() {
    let mut server = Server::serve(&[("MANOUCHE_DRAIN_TIMEOUT", "15s"), ("MANOUCHE_LOG", "warn")]);
    let addr = server.addr;
    let tally = Arc::new(Tally::default());
    let signalled = Arc::new(AtomicBool::new(false));
    // A slow request in flight across the signal.
    let mut slow_stream = TcpStream::connect(addr).await.unwrap();
    slow_stream
        .write_all(&get("/debug/slow/1500/"))
        .await
        .unwrap();
    let workers: Vec<_> = (0..32)
        .map(|worker| {
            tokio::spawn(keep_busy(
                addr,
                worker,
                Arc::clone(&tally),
                Arc::clone(&signalled),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = tally.answered.load(Ordering::SeqCst);
    assert!(before > 32, "the load did not get going: {before} answers");
    signalled.store(true, Ordering::SeqCst);
    let signal_at = Instant::now();
    server.signal("TERM");
    let slow = read_answer(&mut slow_stream, &mut Vec::new())
        .await
        .expect("the slow request in flight at SIGTERM was lost");
    assert_eq!(slow.status, 200);
    assert_eq!(slow.text(), "slept 1500 ms");
    assert!(
        slow.closes(),
        "the response in flight says Connection: close"
    );
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(20), worker)
            .await
            .expect("a load worker hung")
            .expect("a load worker panicked");
    }
    let failures = tally.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed request(s):\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        server.output()
    );
    // Every connection was told to close, once: the reconnections after
    // that were refused (the listener closes before anyone is told).
    assert_eq!(tally.told_to_close.load(Ordering::SeqCst), 32);
    assert!(tally.answered.load(Ordering::SeqCst) > before);
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("the server did not exit after draining");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(
        signal_at.elapsed() < Duration::from_secs(10),
        "the drain took {:?}",
        signal_at.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_answered_during_the_grace_then_closed() {
    let mut server = Server::serve(&[
        ("MANOUCHE_DRAIN_GRACE", "2s"),
        ("MANOUCHE_DRAIN_TIMEOUT", "20s"),
    ]);
    // Two idle connections, each served once; quiet long enough to be
    // parked (a second).
    let mut speaks_later = TcpStream::connect(server.addr).await.unwrap();
    let mut stays_quiet = TcpStream::connect(server.addr).await.unwrap();
    for stream in [&mut speaks_later, &mut stays_quiet] {
        let answer = exchange(stream, &get("/debug/slow/1/")).await.unwrap();
        assert_eq!(answer.status, 200);
        assert!(!answer.closes());
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let signal_at = Instant::now();
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A request in the grace period is answered, and told to go.
    let answer = exchange(&mut speaks_later, &get("/debug/slow/1/"))
        .await
        .expect("a request in the grace period was lost");
    assert_eq!(answer.status, 200);
    assert!(answer.closes(), "{:?}", answer.headers);
    assert!(
        manouche_e2e::closed_within(&mut speaks_later, Instant::now(), Duration::from_secs(2))
            .await
            .is_some(),
        "closed after its Connection: close answer"
    );
    // The quiet one is closed once the grace is over, not before.
    let closed = manouche_e2e::closed_within(&mut stays_quiet, signal_at, Duration::from_secs(8))
        .await
        .expect("the idle connection was never closed");
    assert!(
        closed >= Duration::from_millis(1900) && closed < Duration::from_secs(5),
        "closed {closed:?} after SIGTERM; the grace is 2 s"
    );
    let status = server.wait_exit(Duration::from_secs(5)).expect("no exit");
    assert_eq!(status.code(), Some(0), "{}", server.output());
}

/// GETs `path` on `addr` with `host` on a new connection.
async fn probe(addr: SocketAddr, path: &str, host: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    exchange(&mut stream, request.as_bytes()).await.unwrap()
}

#[tokio::test]
async fn health_probes_on_the_main_address_and_readiness_during_the_drain() {
    let mut server = Server::serve(&[("MANOUCHE_DRAIN_TIMEOUT", "10s")]);
    // Answered before the host check: balancers probe by address.
    let live = probe(server.addr, "/healthz", "10.1.2.3:8000").await;
    assert_eq!((live.status, live.text().as_str()), (200, "ok\n"));
    let ready = probe(server.addr, "/readyz", "10.1.2.3:8000").await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    assert_eq!(ready.headers["cache-control"], "no-store");
    // Other paths still get the host check.
    assert_eq!(probe(server.addr, "/", "10.1.2.3:8000").await.status, 400);
    // A connection opened before the drain, and a slow request to keep
    // the drain going.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(
        exchange(&mut kept, &get("/readyz")).await.unwrap().status,
        200
    );
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(&get("/debug/slow/1500/")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let draining = exchange(&mut kept, &get("/readyz")).await.unwrap();
    assert_eq!(
        (draining.status, draining.text().as_str()),
        (503, "draining\n")
    );
    assert!(draining.closes());
    assert_eq!(
        read_answer(&mut slow, &mut Vec::new())
            .await
            .unwrap()
            .status,
        200
    );
    let status = server.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn health_probes_on_the_metrics_address_answer_503_while_draining() {
    let metrics: SocketAddr = format!("127.0.0.1:{}", manouche_e2e::free_port())
        .parse()
        .unwrap();
    let metrics_text = metrics.to_string();
    let mut server = Server::serve(&[
        ("MANOUCHE_METRICS", metrics_text.as_str()),
        ("MANOUCHE_HEALTH", "metrics"),
        ("MANOUCHE_DRAIN_TIMEOUT", "10s"),
    ]);
    assert_eq!(probe(metrics, "/healthz", "x").await.status, 200);
    assert_eq!(probe(metrics, "/readyz", "x").await.status, 200);
    // Not on the main address then: the site's own 404.
    assert_eq!(probe(server.addr, "/readyz", "127.0.0.1").await.status, 404);
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(&get("/debug/slow/2000/")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let draining = probe(metrics, "/readyz", "x").await;
    assert_eq!(
        (draining.status, draining.text().as_str()),
        (503, "draining\n")
    );
    assert_eq!(probe(metrics, "/healthz", "x").await.status, 200);
    assert_eq!(
        read_answer(&mut slow, &mut Vec::new())
            .await
            .unwrap()
            .status,
        200
    );
    let status = server.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn metrics_health_without_a_metrics_address_refuses_to_start() {
    let (code, out) = manouche_e2e::run_manage(
        &["serve", "--bind", "127.0.0.1:1"],
        &[("MANOUCHE_HEALTH", "metrics")],
    );
    assert_ne!(code, 0);
    assert!(out.contains("needs a metrics address"), "{out}");
}

#[tokio::test]
async fn readiness_waits_for_the_migrations_then_remembers_them() {
    let dir = scratch_dir("migrations");
    let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite3").display());
    let server = Server::serve(&[("DATABASE_URL", url.as_str())]);
    let pending = probe(server.addr, "/readyz", "127.0.0.1").await;
    assert_eq!(pending.status, 503);
    assert!(
        pending.text().ends_with("migration(s) pending\n"),
        "{}",
        pending.text()
    );
    assert_eq!(
        probe(server.addr, "/healthz", "127.0.0.1").await.status,
        200
    );
    let (code, out) = manouche_e2e::run_manage(&["migrate"], &[("DATABASE_URL", url.as_str())]);
    assert_eq!(code, 0, "{out}");
    // Checks are reused for a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ready = probe(server.addr, "/readyz", "127.0.0.1").await;
        if ready.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still {}", ready.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Once seen applied, migrations are not looked up again: the probe
    // stays ready after the blog's are unapplied behind its back.
    let (code, out) = manouche_e2e::run_manage(
        &["migrate", "blog", "zero"],
        &[("DATABASE_URL", url.as_str())],
    );
    assert_eq!(code, 0, "{out}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(probe(server.addr, "/readyz", "127.0.0.1").await.status, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("manouche-e2e-deploy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_pidfile_holds_the_pid_while_serving_and_is_gone_after_exit() {
    let dir = scratch_dir("pidfile");
    let pidfile = dir.join("site.pid");
    let port = manouche_e2e::free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut server = Server::spawn(
        &[
            "serve",
            "--bind",
            &bind,
            "--pidfile",
            pidfile.to_str().unwrap(),
        ],
        &manouche_e2e::deploy_env(),
        bind.parse().unwrap(),
    );
    server.wait_until_listening();
    let content = std::fs::read_to_string(&pidfile).expect("no pidfile while serving");
    assert_eq!(content, format!("{}\n", server.pid()));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "a temporary file was left"
    );
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(!pidfile.exists(), "the pidfile outlived the process");
    // A pidfile that cannot be written stops the start, saying why.
    let (code, out) = manouche_e2e::run_manage(
        &[
            "serve",
            "--bind",
            &format!("127.0.0.1:{}", manouche_e2e::free_port()),
            "--pidfile",
            dir.join("missing/site.pid").to_str().unwrap(),
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(out.contains("cannot write the pidfile"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_unix_socket_and_the_pidfile_are_removed_on_exit() {
    let dir = scratch_dir("unix");
    let socket = dir.join("site.sock");
    let pidfile = dir.join("site.pid");
    let bind = format!("unix:{}", socket.display());
    let mut server = Server::spawn(
        &[
            "serve",
            "--bind",
            &bind,
            "--pidfile",
            pidfile.to_str().unwrap(),
        ],
        &manouche_e2e::deploy_env(),
        "127.0.0.1:1".parse().unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        match tokio::net::UnixStream::connect(&socket).await {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(e) => panic!("no unix socket: {e}\n{}", server.output()),
        }
    };
    let answer = exchange(&mut stream, &get("/healthz")).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        server.pid().to_string()
    );
    drop(stream);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(!socket.exists(), "the socket file outlived the process");
    assert!(!pidfile.exists(), "the pidfile outlived the process");
    let _ = std::fs::remove_dir_all(dir);
}

/// The access-log line of the request with id `id`.
fn access_line(server: &Server, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = server
            .output()
            .lines()
            .find(|l| l.contains("manouche::access") && l.contains(id))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no access line for {id}:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    let request = |id: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 198.51.100.4, 203.0.113.7\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n"
        )
    };
    let trusted = Server::serve(&[("MANOUCHE_TRUSTED_PROXIES", "127.0.0.0/8, ::1")]);
    let mut stream = TcpStream::connect(trusted.addr).await.unwrap();
    let answer = exchange(&mut stream, request("via-trusted-proxy").as_bytes())
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    let line = access_line(&trusted, "via-trusted-proxy");
    assert!(line.contains("client=203.0.113.7"), "{line}");
    let untrusted = Server::serve(&[("MANOUCHE_TRUSTED_PROXIES", "10.0.0.0/8")]);
    let mut stream = TcpStream::connect(untrusted.addr).await.unwrap();
    exchange(&mut stream, request("from-anyone").as_bytes())
        .await
        .unwrap();
    let line = access_line(&untrusted, "from-anyone");
    assert!(line.contains("client=127.0.0.1"), "{line}");
    // A list that is not addresses stops the start, naming the entry.
    let (code, out) = manouche_e2e::run_manage(
        &["serve", "--bind", "127.0.0.1:1"],
        &[("MANOUCHE_TRUSTED_PROXIES", "10.0.0.1/8")],
    );
    assert_ne!(code, 0);
    assert!(out.contains("10.0.0.1/8"), "{out}");
}
