//! Sending e-mail (Django's `django.core.mail`): an [`EmailMessage`]
//! built and checked once, sent by the project's [`Mailer`] through the
//! backend the `[email]` settings name.
//!
//! | backend | where messages go |
//! |---|---|
//! | `console` | standard output, as RFC 5322 text (the default with `debug` on) |
//! | `file` | one `.eml` file per message in `email.file_path` |
//! | `memory` | an [`Outbox`] that tests read (Django's `locmem` and `mail.outbox`) |
//! | `smtp` | an SMTP server, with STARTTLS or implicit TLS (cargo feature `smtp`) |
//!
//! The project registers its [`Mailer`] as a service: a view takes
//! `Service<Mailer>`, a command calls `ctx.service::<Mailer>()`.
//!
//! ```
//! use manouche::mail::{EmailMessage, Mailer};
//! use manouche::prelude::*;
//!
//! async fn contact(mailer: Service<Mailer>) -> Result<&'static str> {
//!     let message = EmailMessage::builder()
//!         .subject("Thanks for writing")
//!         .body("We will answer within a day.")
//!         .to("ana@example.com")
//!         .build()?;
//!     mailer.send(message).await?;
//!     Ok("sent")
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // In a test, the memory backend keeps what was sent.
//! let mailer = Mailer::memory();
//! mailer.send_mail("Hi", "Hello, Ana.", ["ana@example.com"]).await.unwrap();
//! let outbox = mailer.outbox().unwrap();
//! assert_eq!(outbox.len(), 1);
//! assert_eq!(outbox.messages()[0].from().unwrap().email(), "webmaster@localhost");
//! # });
//! # let _ = Urls::new().path("contact/", post(contact), "contact");
//! ```
//!
//! A backend of your own implements [`EmailBackend`] and is installed in
//! an app's `ready` hook: `ready.services_mut().insert(Mailer::new(backend,
//! from))` replaces the one the settings describe.

mod address;
pub mod backends;
mod message;
mod mime;

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use address::{AddressError, IntoMailbox, Mailbox};
pub use backends::memory::Outbox;
pub use backends::{ConsoleBackend, EmailBackend, FileBackend, MemoryBackend};
#[cfg(feature = "smtp")]
pub use backends::{SmtpBackend, SmtpSecurity};
pub use message::{Alternative, EmailMessage, EmailMessageBuilder};

use crate::settings::{EmailBackendKind, Settings, SettingsError};

/// `webmaster@localhost`: Django's `DEFAULT_FROM_EMAIL`, the
/// `email.default_from` setting's default.
pub const DEFAULT_FROM: &str = "webmaster@localhost";

/// Why a message could not be built or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address that does not parse, in the field named.
    #[error("{field}: {source}")]
    InvalidAddress {
        /// `from`, `to`, `cc`, `bcc`, `reply_to` or `header`.
        field: &'static str,
        /// The address and what is wrong with it.
        source: AddressError,
    },
    /// A header value with a newline, which would let whoever wrote it add
    /// headers (Django's `BadHeaderError`).
    #[error("Header values can't contain newlines (got {value:?} for header {name:?})")]
    BadHeader {
        /// The header.
        name: String,
        /// Its value.
        value: String,
    },
    /// A header that is not one, or that the message writes itself.
    #[error("header {name:?} cannot be set: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// An alternative's MIME type is not `type/subtype`.
    #[error("{0:?} is not a MIME type; write it as type/subtype, e.g. \"text/html\"")]
    InvalidMimeType(String),
    /// A message sent straight to a backend without a sender.
    #[error(
        "the message has no sender: set its `from`, or send it through a Mailer, which adds `email.default_from`"
    )]
    NoSender,
    /// A message could not be written (console or file backend).
    #[error("cannot write the message{}: {source}", .path.as_ref().map(|p| format!(" to {}", p.display())).unwrap_or_default())]
    Io {
        /// The file, for the file backend.
        path: Option<PathBuf>,
        /// The reason.
        source: std::io::Error,
    },
    /// The SMTP server could not be reached, refused the login, a sender or
    /// a recipient, or the connection failed.
    #[error("SMTP server {server}: {reason}")]
    Smtp {
        /// `host:port`.
        server: String,
        /// The client's or the server's explanation.
        reason: String,
    },
    /// A backend of an app's own failed.
    #[error("the e-mail backend failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// A failed send is the server's fault from the visitor's point of view:
/// a handler's `?` answers 500, with the reason in the log.
impl From<MailError> for crate::Error {
    fn from(error: MailError) -> Self {
        crate::Error::internal(error)
    }
}

/// The project's way to send e-mail: a backend and the sender used when a
/// message names none. Cheap to clone (the backend is shared).
#[derive(Clone)]
pub struct Mailer {
    backend: Arc<dyn EmailBackend>,
    default_from: Mailbox,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("default_from", &self.default_from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer sending through `backend`.
    pub fn new(backend: impl EmailBackend, default_from: Mailbox) -> Self {
        Self::from_arc(Arc::new(backend), default_from)
    }

    /// A mailer sending through a shared backend.
    pub fn from_arc(backend: Arc<dyn EmailBackend>, default_from: Mailbox) -> Self {
        Self {
            backend,
            default_from,
        }
    }

    /// A mailer keeping every message in memory, sent from
    /// `webmaster@localhost`: for tests ([`outbox`](Self::outbox)).
    #[must_use]
    pub fn memory() -> Self {
        Self::new(
            MemoryBackend::new(),
            Mailbox::parse(DEFAULT_FROM).expect("the default sender is an address"),
        )
    }

    /// The mailer the `[email]` settings describe (the project builds it
    /// at startup).
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the key: a `default_from` that is
    /// not an address, a `file_path` that is not a directory, the `smtp`
    /// backend without the cargo feature, or TLS that cannot be set up.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let email = &settings.email;
        let default_from =
            Mailbox::parse(&email.default_from).map_err(|e| SettingsError::Invalid {
                setting: "email.default_from",
                message: e.to_string(),
            })?;
        let backend: Arc<dyn EmailBackend> = match settings.email_backend() {
            EmailBackendKind::Console => Arc::new(ConsoleBackend::new()),
            EmailBackendKind::Memory => Arc::new(MemoryBackend::new()),
            EmailBackendKind::File => {
                let path = email.file_path.clone().unwrap_or_default();
                if path.as_os_str().is_empty() {
                    return Err(SettingsError::Invalid {
                        setting: "email.file_path",
                        message: "the file backend needs a directory: set email.file_path (MANOUCHE_EMAIL_FILE_PATH)".to_owned(),
                    });
                }
                if path.exists() && !path.is_dir() {
                    return Err(SettingsError::Invalid {
                        setting: "email.file_path",
                        message: format!("{} exists and is not a directory", path.display()),
                    });
                }
                Arc::new(FileBackend::new(path))
            }
            #[cfg(feature = "smtp")]
            EmailBackendKind::Smtp => Arc::new(SmtpBackend::from_settings(email)?),
            #[cfg(not(feature = "smtp"))]
            EmailBackendKind::Smtp => {
                return Err(SettingsError::Invalid {
                    setting: "email.backend",
                    message: crate::settings::SMTP_FEATURE_MISSING.to_owned(),
                });
            }
        };
        Ok(Self::from_arc(backend, default_from))
    }

    /// The sender of messages that name none (`email.default_from`).
    #[must_use]
    pub fn default_from(&self) -> &Mailbox {
        &self.default_from
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> &dyn EmailBackend {
        self.backend.as_ref()
    }

    /// The messages sent so far, when the backend is the memory one
    /// (`email.backend = "memory"`): what tests read.
    #[must_use]
    pub fn outbox(&self) -> Option<Outbox> {
        let backend: &dyn Any = self.backend.as_ref();
        backend
            .downcast_ref::<MemoryBackend>()
            .map(MemoryBackend::outbox)
    }

    /// Sends one message (from `default_from` when it names no sender).
    /// Returns 1, or 0 for a message without recipients, which is not sent
    /// (as Django's `EmailMessage.send`).
    ///
    /// # Errors
    /// Whatever the backend reports.
    pub async fn send(&self, message: EmailMessage) -> Result<usize, MailError> {
        if message.recipients().is_empty() {
            return Ok(0);
        }
        self.send_messages([message]).await
    }

    /// Sends several messages at once (one SMTP connection for all, as
    /// Django's `send_mass_mail`); returns how many were sent.
    ///
    /// # Errors
    /// Whatever the backend reports.
    pub async fn send_messages(
        &self,
        messages: impl IntoIterator<Item = EmailMessage>,
    ) -> Result<usize, MailError> {
        let messages: Vec<EmailMessage> = messages
            .into_iter()
            .map(|m| m.with_default_from(&self.default_from))
            .collect();
        if messages.is_empty() {
            return Ok(0);
        }
        self.backend.send(&messages).await
    }

    /// Django's `send_mail`: a plain-text message from `default_from` to
    /// `recipients` (all in its `To` header).
    ///
    /// # Errors
    /// [`MailError::InvalidAddress`] or [`MailError::BadHeader`] for a bad
    /// recipient or subject, then whatever the backend reports.
    pub async fn send_mail<A: IntoMailbox>(
        &self,
        subject: &str,
        body: &str,
        recipients: impl IntoIterator<Item = A>,
    ) -> Result<usize, MailError> {
        let message = EmailMessage::builder()
            .subject(subject)
            .body(body)
            .to_all(recipients)
            .build()?;
        self.send(message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::future::BoxFuture;

    #[tokio::test]
    async fn the_mailer_fills_in_the_sender_and_skips_messages_without_recipients() {
        let mailer = Mailer::memory();
        let outbox = mailer.outbox().unwrap();
        let message = EmailMessage::builder().subject("Nobody").build().unwrap();
        assert_eq!(mailer.send(message).await.unwrap(), 0);
        assert!(outbox.is_empty());
        let sent = mailer
            .send_mail("Hi", "Body", ["a@example.com", "B <b@example.com>"])
            .await
            .unwrap();
        assert_eq!(sent, 1);
        let own = EmailMessage::builder()
            .from("me@example.com")
            .to("c@example.com")
            .build()
            .unwrap();
        assert_eq!(mailer.send_messages([own.clone(), own]).await.unwrap(), 2);
        let messages = outbox.messages();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[0].from().unwrap().to_string(),
            "webmaster@localhost"
        );
        assert_eq!(messages[0].to().len(), 2);
        assert_eq!(messages[1].from().unwrap().email(), "me@example.com");
        let err = mailer
            .send_mail("Hi", "Body", ["nobody"])
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress { field: "to", .. }));
        assert_eq!(outbox.len(), 3);
    }

    /// A backend of one's own: the trait is object-safe and async.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl EmailBackend for Counting {
        fn send<'a>(
            &'a self,
            messages: &'a [EmailMessage],
        ) -> BoxFuture<'a, Result<usize, MailError>> {
            Box::pin(async move {
                if messages.iter().any(|m| m.subject() == "fail") {
                    return Err(MailError::Backend("refused".into()));
                }
                self.0
                    .fetch_add(messages.len(), std::sync::atomic::Ordering::SeqCst);
                Ok(messages.len())
            })
        }
    }

    #[tokio::test]
    async fn a_custom_backend_is_used_and_its_errors_come_back() {
        let backend = Arc::new(Counting(0.into()));
        let mailer = Mailer::from_arc(backend.clone(), Mailbox::parse("site@example.com").unwrap());
        assert!(mailer.outbox().is_none());
        mailer.send_mail("ok", "", ["a@example.com"]).await.unwrap();
        let err = mailer
            .send_mail("fail", "", ["a@example.com"])
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "the e-mail backend failed: refused");
        assert_eq!(backend.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn settings_choose_the_backend() {
        let mut settings = Settings::default();
        settings.debug = true;
        let mailer = Mailer::from_settings(&settings).unwrap();
        assert!(mailer.outbox().is_none());
        assert_eq!(mailer.default_from().email(), "webmaster@localhost");
        settings.email.backend = Some(EmailBackendKind::Memory);
        settings.email.default_from = "Site <site@example.com>".into();
        let mailer = Mailer::from_settings(&settings).unwrap();
        assert!(mailer.outbox().is_some());
        assert_eq!(mailer.default_from().name(), Some("Site"));
        settings.email.default_from = "not an address".into();
        let err = Mailer::from_settings(&settings).unwrap_err().to_string();
        assert!(err.contains("email.default_from"), "{err}");
    }

    #[test]
    fn the_file_backend_needs_a_directory() {
        let mut settings = Settings::default();
        settings.email.backend = Some(EmailBackendKind::File);
        let err = Mailer::from_settings(&settings).unwrap_err().to_string();
        assert!(err.contains("email.file_path"), "{err}");
        settings.email.file_path =
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        let err = Mailer::from_settings(&settings).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        settings.email.file_path = Some(std::env::temp_dir().join("manouche-mail-not-yet"));
        assert!(Mailer::from_settings(&settings).is_ok());
    }
}
