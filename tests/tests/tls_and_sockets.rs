//! HTTPS with a configured certificate, and taking over a socket passed by a
//! supervisor (systemd socket activation).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use manouche_e2e::{Server, deploy_env, example_site, free_port, workspace_root};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tls_client(cert: &rcgen::Certificate, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn serves_https_with_h2_offered_through_alpn() {
    let dir = std::env::temp_dir().join(format!("manouche-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let server = Server::serve(&[
        ("MANOUCHE_TLS_CERT", cert_path.to_str().unwrap()),
        ("MANOUCHE_TLS_KEY", key_path.to_str().unwrap()),
        ("MANOUCHE_HSTS_SECONDS", "3600"),
    ]);
    let name = ServerName::try_from("localhost").unwrap();

    // A client offering h2 gets h2.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = tls_client(&cert, &[b"h2", b"http/1.1"])
        .connect(name.clone(), tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    drop(tls);

    // HTTP/1.1 over TLS, with HSTS since it is configured.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut tls = tls_client(&cert, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /blog/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age=3600"),
        "{text}"
    );

    // Plain HTTP on the TLS port is not served.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unusable_tls_files_stop_the_server_with_a_clear_error() {
    let (code, out) = manouche_e2e::run_manage(
        &["serve", "--bind", &format!("127.0.0.1:{}", free_port())],
        &[
            ("MANOUCHE_TLS_CERT", "/nonexistent/cert.pem"),
            ("MANOUCHE_TLS_KEY", "/nonexistent/key.pem"),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("cannot read TLS certificate /nonexistent/cert.pem"),
        "{out}"
    );
}

/// A supervisor (here a few lines of Python standing in for systemd) binds
/// the socket, then execs the server with `LISTEN_FDS=1`: the server serves
/// on the inherited socket without binding anything itself.
#[test]
fn takes_over_a_socket_passed_by_the_supervisor() {
    let script = r#"
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
print(s.getsockname()[1], flush=True)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[1], [sys.argv[1], "serve"], env)
"#;
    let mut command = Command::new("python3");
    command
        .args(["-c", script, example_site().to_str().unwrap()])
        .current_dir(workspace_root())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in deploy_env() {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("python3 is available");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut port = String::new();
    stdout.read_line(&mut port).unwrap();
    let port: u16 = port.trim().parse().expect("the supervisor prints the port");

    let deadline = Instant::now() + Duration::from_secs(30);
    let response = loop {
        let attempt = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            use std::io::{Read, Write};
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
            let mut buf = String::new();
            s.read_to_string(&mut buf)?;
            Ok(buf)
        });
        match attempt {
            Ok(text) if !text.is_empty() => break text,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("no answer on the inherited socket: {other:?}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}
