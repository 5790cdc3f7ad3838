//! Deploying without losing requests, end to end against the real binary:
//! SIGTERM under keep-alive load, the drain's grace for idle connections,
//! the health probes, `serve --pidfile`, the Unix socket removed on exit,
//! the client address taken from a trusted proxy's header, and the
//! binary upgrade on SIGHUP or `manage reload` (under load on TCP and on
//! a Unix socket, with a binary replaced on disk; a new process that
//! fails its checks or stays silent leaves the old one serving).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use manouche_e2e::{Server, Successor, new_pid, read_pid};
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

/// Where the load goes: a TCP address or a Unix socket.
#[derive(Debug, Clone)]
enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// A connection of either kind.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Target {
    async fn connect(&self) -> std::io::Result<Box<dyn Io>> {
        Ok(match self {
            Self::Tcp(addr) => Box::new(TcpStream::connect(addr).await?),
            Self::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        })
    }
}

/// When a load worker stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// When the server refuses connections (a drain); refused before
    /// `signalled` is a failure.
    Refused,
    /// When `done` is set (a reload, across which the server must never
    /// refuse a connection).
    Done,
}

/// One keep-alive connection sending requests (two GETs, then a POST),
/// back to back or with a pause, until the server answers `Connection:
/// close`;
/// then it reconnects, and stops when the server no longer accepts
/// ([`Until::Refused`]) or when `done` is set ([`Until::Done`]).
async fn keep_busy(
    target: Target,
    worker: usize,
    tally: Arc<Tally>,
    signalled: Arc<AtomicBool>,
    until: Until,
    done: Arc<AtomicBool>,
) {
    let mut sent = 0usize;
    'connections: loop {
        if done.load(Ordering::SeqCst) {
            return;
        }
        let mut stream = match target.connect().await {
            Ok(stream) => stream,
            Err(e) => {
                // Refused: the server stopped accepting, which is the drain.
                assert!(
                    until == Until::Refused && signalled.load(Ordering::SeqCst),
                    "worker {worker}: connection refused ({e}), signalled: {}",
                    signalled.load(Ordering::SeqCst)
                );
                return;
            }
        };
        let mut buf = Vec::new();
        loop {
            if done.load(Ordering::SeqCst) {
                return;
            }
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
                Target::Tcp(addr),
                worker,
                Arc::clone(&tally),
                Arc::clone(&signalled),
                Until::Refused,
                Arc::new(AtomicBool::new(false)),
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

/// Waits (up to 10 s) for `server` to exit, which it must do with 0.
fn exits_cleanly(server: &mut Server) {
    let status = server.wait_exit(Duration::from_secs(10)).expect("no exit");
    assert_eq!(status.code(), Some(0), "{}", server.output());
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
    exits_cleanly(&mut server);
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
    exits_cleanly(&mut server);
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
    exits_cleanly(&mut server);
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
    exits_cleanly(&mut server);
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

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// Waits until the output has a line containing `text`.
async fn logged(server: &Server, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.output().contains(text) {
        assert!(
            Instant::now() < deadline,
            "nothing logged {text:?}:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A copy of the example site's binary at `path`, put there as a deploy
/// does: written aside, then renamed over the old file (which a running
/// process keeps).
fn install_binary(path: &std::path::Path) {
    let aside = path.with_extension("new");
    std::fs::copy(manouche_e2e::example_site(), &aside).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// 24 keep-alive connections (GETs and POSTs) and a slow request across a
/// SIGHUP, and a second SIGHUP during the reload: no request fails, the
/// slow one finishes on the old process, the pidfile names the new
/// process, the old one exits, and the new one serves on. On a Unix
/// socket, the binary is a copy replaced on disk before the signal, and
/// the socket file outlives the old process but not the new one.
async fn reload_under_load(unix: bool) {
    const WORKERS: usize = 24;
    let dir = scratch_dir(if unix { "reload-unix" } else { "reload-tcp" });
    let pidfile = dir.join("site.pid");
    let (bind, target) = if unix {
        let socket = dir.join("site.sock");
        (format!("unix:{}", socket.display()), Target::Unix(socket))
    } else {
        let bind = format!("127.0.0.1:{}", manouche_e2e::free_port());
        let addr = bind.parse().unwrap();
        (bind, Target::Tcp(addr))
    };
    let binary = if unix {
        let binary = dir.join("site-binary");
        install_binary(&binary);
        binary
    } else {
        manouche_e2e::example_site().to_owned()
    };
    let mut env = manouche_e2e::deploy_env();
    env.extend([
        ("DATABASE_URL", manouche_e2e::site_database_url().to_owned()),
        ("MANOUCHE_DRAIN_TIMEOUT", "15s".to_owned()),
        // The server's own lines, not an access line per request.
        ("MANOUCHE_LOG", "warn,manouche::server=info".to_owned()),
    ]);
    let mut server = Server::spawn_binary(
        &binary,
        manouche_e2e::workspace_root(),
        &[
            "serve",
            "--bind",
            &bind,
            "--pidfile",
            pidfile.to_str().unwrap(),
        ],
        &env,
        "127.0.0.1:1".parse().unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while target.connect().await.is_err() || read_pid(&pidfile).is_none() {
        assert!(
            Instant::now() < deadline,
            "not serving:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let old = server.pid();
    assert_eq!(read_pid(&pidfile), Some(old));
    let tally = Arc::new(Tally::default());
    let signalled = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let mut slow = target.connect().await.unwrap();
    slow.write_all(&get("/debug/slow/1500/")).await.unwrap();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            tokio::spawn(keep_busy(
                target.clone(),
                worker,
                Arc::clone(&tally),
                Arc::clone(&signalled),
                Until::Done,
                Arc::clone(&done),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = tally.answered.load(Ordering::SeqCst);
    assert!(
        before > WORKERS,
        "the load did not get going: {before} answers"
    );
    if unix {
        // The release: a new file at the binary's path.
        install_binary(&binary);
    }
    signalled.store(true, Ordering::SeqCst);
    server.signal("HUP");
    // A second SIGHUP while the new process starts (or, should it be
    // ready already, while the old one drains) is ignored.
    logged(&server, "waiting up to").await;
    server.signal("HUP");
    let slow = read_answer(&mut slow, &mut Vec::new())
        .await
        .expect("the slow request in flight across the reload was lost");
    assert_eq!((slow.status, slow.text().as_str()), (200, "slept 1500 ms"));
    let new = new_pid(&pidfile, old, &server).await;
    let successor = Successor(new);
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("the old process did not exit after the reload");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    // The new process serves on alone for a while.
    let after_exit = tally.answered.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, Ordering::SeqCst);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(20), worker)
            .await
            .expect("a load worker hung")
            .expect("a load worker panicked");
    }
    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed request(s):\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        server.output()
    );
    assert!(
        tally.answered.load(Ordering::SeqCst) > after_exit + WORKERS,
        "the new process answered too little"
    );
    // Every connection to the old process was told to close.
    assert!(tally.told_to_close.load(Ordering::SeqCst) >= WORKERS);
    let output = server.output();
    assert!(output.contains("SIGHUP ignored"), "{output}");
    assert_eq!(output.matches("is ready and serves").count(), 1, "{output}");
    assert_eq!(read_pid(&pidfile), Some(new));
    assert!(alive(new));
    if unix {
        assert!(
            dir.join("site.sock").exists(),
            "the old process removed the socket file"
        );
        let exe = std::fs::read_link(format!("/proc/{new}/exe")).unwrap();
        assert_eq!(exe, binary, "the new process runs the file now on disk");
    }
    // The new process owns the pidfile (and the socket file): gone when
    // it exits.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &new.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(new) {
        assert!(Instant::now() < deadline, "the new process did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(successor);
    assert!(!pidfile.exists(), "the pidfile outlived the new process");
    assert!(
        !dir.join("site.sock").exists(),
        "the socket file outlived the new process"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_on_tcp_under_keep_alive_load_loses_no_request() {
    reload_under_load(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_on_a_unix_socket_runs_the_new_binary_and_loses_no_request() {
    reload_under_load(true).await;
}

/// A server whose settings come from a file of its own (as in a deploy),
/// with the database the file names; and the environment to run
/// `manage reload` with the same settings.
fn server_with_settings_file(
    dir: &std::path::Path,
    extra: &[(&'static str, &str)],
) -> (Server, PathBuf, Vec<(&'static str, String)>) {
    let settings = dir.join("settings.toml");
    std::fs::write(
        &settings,
        format!("database_url = {:?}\n", manouche_e2e::site_database_url()),
    )
    .unwrap();
    let pidfile = dir.join("site.pid");
    let bind = format!("127.0.0.1:{}", manouche_e2e::free_port());
    let mut env = manouche_e2e::deploy_env();
    env.push(("MANOUCHE_SETTINGS", settings.display().to_string()));
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let server = Server::spawn_binary(
        manouche_e2e::example_site(),
        manouche_e2e::workspace_root(),
        &[
            "serve",
            "--bind",
            &bind,
            "--pidfile",
            pidfile.to_str().unwrap(),
        ],
        &env,
        bind.parse().unwrap(),
    );
    server.wait_until_listening();
    (server, pidfile, env)
}

fn manage_reload(pidfile: &std::path::Path, env: &[(&'static str, String)]) -> (i32, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    manouche_e2e::run_binary(
        manouche_e2e::example_site(),
        manouche_e2e::workspace_root(),
        &["reload", "--pidfile", pidfile.to_str().unwrap()],
        &env,
    )
}

#[tokio::test]
async fn a_new_process_that_fails_its_checks_leaves_the_old_one_serving() {
    let dir = scratch_dir("reload-fails");
    let (server, pidfile, env) = server_with_settings_file(&dir, &[]);
    let old = server.pid();
    // The release points at a database whose migrations were not run.
    let settings = dir.join("settings.toml");
    let fresh = format!("sqlite://{}?mode=rwc", dir.join("fresh.sqlite3").display());
    std::fs::write(&settings, format!("database_url = {fresh:?}\n")).unwrap();
    let (code, out) = manage_reload(&pidfile, &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reload failed"), "{out}");
    assert!(out.contains("exit status: 1"), "{out}");
    assert!(
        server
            .output()
            .contains("migration(s) pending: run `manage migrate`"),
        "{}",
        server.output()
    );
    // The old process answers on, and keeps the pidfile.
    let answer = probe(server.addr, "/debug/slow/1/", "127.0.0.1").await;
    assert_eq!(answer.status, 200);
    assert_eq!(read_pid(&pidfile), Some(old));
    // Once the settings are right again, the reload goes through.
    std::fs::write(
        &settings,
        format!("database_url = {:?}\n", manouche_e2e::site_database_url()),
    )
    .unwrap();
    let (code, out) = manage_reload(&pidfile, &env);
    assert_eq!(code, 0, "{out}\n{}", server.output());
    let new = read_pid(&pidfile).expect("a pidfile");
    let _successor = Successor(new);
    assert_ne!(new, old);
    assert!(out.contains(&format!("handed over to pid {new}")), "{out}");
    assert_eq!(
        probe(server.addr, "/healthz", "127.0.0.1").await.status,
        200
    );
    assert!(
        !dir.join("site.pid.reload").exists(),
        "the failure report was kept"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_new_process_that_does_not_report_ready_in_time_is_stopped() {
    let dir = scratch_dir("reload-timeout");
    let (mut server, pidfile, _) =
        server_with_settings_file(&dir, &[("MANOUCHE_RELOAD_TIMEOUT", "1ms")]);
    let old = server.pid();
    server.signal("HUP");
    logged(&server, "reload failed").await;
    let output = server.output();
    assert!(
        output.contains("did not report ready within server.reload_timeout"),
        "{output}"
    );
    let child: u32 = output
        .split("started pid ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|pid| pid.parse().ok())
        .expect("the new process's pid in the log");
    assert!(!alive(child), "the new process was left running");
    assert_eq!(read_pid(&pidfile), Some(old));
    assert_eq!(
        probe(server.addr, "/healthz", "127.0.0.1").await.status,
        200
    );
    let report = std::fs::read_to_string(dir.join("site.pid.reload")).unwrap();
    assert!(report.contains("did not report ready"), "{report}");
    server.signal("TERM");
    exits_cleanly(&mut server);
    assert!(!pidfile.exists() && !dir.join("site.pid.reload").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn manage_reload_without_a_server_says_why() {
    let dir = scratch_dir("reload-nothing");
    let pidfile = dir.join("site.pid");
    let (code, out) = manage_reload(&pidfile, &manouche_e2e::deploy_env());
    assert_eq!(code, 1);
    assert!(out.contains("cannot read the pidfile"), "{out}");
    std::fs::write(&pidfile, "not a pid\n").unwrap();
    let (code, out) = manage_reload(&pidfile, &manouche_e2e::deploy_env());
    assert_eq!(code, 1);
    assert!(out.contains("not a process id"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

fn tls_client(cert: &rcgen::Certificate) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Writes a new self-signed certificate for localhost to `dir`.
fn new_certificate(dir: &std::path::Path) -> rcgen::Certificate {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key_pair.serialize_pem()).unwrap();
    cert
}

/// `GET /healthz` over TLS, trusting only `cert`.
async fn tls_probe(addr: SocketAddr, cert: &rcgen::Certificate) -> Result<Answer, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tls_client(cert)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    exchange(
        &mut tls,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
}

#[tokio::test]
async fn a_reload_on_tls_reads_the_certificate_again_and_keeps_the_metrics_address() {
    let dir = scratch_dir("reload-tls");
    let first = new_certificate(&dir);
    let metrics = format!("127.0.0.1:{}", manouche_e2e::free_port());
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let (mut server, pidfile, _) = server_with_settings_file(
        &dir,
        &[
            ("MANOUCHE_TLS_CERT", cert.as_str()),
            ("MANOUCHE_TLS_KEY", key.as_str()),
            ("MANOUCHE_METRICS", metrics.as_str()),
        ],
    );
    let old = server.pid();
    let metrics: SocketAddr = metrics.parse().unwrap();
    assert_eq!(tls_probe(server.addr, &first).await.unwrap().status, 200);
    assert_eq!(probe(metrics, "/metrics", "x").await.status, 200);
    // A renewed certificate, picked up by the reload.
    let second = new_certificate(&dir);
    server.signal("HUP");
    let new = new_pid(&pidfile, old, &server).await;
    let _successor = Successor(new);
    let status = server.wait_exit(Duration::from_secs(15)).expect("no exit");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert_eq!(
        tls_probe(server.addr, &second).await.unwrap().status,
        200,
        "{}",
        server.output()
    );
    assert!(
        tls_probe(server.addr, &first).await.is_err(),
        "the old certificate is still served"
    );
    // The metrics address was handed over too (not bound again).
    assert_eq!(probe(metrics, "/metrics", "x").await.status, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_stop_signal_during_a_reload_stops_the_new_process_too() {
    let dir = scratch_dir("reload-stopped");
    let (mut server, pidfile, _) = server_with_settings_file(&dir, &[]);
    // The release's database accepts connections and never answers, so
    // the new process is still starting when the signals come.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "postgres://site:secret@{}/site",
        silent.local_addr().unwrap()
    );
    std::fs::write(
        dir.join("settings.toml"),
        format!("database_url = {url:?}\n"),
    )
    .unwrap();
    server.signal("HUP");
    logged(&server, "waiting up to").await;
    server.signal("HUP");
    logged(&server, "SIGHUP ignored: a reload is in progress").await;
    let output = server.output();
    let child: u32 = output
        .split("started pid ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|pid| pid.parse().ok())
        .expect("the new process's pid in the log");
    let _guard = Successor(child);
    assert!(alive(child), "{output}");
    server.signal("TERM");
    exits_cleanly(&mut server);
    assert!(
        !alive(child),
        "the new process serves on:\n{}",
        server.output()
    );
    assert!(!pidfile.exists(), "{}", server.output());
    assert_eq!(server.output().matches("started pid").count(), 1);
    drop(silent);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_failed_reload_on_a_unix_socket_leaves_the_socket_file_to_the_old_process() {
    let dir = scratch_dir("reload-unix-fails");
    let settings = dir.join("settings.toml");
    std::fs::write(
        &settings,
        format!("database_url = {:?}\n", manouche_e2e::site_database_url()),
    )
    .unwrap();
    let socket = dir.join("site.sock");
    let mut env = manouche_e2e::deploy_env();
    env.push(("MANOUCHE_SETTINGS", settings.display().to_string()));
    let mut server = Server::spawn_binary(
        manouche_e2e::example_site(),
        manouche_e2e::workspace_root(),
        &["serve", "--bind", &format!("unix:{}", socket.display())],
        &env,
        "127.0.0.1:1".parse().unwrap(),
    );
    let target = Target::Unix(socket.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while target.connect().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "not serving:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let fresh = format!("sqlite://{}?mode=rwc", dir.join("fresh.sqlite3").display());
    std::fs::write(&settings, format!("database_url = {fresh:?}\n")).unwrap();
    server.signal("HUP");
    logged(&server, "reload failed").await;
    assert!(
        socket.exists(),
        "the socket file went with the failed process"
    );
    let mut stream = target.connect().await.unwrap();
    let answer = exchange(&mut stream, &get("/healthz")).await.unwrap();
    assert_eq!(answer.status, 200);
    drop(stream);
    server.signal("TERM");
    exits_cleanly(&mut server);
    assert!(!socket.exists(), "the old process left its socket file");
    let _ = std::fs::remove_dir_all(dir);
}
