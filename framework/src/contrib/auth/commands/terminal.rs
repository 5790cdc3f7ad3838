//! Where the commands' questions go: a [`Console`] asks for a line, asks
//! for a password without showing it, and prints; [`Terminal`] is the
//! process's own standard streams, and the tests script one.

use std::io::{self, BufRead as _, Write as _};

use rustix::termios::{self, LocalModes, OptionalActions};

use crate::StartupError;

/// The dialogue's input and output.
pub(super) trait Console {
    /// Shows `prompt` and reads a line, without its line ending.
    /// The end of the input is an [`io::ErrorKind::UnexpectedEof`] error.
    async fn input(&mut self, prompt: &str) -> io::Result<String>;

    /// Like [`input`](Self::input), without echoing what is typed.
    async fn password(&mut self, prompt: &str) -> io::Result<String>;

    /// Prints a line on the standard output.
    fn out(&mut self, line: &str);

    /// Prints a line on the standard error.
    fn err(&mut self, line: &str);
}

/// The process's standard input and output. Reading blocks, so every read
/// runs on tokio's blocking threads.
#[derive(Debug, Default)]
pub(super) struct Terminal {
    /// Whether the "may be echoed" warning was printed (once, as Python's
    /// `getpass` warns once).
    warned: bool,
}

impl Console for Terminal {
    async fn input(&mut self, prompt: &str) -> io::Result<String> {
        let prompt = prompt.to_owned();
        blocking(move || {
            let mut out = io::stdout().lock();
            out.write_all(prompt.as_bytes())?;
            out.flush()?;
            drop(out);
            read_line()
        })
        .await
    }

    async fn password(&mut self, prompt: &str) -> io::Result<String> {
        let prompt = prompt.to_owned();
        let warn = !self.warned;
        let (line, warned) = blocking(move || read_hidden(&prompt, warn)).await?;
        self.warned |= warned;
        Ok(line)
    }

    fn out(&mut self, line: &str) {
        println!("{line}");
    }

    fn err(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// Runs `read` on a blocking thread.
async fn blocking<T, F>(read: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(read).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(io::Error::other("the runtime is shutting down")),
    }
}

/// A line of the standard input, without its `\n` (or `\r\n`).
fn read_line() -> io::Result<String> {
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

/// Python's `getpass`: on a terminal, echo is off while the line is read
/// (input typed ahead is discarded first, as `TCSAFLUSH` does there), and
/// the newline the user typed is printed afterwards. Elsewhere (a pipe),
/// the line is read as it is, after a warning when `warn`. Returns the
/// line and whether the warning was printed.
fn read_hidden(prompt: &str, warn: bool) -> io::Result<(String, bool)> {
    let stdin = io::stdin();
    let Ok(original) = termios::tcgetattr(&stdin) else {
        if warn {
            eprintln!("Warning: Password input may be echoed.");
        }
        let mut out = io::stdout().lock();
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
        drop(out);
        return Ok((read_line()?, warn));
    };
    let mut hidden = original.clone();
    hidden.local_modes.remove(LocalModes::ECHO);
    termios::tcsetattr(&stdin, OptionalActions::Flush, &hidden)?;
    let line = (|| {
        let mut out = io::stdout().lock();
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
        drop(out);
        read_line()
    })();
    // Restored whatever happened, before anything else is printed.
    let restored = termios::tcsetattr(&stdin, OptionalActions::Now, &original);
    let mut out = io::stdout().lock();
    out.write_all(b"\n")?;
    out.flush()?;
    restored?;
    Ok((line?, false))
}

/// Runs a dialogue until it ends, or until Ctrl-C: then the terminal's
/// mode is put back as it was (a password prompt may have turned echo
/// off) and the command fails with Django's "Operation cancelled.".
///
/// # Errors
/// `dialogue`'s error, or the cancellation.
pub(super) async fn cancellable<T>(
    dialogue: impl Future<Output = Result<T, StartupError>>,
) -> Result<T, StartupError> {
    let saved = termios::tcgetattr(io::stdin()).ok();
    // Listening replaces the default action (death, echo left off).
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::select! {
        outcome = dialogue => outcome,
        _ = interrupt.recv() => {
            if let Some(mode) = saved {
                let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, &mode);
            }
            // The line the user was typing on stays as it was.
            eprintln!();
            Err(cancelled())
        }
    }
}

/// The error of a dialogue the user left.
pub(super) fn cancelled() -> StartupError {
    StartupError::improperly_configured("Operation cancelled.")
}

/// An input error as the command's: the end of the input is a
/// cancellation.
pub(super) fn input_error(err: io::Error) -> StartupError {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        StartupError::improperly_configured("Operation cancelled (end of input).")
    } else {
        StartupError::Io(err)
    }
}
