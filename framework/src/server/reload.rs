//! Binary upgrade with socket handover, as uWSGI's graceful reload or
//! nginx's binary upgrade: on `SIGHUP` (or `manage reload`), the serving
//! process starts the binary now on disk, with its own arguments and
//! environment, and hands it the listening sockets; it drains only once
//! the new process says it is ready.
//!
//! ```text
//! old process                         new process (same path, new file)
//! SIGHUP
//!   spawn, sockets at fds N..N+k  ──▶ settings, system checks, migrations
//!                                     applied?, adopts the sockets (binds
//!                                     nothing), starts accepting
//!   "READY=1" on the ready socket ◀── reports ready
//!   pidfile := new pid, drain         serves
//! ```
//!
//! **What the new process inherits.** The sockets follow the `LISTEN_FDS`
//! protocol that systemd uses and `serve` already reads
//! (`listener.rs`): `LISTEN_FDS` (how many), `LISTEN_FDNAMES` (`main`, the
//! site's socket; `manouche-ready`, see below; `metrics`, the `--metrics`
//! socket, when there is one), and `LISTEN_FDS_FIRST_FD` (the first
//! descriptor; the `listenfd` crate's extension, since the descriptors are
//! duplicated into a free range instead of 3, 4...). Only the duplicates
//! lose their close-on-exec flag, for the time of the spawn; the
//! process's own descriptors keep it, so nothing else it starts
//! inherits the sockets (except a process another thread of the server
//! starts in that same instant).
//!
//! **Why no `LISTEN_PID`.** `LISTEN_PID` must hold the new process's
//! id, which is only known between `fork` and `exec`, and setting it
//! there takes code that runs in the child before `exec` (`pre_exec`),
//! which is `unsafe`; the workspace forbids `unsafe` code. Instead,
//! `LISTEN_PID` is removed, and `MANOUCHE_RELOAD_PARENT` holds the old
//! process's id: the new process adopts the sockets only when that is its
//! parent's id, so a process it starts in turn (which would see another
//! parent) does not.
//!
//! **The ready channel.** The old process cannot read a pipe it would
//! pass: adopting a descriptor by number without `unsafe` code goes
//! through `listenfd`, which only hands out sockets. So the channel is a
//! connected Unix datagram socket pair, whose child end is passed with the
//! sockets under the name `manouche-ready`. The new process sends
//! `READY=1` and `MAINPID=<pid>` on it (the `sd_notify` wording) once it
//! accepts connections. If it exits first, or says nothing within
//! `server.reload_timeout` (then it is killed), the reload fails: the old
//! process logs why (with the exit status), keeps serving, and the pidfile
//! keeps its id. A failure is also written to `<pidfile>.reload`, which
//! `manage reload` watches.
//!
//! **One at a time.** A `SIGHUP` during a reload, or once a new process
//! has taken over, is logged and ignored. A stop signal during a reload
//! kills the new process, which must not serve on behind an old process
//! that is leaving. The old process keeps copies of its sockets for
//! reloads (`ReloadSockets`) and closes them when its drain starts,
//! before its listener: a listening socket stays open while any of its
//! descriptors is, and would queue connections that no one accepts.
//!
//! **Unix socket files.** When the old process created the socket file
//! (`--bind unix:PATH`), `MANOUCHE_RELOAD_SOCKET_FILE` passes its path:
//! the new process removes it when it exits, and the old one no longer
//! does.
//!
//! **systemd.** Under `Type=notify`, the old process (systemd's main
//! process) tells systemd `MAINPID=<new pid>` and `READY=1` once the new
//! one is ready (`notify`).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::Signals;
use super::pidfile::write_pid;

/// The old process's id, for the direct child that the sockets are for.
pub(crate) const PARENT_VAR: &str = "MANOUCHE_RELOAD_PARENT";
/// The Unix socket file the new process removes on exit.
const SOCKET_FILE_VAR: &str = "MANOUCHE_RELOAD_SOCKET_FILE";
/// The `LISTEN_FDNAMES` entries.
const MAIN: &str = "main";
const READY: &str = "manouche-ready";
const METRICS: &str = "metrics";

/// Whether the inherited sockets (if any) are this process's: always,
/// unless they come from a reload whose new process is not this one.
pub(crate) fn sockets_are_ours() -> bool {
    match std::env::var(PARENT_VAR) {
        Err(_) => true,
        Ok(parent) => {
            parent.parse::<i32>().ok()
                == rustix::process::getppid()
                    .map(rustix::process::Pid::as_raw_nonzero)
                    .map(i32::from)
        }
    }
}

/// The position of `name` among the inherited sockets.
fn index_of(name: &str) -> Option<usize> {
    std::env::var("LISTEN_FDNAMES")
        .ok()?
        .split(':')
        .position(|n| n == name)
}

/// What a process started by a reload takes over from the old one.
#[derive(Debug)]
pub(crate) struct Takeover {
    /// The old process's id.
    pub(crate) parent: u32,
    /// The site's socket, as `fd://N`.
    pub(crate) main: usize,
    ready: UnixDatagram,
    /// The metrics socket, when the old process had one.
    pub(crate) metrics: Option<std::net::TcpListener>,
    /// The Unix socket file the old process created.
    pub(crate) socket_file: Option<PathBuf>,
}

impl Takeover {
    /// This process's takeover, when a reload started it.
    ///
    /// # Errors
    /// When the variables say so but the sockets are missing.
    pub(crate) fn from_env() -> Result<Option<Self>, String> {
        let Ok(parent) = std::env::var(PARENT_VAR) else {
            return Ok(None);
        };
        if !sockets_are_ours() {
            return Ok(None);
        }
        let parent = parent
            .parse()
            .map_err(|_| format!("{PARENT_VAR}={parent:?} is not a process id"))?;
        let missing = |name: &str| {
            format!(
                "started by a reload ({PARENT_VAR}) without the {name:?} socket in LISTEN_FDNAMES"
            )
        };
        let main = index_of(MAIN).ok_or_else(|| missing(MAIN))?;
        let ready_index = index_of(READY).ok_or_else(|| missing(READY))?;
        let mut fds = super::listener::passed_sockets();
        let ready = fds
            .take_unix_datagram(ready_index)
            .map_err(|e| format!("the reload's ready socket: {e}"))?
            .ok_or_else(|| missing(READY))?;
        let metrics = match index_of(METRICS) {
            Some(index) => fds
                .take_tcp_listener(index)
                .map_err(|e| format!("the inherited metrics socket: {e}"))?,
            None => None,
        };
        Ok(Some(Self {
            parent,
            main,
            ready,
            metrics,
            socket_file: std::env::var_os(SOCKET_FILE_VAR).map(PathBuf::from),
        }))
    }

    /// Tells the old process that this one accepts connections.
    ///
    /// # Errors
    /// When the old process is gone.
    pub(crate) fn report_ready(&self) -> io::Result<()> {
        let message = format!("READY=1\nMAINPID={}\n", std::process::id());
        self.ready.send(message.as_bytes()).map(drop)
    }
}

/// The `SIGHUP` handler, installed before the sockets are bound so that
/// an early `SIGHUP` does not end the process (its default action).
pub(crate) struct Hangups(Option<Signal>);

impl Hangups {
    pub(crate) fn install() -> Self {
        match signal(SignalKind::hangup()) {
            Ok(hangups) => Self(Some(hangups)),
            Err(err) => {
                tracing::error!(target: "manouche::server", "cannot handle SIGHUP ({err}): no reloads");
                Self(None)
            }
        }
    }

    /// Logs and ignores every `SIGHUP` from now on, saying `why`.
    pub(crate) fn ignore(self, why: String) {
        tracing::error!(target: "manouche::server", "{why}: SIGHUP will be ignored");
        tokio::spawn(ignore(self, why));
    }

    async fn recv(&mut self) {
        match &mut self.0 {
            Some(hangups) => {
                if hangups.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// Duplicates of the listening sockets, by name, kept for reloads. The
/// server closes them when its drain starts, before its own listener:
/// a listening socket stays open while any descriptor of it is, and one
/// no process accepts on would queue connections only to reset them.
#[derive(Debug, Default)]
pub(crate) struct ReloadSockets(std::sync::Mutex<Vec<(&'static str, OwnedFd)>>);

impl ReloadSockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, OwnedFd)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the duplicates: no reload from now on.
    pub(crate) fn close(&self) {
        self.lock().clear();
    }
}

/// What the old process needs to start its successor.
#[derive(Debug)]
pub(crate) struct Reloader {
    exe: PathBuf,
    args: Vec<OsString>,
    sockets: std::sync::Arc<ReloadSockets>,
    socket_file: Option<PathBuf>,
    pidfile: Option<PathBuf>,
    timeout: Duration,
    attempts: u32,
}

/// A successor that reported ready.
struct Successor {
    pid: u32,
    child: Child,
}

impl Reloader {
    /// Remembers the binary's path now (once replaced on disk, the running
    /// file's link reads `PATH (deleted)`) and the arguments.
    ///
    /// The duplicates of the sockets go to `sockets`, which the server
    /// closes when it drains.
    ///
    /// # Errors
    /// When the sockets cannot be duplicated or the binary's path read.
    pub(crate) fn new(
        main: BorrowedFd<'_>,
        socket_file: Option<PathBuf>,
        metrics: Option<BorrowedFd<'_>>,
        sockets: std::sync::Arc<ReloadSockets>,
        pidfile: Option<PathBuf>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let exe = std::env::current_exe()?;
        let exe = match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
            Some(path) => PathBuf::from(path),
            None => exe,
        };
        {
            let mut kept = sockets.lock();
            kept.push((MAIN, main.try_clone_to_owned()?));
            if let Some(metrics) = metrics {
                kept.push((METRICS, metrics.try_clone_to_owned()?));
            }
        }
        Ok(Self {
            exe,
            args: std::env::args_os().skip(1).collect(),
            sockets,
            socket_file,
            pidfile,
            timeout,
            attempts: 0,
        })
    }

    /// Reloads on each `SIGHUP` until a successor takes over, and sends its
    /// id to `handed_over`; a `SIGHUP` during a reload, or after the
    /// handover, is logged and ignored. A stop signal during a reload
    /// stops the new process.
    pub(crate) fn spawn(
        mut self,
        mut hangups: Hangups,
        signals: Signals,
        handed_over: tokio::sync::oneshot::Sender<u32>,
    ) {
        tokio::spawn(async move {
            let successor = loop {
                tokio::select! {
                    () = hangups.recv() => {}
                    () = signals.clone().count(1) => {
                        ignore(hangups, "this process is draining".to_owned()).await;
                    }
                }
                tracing::info!(target: "manouche::server", "SIGHUP received: starting {} on the same sockets", self.exe.display());
                let outcome = {
                    let mut attempt = std::pin::pin!(self.attempt());
                    loop {
                        tokio::select! {
                            outcome = &mut attempt => break Some(outcome),
                            () = hangups.recv() => tracing::info!(target: "manouche::server", "SIGHUP ignored: a reload is in progress"),
                            // Dropping the attempt kills the new process.
                            () = signals.clone().count(1) => break None,
                        }
                    }
                };
                match outcome {
                    Some(Ok(successor)) => break successor,
                    None => {
                        ignore(
                            hangups,
                            "this process is draining (a stop signal ended the reload under way)"
                                .to_owned(),
                        )
                        .await;
                    }
                    Some(Err(why)) => {
                        tracing::error!(target: "manouche::server", "reload failed: {why}; still serving (pid {})", std::process::id());
                        self.report_failure(&why);
                    }
                }
            };
            let Successor { pid, mut child } = successor;
            if let Some(path) = &self.pidfile {
                if let Err(err) = write_pid(path, pid) {
                    tracing::error!(target: "manouche::server", "cannot write the new pid {pid} to the pidfile {}: {err}", path.display());
                }
                let _ = std::fs::remove_file(report_path(path));
            }
            super::notify::notify(&format!("MAINPID={pid}\nREADY=1"));
            tracing::info!(target: "manouche::server", "the new process (pid {pid}) is ready and serves; draining this one");
            let _ = handed_over.send(pid);
            // Reap the new process should it exit before this one (a
            // thread of its own: the runtime would wait for a blocking
            // task before this process could exit).
            std::thread::spawn(move || child.wait());
            ignore(
                hangups,
                format!("pid {pid} has taken over and this process is draining"),
            )
            .await;
        });
    }

    /// One reload: the new process, until it is ready or has failed.
    async fn attempt(&mut self) -> Result<Successor, String> {
        self.attempts += 1;
        let (ours, theirs) =
            UnixDatagram::pair().map_err(|e| format!("cannot make the ready socket: {e}"))?;
        let ours = ours
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixDatagram::from_std(ours))
            .map_err(|e| format!("cannot make the ready socket: {e}"))?;
        let spawned = self.start(&theirs);
        // The new process has its copy of the ready socket; close ours.
        drop(theirs);
        let child = spawned?;
        let pid = child.id();
        // Killed if this reload is abandoned (a stop signal) before it is
        // ready, so that it does not serve on behind the old process.
        let mut child = Unready(Some(child));
        tracing::info!(target: "manouche::server", "started pid {pid}; waiting up to {:?} (server.reload_timeout) for it to be ready", self.timeout);
        let deadline = tokio::time::sleep(self.timeout);
        let mut deadline = std::pin::pin!(deadline);
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        let mut buf = [0u8; 256];
        let mut listening = true;
        loop {
            tokio::select! {
                received = ours.recv(&mut buf), if listening => match received {
                    Ok(n) if says_ready(&buf[..n]) => {
                        if let Some(child) = child.0.take() {
                            return Ok(Successor { pid, child });
                        }
                    }
                    Ok(_) => {}
                    Err(_) => listening = false,
                },
                _ = poll.tick() => {
                    if let Some(Ok(Some(status))) = child.0.as_mut().map(Child::try_wait) {
                        return Err(format!("the new process (pid {pid}) exited before it was ready ({status}); its log says why"));
                    }
                }
                () = &mut deadline => {
                    let status = match child.0.as_mut() {
                        Some(child) => stop(child).await,
                        None => "gone".to_owned(),
                    };
                    return Err(format!(
                        "the new process (pid {pid}) did not report ready within server.reload_timeout ({:?}); stopped it ({status})",
                        self.timeout
                    ));
                }
            }
        }
    }

    /// Starts the binary with the sockets and `ready`.
    fn start(&self, ready: &UnixDatagram) -> Result<Child, String> {
        let sockets = self.sockets.lock();
        if sockets.is_empty() {
            return Err("this process is draining: its sockets are closed".to_owned());
        }
        let mut names = Vec::new();
        let mut fds = Vec::new();
        for (name, fd) in sockets.iter() {
            names.push(*name);
            fds.push(fd.as_fd());
            if *name == MAIN {
                names.push(READY);
                fds.push(ready.as_fd());
            }
        }
        let passed = inheritable_run(&fds)
            .map_err(|e| format!("cannot pass the sockets to a new process: {e}"))?;
        let first = passed.first().map_or(3, AsRawFd::as_raw_fd);
        let mut command = Command::new(&self.exe);
        command
            .args(&self.args)
            .env_remove("LISTEN_PID")
            .env("LISTEN_FDS", passed.len().to_string())
            .env("LISTEN_FDS_FIRST_FD", first.to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .env(PARENT_VAR, std::process::id().to_string());
        match &self.socket_file {
            Some(path) => command.env(SOCKET_FILE_VAR, path),
            None => command.env_remove(SOCKET_FILE_VAR),
        };
        // The copies close when this returns: the new process has its own.
        command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))
    }

    /// Writes `why` to `<pidfile>.reload` for `manage reload`.
    fn report_failure(&self, why: &str) {
        let Some(pidfile) = &self.pidfile else {
            return;
        };
        let path = report_path(pidfile);
        let report = format!(
            "reload {} of pid {} failed: {why}\n",
            self.attempts,
            std::process::id()
        );
        if let Err(err) = std::fs::write(&path, report) {
            tracing::warn!(target: "manouche::server", "cannot write {}: {err}", path.display());
        }
    }
}

/// Logs and ignores every further `SIGHUP`: this process drains.
async fn ignore(mut hangups: Hangups, why: String) -> ! {
    loop {
        hangups.recv().await;
        tracing::info!(target: "manouche::server", "SIGHUP ignored: {why}");
    }
}

/// Where the last failed reload is reported, next to the pidfile.
pub(crate) fn report_path(pidfile: &Path) -> PathBuf {
    let mut name = pidfile.as_os_str().to_owned();
    name.push(".reload");
    PathBuf::from(name)
}

/// Whether a message on the ready socket says ready.
fn says_ready(message: &[u8]) -> bool {
    message
        .split(|b| *b == b'\n')
        .any(|line| line == b"READY=1")
}

/// A new process not ready yet: killed and reaped when dropped.
struct Unready(Option<Child>);

impl Drop for Unready {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take()
            && matches!(child.try_wait(), Ok(None))
        {
            tracing::warn!(target: "manouche::server", "stopping the new process (pid {}): the reload was abandoned", child.id());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Kills a new process that did not become ready, and reaps it.
async fn stop(child: &mut Child) -> String {
    let _ = child.kill();
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            return status.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    "still exiting".to_owned()
}

/// Duplicates of `fds` at consecutive numbers (the `LISTEN_FDS` protocol
/// wants a run), without close-on-exec, for a process about to be spawned.
fn inheritable_run(fds: &[BorrowedFd<'_>]) -> io::Result<Vec<OwnedFd>> {
    let mut from = 3;
    // Another thread may open a descriptor inside the run being built;
    // then start again past it.
    for _ in 0..64 {
        let mut run: Vec<OwnedFd> = Vec::with_capacity(fds.len());
        let mut broken = None;
        for fd in fds {
            let want = run.last().map_or(from, |last| last.as_raw_fd() + 1);
            let copy = rustix::io::fcntl_dupfd_cloexec(fd, want)?;
            if run.is_empty() || copy.as_raw_fd() == want {
                run.push(copy);
            } else {
                broken = Some(copy.as_raw_fd());
                break;
            }
        }
        match broken {
            Some(next) => from = next + 1,
            None => {
                for fd in &run {
                    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                }
                return Ok(run);
            }
        }
    }
    Err(io::Error::other(
        "no run of free descriptors (descriptors opened concurrently)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_inheritable_copies() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (c, _d) = UnixDatagram::pair().unwrap();
        let run = inheritable_run(&[a.as_fd(), b.as_fd(), c.as_fd()]).unwrap();
        assert_eq!(run.len(), 3);
        for (i, fd) in run.iter().enumerate() {
            assert_eq!(fd.as_raw_fd(), run[0].as_raw_fd() + i as i32);
            assert!(
                !rustix::io::fcntl_getfd(fd)
                    .unwrap()
                    .contains(rustix::io::FdFlags::CLOEXEC)
            );
        }
        // The originals keep close-on-exec.
        assert!(
            rustix::io::fcntl_getfd(&a)
                .unwrap()
                .contains(rustix::io::FdFlags::CLOEXEC)
        );
    }

    #[test]
    fn ready_is_a_line_of_its_own() {
        assert!(says_ready(b"READY=1\nMAINPID=12\n"));
        assert!(says_ready(b"MAINPID=12\nREADY=1"));
        assert!(!says_ready(b"READY=10\n"));
        assert!(!says_ready(b""));
    }

    #[test]
    fn the_report_sits_next_to_the_pidfile() {
        assert_eq!(
            report_path(Path::new("/run/site/site.pid")),
            Path::new("/run/site/site.pid.reload")
        );
    }
}
