//! Where the server listens: a TCP address, a Unix socket, or a socket
//! inherited from the process that started us (systemd socket activation,
//! `LISTEN_FDS`), which lets a new binary take over a port without a moment
//! in which connections are refused.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

/// Pending connections the kernel may queue while the server is busy; the
/// kernel caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 4096;

/// A listening address as written in settings and on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// `HOST:PORT` (`127.0.0.1:8000`, `[::]:443`, `localhost:8000`).
    Tcp(String),
    /// `unix:/run/site.sock`.
    Unix(PathBuf),
    /// `fd://N`: the N-th socket passed by the parent (`LISTEN_FDS`), from 0.
    Inherited(usize),
}

impl FromStr for Bind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a path, e.g. unix:/run/site.sock".into());
            }
            return Ok(Self::Unix(path.into()));
        }
        if let Some(n) = s.strip_prefix("fd://") {
            return n
                .parse()
                .map(Self::Inherited)
                .map_err(|_| format!("{s:?}: fd:// needs an index, e.g. fd://0"));
        }
        let valid = s
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if valid {
            Ok(Self::Tcp(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not an address: use HOST:PORT, unix:/path/to.sock or fd://N"
            ))
        }
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => f.write_str(addr),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Inherited(n) => write!(f, "fd://{n}"),
        }
    }
}

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, Option<PathBuf>),
}

/// An accepted connection.
pub(crate) enum Connection {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

impl Listener {
    /// Binds (or adopts) the socket.
    pub(crate) async fn bind(bind: &Bind, reuse_port: bool) -> io::Result<Self> {
        match bind {
            Bind::Tcp(addr) => {
                let mut last_err = None;
                for addr in tokio::net::lookup_host(addr).await? {
                    match bind_tcp(addr, reuse_port) {
                        Ok(listener) => return Ok(Self::Tcp(listener)),
                        Err(err) => last_err = Some(err),
                    }
                }
                Err(last_err.unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{addr} resolves to no address"),
                    )
                }))
            }
            Bind::Unix(path) => bind_unix(path).await,
            Bind::Inherited(index) => adopt(*index),
        }
    }

    /// The address to show in logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp".into(), |a| a.to_string()),
            Self::Unix(_, Some(path)) => format!("unix:{}", path.display()),
            Self::Unix(_, None) => "inherited unix socket".into(),
        }
    }

    /// The socket's descriptor, to duplicate for a new process.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd as _;
        match self {
            Self::Tcp(l) => l.as_fd(),
            Self::Unix(l, _) => l.as_fd(),
        }
    }

    /// The socket file this listener removes when dropped.
    pub(crate) fn socket_file(&self) -> Option<&PathBuf> {
        match self {
            Self::Unix(_, path) => path.as_ref(),
            Self::Tcp(_) => None,
        }
    }

    /// Makes this listener remove `path` when dropped: an adopted Unix
    /// socket whose file the old process created. Refused unless the
    /// socket is bound to `path`.
    pub(crate) fn own_socket_file(&mut self, path: PathBuf) -> io::Result<()> {
        let Self::Unix(listener, owned) = self else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} names a socket file, but the socket is TCP",
                    path.display()
                ),
            ));
        };
        let bound = listener.local_addr()?;
        if bound.as_pathname() != Some(path.as_path()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the inherited socket is not bound to {}", path.display()),
            ));
        }
        *owned = Some(path);
        Ok(())
    }

    /// Leaves the socket file in place when dropped: another process
    /// serves it now.
    pub(crate) fn keep_socket_file(&mut self) {
        if let Self::Unix(_, path) = self {
            *path = None;
        }
    }

    pub(crate) async fn accept(&self) -> io::Result<Connection> {
        match self {
            Self::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Responses go out in one write; don't let Nagle hold them.
                let _ = stream.set_nodelay(true);
                Ok(Connection::Tcp(stream, peer))
            }
            Self::Unix(l, _) => Ok(Connection::Unix(l.accept().await?.0)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Self::Unix(_, Some(path)) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bind_tcp(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn bind_unix(path: &PathBuf) -> io::Result<Listener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; refusing to replace it",
                    path.display()
                ),
            ));
        }
        // A socket file left by a process that died; replace it unless
        // someone still answers on it.
        if UnixStream::connect(path).await.is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("another server is listening on {}", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    Ok(Listener::Unix(
        UnixListener::bind(path)?,
        Some(path.clone()),
    ))
}

/// The sockets passed by the parent. Reading them clears `LISTEN_FDS` from
/// the environment (the systemd convention, so children don't adopt them
/// too), so they are read once per process and kept here. Sockets a
/// reload passed to another process are not read (see `reload`).
pub(super) fn passed_sockets() -> std::sync::MutexGuard<'static, listenfd::ListenFd> {
    static FDS: std::sync::OnceLock<std::sync::Mutex<listenfd::ListenFd>> =
        std::sync::OnceLock::new();
    FDS.get_or_init(|| {
        std::sync::Mutex::new(if super::reload::sockets_are_ours() {
            listenfd::ListenFd::from_env()
        } else {
            listenfd::ListenFd::empty()
        })
    })
    .lock()
    .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn adopt(index: usize) -> io::Result<Listener> {
    let mut fds = passed_sockets();
    if index >= fds.len() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "fd://{index}: the parent passed {} socket(s) (LISTEN_FDS); is this started by systemd or a socket-passing supervisor?",
                fds.len()
            ),
        ));
    }
    if let Ok(Some(listener)) = fds.take_tcp_listener(index) {
        listener.set_nonblocking(true)?;
        return Ok(Listener::Tcp(TcpListener::from_std(listener)?));
    }
    match fds.take_unix_listener(index)? {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            Ok(Listener::Unix(UnixListener::from_std(listener)?, None))
        }
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd://{index} is not a listening TCP or Unix stream socket"),
        )),
    }
}

/// Whether the number of inherited sockets says we were socket-activated.
pub(crate) fn inherited_sockets() -> usize {
    passed_sockets().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bind_addresses() {
        assert_eq!(
            "127.0.0.1:8000".parse(),
            Ok(Bind::Tcp("127.0.0.1:8000".into()))
        );
        assert_eq!("[::1]:80".parse(), Ok(Bind::Tcp("[::1]:80".into())));
        assert_eq!(
            "unix:/tmp/s.sock".parse(),
            Ok(Bind::Unix("/tmp/s.sock".into()))
        );
        assert_eq!("fd://0".parse(), Ok(Bind::Inherited(0)));
        for bad in [
            "8000",
            "localhost",
            "127.0.0.1:99999",
            "unix:",
            "fd://x",
            ":80",
        ] {
            assert!(bad.parse::<Bind>().is_err(), "{bad}");
        }
    }
}
