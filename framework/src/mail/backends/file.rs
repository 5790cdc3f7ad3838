//! The file backend (Django's `filebased`): each message is written to its
//! own file in a directory, `20300101-120000-<random>.eml`, as the text
//! the console backend shows (a mail client opens it too). The directory
//! is created on the first message.
//!
//! ```no_run
//! use manouche::mail::{EmailMessage, Mailer, FileBackend};
//!
//! # async fn run() -> Result<(), manouche::mail::MailError> {
//! let mailer = Mailer::new(FileBackend::new("sent-mail"), "site@example.com".parse().unwrap());
//! mailer.send(EmailMessage::builder().to("a@example.com").build()?).await?;
//! // sent-mail/20300101-120000-k3J9dQ2mZx7bP4sA.eml
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::EmailBackend;
use crate::mail::{EmailMessage, MailError};

/// Writes each message to a file in a directory.
#[derive(Debug, Clone)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    /// A backend writing into `dir` (Django's `EMAIL_FILE_PATH`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn write(&self, message: &EmailMessage) -> Result<(), MailError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| MailError::Io {
                path: Some(path),
                source,
            }
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io(&self.dir))?;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let path = loop {
            let name = format!(
                "{stamp}-{}.eml",
                crate::crypto::random_string(16, crate::crypto::ALPHANUMERIC)
            );
            let path = self.dir.join(name);
            // A new name each time: never write over another message.
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(mut file) => {
                    file.write_all(message.as_string().as_bytes())
                        .await
                        .map_err(io(&path))?;
                    file.flush().await.map_err(io(&path))?;
                    break path;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io(&path)(e)),
            }
        };
        tracing::debug!(path = %path.display(), "e-mail written");
        Ok(())
    }
}

impl EmailBackend for FileBackend {
    fn send<'a>(&'a self, messages: &'a [EmailMessage]) -> BoxFuture<'a, Result<usize, MailError>> {
        Box::pin(async move {
            for message in messages {
                self.write(message).await?;
            }
            Ok(messages.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "manouche-mail-{name}-{}",
            crate::crypto::random_string(8, crate::crypto::ALPHANUMERIC)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn one_readable_file_per_message_in_a_new_directory() {
        let dir = temp_dir("file").join("nested");
        let backend = FileBackend::new(&dir);
        let messages: Vec<EmailMessage> = (0..3)
            .map(|i| {
                EmailMessage::builder()
                    .subject(format!("Message {i}"))
                    .body("Grüße")
                    .from("from@example.com")
                    .to("to@example.com")
                    .build()
                    .unwrap()
            })
            .collect();
        assert_eq!(backend.send(&messages).await.unwrap(), 3);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 3);
        let mut subjects = Vec::new();
        for file in &files {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(
                name.ends_with(".eml") && name.len() == "20300101-120000-".len() + 16 + 4,
                "{name}"
            );
            let text = std::fs::read_to_string(file).unwrap();
            assert!(
                text.contains("\nFrom: from@example.com\nTo: to@example.com\n"),
                "{text}"
            );
            assert!(text.ends_with("\n\nGrüße"), "{text}");
            let subject = text
                .lines()
                .find(|l| l.starts_with("Subject: "))
                .unwrap()
                .to_owned();
            subjects.push(subject);
        }
        subjects.sort();
        assert_eq!(
            subjects,
            [
                "Subject: Message 0",
                "Subject: Message 1",
                "Subject: Message 2"
            ]
        );
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_directory_that_cannot_be_made_is_reported_with_its_path() {
        let dir = temp_dir("blocked");
        std::fs::write(&dir, "a file, not a directory").unwrap();
        let backend = FileBackend::new(dir.join("sub"));
        let message = EmailMessage::builder().to("a@example.com").build().unwrap();
        let err = backend.send(&[message]).await.unwrap_err();
        assert!(matches!(err, MailError::Io { path: Some(_), .. }));
        assert!(
            err.to_string()
                .contains(&dir.join("sub").display().to_string()),
            "{err}"
        );
        std::fs::remove_file(&dir).unwrap();
    }
}
