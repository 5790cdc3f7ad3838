//! Panics in handlers: caught per request and answered with a 500 page, so a
//! bug in one view never takes the server down.
//!
//! A panic hook remembers where the panic happened (file, line, and a
//! backtrace when `RUST_BACKTRACE` is set) on the panicking thread, so the
//! 500 page in debug and the log line can say more than the message. The
//! previous hook still runs.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::sync::Once;

struct Panic {
    place: String,
    backtrace: Option<String>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<Panic>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Installs the hook once per process; it chains to the previous one.
pub(crate) fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let place = info
                .location()
                .map(|l| format!("at {}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let backtrace = Backtrace::capture();
            let backtrace =
                (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string());
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(Panic { place, backtrace }));
            previous(info);
        }));
    });
}

/// What a caught panic said: the message with its location (for the log)
/// and the backtrace, when captured (for the debug page only; the hook
/// already printed it).
pub(crate) struct PanicReport {
    pub(crate) summary: String,
    pub(crate) backtrace: Option<String>,
}

/// Reads the payload and what the hook recorded on this thread.
pub(crate) fn report(payload: &(dyn Any + Send)) -> PanicReport {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_owned());
    match LAST_PANIC.with(|last| last.borrow_mut().take()) {
        Some(Panic { place, backtrace }) if !place.is_empty() => PanicReport {
            summary: format!("{message} {place}"),
            backtrace,
        },
        Some(Panic { backtrace, .. }) => PanicReport {
            summary: message,
            backtrace,
        },
        None => PanicReport {
            summary: message,
            backtrace: None,
        },
    }
}
