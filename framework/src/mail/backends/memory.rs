//! The memory backend (Django's `locmem`): messages are kept in an
//! [`Outbox`] that tests read, instead of being sent.
//!
//! ```
//! use manouche::mail::{EmailBackend, EmailMessage, MemoryBackend};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let backend = MemoryBackend::new();
//! let outbox = backend.outbox();
//! let message = EmailMessage::builder().to("a@example.com").build().unwrap();
//! backend.send(&[message]).await.unwrap();
//! assert_eq!(outbox.len(), 1);
//! assert_eq!(outbox.take()[0].to()[0].email(), "a@example.com");
//! assert!(outbox.is_empty());
//! # });
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::BoxFuture;

use super::EmailBackend;
use crate::mail::{EmailMessage, MailError};

/// The messages a [`MemoryBackend`] was given, in order (Django's
/// `mail.outbox`). Clones share the same list.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<EmailMessage>>>);

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Vec<EmailMessage>> {
        // A panic while pushing leaves the list whole: keep using it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the messages.
    #[must_use]
    pub fn messages(&self) -> Vec<EmailMessage> {
        self.lock().clone()
    }

    /// The last message, if any.
    #[must_use]
    pub fn last(&self) -> Option<EmailMessage> {
        self.lock().last().cloned()
    }

    /// How many messages there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes and returns every message.
    pub fn take(&self) -> Vec<EmailMessage> {
        std::mem::take(&mut *self.lock())
    }

    /// Removes every message (Django's `mail.outbox = []`).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Keeps messages in its [`Outbox`].
#[derive(Debug, Default)]
pub struct MemoryBackend {
    outbox: Outbox,
}

impl MemoryBackend {
    /// A backend with an empty outbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The outbox (shared: it sees later messages too).
    #[must_use]
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }
}

impl EmailBackend for MemoryBackend {
    fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>> {
        self.outbox.lock().extend_from_slice(messages);
        Box::pin(std::future::ready(Ok(messages.len())))
    }
}
