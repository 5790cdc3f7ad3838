//! Where messages go: the [`EmailBackend`] trait (Django's
//! `BaseEmailBackend`) and the built-in backends, one file each.
//!
//! A backend of your own:
//!
//! ```
//! use futures_util::future::BoxFuture;
//! use manouche::mail::{EmailBackend, EmailMessage, MailError};
//!
//! /// Logs the subjects instead of sending.
//! struct LogOnly;
//!
//! impl EmailBackend for LogOnly {
//!     fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>> {
//!         Box::pin(async move {
//!             for message in messages {
//!                 tracing::info!(subject = message.subject(), "not sent");
//!             }
//!             Ok(messages.len())
//!         })
//!     }
//! }
//! # let _ = manouche::mail::Mailer::new(LogOnly, "a@example.com".parse().unwrap());
//! ```

pub mod console;
pub mod file;
pub mod memory;
#[cfg(feature = "smtp")]
pub mod smtp;

use std::any::Any;

use futures_util::future::BoxFuture;

use super::{EmailMessage, MailError};

pub use console::ConsoleBackend;
pub use file::FileBackend;
pub use memory::MemoryBackend;
#[cfg(feature = "smtp")]
pub use smtp::{SmtpBackend, SmtpSecurity};

/// Sends messages somewhere. The [`Mailer`](super::Mailer) gives each
/// message its sender before it reaches the backend.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an e-mail backend",
    note = "implement `manouche::mail::EmailBackend` for it: `fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>>`, returning `Box::pin(async move {{ ... }})`"
)]
pub trait EmailBackend: Any + Send + Sync {
    /// Sends `messages`; returns how many were sent (Django's
    /// `send_messages`).
    ///
    /// # Errors
    /// A [`MailError`] saying why sending stopped.
    fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>>;
}
