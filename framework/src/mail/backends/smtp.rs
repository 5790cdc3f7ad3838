//! The SMTP backend (Django's `smtp.EmailBackend`), behind the cargo
//! feature `smtp`: one connection per batch of messages, plain, upgraded
//! with STARTTLS (`use_tls`) or TLS from the first byte (`use_ssl`),
//! logging in when a user name and password are set. Built on lettre's
//! SMTP client (tokio, rustls with the Mozilla root certificates).
//!
//! ```toml
//! [email]
//! backend = "smtp"
//! host = "smtp.example.com"
//! port = 587
//! username = "site@example.com"
//! use_tls = true
//! timeout = "10s"
//! # password: set MANOUCHE_EMAIL_PASSWORD in the environment
//! ```

use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::EmailBackend;
use crate::mail::{EmailMessage, MailError};
use crate::settings::{EmailSettings, SettingsError};

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain text (a relay on the same machine or network).
    #[default]
    None,
    /// Plain, then upgraded with `STARTTLS` (port 587; Django's
    /// `EMAIL_USE_TLS`). A server that does not offer it is an error.
    StartTls,
    /// TLS from the first byte (port 465; Django's `EMAIL_USE_SSL`).
    Tls,
}

/// Sends messages to an SMTP server.
#[derive(Clone)]
pub struct SmtpBackend {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    security: SmtpSecurity,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpBackend")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("login", &self.credentials.is_some())
            .field("security", &self.security)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpBackend {
    /// A backend for the server at `host:port`, plain, without login, with
    /// a 30-second timeout per step.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            credentials: None,
            security: SmtpSecurity::None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Logs in with these (PLAIN or LOGIN, whichever the server offers).
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::new(username.into(), password.into()));
        self
    }

    /// Protects the connection.
    #[must_use]
    pub fn security(mut self, security: SmtpSecurity) -> Self {
        self.security = security;
        self
    }

    /// How long each step (connecting, each command, each message) may
    /// take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The backend the `[email]` settings describe; TLS is set up once here
    /// so that a host it cannot work with stops startup.
    pub(crate) fn from_settings(email: &EmailSettings) -> Result<Self, SettingsError> {
        let security = match (email.use_tls, email.use_ssl) {
            (true, _) => SmtpSecurity::StartTls,
            (false, true) => SmtpSecurity::Tls,
            (false, false) => SmtpSecurity::None,
        };
        let mut backend = Self::new(&email.host, email.port)
            .security(security)
            .timeout(email.timeout);
        if !email.username.is_empty() && !email.password.is_empty() {
            backend = backend.credentials(&email.username, &email.password);
        }
        if security != SmtpSecurity::None {
            backend.tls().map_err(|e| SettingsError::Invalid {
                setting: "email.host",
                message: format!(
                    "cannot set up TLS for {:?}: {}",
                    email.host,
                    e.reason_text()
                ),
            })?;
        }
        Ok(backend)
    }

    fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn error(&self, reason: impl Into<String>) -> MailError {
        MailError::Smtp {
            server: self.server(),
            reason: reason.into(),
        }
    }

    fn tls(&self) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        TlsParameters::new(self.host.clone())
    }

    /// `step`, failing after the timeout.
    async fn timed<T>(
        &self,
        what: &str,
        step: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, MailError> {
        match tokio::time::timeout(self.timeout, step).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.error(format!("{what}: {}", e.reason_text()))),
            Err(_) => Err(self.error(format!(
                "{what}: no answer within {}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }

    /// A connection, protected and logged in as configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let hello = ClientId::default();
        let tls = match self.security {
            SmtpSecurity::None => None,
            SmtpSecurity::StartTls | SmtpSecurity::Tls => Some(
                self.tls()
                    .map_err(|e| self.error(format!("TLS: {}", e.reason_text())))?,
            ),
        };
        let wrapped = if self.security == SmtpSecurity::Tls {
            tls.clone()
        } else {
            None
        };
        let mut conn = self
            .timed(
                "connecting",
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &hello,
                    wrapped,
                    None,
                ),
            )
            .await?;
        if self.security == SmtpSecurity::StartTls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(self.error(
                    "the server does not offer STARTTLS (email.use_tls); use email.use_ssl for a TLS port, or neither",
                ));
            }
            let tls = tls.expect("built above for STARTTLS");
            if let Err(e) = self.timed("STARTTLS", conn.starttls(tls, &hello)).await {
                conn.abort().await;
                return Err(e);
            }
        }
        if let Some(credentials) = &self.credentials
            && let Err(e) = self
                .timed(
                    "logging in",
                    conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
                )
                .await
        {
            conn.abort().await;
            return Err(e);
        }
        Ok(conn)
    }

    fn envelope(&self, message: &EmailMessage) -> Result<Envelope, MailError> {
        let address = |mailbox: &crate::mail::Mailbox| {
            mailbox.email().parse::<Address>().map_err(|e| {
                self.error(format!(
                    "the address {} cannot be sent to: {e}",
                    mailbox.email()
                ))
            })
        };
        let from = message.from().ok_or(MailError::NoSender)?;
        let to = message
            .recipients()
            .into_iter()
            .map(address)
            .collect::<Result<Vec<_>, _>>()?;
        Envelope::new(Some(address(from)?), to).map_err(|e| self.error(e.to_string()))
    }

    async fn send_all(&self, messages: &[EmailMessage]) -> Result<usize, MailError> {
        // Messages without recipients are skipped, as Django does; the
        // envelopes are checked before connecting.
        let batch: Vec<(&EmailMessage, Envelope)> = messages
            .iter()
            .filter(|m| !m.recipients().is_empty())
            .map(|m| self.envelope(m).map(|e| (m, e)))
            .collect::<Result<_, _>>()?;
        if batch.is_empty() {
            return Ok(0);
        }
        let mut conn = self.connect().await?;
        for (message, envelope) in &batch {
            let data = message.as_bytes();
            if let Err(e) = self.timed("sending", conn.send(envelope, &data)).await {
                conn.abort().await;
                return Err(e);
            }
        }
        // The messages are accepted; a failed goodbye changes nothing.
        if tokio::time::timeout(self.timeout, conn.quit())
            .await
            .is_err()
        {
            conn.abort().await;
        }
        Ok(batch.len())
    }
}

/// The reason an SMTP error gives, with its causes.
trait ReasonText {
    fn reason_text(&self) -> String;
}

impl ReasonText for lettre::transport::smtp::Error {
    fn reason_text(&self) -> String {
        let text = self.to_string();
        // lettre's "response error: ..." / "permanent error (550): ..." say
        // it already; a network error's cause is in its source.
        match std::error::Error::source(self) {
            Some(source) if !text.contains(&source.to_string()) => format!("{text}: {source}"),
            _ => text,
        }
    }
}

impl EmailBackend for SmtpBackend {
    fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>> {
        Box::pin(self.send_all(messages))
    }
}

#[cfg(test)]
mod tests {
    //! Against a tiny SMTP server in the test: enough of RFC 5321 (EHLO,
    //! AUTH PLAIN, MAIL, RCPT, DATA, NOOP, RSET, QUIT) to see what the
    //! backend sends.

    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;
    use crate::mail::Mailer;
    use crate::settings::Settings;

    #[derive(Debug, Default, Clone)]
    struct Mail {
        from: String,
        to: Vec<String>,
        data: String,
    }

    #[derive(Debug, Default, Clone)]
    struct Session {
        ehlo: String,
        login: Option<(String, String)>,
        mails: Vec<Mail>,
        quit: bool,
    }

    #[derive(Clone, Copy)]
    struct Behaviour {
        greet: bool,
        eight_bit: bool,
    }

    #[derive(Clone, Default)]
    struct Server {
        sessions: Arc<Mutex<Vec<Session>>>,
    }

    impl Server {
        async fn start(behaviour: Behaviour) -> (Self, u16) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = Self::default();
            let sessions = server.sessions.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let sessions = sessions.clone();
                    tokio::spawn(async move {
                        let session = serve(stream, behaviour).await;
                        sessions.lock().unwrap().push(session);
                    });
                }
            });
            (server, port)
        }

        /// The finished sessions (waits a little for the server's side).
        async fn sessions(&self, expected: usize) -> Vec<Session> {
            for _ in 0..200 {
                if self.sessions.lock().unwrap().len() >= expected {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            self.sessions.lock().unwrap().clone()
        }
    }

    async fn serve(stream: tokio::net::TcpStream, behaviour: Behaviour) -> Session {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let mut session = Session::default();
        if !behaviour.greet {
            tokio::time::sleep(Duration::from_secs(5)).await;
            return session;
        }
        let _ = write.write_all(b"220 test ESMTP ready\r\n").await;
        let mut mail = Mail::default();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                return session;
            }
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            let upper = line.to_ascii_uppercase();
            let answer: String = if let Some(name) = upper.strip_prefix("EHLO ") {
                session.ehlo = name.to_lowercase();
                let eight = if behaviour.eight_bit {
                    "250-8BITMIME\r\n"
                } else {
                    ""
                };
                format!("250-test\r\n{eight}250-AUTH PLAIN LOGIN\r\n250 SIZE 1000000\r\n")
            } else if upper.starts_with("AUTH PLAIN ") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(&line[11..])
                    .unwrap();
                let parts: Vec<String> = decoded
                    .split(|b| *b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                session.login = Some((parts[1].clone(), parts[2].clone()));
                if parts[2] == "secret" {
                    "235 2.7.0 Authentication successful\r\n".into()
                } else {
                    "535 5.7.8 Authentication credentials invalid\r\n".into()
                }
            } else if upper.starts_with("MAIL FROM:") {
                mail = Mail::default();
                mail.from = line[10..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                "250 2.1.0 Ok\r\n".into()
            } else if upper.starts_with("RCPT TO:") {
                let to = line[8..].trim().to_owned();
                if to.contains("unknown") {
                    "550 5.1.1 No such user here\r\n".into()
                } else {
                    mail.to.push(to);
                    "250 2.1.5 Ok\r\n".into()
                }
            } else if upper == "DATA" {
                let _ = write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                        return session;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    // Undo the dot-stuffing.
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                mail.data = data;
                session.mails.push(std::mem::take(&mut mail));
                "250 2.0.0 Ok: queued\r\n".into()
            } else if upper == "NOOP" || upper == "RSET" {
                "250 2.0.0 Ok\r\n".into()
            } else if upper == "QUIT" {
                session.quit = true;
                let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                return session;
            } else {
                "502 5.5.2 Command not recognized\r\n".into()
            };
            let _ = write.write_all(answer.as_bytes()).await;
        }
    }

    const NORMAL: Behaviour = Behaviour {
        greet: true,
        eight_bit: true,
    };

    fn message(subject: &str) -> EmailMessage {
        EmailMessage::builder()
            .subject(subject)
            .body("Hello Zoë,\n.a line with a leading dot\nbye")
            .from("Site <site@example.com>")
            .to("Ana <ana@example.com>")
            .cc("cc@example.com")
            .bcc("hidden@example.com")
            .html("<p>Hello</p>")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_batch_goes_over_one_logged_in_connection() {
        let (server, port) = Server::start(NORMAL).await;
        let backend = SmtpBackend::new("127.0.0.1", port).credentials("site", "secret");
        let sent = backend
            .send(&[message("first"), message("second")])
            .await
            .unwrap();
        assert_eq!(sent, 2);
        let sessions = server.sessions(1).await;
        assert_eq!(sessions.len(), 1, "one connection: {sessions:?}");
        let session = &sessions[0];
        assert!(!session.ehlo.is_empty());
        assert_eq!(
            session.login,
            Some(("site".to_owned(), "secret".to_owned()))
        );
        assert!(session.quit);
        assert_eq!(session.mails.len(), 2);
        let mail = &session.mails[0];
        assert_eq!(mail.from, "<site@example.com>");
        assert_eq!(
            mail.to,
            [
                "<ana@example.com>",
                "<cc@example.com>",
                "<hidden@example.com>"
            ]
        );
        assert!(
            mail.data.contains("\r\nSubject: first\r\n"),
            "{}",
            mail.data
        );
        assert!(mail.data.contains("\r\nFrom: Site <site@example.com>\r\n"));
        assert!(
            mail.data
                .contains("\r\nTo: Ana <ana@example.com>\r\nCc: cc@example.com\r\n")
        );
        assert!(!mail.data.contains("hidden"), "Bcc only in the envelope");
        assert!(
            mail.data
                .contains("\r\nHello Zoë,\r\n.a line with a leading dot\r\nbye\r\n")
        );
        assert!(
            mail.data
                .contains("Content-Type: text/html; charset=\"utf-8\"")
        );
        assert!(session.mails[1].data.contains("\r\nSubject: second\r\n"));
    }

    #[tokio::test]
    async fn the_mailer_from_settings_sends_through_smtp() {
        let (server, port) = Server::start(NORMAL).await;
        let mut settings = Settings::default();
        settings.email.backend = Some(crate::settings::EmailBackendKind::Smtp);
        settings.email.host = "127.0.0.1".into();
        settings.email.port = port;
        settings.email.username = "site".into();
        settings.email.password = "secret".into();
        settings.email.default_from = "noreply@example.com".into();
        let mailer = Mailer::from_settings(&settings).unwrap();
        assert_eq!(
            mailer
                .send_mail("Hi", "Body", ["a@example.com"])
                .await
                .unwrap(),
            1
        );
        let sessions = server.sessions(1).await;
        assert_eq!(sessions[0].mails[0].from, "<noreply@example.com>");
        assert!(sessions[0].login.is_some());
    }

    #[tokio::test]
    async fn nothing_to_send_opens_no_connection() {
        let (server, port) = Server::start(NORMAL).await;
        let backend = SmtpBackend::new("127.0.0.1", port);
        let nobody = EmailMessage::builder()
            .from("a@example.com")
            .build()
            .unwrap();
        assert_eq!(backend.send(&[nobody]).await.unwrap(), 0);
        assert_eq!(backend.send(&[]).await.unwrap(), 0);
        let no_sender = EmailMessage::builder().to("a@example.com").build().unwrap();
        let err = backend.send(&[no_sender]).await.unwrap_err();
        assert!(matches!(err, MailError::NoSender));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(server.sessions.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn refusals_come_back_with_the_server_s_words() {
        let (_server, port) = Server::start(NORMAL).await;
        let backend = SmtpBackend::new("127.0.0.1", port).credentials("site", "wrong");
        let err = backend.send(&[message("x")]).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("SMTP server 127.0.0.1:{port}: logging in: ")),
            "{text}"
        );
        assert!(text.contains("535"), "{text}");

        let backend = SmtpBackend::new("127.0.0.1", port);
        let unknown = EmailMessage::builder()
            .from("a@example.com")
            .to("unknown@example.com")
            .build()
            .unwrap();
        let err = backend.send(&[unknown]).await.unwrap_err().to_string();
        assert!(
            err.contains("sending") && err.contains("550") && err.contains("No such user"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn utf8_needs_8bitmime_and_starttls_needs_the_server_s_offer() {
        let (_server, port) = Server::start(Behaviour {
            greet: true,
            eight_bit: false,
        })
        .await;
        let backend = SmtpBackend::new("127.0.0.1", port);
        let err = backend.send(&[message("x")]).await.unwrap_err().to_string();
        assert!(err.contains("8BITMIME"), "{err}");
        let backend = SmtpBackend::new("127.0.0.1", port).security(SmtpSecurity::StartTls);
        let err = backend.send(&[message("x")]).await.unwrap_err().to_string();
        assert!(err.contains("does not offer STARTTLS"), "{err}");
        // Implicit TLS against a plain server fails in the handshake.
        let backend = SmtpBackend::new("localhost", port)
            .security(SmtpSecurity::Tls)
            .timeout(Duration::from_secs(5));
        let err = backend.send(&[message("x")]).await.unwrap_err().to_string();
        assert!(err.contains("connecting"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_or_silent_server_is_an_error_not_a_hang() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let backend = SmtpBackend::new("127.0.0.1", port);
        let err = backend.send(&[message("x")]).await.unwrap_err().to_string();
        assert!(err.contains("connecting"), "{err}");

        let (_server, port) = Server::start(Behaviour {
            greet: false,
            eight_bit: true,
        })
        .await;
        let backend = SmtpBackend::new("127.0.0.1", port).timeout(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let err = backend.send(&[message("x")]).await.unwrap_err().to_string();
        assert!(err.contains("no answer within 200ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
