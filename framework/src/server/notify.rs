//! `sd_notify`: telling systemd (`Type=notify`) that the server is ready,
//! and, after a reload, which process is now the main one. A message goes
//! to the datagram socket named by `NOTIFY_SOCKET` (a path, or `@name` in
//! the abstract namespace); without that variable nothing is sent.
//!
//! ```text
//! READY=1                 serve, once it accepts connections
//! MAINPID=4242\nREADY=1   the old process, once its successor is ready
//! STOPPING=1              serve, on SIGTERM or SIGINT (not after a handover)
//! ```

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` to systemd when `NOTIFY_SOCKET` is set; a failure is
/// logged, never fatal.
pub(crate) fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(err) = send(&socket, state) {
        tracing::warn!(target: "manouche::server", "cannot notify systemd at {}: {err}", socket.to_string_lossy());
    }
}

fn send(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = socket.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(socket)?,
    };
    UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("manouche-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let name = format!("manouche-notify-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt as _;
        let systemd =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        send(format!("@{name}").as_ref(), "MAINPID=7\nREADY=1").unwrap();
        let n = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"MAINPID=7\nREADY=1");
        assert!(send("/no/such/dir/notify.sock".as_ref(), "READY=1").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
