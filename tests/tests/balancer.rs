//! Two instances of the real `example-site` binary behind Debian's nginx
//! as a plain load balancer (started by the test as its own child, not as
//! a system service: configuration, pid, logs and temporary files in a
//! folder of its own, a free port on loopback, no root needed), sharing one
//! PostgreSQL database and, when `REDIS_URL` is set, their sessions in
//! Redis. While a load client keeps nginx busy with GETs and POSTs, one
//! instance is upgraded in place with `SIGHUP`, then the other: not one
//! request fails through the balancer.
//!
//! **The client address.** Every instance trusts `127.0.0.1` only, the
//! address nginx connects to them from. The test's clients connect from
//! other loopback addresses (`127.0.0.2`, `127.0.0.3`; Linux routes all of
//! `127.0.0.0/8` to loopback), so that the logged `client=` tells the
//! three cases apart:
//!
//! - through nginx, with a forged `X-Forwarded-For: 203.0.113.7` that
//!   nginx appends to (`$proxy_add_x_forwarded_for` gives
//!   `203.0.113.7, 127.0.0.2`), the access log says `client=127.0.0.2`:
//!   the address nginx saw, taken from the header of a trusted proxy
//!   (the socket's peer is nginx at `127.0.0.1`), and not the entry the
//!   client wrote;
//! - straight to an instance from `127.0.0.3` with the same forged
//!   header, the log says `client=127.0.0.3`: an untrusted peer's header
//!   is ignored.
//!
//! Runs only where nginx is installed (on `PATH` or `/usr/sbin/nginx`)
//! and `DATABASE_URL` is a PostgreSQL URL; otherwise it prints why and
//! passes. `.ci/run` installs nginx and runs it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use manouche::contrib::sessions::SessionRow;
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Backend, Model};
use manouche_e2e::{Server, Site, Successor, free_port, new_pid, read_pid};
use reqwest::header::SET_COOKIE;

const PASSWORD: &str = "correct horse 42";

/// The address nginx connects to the instances from: the only trusted
/// proxy.
const BALANCER: &str = "127.0.0.1";
/// The address the test's clients reach nginx from.
const CLIENT_VIA_BALANCER: &str = "127.0.0.2";
/// The address a client reaching an instance directly comes from.
const DIRECT_CLIENT: &str = "127.0.0.3";
/// What a client writes in `X-Forwarded-For` to pass for someone else.
const FORGED: &str = "203.0.113.7";

/// A CSRF secret sent as the cookie and in the header: POSTs that carry
/// both pass the site's CSRF check.
const CSRF_SECRET: &str = "lcccccccX2kcccccccY2jcccccccssIC";

/// The nginx binary, when installed.
fn nginx_binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"))
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|candidate| candidate.is_file())
}

/// A temporary folder of the test's own.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "manouche-e2e-balancer-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// nginx as the balancer in front of `upstreams`, listening on `listen`,
/// with its configuration, pid, logs and temporary files in `dir`.
struct Nginx {
    child: Child,
    listen: SocketAddr,
    dir: PathBuf,
}

impl Nginx {
    fn start(binary: &Path, dir: &Path, upstreams: &[SocketAddr]) -> Self {
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let servers: String = upstreams
            .iter()
            .map(|addr| format!("        server {addr};\n"))
            .collect();
        let d = dir.display();
        // The upstream keeps idle keep-alive connections to the instances
        // (`keepalive`, HTTP/1.1, no `Connection: close` passed on), which
        // is where a drain that closes connections under a request would
        // lose it. `proxy_next_upstream` is nginx's default (`error
        // timeout`), written out: a refused connection is retried on the
        // other instance; a request already sent is not retried, POSTs
        // included (no `non_idempotent`), so a request an instance drops
        // fails the test.
        let conf = format!(
            "worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream site {{
{servers}        keepalive 16;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://site;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("the nginx configuration");
        let prefix = format!("{d}/");
        let child = Command::new(binary)
            .args(["-p", &prefix, "-e", &format!("{d}/error.log")])
            .args(["-c", &format!("{d}/nginx.conf"), "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nginx");
        let nginx = Self {
            child,
            listen,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(listen).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {listen}:\n{}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        nginx
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.listen)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The master stops its worker on SIGTERM; a SIGKILL would leave
        // the worker holding the port.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client from `from`, one connection kept alive, redirects not
/// followed.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().expect("an address"))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// The access-log line of the request with id `id`, from whichever
/// instance served it.
fn access_line(servers: &[&Server], id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for server in servers {
            if let Some(line) = server
                .output()
                .lines()
                .find(|l| l.contains("manouche::access") && l.contains(id))
            {
                return line.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no access line for {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GETs `url` from `client` with a forged `X-Forwarded-For` entry and the
/// request id `id`, expects a 200, and returns the access-log line of the
/// serving instance (one of `servers`) for it.
async fn forged_get(
    client: &reqwest::Client,
    url: String,
    id: &str,
    servers: &[&Server],
) -> String {
    let r = client
        .get(&url)
        .header("x-forwarded-for", FORGED)
        .header("x-request-id", id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url} answers: {e}"));
    assert_eq!(r.status(), 200, "{url}");
    access_line(servers, id)
}

/// The `client=` field of an access-log line.
fn logged_client(line: &str) -> &str {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("client="))
        .unwrap_or_else(|| panic!("no client= in {line}"))
}

/// A browser's cookie jar over one HTTP client: cookies are kept per host,
/// not per port, so the same session goes to nginx and to each instance.
struct Browser {
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: client_from(CLIENT_VIA_BALANCER),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().expect("lock");
        let pairs: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("; ")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, String) {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        {
            let mut cookies = self.cookies.lock().expect("lock");
            for value in response.headers().get_all(SET_COOKIE) {
                let value = value.to_str().expect("an ASCII cookie");
                let pair = value.split(';').next().unwrap_or_default();
                let (name, content) = pair.split_once('=').expect("name=value");
                cookies.insert(name.trim().to_owned(), content.trim().to_owned());
            }
        }
        (status, response.text().await.expect("a text body"))
    }

    /// Signs in with the login form, fetched and posted at `base`.
    async fn log_in(&self, base: &str, username: &str) {
        let (status, form) = self
            .send(self.http.get(format!("{base}/accounts/login/")))
            .await;
        assert_eq!(status, 200, "{form}");
        const FIELD: &str = "name=\"csrfmiddlewaretoken\" value=\"";
        let at = form.find(FIELD).expect("a CSRF input") + FIELD.len();
        let token = &form[at..at + form[at..].find('"').expect("the value closes")];
        let (status, body) = self
            .send(self.http.post(format!("{base}/accounts/login/")).form(&[
                ("csrfmiddlewaretoken", token),
                ("username", username),
                ("password", PASSWORD),
            ]))
            .await;
        assert_eq!(status, 302, "the login failed: {body}");
    }

    /// Who the home page at `base` says is signed in.
    async fn whoami(&self, base: &str) -> Option<String> {
        let (status, body) = self.send(self.http.get(format!("{base}/"))).await;
        assert_eq!(status, 200, "{body}");
        signed_in_as(&body)
    }
}

/// The username the navigation bar of `page` shows, if any.
fn signed_in_as(page: &str) -> Option<String> {
    const START: &str = "<span class=\"username\">";
    let at = page.find(START)? + START.len();
    let name = &page[at..at + page[at..].find('<')?];
    Some(name.to_owned())
}

/// What the load client saw.
#[derive(Default)]
struct Tally {
    answered: AtomicUsize,
    posts: AtomicUsize,
    failures: Mutex<Vec<String>>,
    slowest: Mutex<Duration>,
}

/// One client of the balancer sending, until `done`: the home page with
/// the signed-in session (it must show the user, whichever instance
/// answers), a POST, and a slow page, so that at any moment some requests
/// are in a handler and some connections idle in nginx's pool.
async fn keep_busy(base: String, session: String, tally: Arc<Tally>, done: Arc<AtomicBool>) {
    let http = client_from(CLIENT_VIA_BALANCER);
    let mut sent = 0usize;
    while !done.load(Ordering::SeqCst) {
        sent += 1;
        let started = Instant::now();
        let (request, expect) = match sent % 3 {
            0 => {
                let body = format!("request {sent}");
                let expect = format!("{} bytes", body.len());
                tally.posts.fetch_add(1, Ordering::SeqCst);
                (
                    http.post(format!("{base}/debug/echo/"))
                        .header("cookie", format!("csrftoken={CSRF_SECRET}"))
                        .header("x-csrftoken", CSRF_SECRET)
                        .body(body),
                    Some(expect),
                )
            }
            1 => (
                http.get(format!("{base}/"))
                    .header("cookie", format!("sessionid={session}")),
                None,
            ),
            _ => (
                http.get(format!("{base}/debug/slow/20/")),
                Some("slept 20 ms".to_owned()),
            ),
        };
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) if status != 200 => Err(format!("{status}: {text}")),
                    Ok(text) => match &expect {
                        Some(expect) if &text != expect => Err(format!("body {text:?}")),
                        None if signed_in_as(&text).as_deref() != Some("ana") => {
                            Err("the home page lost the session".to_owned())
                        }
                        _ => Ok(()),
                    },
                    Err(e) => Err(format!("reading the body: {e}")),
                }
            }
            Err(e) => Err(format!("{e}")),
        };
        let took = started.elapsed();
        {
            let mut slowest = tally.slowest.lock().expect("lock");
            *slowest = (*slowest).max(took);
        }
        match outcome {
            Ok(()) => {
                tally.answered.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => tally
                .failures
                .lock()
                .expect("lock")
                .push(format!("request {sent}: {e}")),
        }
    }
}

/// How many requests of the load's POSTs `server`'s output logged (the
/// process started by a reload writes to the same output).
fn posts_logged(server: &Server) -> usize {
    server
        .output()
        .lines()
        .filter(|l| l.contains("manouche::access") && l.contains("path=/debug/echo/"))
        .count()
}

/// Sends `SIGHUP` to the process in `pidfile` and waits until the new
/// process has taken over: the pidfile names it and the old one is gone.
/// Returns the new process and how many POSTs the instance had logged
/// when the old process had exited.
async fn reload(pidfile: &Path, server: &mut Server, tally: &Tally) -> (Successor, usize) {
    let old = read_pid(pidfile).expect("a pidfile");
    assert_eq!(old, server.pid());
    let before = tally.answered.load(Ordering::SeqCst);
    server.signal("HUP");
    let new = new_pid(pidfile, old, server).await;
    let successor = Successor(new);
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("the old process did not exit after the reload");
    assert_eq!(status.code(), Some(0), "{}", server.output());
    assert!(
        tally.answered.load(Ordering::SeqCst) > before,
        "nothing was served during the reload"
    );
    let logged = posts_logged(server);
    assert!(logged > 0, "the balancer sent no POST to this instance");
    (successor, logged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_nginx_reload_one_at_a_time_and_lose_nothing() {
    let Some(nginx) = nginx_binary() else {
        println!("skipped: nginx is not installed (on PATH or /usr/sbin/nginx)");
        return;
    };
    let postgres = std::env::var("DATABASE_URL")
        .is_ok_and(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"));
    if !postgres {
        println!("skipped: DATABASE_URL is not a PostgreSQL URL");
        return;
    }
    for_each_database_with_url(|db, url| {
        let nginx = nginx.clone();
        async move {
            // The instances share PostgreSQL; the SQLite pass of the
            // helper has nothing to do.
            if db.backend() != Backend::Postgres {
                return Ok(());
            }
            balanced(&nginx, &db, &url).await;
            Ok(())
        }
    })
    .await;
}

async fn balanced(nginx_binary: &Path, db: &manouche::db::Database, url: &str) {
    const WORKERS: usize = 16;
    let dir = scratch_dir("run");
    let site = Site::migrated(db, url);
    site.superuser("ana", PASSWORD);
    let redis = std::env::var("REDIS_URL").ok();
    let mut env = vec![
        ("MANOUCHE_TRUSTED_PROXIES", BALANCER),
        ("MANOUCHE_DRAIN_TIMEOUT", "15s"),
    ];
    if let Some(redis) = &redis {
        env.extend([
            ("MANOUCHE_SESSIONS_STORE", "redis"),
            ("REDIS_URL", redis.as_str()),
        ]);
    }
    let pidfiles = [dir.join("a.pid"), dir.join("b.pid")];
    let mut servers: Vec<Server> = pidfiles
        .iter()
        .map(|pidfile| {
            site.serve_with(
                &["--pidfile", pidfile.to_str().expect("a UTF-8 path")],
                &env,
            )
        })
        .collect();
    let nginx = Nginx::start(nginx_binary, &dir, &[servers[0].addr, servers[1].addr]);
    let base = nginx.url("");

    // The client address: from nginx's header, not the forged entry; and
    // a direct client's forged header is ignored.
    let via = client_from(CLIENT_VIA_BALANCER);
    let both = [&servers[0], &servers[1]];
    for n in 0..2 {
        let id = format!("via-balancer-{n}");
        let line = forged_get(&via, nginx.url("/"), &id, &both).await;
        assert_eq!(logged_client(&line), CLIENT_VIA_BALANCER, "{line}");
    }
    let direct = client_from(DIRECT_CLIENT);
    let id = "straight-to-an-instance";
    let line = forged_get(&direct, servers[0].url("/"), id, &[&servers[0]]).await;
    assert_eq!(logged_client(&line), DIRECT_CLIENT, "{line}");

    // Signed in through the balancer, the session is good on both
    // instances: shared through Redis when there is one (then nothing in
    // the database's session table), else through PostgreSQL.
    let rows_before = SessionRow::objects().count(db).await.expect("count");
    let browser = Browser::new();
    browser.log_in(&base, "ana").await;
    let session = browser
        .cookies
        .lock()
        .expect("lock")
        .get("sessionid")
        .cloned()
        .expect("a session cookie");
    for server in &servers {
        assert_eq!(
            browser.whoami(&server.url("")).await.as_deref(),
            Some("ana")
        );
    }
    let rows_after = SessionRow::objects().count(db).await.expect("count");
    assert_eq!(
        rows_after - rows_before,
        i64::from(redis.is_none()),
        "sessions in Redis: {}",
        redis.is_some()
    );

    // Load through the balancer while each instance is upgraded in turn.
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::spawn(keep_busy(
                base.clone(),
                session.clone(),
                Arc::clone(&tally),
                Arc::clone(&done),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        tally.answered.load(Ordering::SeqCst) > WORKERS,
        "the load did not get going"
    );
    let mut successors = Vec::new();
    let mut logged_at_exit = Vec::new();
    for (server, pidfile) in servers.iter_mut().zip(&pidfiles) {
        let (successor, logged) = reload(pidfile, server, &tally).await;
        successors.push(successor);
        logged_at_exit.push(logged);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    done.store(true, Ordering::SeqCst);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(40), worker)
            .await
            .expect("a load worker hung")
            .expect("a load worker panicked");
    }
    let failures = tally.failures.lock().expect("lock").clone();
    let answered = tally.answered.load(Ordering::SeqCst);
    let slowest = *tally.slowest.lock().expect("lock");
    println!(
        "{answered} requests answered through nginx ({} POSTs sent), {} failed, slowest {slowest:?}",
        tally.posts.load(Ordering::SeqCst),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} request(s) failed through the balancer:\n{}\nnginx:\n{}",
        failures.len(),
        failures.join("\n"),
        nginx.error_log()
    );
    // The new processes serve: the balancer sent them POSTs once the old
    // ones were gone, and they have the session and the client address.
    for (n, server) in servers.iter().enumerate() {
        assert!(
            posts_logged(server) > logged_at_exit[n],
            "instance {n}'s new process served no POST through the balancer"
        );
        assert_eq!(
            browser.whoami(&server.url("")).await.as_deref(),
            Some("ana")
        );
        let id = format!("after-reload-{n}");
        let line = forged_get(&direct, server.url("/"), &id, &[server]).await;
        assert_eq!(logged_client(&line), DIRECT_CLIENT, "{line}");
    }
    for (n, pidfile) in pidfiles.iter().enumerate() {
        assert_eq!(read_pid(pidfile), Some(successors[n].0));
    }
    drop(nginx);
    drop(successors);
    drop(servers);
    let _ = std::fs::remove_dir_all(dir);
}
