//! The console backend (Django's): each message is written to standard
//! output as RFC 5322 text, followed by a line of 79 dashes. The default
//! while `debug` is on, so that a site sends nothing by mistake during
//! development.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use manouche::mail::{ConsoleBackend, EmailBackend, EmailMessage};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! #[derive(Clone, Default)]
//! struct Captured(Arc<Mutex<Vec<u8>>>);
//! impl std::io::Write for Captured {
//!     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(buf) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//! let out = Captured::default();
//! let backend = ConsoleBackend::with_writer(out.clone());
//! let message = EmailMessage::builder().subject("Hi").to("a@example.com").build().unwrap();
//! backend.send(&[message]).await.unwrap();
//! let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
//! assert!(text.contains("Subject: Hi\n"));
//! assert!(text.ends_with(&format!("\n{}\n", "-".repeat(79))));
//! # });
//! ```

use std::io::Write;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::EmailBackend;
use crate::mail::{EmailMessage, MailError};

/// Writes messages to standard output (or another writer).
pub struct ConsoleBackend {
    /// `None`: standard output, locked per batch.
    writer: Option<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for ConsoleBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = if self.writer.is_some() {
            "writer"
        } else {
            "stdout"
        };
        f.debug_struct("ConsoleBackend").field("to", &to).finish()
    }
}

impl Default for ConsoleBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleBackend {
    /// A backend writing to standard output.
    #[must_use]
    pub fn new() -> Self {
        Self { writer: None }
    }

    /// A backend writing to `writer` (Django's `stream`).
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            writer: Some(Mutex::new(Box::new(writer))),
        }
    }

    fn write_all(&self, messages: &[EmailMessage]) -> std::io::Result<usize> {
        // One lock for the batch: messages sent at once stay together.
        match &self.writer {
            Some(writer) => {
                let mut writer = writer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                write_messages(&mut *writer, messages)
            }
            None => write_messages(&mut std::io::stdout().lock(), messages),
        }
    }
}

fn write_messages(out: &mut dyn Write, messages: &[EmailMessage]) -> std::io::Result<usize> {
    for message in messages {
        writeln!(out, "{}", message.as_string())?;
        writeln!(out, "{}", "-".repeat(79))?;
        out.flush()?;
    }
    Ok(messages.len())
}

impl EmailBackend for ConsoleBackend {
    fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>> {
        let result = self
            .write_all(messages)
            .map_err(|source| MailError::Io { path: None, source });
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "closed",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_message_then_a_rule_of_79_dashes() {
        // Django's console backend: message, newline, 79 dashes, newline.
        let out = Shared::default();
        let backend = ConsoleBackend::with_writer(out.clone());
        let messages: Vec<EmailMessage> = ["one", "two"]
            .iter()
            .map(|s| {
                EmailMessage::builder()
                    .subject(*s)
                    .body(format!("body {s}"))
                    .from("from@example.com")
                    .to("to@example.com")
                    .header("Date", "Tue, 01 Jan 2030 00:00:00 -0000")
                    .header("Message-ID", "<1@example.com>")
                    .build()
                    .unwrap()
            })
            .collect();
        assert_eq!(backend.send(&messages).await.unwrap(), 2);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let rule = "-".repeat(79);
        let expected: String = messages
            .iter()
            .map(|m| format!("{}\n{rule}\n", m.as_string()))
            .collect();
        assert_eq!(text, expected);
        assert!(
            text.starts_with("Content-Type: text/plain; charset=\"utf-8\"\nMIME-Version: 1.0\n")
        );
        assert!(text.contains("\nSubject: two\n"));
        assert!(text.contains("\n\nbody one\n"));
        assert!(!text.contains('\r'));
        // Nothing to send writes nothing.
        assert_eq!(backend.send(&[]).await.unwrap(), 0);
        assert_eq!(out.0.lock().unwrap().len(), text.len());
    }

    #[tokio::test]
    async fn a_write_error_is_reported() {
        let backend = ConsoleBackend::with_writer(Broken);
        let message = EmailMessage::builder().to("a@example.com").build().unwrap();
        let err = backend.send(&[message]).await.unwrap_err();
        assert_eq!(err.to_string(), "cannot write the message: closed");
    }
}
