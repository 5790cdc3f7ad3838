//! System checks (`manage check`, `manage check --deploy`): problems found
//! before the first request, each with an id, a level and a hint.
//!
//! ```
//! use manouche::checks::{deploy_checks, Level};
//! use manouche::settings::Settings;
//!
//! let messages = deploy_checks(&Settings::default());
//! // The default secret key and the empty allowed_hosts are errors.
//! assert!(messages.iter().any(|m| m.id == "security.E001" && m.level == Level::Error));
//! assert!(messages.iter().any(|m| m.id == "security.E003"));
//! ```

use std::fmt;

use crate::db::ModelMeta;
use crate::settings::{DEFAULT_SECRET_KEY, EmailBackendKind, Settings};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Worth knowing; the site works.
    Warning,
    /// The site is insecure or cannot work as configured.
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckMessage {
    /// Stable id whose letter is the level, e.g. `security.W002` or
    /// `security.E001` (the same finding can be either, depending on
    /// `debug`).
    pub id: String,
    /// How serious.
    pub level: Level,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl CheckMessage {
    /// An error: the site is insecure or cannot work. `id` is
    /// `label.E001`-style.
    #[must_use]
    pub fn error(
        id: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(Level::Error, id.into(), message.into(), hint.into())
    }

    /// A warning: worth knowing, the site works. `id` is `label.W001`-style.
    #[must_use]
    pub fn warning(
        id: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(Level::Warning, id.into(), message.into(), hint.into())
    }

    fn new(level: Level, id: String, message: String, hint: String) -> Self {
        Self {
            id,
            level,
            message,
            hint,
        }
    }
}

impl fmt::Display for CheckMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        };
        write!(
            f,
            "{level} ({}) {}\n\tHINT: {}",
            self.id, self.message, self.hint
        )
    }
}

fn finding(number: u16, level: Level, message: &str, hint: &'static str) -> CheckMessage {
    let letter = match level {
        Level::Warning => 'W',
        Level::Error => 'E',
    };
    CheckMessage::new(
        level,
        format!("security.{letter}{number:03}"),
        message.to_owned(),
        hint.to_owned(),
    )
}

/// The secret key is guessable when it is the default, short, or made of a
/// handful of distinct characters.
fn weak_secret_key(key: &str) -> bool {
    let mut distinct: Vec<char> = key.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    key == DEFAULT_SECRET_KEY || key.chars().count() < 50 || distinct.len() < 5
}

/// The checks for a production deployment (`check --deploy`, and `serve`
/// before it starts).
pub fn deploy_checks(settings: &Settings) -> Vec<CheckMessage> {
    checks_for(settings, cfg!(debug_assertions))
}

/// [`deploy_checks`] for a binary built with (`debug_build`) or without
/// debug assertions.
fn checks_for(settings: &Settings, debug_build: bool) -> Vec<CheckMessage> {
    // What is fatal in production is a warning in development.
    let fatal = if settings.debug {
        Level::Warning
    } else {
        Level::Error
    };
    let mut out = Vec::new();
    if weak_secret_key(&settings.secret_key) {
        out.push(finding(
            1,
            fatal,
            "secret_key is the default, or shorter than 50 characters, or has fewer than 5 distinct characters",
            "set MANOUCHE_SECRET_KEY to 50+ random characters (e.g. `openssl rand -base64 48`)",
        ));
    }
    if settings.debug {
        out.push(finding(
            2,
            Level::Warning,
            "debug is on: error pages show code locations and request details",
            "set debug = false (MANOUCHE_DEBUG=false) in production",
        ));
    }
    if settings.allowed_hosts.is_empty() {
        out.push(finding(
            3,
            fatal,
            "allowed_hosts is empty: with debug off, every request gets 400",
            "list the site's host names: allowed_hosts = [\"example.com\"] or MANOUCHE_ALLOWED_HOSTS",
        ));
    }
    if !settings.session_cookie_secure() {
        out.push(finding(
            4,
            Level::Warning,
            "the session cookie is not marked Secure: it can leak over plain HTTP",
            "set security.session_cookie_secure = true (the default when debug is off)",
        ));
    }
    if !settings.csrf_cookie_secure() {
        out.push(finding(
            5,
            Level::Warning,
            "the CSRF cookie is not marked Secure: it can leak over plain HTTP",
            "set cookie_secure = true in [csrf] (the default when debug is off)",
        ));
    }
    if settings.security.hsts_seconds == 0 {
        out.push(finding(
            6,
            Level::Warning,
            "HSTS is off: browsers may still reach the site over plain HTTP",
            "when the site is HTTPS-only, set security.hsts_seconds (start small, e.g. 3600)",
        ));
    }
    if settings.security.x_frame_options.is_empty() {
        out.push(finding(
            7,
            Level::Warning,
            "X-Frame-Options is off: pages can be framed (clickjacking)",
            "set security.x_frame_options = \"DENY\" (the default)",
        ));
    }
    if !settings.csrf.enabled {
        out.push(finding(
            8,
            Level::Warning,
            "CSRF protection is off: other sites can make visitors' browsers post forms here",
            "remove csrf.enabled = false (MANOUCHE_CSRF_ENABLED); exempt only the views that need it with manouche::csrf::exempt",
        ));
    }
    if settings.allowed_hosts.iter().any(|host| host == "*") {
        out.push(finding(
            9,
            Level::Warning,
            "allowed_hosts has \"*\": any Host header is accepted, so links built from it (password resets) can point anywhere",
            "list the site's host names instead: allowed_hosts = [\"example.com\"]",
        ));
    }
    if debug_build && !settings.debug {
        out.push(finding(
            10,
            Level::Warning,
            "this binary is a debug build: several times slower, and it serves the debug-only routes",
            "build for production with `cargo build --release`",
        ));
    }
    let backend = settings.email_backend();
    if !settings.debug
        && matches!(
            backend,
            EmailBackendKind::Console | EmailBackendKind::Memory
        )
    {
        let name = if backend == EmailBackendKind::Console {
            "console"
        } else {
            "memory"
        };
        out.push(CheckMessage::warning(
            "email.W001",
            format!("the {name} e-mail backend is in use with debug off: no e-mail leaves the site"),
            "set [email] backend = \"smtp\" (with manouche's `smtp` feature) and its host, or MANOUCHE_EMAIL_BACKEND",
        ));
    }
    out
}

/// The model checks (Django's `models.E` / `fields.E3xx`), given the
/// installed apps' labels and the models each names explicitly:
///
/// - `models.E001`: a model compiled into the project whose app is not
///   installed — a model of the framework's own (contrib) apps is exempt,
///   since they are compiled in whether installed or not; so is a model of
///   a library crate none of whose apps is installed;
/// - `models.E002`: a model an app names ([`App::model`](crate::App::model))
///   whose `#[model(app)]` is another label;
/// - `fields.E300`: a relation to a model whose app is not installed.
pub(crate) fn model_checks(installed: &[(&str, Vec<&'static ModelMeta>)]) -> Vec<CheckMessage> {
    let labels: Vec<&str> = installed.iter().map(|(l, _)| *l).collect();
    let mut out = Vec::new();
    for (label, models) in installed {
        for meta in models {
            if meta.app != *label {
                out.push(CheckMessage::error(
                    "models.E002",
                    format!(
                        "app {label:?} names the model {}.{}, whose #[model(app = {:?})] is another app",
                        meta.app, meta.name, meta.app
                    ),
                    format!("set #[model(app = {label:?})] on {}, or register it on the app {:?}", meta.name, meta.app),
                ));
            }
        }
    }
    let all: Vec<(&'static ModelMeta, &'static str)> =
        crate::db::model::registered_models_with_modules().collect();
    let crate_of = |module: &'static str| module.split("::").next().unwrap_or(module);
    // The crates that define a model of an installed app: their other
    // models must be installed too.
    let installing: Vec<&str> = all
        .iter()
        .filter(|(m, _)| labels.contains(&m.app))
        .map(|(_, module)| crate_of(module))
        .collect();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (meta, module) in &all {
        if seen.contains(&(meta.app, meta.name)) {
            continue;
        }
        seen.push((meta.app, meta.name));
        let krate = crate_of(module);
        if labels.contains(&meta.app) {
            for field in meta.fields {
                let Some(relation) = &field.relation else {
                    continue;
                };
                let target = (relation.target)();
                if !labels.contains(&target.app) {
                    out.push(CheckMessage::error(
                        "fields.E300",
                        format!(
                            "{}.{}.{} refers to the model {}.{}, whose app {:?} is not installed",
                            meta.app, meta.name, field.name, target.app, target.name, target.app
                        ),
                        format!("add the app {:?} to the project (`.app(...)`)", target.app),
                    ));
                }
            }
        } else if krate != "manouche" && installing.contains(&krate) {
            out.push(CheckMessage::error(
                "models.E001",
                format!(
                    "the model {}.{} ({module}) belongs to the app {:?}, which is not installed; its table is neither created nor dropped",
                    meta.app, meta.name, meta.app
                ),
                format!(
                    "add `.app(...)` for the app {:?} to the project, or fix the model's #[model(app = ...)] (installed: {})",
                    meta.app,
                    labels.join(", ")
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(messages: &[CheckMessage]) -> Vec<&str> {
        messages.iter().map(|m| m.id.as_str()).collect()
    }

    /// The checks of a release build (the tests themselves are not one).
    fn deploy_checks(settings: &Settings) -> Vec<CheckMessage> {
        checks_for(settings, false)
    }

    #[test]
    fn any_host_and_a_debug_build_are_reported() {
        let mut s = Settings::default();
        s.email.backend = Some(EmailBackendKind::File);
        s.email.file_path = Some("sent-mail".into());
        s.secret_key = "aB3$kL9!mN2@pQ7#rS5%tU8^vW1&xY4*zA6(bC0)dE-fG_hI+jK=".into();
        s.security.hsts_seconds = 3600;
        s.allowed_hosts = vec!["example.com".into(), "*".into()];
        assert_eq!(ids(&deploy_checks(&s)), ["security.W009"]);
        s.allowed_hosts = vec!["example.com".into()];
        assert_eq!(ids(&checks_for(&s, true)), ["security.W010"]);
        // In development, a debug build is the normal thing.
        s.debug = true;
        assert!(!ids(&checks_for(&s, true)).contains(&"security.W010"));
    }

    #[test]
    fn safe_production_settings_only_miss_hsts() {
        let mut s = Settings::default();
        s.email.backend = Some(EmailBackendKind::File);
        s.email.file_path = Some("sent-mail".into());
        s.secret_key = "aB3$kL9!mN2@pQ7#rS5%tU8^vW1&xY4*zA6(bC0)dE-fG_hI+jK=".into();
        s.allowed_hosts = vec!["example.com".into()];
        assert_eq!(ids(&deploy_checks(&s)), ["security.W006"]);
        s.security.hsts_seconds = 3600;
        assert!(deploy_checks(&s).is_empty());
    }

    #[test]
    fn insecure_settings_are_reported() {
        let mut s = Settings::default();
        s.security.session_cookie_secure = Some(false);
        s.email.backend = Some(EmailBackendKind::Console);
        let found = deploy_checks(&s);
        assert_eq!(
            ids(&found),
            [
                "security.E001",
                "security.E003",
                "security.W004",
                "security.W006",
                "email.W001"
            ]
        );
        assert_eq!(found[0].level, Level::Error);
        s.debug = true;
        let found = deploy_checks(&s);
        assert!(found.iter().all(|m| m.level == Level::Warning));
        assert_eq!(
            ids(&found),
            [
                "security.W001",
                "security.W002",
                "security.W003",
                "security.W004",
                "security.W005",
                "security.W006"
            ]
        );
        s.email.backend = Some(EmailBackendKind::Memory);
        assert!(
            !ids(&deploy_checks(&s)).contains(&"email.W001"),
            "not with debug on"
        );
        s.debug = false;
        assert!(ids(&deploy_checks(&s)).contains(&"email.W001"));
        s.secret_key = "abababababababababababababababababababababababababab".into();
        assert!(ids(&deploy_checks(&s)).contains(&"security.E001"));
    }

    #[test]
    fn csrf_protection_turned_off_is_reported() {
        let mut s = Settings::default();
        s.email.backend = Some(EmailBackendKind::File);
        s.email.file_path = Some("sent-mail".into());
        s.secret_key = "aB3$kL9!mN2@pQ7#rS5%tU8^vW1&xY4*zA6(bC0)dE-fG_hI+jK=".into();
        s.allowed_hosts = vec!["example.com".into()];
        s.security.hsts_seconds = 3600;
        s.csrf.enabled = false;
        s.csrf.cookie_secure = Some(false);
        assert_eq!(ids(&deploy_checks(&s)), ["security.W005", "security.W008"]);
    }
}
