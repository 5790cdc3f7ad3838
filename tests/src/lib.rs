//! Helpers for the end-to-end tests: build the real `example-site` binary
//! once, start it on a free port, talk to it over real sockets, stop it;
//! and [`Site`], the example site on a test database of its own, with its
//! users and the mail it sends.

mod site;

pub use site::{Site, cheap_hasher};

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workspace root (the example site's `settings.toml` is there).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
}

/// Builds a workspace binary (debug profile) with cargo.
fn build_binary(package: &str) -> PathBuf {
    // Without the variables cargo sets for this test process: ring's build
    // script reruns when CARGO_MANIFEST_DIR changes, so building with them
    // rebuilt ring and all that depends on it (the framework), here and
    // again in the next `cargo test`.
    let mut build = escargot::CargoBuild::new();
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&name.as_ref())
        {
            build = build.env_remove(name.as_ref());
        }
    }
    build
        .manifest_path(workspace_root().join("Cargo.toml"))
        .package(package)
        .bin(package)
        .run()
        .unwrap_or_else(|e| panic!("cargo build -p {package} failed: {e}"))
        .path()
        .to_owned()
}

/// The example site's binary, built once per test process (debug profile,
/// so that its `debug/` routes exist).
pub fn example_site() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_binary("example-site"))
}

/// The `pollsite` test project's binary (it installs the reusable `polls`
/// app from `tests/apps/`), built once per test process.
pub fn pollsite() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_binary("pollsite"))
}

/// A SQLite database with the example site's migrations applied (so its
/// blog pages have their tables and the welcome article, id 1), made once
/// per test process in the temporary folder. Servers share it; tests only
/// read it.
pub fn site_database_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("manouche-e2e-site-{}.sqlite3", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let (code, out) = run_manage(&["migrate"], &[("DATABASE_URL", &url)]);
        assert_eq!(code, 0, "migrating the e2e database failed:\n{out}");
        url
    })
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on loopback")
}

/// Settings for a production-like `serve`: debug off, a real secret key,
/// loopback as the allowed hosts.
pub fn deploy_env() -> Vec<(&'static str, String)> {
    vec![
        ("MANOUCHE_DEBUG", "false".into()),
        (
            "MANOUCHE_SECRET_KEY",
            "e2e-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP".into(),
        ),
        ("MANOUCHE_ALLOWED_HOSTS", "127.0.0.1,localhost".into()),
        ("MANOUCHE_LOG", "info".into()),
        ("RUST_LOG", String::new()),
    ]
}

/// A running `example-site` process.
pub struct Server {
    child: Child,
    /// Where it listens (for TCP servers).
    pub addr: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `example-site serve --bind 127.0.0.1:PORT` with the deploy settings
    /// and `env` on top; returns once the port accepts connections.
    pub fn serve(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let mut all = deploy_env();
        all.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let server = Self::spawn(
            &["serve", "--bind", &bind],
            &all,
            bind.parse().expect("valid address"),
        );
        server.wait_until_listening();
        server
    }

    /// Starts the binary with any arguments, on the migrated
    /// [`site_database_url`] unless `env` names another database; does not
    /// wait.
    pub fn spawn(args: &[&str], env: &[(&str, String)], addr: SocketAddr) -> Self {
        let mut all = vec![("DATABASE_URL", site_database_url().to_owned())];
        all.extend(env.iter().cloned());
        Self::spawn_binary(example_site(), workspace_root(), args, &all, addr)
    }

    /// Starts `binary` in `dir` with `args` and `env`; does not wait.
    pub fn spawn_binary(
        binary: &Path,
        dir: &Path,
        args: &[&str],
        env: &[(&str, String)],
        addr: SocketAddr,
    ) -> Self {
        let mut command = Command::new(binary);
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("cannot start the binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().expect("log lock").push(line);
                }
            });
        }
        Self {
            child,
            addr,
            output,
        }
    }

    /// Waits until the port accepts connections (panics after 30 s).
    pub fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "the server did not listen on {}; output:\n{}",
            self.addr,
            self.output()
        );
    }

    /// `http://ADDR`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        self.output.lock().expect("log lock").join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill(1) is available");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the example site's binary to completion with `args` (and the
/// deploy settings plus `env`); returns (exit code, stdout + stderr).
pub fn run_manage(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut all: Vec<(&str, &str)> = Vec::new();
    let deploy = deploy_env();
    all.extend(deploy.iter().map(|(k, v)| (*k, v.as_str())));
    all.extend(env.iter().copied());
    run_binary(example_site(), workspace_root(), args, &all)
}

/// Runs `binary` in `dir` to completion with `args` and `env` (and no
/// `DATABASE_URL` unless `env` gives one); returns (exit code, stdout +
/// stderr).
pub fn run_binary(binary: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("MANOUCHE_SETTINGS");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("cannot run the binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// How long after `since` the server closed `stream` (reading gives EOF or
/// an error), or `None` when it was still open after `limit`. Whatever the
/// server sends meanwhile is read and dropped.
pub async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::from_std(since + limit);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// The process id a pidfile holds, if it holds one.
pub fn read_pid(pidfile: &Path) -> Option<u32> {
    std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

/// Waits (up to 30 s) until `pidfile` names another process than `old`:
/// the process a reload of `server` started. Fails the test with the
/// server's output when none comes.
pub async fn new_pid(pidfile: &Path, old: u32, server: &Server) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = read_pid(pidfile)
            && pid != old
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "the pidfile still holds {old}:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process a reload started (not the test's child): killed when the
/// test ends, however it ends.
#[derive(Debug)]
pub struct Successor(pub u32);

impl Drop for Successor {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}
