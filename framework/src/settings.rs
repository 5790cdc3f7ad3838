//! Typed settings: a TOML file, then environment overrides.
//!
//! Every setting has a default, so an empty file is a valid configuration.
//! The defaults are the *safe* ones (`debug = false`, security headers on,
//! a 2.5 MB body limit); a development settings file turns `debug` on, which
//! relaxes exactly two things: `localhost` is an allowed host when
//! `allowed_hosts` is empty, and error pages show details.
//!
//! ```toml
//! debug = true
//! secret_key = "change me: 50 random characters or more"
//! allowed_hosts = ["example.com", ".example.com"]
//! database_url = "sqlite://db.sqlite3?mode=rwc"
//! log = "info"
//!
//! [server]
//! bind = "127.0.0.1:8000"
//! header_read_timeout = "10s"
//! request_timeout = "30s"
//! body_limit = 2621440
//! max_request_line = 8192
//! max_header_line = 8192
//! max_header_size = 32768
//! first_request_timeout = "10s"
//! keep_alive_timeout = "75s"
//! send_timeout = "60s"
//! max_requests_in_flight = 10000
//! max_connections_per_client = 0
//! drain_timeout = "30s"
//! drain_grace = "2s"
//! reload_timeout = "30s"
//! health = "main"
//! trusted_proxies = ["10.0.0.0/8"]
//! proxy_headers = "x-forwarded"
//!
//! [security]
//! hsts_seconds = 31536000
//!
//! [csrf]
//! trusted_origins = ["https://*.example.com"]
//!
//! [media]
//! root = "media"
//! url = "/media/"
//! max_file_size = 10485760
//! ```
//!
//! Environment variables override the file (12-factor style); see
//! [`Settings::apply_env`] for the list.
//!
//! ```
//! use manouche::settings::Settings;
//!
//! let mut settings = Settings::from_toml_str("debug = true").unwrap();
//! settings
//!     .apply_env([("MANOUCHE_ALLOWED_HOSTS", "example.com, .example.org")])
//!     .unwrap();
//! assert!(settings.debug);
//! assert_eq!(settings.allowed_hosts, ["example.com", ".example.org"]);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The secret key used when the settings give none. Fine for development;
/// `manage check --deploy` and `manage serve` refuse it with debug off.
pub const DEFAULT_SECRET_KEY: &str =
    "manouche-insecure-default-key-do-not-use-in-production-0123456789";

/// The framework's own top-level settings (for messages about unknown ones).
const TOP_LEVEL_KEYS: &[&str] = &[
    "debug",
    "secret_key",
    "allowed_hosts",
    "database_url",
    "database",
    "log",
    "server",
    "security",
    "csrf",
    "static",
    "media",
    "email",
];

/// Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`: 2.5 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 2_621_440;

/// What went wrong while loading settings. Each message names the file or
/// variable and what to write instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The settings file could not be read.
    #[error("cannot read settings file {path}: {source} (set MANOUCHE_SETTINGS to another file)")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The settings file is not valid TOML or has a wrong key or value.
    #[error("invalid settings{}: {message}", .path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Parse {
        /// The file, when there is one.
        path: Option<PathBuf>,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// An environment variable has a value of the wrong form.
    #[error("environment variable {name}={value:?} is invalid: {expected}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: String,
    },
    /// An app's settings section has a wrong key or value, or no installed
    /// app reads it.
    #[error("invalid settings{}: [{section}] {message}", .path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Section {
        /// The file, when there is one.
        path: Option<PathBuf>,
        /// The section (the app's label).
        section: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Settings that parse but contradict each other or make no sense.
    #[error("invalid setting `{setting}`: {message}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// All of a project's settings: the framework's own, and the apps'
/// sections (`[polls]`), read by the apps that declare them
/// ([`App::settings`](crate::App::settings)).
///
/// Its `Debug` output hides the secrets: `secret_key`, the password of
/// `database_url`, the e-mail password, the S3 secret key, and the apps'
/// sections' values (only their names are shown).
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Settings {
    /// Development mode: detailed error pages, `localhost` allowed when
    /// `allowed_hosts` is empty. Never on in production.
    pub debug: bool,
    /// Signs sessions, CSRF tokens and password-reset links.
    pub secret_key: String,
    /// Host names this site answers to: `example.com`, `.example.com` (the
    /// domain and its subdomains) or `*` (any). Others get 400.
    pub allowed_hosts: Vec<String>,
    /// The database: `sqlite://path?mode=rwc` or `postgres://user@host/db`;
    /// empty for none.
    pub database_url: String,
    /// Connection pool limits.
    pub database: DatabaseSettings,
    /// Log filter in `tracing` syntax (`info`, `warn,manouche::access=info`).
    pub log: String,
    /// The built-in server.
    pub server: ServerSettings,
    /// Security headers and cookies.
    pub security: SecuritySettings,
    /// CSRF protection (see [`crate::csrf`]).
    pub csrf: CsrfSettings,
    /// Static files (`[static]` in the file).
    #[serde(rename = "static")]
    pub static_files: StaticSettings,
    /// Sending e-mail (`[email]`; see [`crate::mail`]).
    pub email: EmailSettings,
    /// Uploaded files (`[media]`; see [`crate::storage`]).
    pub media: MediaSettings,
    /// The apps' sections, and (until validation rejects them) unknown keys.
    #[serde(flatten)]
    sections: toml::Table,
    /// The file the settings came from.
    #[serde(skip)]
    source: Option<PathBuf>,
    /// `MANOUCHE_*` variables the framework itself does not read: the apps'
    /// section overrides (`MANOUCHE_POLLS_TITLE`).
    #[serde(skip)]
    env_overrides: Vec<(String, String)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = if self.secret_key.is_empty() {
            ""
        } else {
            "********"
        };
        f.debug_struct("Settings")
            .field("debug", &self.debug)
            .field("secret_key", &secret)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("database_url", &redact_url(&self.database_url))
            .field("database", &self.database)
            .field("log", &self.log)
            .field("server", &self.server)
            .field("security", &self.security)
            .field("csrf", &self.csrf)
            .field("static_files", &self.static_files)
            .field("email", &self.email)
            .field("media", &self.media)
            .field("sections", &self.sections.keys().collect::<Vec<_>>())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// `url` with its password hidden, for logs and error messages: the
/// password of its user information (`postgres://user:********@host/db`,
/// also without a scheme: `user:********@host`) and the value of a
/// `password=` parameter.
pub(crate) fn redact_url(url: &str) -> String {
    const HIDDEN: &str = "********";
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let mut out = String::with_capacity(url.len());
    match url[start..end].rfind('@') {
        Some(at) => {
            let userinfo = &url[start..start + at];
            out.push_str(&url[..start]);
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&url[start + at..end]);
        }
        None => out.push_str(&url[..end]),
    }
    let rest = &url[end..];
    match rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}={HIDDEN}")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            debug: false,
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            allowed_hosts: Vec::new(),
            database_url: "sqlite://db.sqlite3?mode=rwc".to_owned(),
            log: "info".to_owned(),
            database: DatabaseSettings::default(),
            server: ServerSettings::default(),
            security: SecuritySettings::default(),
            csrf: CsrfSettings::default(),
            static_files: StaticSettings::default(),
            email: EmailSettings::default(),
            media: MediaSettings::default(),
            sections: toml::Table::new(),
            source: None,
            env_overrides: Vec::new(),
        }
    }
}

/// Static files: where they come from, where `collectstatic` puts them and
/// under which URL they are served (Django's `STATICFILES_DIRS`,
/// `STATIC_ROOT`, `STATIC_URL`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StaticSettings {
    /// URL prefix, starting and ending with `/`; empty turns serving off.
    pub url: String,
    /// Where `collectstatic` writes, and where `serve` reads from.
    pub root: PathBuf,
    /// The project's own static folders, searched before the apps' ones.
    pub dirs: Vec<PathBuf>,
    /// Files up to this size (bytes) are held in memory; larger ones are
    /// streamed from disk.
    pub max_memory_file_size: u64,
}

impl Default for StaticSettings {
    fn default() -> Self {
        Self {
            url: "/static/".to_owned(),
            root: PathBuf::from("staticfiles"),
            dirs: vec![PathBuf::from("static")],
            max_memory_file_size: 1024 * 1024,
        }
    }
}

/// Uploaded files: where they are stored, under which URL they are
/// served, and how large they may be (Django's `MEDIA_ROOT`, `MEDIA_URL`,
/// `FILE_UPLOAD_MAX_MEMORY_SIZE`, `FILE_UPLOAD_TEMP_DIR`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MediaSettings {
    /// Where [`FileSystemStorage`](crate::storage::FileSystemStorage)
    /// keeps the files.
    pub root: PathBuf,
    /// URL prefix of the stored files, ending with `/` (`/media/`, or an
    /// absolute URL when another server serves them).
    pub url: String,
    /// An uploaded file larger than this (bytes) is written to a
    /// temporary file as it arrives instead of being held in memory.
    pub file_upload_max_memory_size: u64,
    /// The largest file one upload may hold (bytes); a larger one gets 413.
    /// `server.body_limit` caps the whole request as well.
    pub max_file_size: u64,
    /// Where large uploads are written while the request is read; the
    /// system's temporary directory when unset.
    pub temp_dir: Option<PathBuf>,
    /// Where the project's [`DefaultStorage`](crate::storage::DefaultStorage)
    /// keeps files: `"filesystem"` (`root`, served under `url`) or `"s3"`
    /// (the `[media.s3]` object store; cargo feature `s3`).
    pub storage: StorageKind,
    /// The object store when `storage = "s3"`.
    pub s3: S3Settings,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            root: PathBuf::from("media"),
            url: "/media/".to_owned(),
            file_upload_max_memory_size: 2_621_440,
            max_file_size: u64::MAX,
            temp_dir: None,
            storage: StorageKind::FileSystem,
            s3: S3Settings::default(),
        }
    }
}

/// Which backend keeps the uploaded files (`media.storage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[non_exhaustive]
pub enum StorageKind {
    /// A directory, `media.root`
    /// ([`FileSystemStorage`](crate::storage::FileSystemStorage)).
    #[default]
    #[serde(rename = "filesystem")]
    FileSystem,
    /// An S3-compatible object store, `[media.s3]` (cargo feature `s3`).
    #[serde(rename = "s3")]
    S3,
}

/// An S3-compatible object store (`[media.s3]`): Amazon S3, MinIO,
/// Cloudflare R2, Backblaze B2, Garage... The credentials are best given
/// by the environment (`MANOUCHE_MEDIA_S3_ACCESS_KEY_ID` and
/// `MANOUCHE_MEDIA_S3_SECRET_ACCESS_KEY`, or the usual `AWS_ACCESS_KEY_ID`
/// and `AWS_SECRET_ACCESS_KEY`).
///
/// ```toml
/// [media]
/// storage = "s3"
///
/// [media.s3]
/// bucket = "my-site-media"
/// region = "eu-west-3"
/// # endpoint = "http://127.0.0.1:9000"   # another store than AWS
/// # path_style = true                    # bucket in the path (MinIO)
/// public_url = "https://my-site-media.s3.eu-west-3.amazonaws.com/"
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// The region requests are signed for (`us-east-1` by default; any
    /// name the store accepts for another store).
    pub region: String,
    /// The store's address; `https://s3.<region>.amazonaws.com` when unset.
    pub endpoint: Option<String>,
    /// Whether the bucket goes in the path (`endpoint/bucket/key`, as
    /// MinIO and most S3-compatible stores want) rather than in the host
    /// (`bucket.endpoint/key`, Amazon's way).
    pub path_style: bool,
    /// The access key's id; empty for a store open to anonymous requests.
    pub access_key_id: String,
    /// The access key's secret.
    pub secret_access_key: String,
    /// The URL prefix a browser reads the files under (a public bucket's
    /// address or a CDN in front of it), ending with `/`; the object's own
    /// address when unset.
    pub public_url: Option<String>,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            region: "us-east-1".to_owned(),
            endpoint: None,
            path_style: false,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            public_url: None,
        }
    }
}

/// The secret is not shown.
impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"********")
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// Which backend sends the project's e-mail (see [`crate::mail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EmailBackendKind {
    /// Standard output.
    Console,
    /// One file per message in `email.file_path`.
    File,
    /// Kept in memory, for tests.
    Memory,
    /// An SMTP server (cargo feature `smtp`).
    Smtp,
}

impl std::str::FromStr for EmailBackendKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "console" => Ok(Self::Console),
            "file" => Ok(Self::File),
            "memory" => Ok(Self::Memory),
            "smtp" => Ok(Self::Smtp),
            _ => Err(()),
        }
    }
}

/// Why `backend = "smtp"` cannot work in this build.
pub(crate) const SMTP_FEATURE_MISSING: &str = "the smtp backend needs manouche's `smtp` cargo feature: `manouche = { version = \"...\", features = [\"smtp\"] }`";

/// Sending e-mail (Django's `EMAIL_*` settings and `DEFAULT_FROM_EMAIL`).
///
/// ```toml
/// [email]
/// backend = "smtp"          # "console" | "file" | "memory" | "smtp"
/// host = "smtp.example.com"
/// port = 587
/// username = "site@example.com"
/// use_tls = true            # STARTTLS; use_ssl = true for implicit TLS (port 465)
/// timeout = "10s"
/// default_from = "Example <noreply@example.com>"
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EmailSettings {
    /// Where messages go. Unset: `console` while `debug` is on; with
    /// `debug` off, `smtp` when the framework is built with its `smtp`
    /// feature, else `console` (which `check --deploy` warns about).
    pub backend: Option<EmailBackendKind>,
    /// The file backend's directory (Django's `EMAIL_FILE_PATH`).
    pub file_path: Option<PathBuf>,
    /// The SMTP server (Django's `EMAIL_HOST`).
    pub host: String,
    /// Its port (25; 587 for STARTTLS, 465 for implicit TLS).
    pub port: u16,
    /// Log in as this user (with `password`; Django's `EMAIL_HOST_USER`).
    pub username: String,
    /// The password (better in `MANOUCHE_EMAIL_PASSWORD` than in the file).
    pub password: String,
    /// Upgrade the connection with STARTTLS (Django's `EMAIL_USE_TLS`).
    pub use_tls: bool,
    /// TLS from the first byte (Django's `EMAIL_USE_SSL`); not with
    /// `use_tls`.
    pub use_ssl: bool,
    /// How long each step with the server may take.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// The sender of messages that name none (Django's
    /// `DEFAULT_FROM_EMAIL`).
    pub default_from: String,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            backend: None,
            file_path: None,
            host: "localhost".to_owned(),
            port: 25,
            username: String::new(),
            password: String::new(),
            use_tls: false,
            use_ssl: false,
            timeout: Duration::from_secs(30),
            default_from: "webmaster@localhost".to_owned(),
        }
    }
}

/// The password is not shown.
impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("backend", &self.backend)
            .field("file_path", &self.file_path)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "********"
                },
            )
            .field("use_tls", &self.use_tls)
            .field("use_ssl", &self.use_ssl)
            .field("timeout", &self.timeout)
            .field("default_from", &self.default_from)
            .finish()
    }
}

/// The database connection pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DatabaseSettings {
    /// Connections the pool opens at most.
    pub max_connections: u32,
    /// How long a query waits for a free connection (or for the database to
    /// answer a connection attempt) before the request gets 503.
    #[serde(deserialize_with = "duration")]
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a locked database before giving up.
    #[serde(deserialize_with = "duration")]
    pub sqlite_busy_timeout: Duration,
    /// PostgreSQL: check each connection with a round trip before a query
    /// uses it (Django's `CONN_HEALTH_CHECKS`; on by default). Turning it
    /// off saves that round trip per query; a connection that died while
    /// idle then fails one request (503) before the pool replaces it.
    pub health_checks: bool,
    /// PostgreSQL: the server cancels a statement that runs longer than
    /// this (its `statement_timeout`), so that a request cut by
    /// `server.request_timeout` does not leave its query running, holding
    /// a connection and locks. Unset (the default), it is
    /// `server.request_timeout`; `"0s"` turns it off. `manage migrate`
    /// never has one. `MANOUCHE_DB_STATEMENT_TIMEOUT`. SQLite needs no
    /// setting: a statement whose request was cut (its future dropped) is
    /// stopped in the process at once.
    #[serde(deserialize_with = "optional_duration")]
    pub statement_timeout: Option<Duration>,
    /// SQLite: small reads of the database file run on the thread that asks
    /// for them instead of being handed to sqlx's worker thread and back
    /// (on by default; `MANOUCHE_DB_SQLITE_INLINE_READS=false` turns it
    /// off). A read that would run longer than a few milliseconds, or
    /// that this path cannot decode exactly as sqlx, still goes to sqlx.
    pub sqlite_inline_reads: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
            health_checks: true,
            statement_timeout: None,
            sqlite_inline_reads: true,
        }
    }
}

impl DatabaseSettings {
    /// The pool options these settings describe.
    pub fn pool_options(&self) -> crate::db::DatabaseOptions {
        crate::db::DatabaseOptions {
            max_connections: self.max_connections.max(1),
            acquire_timeout: self.acquire_timeout,
            sqlite_busy_timeout: self.sqlite_busy_timeout,
            health_checks: self.health_checks,
            sqlite_inline_reads: self.sqlite_inline_reads,
            ..crate::db::DatabaseOptions::default()
        }
    }

    /// The pool options of a project serving requests cut after
    /// `request_timeout`: these settings', with the statement timeout (see
    /// [`statement_timeout`](Self::statement_timeout)).
    pub fn serving_pool_options(&self, request_timeout: Duration) -> crate::db::DatabaseOptions {
        let timeout = self.statement_timeout.unwrap_or(request_timeout);
        crate::db::DatabaseOptions {
            statement_timeout: (!timeout.is_zero()).then_some(timeout),
            ..self.pool_options()
        }
    }
}

/// Limits and timeouts of the built-in server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerSettings {
    /// Where `serve` listens when no `--bind` is given: `HOST:PORT`,
    /// `unix:/path/to.sock` or `fd://N` (an inherited socket).
    pub bind: String,
    /// A client must send its complete request headers within this time,
    /// from the first byte of a request (slowloris protection); on HTTP/2,
    /// from the `HEADERS` frame that opens a header block to the frame
    /// that ends it, whatever the connection's other streams do.
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// A request that takes longer gets 503.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// On SIGTERM, in-flight requests get this long to finish; the whole
    /// drain (the grace below included) is bounded by it.
    #[serde(deserialize_with = "duration")]
    pub drain_timeout: Duration,
    /// While draining, an idle HTTP/1 keep-alive connection stays open
    /// this long (from the start of the drain, or from its last response
    /// if later), so that a request its client is already sending is still
    /// answered (with `Connection: close`) instead of meeting a closed
    /// connection; then it is closed. Every response sent while draining
    /// carries `Connection: close`, so busy clients leave on their own.
    #[serde(deserialize_with = "duration")]
    pub drain_grace: Duration,
    /// On SIGHUP (or `manage reload`), how long the new binary has to run
    /// its checks and report ready on the inherited sockets; past it, it is
    /// stopped and this process keeps serving.
    #[serde(deserialize_with = "duration")]
    pub reload_timeout: Duration,
    /// Where `/healthz` (liveness) and `/readyz` (readiness) are answered:
    /// `"main"` (the site's own address, before the host check),
    /// `"metrics"` (the `--metrics` address only) or `"off"`. See
    /// [`crate::health`].
    pub health: HealthEndpoints,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` (or
    /// `Forwarded`, see `proxy_headers`) give the client's address and
    /// scheme: IP addresses, CIDR ranges (`"10.0.0.0/8"`) and `"unix"`
    /// (connections over a Unix socket). Empty (the default): the headers
    /// are never read. See [`crate::proxies`].
    pub trusted_proxies: Vec<String>,
    /// Which headers the trusted proxies set: `"x-forwarded"` (the
    /// default) or `"forwarded"` (RFC 7239). Only that family is read.
    pub proxy_headers: crate::proxies::ProxyHeaders,
    /// Largest request body in bytes; bigger ones get 413.
    pub body_limit: u64,
    /// Longest request line (method, target, version) in bytes; longer
    /// ones get 414 (nginx's `large_client_header_buffers` size).
    pub max_request_line: usize,
    /// Longest single header line (name and value) in bytes; longer ones
    /// get 431.
    pub max_header_line: usize,
    /// Largest total of all header lines in bytes; more gets 431. The
    /// server's read buffer for a request head never grows past
    /// `max_request_line + max_header_size`: a head bigger than that is
    /// answered 431 (414 is then not told apart) and the connection closed
    /// while it is still arriving, so a client cannot make the server hold
    /// more.
    pub max_header_size: usize,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// From accepting a connection to the end of its first request's
    /// headers, the TLS handshake and the protocol detection included: a
    /// connection that has not sent a whole request head by then is closed
    /// (a socket that never speaks, or sends one byte, cannot hold a place
    /// under `max_connections` for longer).
    #[serde(deserialize_with = "duration")]
    pub first_request_timeout: Duration,
    /// A connection with no request in flight for this long is closed
    /// (HTTP/2: with `GOAWAY`), as nginx's `keepalive_timeout`. Idle
    /// HTTP/1 connections give back their buffers after a second, so a
    /// long limit costs little memory; each idle connection still holds a
    /// place under `max_connections`.
    #[serde(deserialize_with = "duration")]
    pub keep_alive_timeout: Duration,
    /// A connection whose client stops reading is closed when a write
    /// makes no progress for this long. Measured between writes, as
    /// nginx's `send_timeout`, not over the whole response: a slow but
    /// moving download is never cut.
    #[serde(deserialize_with = "duration")]
    pub send_timeout: Duration,
    /// Requests served at once across all connections (counted for the
    /// whole process); past it, a request is answered 503 with
    /// `Retry-After` at once (load shedding), and the server serves again
    /// as soon as it is back under the cap. A request counts from its head
    /// until its response head is ready (a body still streaming does not).
    pub max_requests_in_flight: usize,
    /// Connections at once from one client address (nginx's
    /// `limit_conn`); one more is closed as soon as it is accepted. 0:
    /// no cap (behind a proxy every client has the proxy's address).
    pub max_connections_per_client: usize,
    /// Serve HTTP/2 (prior-knowledge h2c, and h2 over TLS) besides HTTP/1.1.
    pub http2: bool,
    /// Set `SO_REUSEPORT`, so that a new process can bind the same port
    /// while the old one drains.
    pub reuse_port: bool,
    /// PEM certificate chain; with `tls_key`, the server speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".to_owned(),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            drain_grace: Duration::from_secs(2),
            reload_timeout: Duration::from_secs(30),
            health: HealthEndpoints::Main,
            trusted_proxies: Vec::new(),
            proxy_headers: crate::proxies::ProxyHeaders::XForwarded,
            body_limit: DEFAULT_BODY_LIMIT,
            max_request_line: 8 * 1024,
            max_header_line: 8 * 1024,
            max_header_size: 32 * 1024,
            max_connections: 10_000,
            first_request_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            send_timeout: Duration::from_secs(60),
            max_requests_in_flight: 10_000,
            max_connections_per_client: 0,
            http2: true,
            reuse_port: false,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl ServerSettings {
    /// `trusted_proxies` and `proxy_headers`, parsed.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the entry that is not an address,
    /// a range or `unix`.
    pub fn trusted_proxies(&self) -> Result<crate::proxies::TrustedProxies, SettingsError> {
        crate::proxies::TrustedProxies::new(&self.trusted_proxies, self.proxy_headers).map_err(
            |message| SettingsError::Invalid {
                setting: "server.trusted_proxies",
                message,
            },
        )
    }
}

/// Where the health endpoints are answered (`server.health`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HealthEndpoints {
    /// On the site's own address (the default), before the host check, so
    /// that a load balancer probing by IP address is answered.
    #[default]
    Main,
    /// On the metrics address (`serve --metrics ADDR`) only.
    Metrics,
    /// Nowhere.
    Off,
}

impl std::str::FromStr for HealthEndpoints {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "main" => Ok(Self::Main),
            "metrics" => Ok(Self::Metrics),
            "off" => Ok(Self::Off),
            _ => Err("one of main, metrics, off".to_owned()),
        }
    }
}

/// Security headers and cookie flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SecuritySettings {
    /// `Strict-Transport-Security: max-age=...`; 0 sends no header.
    pub hsts_seconds: u64,
    /// Adds `includeSubDomains` to HSTS.
    pub hsts_include_subdomains: bool,
    /// Adds `preload` to HSTS.
    pub hsts_preload: bool,
    /// `X-Frame-Options` value (`DENY` or `SAMEORIGIN`).
    pub x_frame_options: String,
    /// `Referrer-Policy` value; empty sends none.
    pub referrer_policy: String,
    /// `Cross-Origin-Opener-Policy` value; empty sends none.
    pub cross_origin_opener_policy: String,
    /// Send `X-Content-Type-Options: nosniff`.
    pub content_type_nosniff: bool,
    /// Mark the session cookie `Secure`. Unset: secure unless `debug`.
    pub session_cookie_secure: Option<bool>,
    /// The former place of `csrf.cookie_secure`: kept only to say where it
    /// went.
    #[serde(rename = "csrf_cookie_secure")]
    moved_csrf_cookie_secure: Option<toml::Value>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            hsts_seconds: 0,
            hsts_include_subdomains: false,
            hsts_preload: false,
            x_frame_options: "DENY".to_owned(),
            referrer_policy: "same-origin".to_owned(),
            cross_origin_opener_policy: "same-origin".to_owned(),
            content_type_nosniff: true,
            session_cookie_secure: None,
            moved_csrf_cookie_secure: None,
        }
    }
}

/// CSRF protection (`[csrf]`; Django's `CSRF_*` settings). See
/// [`crate::csrf`] for how it works.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CsrfSettings {
    /// Check unsafe requests (on by default). Off, pages still get tokens
    /// and the cookie, but nothing is checked.
    pub enabled: bool,
    /// The cookie that keeps the secret.
    pub cookie_name: String,
    /// The cookie's lifetime in seconds (Django's 31449600, a year); 0 makes
    /// it a browser-session cookie (Django's `CSRF_COOKIE_AGE = None`).
    pub cookie_age: u64,
    /// The cookie's `Domain` (`.example.com` to share it with subdomains);
    /// unset: this host only. Also the domain whose subdomains pass the
    /// `Referer` check.
    pub cookie_domain: Option<String>,
    /// The cookie's `Path`.
    pub cookie_path: String,
    /// Mark the cookie `Secure`. Unset: secure unless `debug`.
    pub cookie_secure: Option<bool>,
    /// Mark the cookie `HttpOnly` (off, as in Django: JavaScript may read
    /// the token from it).
    pub cookie_httponly: bool,
    /// The cookie's `SameSite`: `"Lax"`, `"Strict"` or `"None"` (which
    /// needs a secure cookie).
    pub cookie_samesite: String,
    /// The request header that carries the token for JavaScript clients.
    pub header_name: String,
    /// Other origins allowed to send unsafe requests (Django's
    /// `CSRF_TRUSTED_ORIGINS`): `"https://example.com"`, or
    /// `"https://*.example.com"` for every subdomain.
    pub trusted_origins: Vec<String>,
}

/// Django's `CSRF_COOKIE_AGE`: 52 weeks.
pub const DEFAULT_CSRF_COOKIE_AGE: u64 = 60 * 60 * 24 * 7 * 52;

/// A century: longer cookie lifetimes are surely a mistake (and past what
/// a cookie's `expires` date can say).
const MAX_COOKIE_AGE: u64 = 100 * 365 * 24 * 60 * 60;

impl Default for CsrfSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            cookie_name: "csrftoken".to_owned(),
            cookie_age: DEFAULT_CSRF_COOKIE_AGE,
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_secure: None,
            cookie_httponly: false,
            cookie_samesite: "Lax".to_owned(),
            header_name: "X-CSRFToken".to_owned(),
            trusted_origins: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads a TOML settings file. Environment overrides are *not* applied;
    /// see [`Settings::load`].
    ///
    /// # Errors
    /// [`SettingsError::Read`] or [`SettingsError::Parse`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SettingsError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, Some(path))
    }

    /// Parses settings from TOML text.
    ///
    /// # Errors
    /// [`SettingsError::Parse`] with the line and the offending key.
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        Self::parse(text, None)
    }

    fn parse(text: &str, path: Option<&Path>) -> Result<Self, SettingsError> {
        let mut settings: Self = toml::from_str(text).map_err(|e| SettingsError::Parse {
            path: path.map(Path::to_owned),
            message: e.to_string(),
        })?;
        settings.source = path.map(Path::to_owned);
        // A key the framework does not know is an app's section when it is
        // a table (checked against the installed apps when the project is
        // built); anything else is a mistake.
        if let Some((key, _)) = settings.sections.iter().find(|(_, v)| !v.is_table()) {
            return Err(SettingsError::Parse {
                path: path.map(Path::to_owned),
                message: format!(
                    "unknown setting `{key}`; the framework's settings are: {}",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            });
        }
        settings.validate()?;
        Ok(settings)
    }

    /// The file these settings were read from, if any.
    #[must_use]
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The names of the sections the framework does not read itself (the
    /// apps' sections), sorted.
    #[must_use]
    pub fn section_names(&self) -> Vec<&str> {
        self.sections.keys().map(String::as_str).collect()
    }

    /// An app's raw section, with its `MANOUCHE_<LABEL>_<KEY>` overrides.
    fn section_value(&self, label: &str) -> toml::Value {
        let mut table = match self.sections.get(label) {
            Some(toml::Value::Table(t)) => t.clone(),
            _ => toml::Table::new(),
        };
        let prefix = format!("MANOUCHE_{}_", label.to_ascii_uppercase());
        for (name, value) in &self.env_overrides {
            let Some(key) = name.strip_prefix(&prefix) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if key.is_empty() {
                continue;
            }
            // A TOML value when it is one (`42`, `true`, `["a", "b"]`),
            // else the text itself.
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            table.insert(key, parsed);
        }
        toml::Value::Table(table)
    }

    /// Reads the app section `[label]` as `T`; a missing section gives
    /// `T`'s defaults (through `#[serde(default)]`).
    ///
    /// # Errors
    /// [`SettingsError::Section`] naming the file, the section and the key.
    pub fn read_section<T: serde::de::DeserializeOwned>(
        &self,
        label: &str,
    ) -> Result<T, SettingsError> {
        T::deserialize(self.section_value(label)).map_err(|e| {
            let prefix = format!("MANOUCHE_{}_", label.to_ascii_uppercase());
            let from_env: Vec<&str> = self
                .env_overrides
                .iter()
                .filter(|(n, _)| n.starts_with(&prefix))
                .map(|(n, _)| n.as_str())
                .collect();
            let mut message = e.to_string().trim().to_owned();
            if !from_env.is_empty() {
                message.push_str(&format!(
                    " (environment overrides: {})",
                    from_env.join(", ")
                ));
            }
            SettingsError::Section {
                path: self.source.clone(),
                section: label.to_owned(),
                message,
            }
        })
    }

    /// Sets the app section `[label]` from TOML text (as if the settings
    /// file held it): for tests and for projects configured in code.
    ///
    /// # Errors
    /// [`SettingsError::Section`] when the text is not a TOML table.
    pub fn set_section(&mut self, label: &str, toml_text: &str) -> Result<(), SettingsError> {
        let table = toml_text
            .parse::<toml::Table>()
            .map_err(|e| SettingsError::Section {
                path: self.source.clone(),
                section: label.to_owned(),
                message: e.to_string().trim().to_owned(),
            })?;
        self.sections
            .insert(label.to_owned(), toml::Value::Table(table));
        Ok(())
    }

    /// Checks that every app section belongs to an installed app.
    pub(crate) fn check_sections<'a>(
        &self,
        readers: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), SettingsError> {
        let known: Vec<&str> = readers.into_iter().collect();
        if let Some(unknown) = self.sections.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(SettingsError::Section {
                path: self.source.clone(),
                section: unknown.clone(),
                message: format!(
                    "no installed app reads this section (apps with settings: {}); check its spelling, or install the app",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        Ok(())
    }

    /// The file (or `MANOUCHE_SETTINGS` when set), then the process
    /// environment on top, then validation.
    ///
    /// # Errors
    /// Any [`SettingsError`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SettingsError> {
        let path = std::env::var_os("MANOUCHE_SETTINGS")
            .map(PathBuf::from)
            .unwrap_or_else(|| path.as_ref().to_owned());
        let mut settings = Self::from_file(&path)?;
        settings.apply_env(std::env::vars())?;
        Ok(settings)
    }

    /// Applies overrides from `(name, value)` pairs — normally
    /// `std::env::vars()`. Unknown names are ignored. The variables:
    ///
    /// | variable | setting |
    /// |---|---|
    /// | `DATABASE_URL` | `database_url` |
    /// | `MANOUCHE_DEBUG` | `debug` (`true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off`) |
    /// | `MANOUCHE_SECRET_KEY` | `secret_key` |
    /// | `MANOUCHE_ALLOWED_HOSTS` | `allowed_hosts`, comma-separated |
    /// | `MANOUCHE_LOG` | `log` |
    /// | `MANOUCHE_BIND` | `server.bind` |
    /// | `MANOUCHE_HEADER_READ_TIMEOUT` | `server.header_read_timeout` (`10s`, `500ms`) |
    /// | `MANOUCHE_REQUEST_TIMEOUT` | `server.request_timeout` |
    /// | `MANOUCHE_DRAIN_TIMEOUT` | `server.drain_timeout` |
    /// | `MANOUCHE_DRAIN_GRACE` | `server.drain_grace` |
    /// | `MANOUCHE_RELOAD_TIMEOUT` | `server.reload_timeout` |
    /// | `MANOUCHE_HEALTH` | `server.health` (`main`, `metrics`, `off`) |
    /// | `MANOUCHE_TRUSTED_PROXIES` | `server.trusted_proxies`, comma-separated (empty: none) |
    /// | `MANOUCHE_PROXY_HEADERS` | `server.proxy_headers` (`x-forwarded`, `forwarded`) |
    /// | `MANOUCHE_BODY_LIMIT` | `server.body_limit` (bytes) |
    /// | `MANOUCHE_MAX_REQUEST_LINE` | `server.max_request_line` (bytes) |
    /// | `MANOUCHE_MAX_HEADER_LINE` | `server.max_header_line` (bytes) |
    /// | `MANOUCHE_MAX_HEADER_SIZE` | `server.max_header_size` (bytes) |
    /// | `MANOUCHE_MAX_CONNECTIONS` | `server.max_connections` |
    /// | `MANOUCHE_FIRST_REQUEST_TIMEOUT` | `server.first_request_timeout` |
    /// | `MANOUCHE_KEEP_ALIVE_TIMEOUT` | `server.keep_alive_timeout` |
    /// | `MANOUCHE_SEND_TIMEOUT` | `server.send_timeout` |
    /// | `MANOUCHE_MAX_REQUESTS_IN_FLIGHT` | `server.max_requests_in_flight` |
    /// | `MANOUCHE_MAX_CONNECTIONS_PER_CLIENT` | `server.max_connections_per_client` (0: no cap) |
    /// | `MANOUCHE_DB_STATEMENT_TIMEOUT` | `database.statement_timeout` (`0s`: none) |
    /// | `MANOUCHE_DB_SQLITE_INLINE_READS` | `database.sqlite_inline_reads` |
    /// | `MANOUCHE_HTTP2` | `server.http2` |
    /// | `MANOUCHE_TLS_CERT`, `MANOUCHE_TLS_KEY` | `server.tls_cert`, `server.tls_key` |
    /// | `MANOUCHE_HSTS_SECONDS` | `security.hsts_seconds` |
    /// | `MANOUCHE_EMAIL_BACKEND` | `email.backend` (`console`, `file`, `memory`, `smtp`) |
    /// | `MANOUCHE_EMAIL_FILE_PATH` | `email.file_path` |
    /// | `MANOUCHE_EMAIL_HOST`, `MANOUCHE_EMAIL_PORT` | `email.host`, `email.port` |
    /// | `MANOUCHE_EMAIL_USERNAME`, `MANOUCHE_EMAIL_PASSWORD` | `email.username`, `email.password` |
    /// | `MANOUCHE_EMAIL_USE_TLS`, `MANOUCHE_EMAIL_USE_SSL` | `email.use_tls`, `email.use_ssl` |
    /// | `MANOUCHE_EMAIL_TIMEOUT` | `email.timeout` |
    /// | `MANOUCHE_EMAIL_DEFAULT_FROM` | `email.default_from` |
    /// | `MANOUCHE_CSRF_ENABLED` | `csrf.enabled` |
    /// | `MANOUCHE_CSRF_TRUSTED_ORIGINS` | `csrf.trusted_origins`, comma-separated |
    /// | `MANOUCHE_CSRF_COOKIE_NAME`, `_AGE`, `_DOMAIN` (empty: none), `_PATH`, `_SECURE`, `_HTTPONLY`, `_SAMESITE` | `csrf.cookie_*` |
    /// | `MANOUCHE_CSRF_HEADER_NAME` | `csrf.header_name` |
    /// | `MANOUCHE_MEDIA_ROOT`, `MANOUCHE_MEDIA_URL` | `media.root`, `media.url` |
    /// | `MANOUCHE_MEDIA_TEMP_DIR` | `media.temp_dir` (empty: the system's) |
    /// | `MANOUCHE_MEDIA_MAX_FILE_SIZE` | `media.max_file_size` (bytes) |
    /// | `MANOUCHE_MEDIA_STORAGE` | `media.storage` (`filesystem`, `s3`) |
    /// | `MANOUCHE_MEDIA_S3_BUCKET`, `_REGION`, `_ENDPOINT`, `_PATH_STYLE`, `_PUBLIC_URL` | `media.s3.*` |
    /// | `MANOUCHE_MEDIA_S3_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY` | `media.s3.access_key_id`, `media.s3.secret_access_key` |
    /// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | the same, when nothing else gives them |
    ///
    /// # Errors
    /// [`SettingsError::Env`] naming the variable when a value has the wrong
    /// form, or [`SettingsError::Invalid`] when the result is inconsistent;
    /// the settings are then left unchanged.
    pub fn apply_env<I, K, V>(&mut self, vars: I) -> Result<(), SettingsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        // Applied to a copy: on an error the settings stay as they were.
        let mut next = self.clone();
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            match name {
                "DATABASE_URL" => next.database_url = value.to_owned(),
                "MANOUCHE_DEBUG" => next.debug = parse_bool(name, value)?,
                "MANOUCHE_SECRET_KEY" => next.secret_key = value.to_owned(),
                "MANOUCHE_ALLOWED_HOSTS" => next.allowed_hosts = split_list(value),
                "MANOUCHE_LOG" => next.log = value.to_owned(),
                "MANOUCHE_BIND" => next.server.bind = value.to_owned(),
                "MANOUCHE_HEADER_READ_TIMEOUT" => {
                    next.server.header_read_timeout = parse_duration(name, value)?;
                }
                "MANOUCHE_REQUEST_TIMEOUT" => {
                    next.server.request_timeout = parse_duration(name, value)?;
                }
                "MANOUCHE_DRAIN_TIMEOUT" => {
                    next.server.drain_timeout = parse_duration(name, value)?
                }
                "MANOUCHE_DRAIN_GRACE" => next.server.drain_grace = parse_duration(name, value)?,
                "MANOUCHE_RELOAD_TIMEOUT" => {
                    next.server.reload_timeout = parse_duration(name, value)?;
                }
                "MANOUCHE_HEALTH" => {
                    next.server.health = value
                        .parse()
                        .map_err(|expected: String| env_error(name, value, &expected))?;
                }
                "MANOUCHE_TRUSTED_PROXIES" => next.server.trusted_proxies = split_list(value),
                "MANOUCHE_PROXY_HEADERS" => {
                    next.server.proxy_headers = value
                        .parse()
                        .map_err(|_| env_error(name, value, "x-forwarded or forwarded"))?;
                }
                "MANOUCHE_BODY_LIMIT" => next.server.body_limit = parse_number(name, value)?,
                "MANOUCHE_MAX_REQUEST_LINE" => {
                    next.server.max_request_line = parse_number(name, value)?;
                }
                "MANOUCHE_MAX_HEADER_LINE" => {
                    next.server.max_header_line = parse_number(name, value)?;
                }
                "MANOUCHE_MAX_HEADER_SIZE" => {
                    next.server.max_header_size = parse_number(name, value)?;
                }
                "MANOUCHE_MAX_CONNECTIONS" => {
                    next.server.max_connections = parse_number(name, value)?;
                }
                "MANOUCHE_FIRST_REQUEST_TIMEOUT" => {
                    next.server.first_request_timeout = parse_duration(name, value)?;
                }
                "MANOUCHE_KEEP_ALIVE_TIMEOUT" => {
                    next.server.keep_alive_timeout = parse_duration(name, value)?;
                }
                "MANOUCHE_SEND_TIMEOUT" => {
                    next.server.send_timeout = parse_duration(name, value)?;
                }
                "MANOUCHE_MAX_REQUESTS_IN_FLIGHT" => {
                    next.server.max_requests_in_flight = parse_number(name, value)?;
                }
                "MANOUCHE_DB_STATEMENT_TIMEOUT" => {
                    next.database.statement_timeout = Some(parse_duration(name, value)?);
                }
                "MANOUCHE_DB_SQLITE_INLINE_READS" => {
                    next.database.sqlite_inline_reads = parse_bool(name, value)?;
                }
                "MANOUCHE_MAX_CONNECTIONS_PER_CLIENT" => {
                    next.server.max_connections_per_client = parse_number(name, value)?;
                }
                "MANOUCHE_HTTP2" => next.server.http2 = parse_bool(name, value)?,
                "MANOUCHE_TLS_CERT" => next.server.tls_cert = Some(value.into()),
                "MANOUCHE_TLS_KEY" => next.server.tls_key = Some(value.into()),
                "MANOUCHE_HSTS_SECONDS" => next.security.hsts_seconds = parse_number(name, value)?,
                "MANOUCHE_EMAIL_BACKEND" => {
                    next.email.backend = Some(value.parse().map_err(|()| {
                        env_error(name, value, "one of console, file, memory, smtp")
                    })?);
                }
                "MANOUCHE_EMAIL_FILE_PATH" => {
                    next.email.file_path = (!value.is_empty()).then(|| value.into());
                }
                "MANOUCHE_EMAIL_HOST" => next.email.host = value.to_owned(),
                "MANOUCHE_EMAIL_PORT" => next.email.port = parse_number(name, value)?,
                "MANOUCHE_EMAIL_USERNAME" => next.email.username = value.to_owned(),
                "MANOUCHE_EMAIL_PASSWORD" => next.email.password = value.to_owned(),
                "MANOUCHE_EMAIL_USE_TLS" => next.email.use_tls = parse_bool(name, value)?,
                "MANOUCHE_EMAIL_USE_SSL" => next.email.use_ssl = parse_bool(name, value)?,
                "MANOUCHE_EMAIL_TIMEOUT" => next.email.timeout = parse_duration(name, value)?,
                "MANOUCHE_EMAIL_DEFAULT_FROM" => next.email.default_from = value.to_owned(),
                "MANOUCHE_CSRF_ENABLED" => next.csrf.enabled = parse_bool(name, value)?,
                "MANOUCHE_MEDIA_ROOT" => next.media.root = value.into(),
                "MANOUCHE_MEDIA_URL" => next.media.url = value.to_owned(),
                "MANOUCHE_MEDIA_TEMP_DIR" => {
                    next.media.temp_dir = (!value.is_empty()).then(|| value.into());
                }
                "MANOUCHE_MEDIA_MAX_FILE_SIZE" => {
                    next.media.max_file_size = parse_number(name, value)?;
                }
                "MANOUCHE_MEDIA_STORAGE" => {
                    next.media.storage = match value {
                        "filesystem" => StorageKind::FileSystem,
                        "s3" => StorageKind::S3,
                        _ => {
                            return Err(SettingsError::Env {
                                name: name.to_owned(),
                                value: value.to_owned(),
                                expected: "`filesystem` or `s3`".to_owned(),
                            });
                        }
                    };
                }
                "MANOUCHE_MEDIA_S3_BUCKET" => next.media.s3.bucket = value.to_owned(),
                "MANOUCHE_MEDIA_S3_REGION" => next.media.s3.region = value.to_owned(),
                "MANOUCHE_MEDIA_S3_ENDPOINT" => {
                    next.media.s3.endpoint = (!value.is_empty()).then(|| value.to_owned());
                }
                "MANOUCHE_MEDIA_S3_PATH_STYLE" => {
                    next.media.s3.path_style = parse_bool(name, value)?;
                }
                "MANOUCHE_MEDIA_S3_PUBLIC_URL" => {
                    next.media.s3.public_url = (!value.is_empty()).then(|| value.to_owned());
                }
                "MANOUCHE_MEDIA_S3_ACCESS_KEY_ID" => next.media.s3.access_key_id = value.to_owned(),
                "MANOUCHE_MEDIA_S3_SECRET_ACCESS_KEY" => {
                    next.media.s3.secret_access_key = value.to_owned();
                }
                // The usual names, used when nothing more specific gives
                // the key (in whichever order the variables come).
                "AWS_ACCESS_KEY_ID" if next.media.s3.access_key_id.is_empty() => {
                    next.media.s3.access_key_id = value.to_owned();
                }
                "AWS_SECRET_ACCESS_KEY" if next.media.s3.secret_access_key.is_empty() => {
                    next.media.s3.secret_access_key = value.to_owned();
                }
                "MANOUCHE_CSRF_TRUSTED_ORIGINS" => {
                    next.csrf.trusted_origins = split_list(value);
                }
                "MANOUCHE_CSRF_COOKIE_NAME" => next.csrf.cookie_name = value.to_owned(),
                "MANOUCHE_CSRF_COOKIE_AGE" => next.csrf.cookie_age = parse_number(name, value)?,
                "MANOUCHE_CSRF_COOKIE_DOMAIN" => {
                    next.csrf.cookie_domain = Some(value.trim())
                        .filter(|d| !d.is_empty())
                        .map(str::to_owned);
                }
                "MANOUCHE_CSRF_COOKIE_PATH" => next.csrf.cookie_path = value.to_owned(),
                "MANOUCHE_CSRF_COOKIE_SECURE" => {
                    next.csrf.cookie_secure = Some(parse_bool(name, value)?);
                }
                "MANOUCHE_CSRF_COOKIE_HTTPONLY" => {
                    next.csrf.cookie_httponly = parse_bool(name, value)?;
                }
                "MANOUCHE_CSRF_COOKIE_SAMESITE" => next.csrf.cookie_samesite = value.to_owned(),
                "MANOUCHE_CSRF_HEADER_NAME" => next.csrf.header_name = value.to_owned(),
                "MANOUCHE_SETTINGS" => {}
                _ if name.starts_with("MANOUCHE_") => {
                    next.env_overrides.retain(|(n, _)| n != name);
                    next.env_overrides.push((name.to_owned(), value.to_owned()));
                }
                _ => {}
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Checks the settings that parse but cannot work.
    ///
    /// # Errors
    /// The first [`SettingsError::Invalid`] found.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |setting, message: &str| {
            Err(SettingsError::Invalid {
                setting,
                message: message.to_owned(),
            })
        };
        if self.secret_key.is_empty() {
            return invalid(
                "secret_key",
                "must not be empty; set it in the settings file or MANOUCHE_SECRET_KEY",
            );
        }
        if self.server.body_limit == 0 {
            return invalid("server.body_limit", "must be at least 1 byte");
        }
        for (setting, value) in [
            ("server.max_request_line", self.server.max_request_line),
            ("server.max_header_line", self.server.max_header_line),
            ("server.max_header_size", self.server.max_header_size),
        ] {
            if !(256..=1 << 20).contains(&value) {
                return invalid(setting, "must be from 256 bytes to 1 MiB (default 8192)");
            }
        }
        if self.server.max_header_line > self.server.max_header_size {
            return invalid(
                "server.max_header_line",
                "must not be larger than server.max_header_size",
            );
        }
        if !self.media.url.ends_with('/') {
            return invalid(
                "media.url",
                "must end with `/` (e.g. \"/media/\" or \"https://cdn.example.com/media/\")",
            );
        }
        if self.media.max_file_size == 0 {
            return invalid("media.max_file_size", "must be at least 1 byte");
        }
        if self.media.storage == StorageKind::S3 {
            if self.media.s3.bucket.is_empty() {
                return invalid(
                    "media.s3.bucket",
                    "must name the bucket when media.storage = \"s3\"",
                );
            }
            if self
                .media
                .s3
                .public_url
                .as_ref()
                .is_some_and(|u| !u.ends_with('/'))
            {
                return invalid(
                    "media.s3.public_url",
                    "must end with `/` (e.g. \"https://cdn.example.com/media/\")",
                );
            }
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.server.max_connections == 0 {
            return invalid("server.max_connections", "must be at least 1");
        }
        if self.server.max_requests_in_flight == 0 {
            return invalid("server.max_requests_in_flight", "must be at least 1");
        }
        for (setting, value) in [
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.request_timeout", self.server.request_timeout),
            (
                "server.first_request_timeout",
                self.server.first_request_timeout,
            ),
            ("server.keep_alive_timeout", self.server.keep_alive_timeout),
            ("server.send_timeout", self.server.send_timeout),
        ] {
            if value.is_zero() {
                return invalid(setting, "must be longer than zero (e.g. \"10s\")");
            }
        }
        self.server.trusted_proxies()?;
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return invalid(
                "server.tls_cert",
                "tls_cert and tls_key must be set together (PEM files)",
            );
        }
        for host in &self.allowed_hosts {
            if crate::middleware::hosts::HostPattern::parse(host).is_none() {
                return Err(SettingsError::Invalid {
                    setting: "allowed_hosts",
                    message: format!(
                        "{host:?} is not a host name: use \"example.com\", \".example.com\" or \"*\""
                    ),
                });
            }
        }
        let url = &self.static_files.url;
        if !url.is_empty() && (!url.starts_with('/') || !url.ends_with('/') || url == "/") {
            return Err(SettingsError::Invalid {
                setting: "static.url",
                message: format!(
                    "{url:?} must start and end with '/' and not be \"/\" (e.g. \"/static/\"), or be empty to turn static serving off"
                ),
            });
        }
        if self.log.is_empty() {
            return invalid("log", "must not be empty (use \"off\" to silence logging)");
        }
        if self.security.moved_csrf_cookie_secure.is_some() {
            return invalid(
                "security.csrf_cookie_secure",
                "has moved: write `cookie_secure = true` (or false) in the [csrf] section, or set MANOUCHE_CSRF_COOKIE_SECURE",
            );
        }
        self.csrf.validate()?;
        self.validate_email()
    }

    /// The `[email]` combinations that cannot work.
    fn validate_email(&self) -> Result<(), SettingsError> {
        let invalid = |setting, message: &str| {
            Err(SettingsError::Invalid {
                setting,
                message: message.to_owned(),
            })
        };
        let email = &self.email;
        if email.use_tls && email.use_ssl {
            return invalid(
                "email.use_tls",
                "use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive; set only one",
            );
        }
        if email.port == 0 {
            return invalid("email.port", "must be a port number, 1 to 65535");
        }
        if email.timeout.is_zero() {
            return invalid("email.timeout", "must be longer than zero (e.g. \"10s\")");
        }
        if email.default_from.trim().is_empty() {
            return invalid(
                "email.default_from",
                "must be an address, e.g. \"webmaster@example.com\"",
            );
        }
        match self.email_backend() {
            EmailBackendKind::File
                if email
                    .file_path
                    .as_ref()
                    .is_none_or(|p| p.as_os_str().is_empty()) =>
            {
                invalid(
                    "email.file_path",
                    "the file backend needs a directory: set email.file_path (MANOUCHE_EMAIL_FILE_PATH)",
                )
            }
            EmailBackendKind::Smtp if !cfg!(feature = "smtp") => {
                invalid("email.backend", SMTP_FEATURE_MISSING)
            }
            EmailBackendKind::Smtp if email.host.trim().is_empty() => invalid(
                "email.host",
                "the smtp backend needs the server's host name (MANOUCHE_EMAIL_HOST)",
            ),
            EmailBackendKind::Smtp if email.username.is_empty() != email.password.is_empty() => {
                invalid(
                    "email.username",
                    "username and password go together: set both to log in, or neither",
                )
            }
            _ => Ok(()),
        }
    }

    /// The e-mail backend in use: `email.backend`, or the default for
    /// `debug` (see [`EmailSettings::backend`]).
    pub fn email_backend(&self) -> EmailBackendKind {
        match self.email.backend {
            Some(kind) => kind,
            None if !self.debug && cfg!(feature = "smtp") => EmailBackendKind::Smtp,
            None => EmailBackendKind::Console,
        }
    }

    /// Whether the session cookie is marked `Secure`.
    pub fn session_cookie_secure(&self) -> bool {
        self.security.session_cookie_secure.unwrap_or(!self.debug)
    }

    /// Whether the CSRF cookie is marked `Secure`.
    pub fn csrf_cookie_secure(&self) -> bool {
        self.csrf.cookie_secure.unwrap_or(!self.debug)
    }
}

impl CsrfSettings {
    /// Checks the values a browser or the check could not use.
    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |setting, message: String| Err(SettingsError::Invalid { setting, message });
        if !crate::web::cookies::is_cookie_name(&self.cookie_name) {
            return invalid(
                "csrf.cookie_name",
                format!(
                    "{:?} is not a cookie name: use letters, digits and !#$%&'*+-.^_`|~ (e.g. \"csrftoken\")",
                    self.cookie_name
                ),
            );
        }
        if self.cookie_age > MAX_COOKIE_AGE {
            return invalid(
                "csrf.cookie_age",
                format!(
                    "{} seconds is more than a century; Django's default is 31449600 (a year), 0 makes a browser-session cookie",
                    self.cookie_age
                ),
            );
        }
        if !self.cookie_path.starts_with('/') || !self.cookie_path.bytes().all(is_attribute_byte) {
            return invalid(
                "csrf.cookie_path",
                format!(
                    "{:?} must be a URL path starting with '/' (e.g. \"/\"), without ';' or spaces",
                    self.cookie_path
                ),
            );
        }
        if let Some(domain) = &self.cookie_domain {
            let name = domain.strip_prefix('.').unwrap_or(domain);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return invalid(
                    "csrf.cookie_domain",
                    format!(
                        "{domain:?} is not a domain: write \"example.com\" or \".example.com\", or leave it out for this host only"
                    ),
                );
            }
        }
        match crate::web::cookies::SameSite::parse(&self.cookie_samesite) {
            Err(message) => return invalid("csrf.cookie_samesite", message),
            Ok(crate::web::cookies::SameSite::None) if self.cookie_secure == Some(false) => {
                return invalid(
                    "csrf.cookie_samesite",
                    "\"None\" needs a Secure cookie: browsers drop it otherwise (remove cookie_secure = false)".to_owned(),
                );
            }
            Ok(_) => {}
        }
        if http::HeaderName::from_bytes(self.header_name.as_bytes()).is_err() {
            return invalid(
                "csrf.header_name",
                format!(
                    "{:?} is not an HTTP header name (e.g. \"X-CSRFToken\")",
                    self.header_name
                ),
            );
        }
        for origin in &self.trusted_origins {
            if let Err(why) = crate::csrf::TrustedOrigins::check_entry(origin) {
                return invalid("csrf.trusted_origins", format!("{origin:?} {why}"));
            }
        }
        Ok(())
    }
}

/// What a cookie attribute's value may hold (no ';', no controls, no
/// spaces).
fn is_attribute_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b';'
}

/// `"a, b,,c "` → `["a", "b", "c"]`.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(name: &str, value: &str) -> Result<bool, SettingsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(env_error(name, value, "true or false")),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, SettingsError> {
    value
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| env_error(name, value, "a whole non-negative number"))
}

fn parse_duration(name: &str, value: &str) -> Result<Duration, SettingsError> {
    humantime::parse_duration(value.trim()).map_err(|_| {
        env_error(
            name,
            value,
            "a duration such as \"10s\", \"500ms\" or \"2m\"",
        )
    })
}

fn env_error(name: &str, value: &str, expected: &str) -> SettingsError {
    SettingsError::Env {
        name: name.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// A duration that may be left out (see [`duration`]).
fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

/// Durations are written as text: `"10s"`, `"500ms"`, `"1m 30s"`.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration; write e.g. \"10s\", \"500ms\" or \"2m\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_safe_ones() {
        let s = Settings::from_toml_str("").unwrap();
        assert!(!s.debug);
        assert_eq!(s.secret_key, DEFAULT_SECRET_KEY);
        assert_eq!(s.server.body_limit, 2_621_440);
        assert_eq!(s.security.x_frame_options, "DENY");
        assert!(s.session_cookie_secure());
        assert!(s.allowed_hosts.is_empty());
    }

    #[test]
    fn file_values_and_durations() {
        let s = Settings::from_toml_str(
            "debug = true\n[server]\nrequest_timeout = \"1m 30s\"\nbody_limit = 1000\n",
        )
        .unwrap();
        assert!(s.debug);
        assert!(!s.session_cookie_secure());
        assert_eq!(s.server.request_timeout, Duration::from_secs(90));
        assert_eq!(s.server.body_limit, 1000);
    }

    #[test]
    fn database_pool_settings_reach_the_pool_options() {
        let defaults = Settings::from_toml_str("").unwrap().database.pool_options();
        assert!(defaults.health_checks);
        let s = Settings::from_toml_str(
            "[database]\nmax_connections = 3\nacquire_timeout = \"2s\"\nhealth_checks = false\n",
        )
        .unwrap();
        let options = s.database.pool_options();
        assert_eq!(options.max_connections, 3);
        assert_eq!(options.acquire_timeout, Duration::from_secs(2));
        assert!(!options.health_checks);
        let err = Settings::from_toml_str("[database]\nhealth_checks = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("health_checks"), "{err}");
    }

    #[test]
    fn the_statement_timeout_follows_the_request_timeout_unless_set() {
        let thirty = Duration::from_secs(30);
        let s = Settings::from_toml_str("").unwrap();
        assert_eq!(s.database.pool_options().statement_timeout, None);
        assert_eq!(
            s.database.serving_pool_options(thirty).statement_timeout,
            Some(thirty)
        );
        let s = Settings::from_toml_str("[database]\nstatement_timeout = \"5s\"").unwrap();
        assert_eq!(
            s.database.serving_pool_options(thirty).statement_timeout,
            Some(Duration::from_secs(5))
        );
        let s = Settings::from_toml_str("[database]\nstatement_timeout = \"0s\"").unwrap();
        assert_eq!(
            s.database.serving_pool_options(thirty).statement_timeout,
            None
        );
        let err = Settings::from_toml_str("[database]\nstatement_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("statement_timeout"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_with_their_name() {
        let err = Settings::from_toml_str("debgu = true")
            .unwrap_err()
            .to_string();
        assert!(err.contains("debgu"), "{err}");
        let err = Settings::from_toml_str("[server]\nrequest_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"soon\" is not a duration"), "{err}");
        let err = Settings::from_toml_str("[server]\nbody_limit = 0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.body_limit"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut s = Settings::from_toml_str("debug = true\nallowed_hosts = [\"a.com\"]").unwrap();
        s.apply_env([
            ("DATABASE_URL", "postgres://db/site"),
            ("MANOUCHE_DEBUG", "off"),
            ("MANOUCHE_SECRET_KEY", "k".repeat(60).as_str()),
            ("MANOUCHE_ALLOWED_HOSTS", " example.com ,.example.org,, "),
            ("MANOUCHE_REQUEST_TIMEOUT", "2s"),
            ("MANOUCHE_HEADER_READ_TIMEOUT", "750ms"),
            ("MANOUCHE_BODY_LIMIT", "1_000_000"),
            ("MANOUCHE_MAX_CONNECTIONS", "50"),
            ("MANOUCHE_MAX_REQUEST_LINE", "4096"),
            ("MANOUCHE_MAX_HEADER_LINE", "2048"),
            ("MANOUCHE_MAX_HEADER_SIZE", "65536"),
            ("MANOUCHE_HSTS_SECONDS", "3600"),
            ("UNRELATED", "ignored"),
        ])
        .unwrap();
        assert!(!s.debug);
        assert_eq!(s.database_url, "postgres://db/site");
        assert_eq!(s.secret_key.len(), 60);
        assert_eq!(s.allowed_hosts, ["example.com", ".example.org"]);
        assert_eq!(s.server.request_timeout, Duration::from_secs(2));
        assert_eq!(s.server.header_read_timeout, Duration::from_millis(750));
        assert_eq!(s.server.body_limit, 1_000_000);
        assert_eq!(s.server.max_connections, 50);
        assert_eq!(s.server.max_request_line, 4096);
        assert_eq!(s.server.max_header_line, 2048);
        assert_eq!(s.server.max_header_size, 65536);
        assert_eq!(s.security.hsts_seconds, 3600);
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let mut s = Settings::default();
        let err = s.apply_env([("MANOUCHE_DEBUG", "maybe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable MANOUCHE_DEBUG=\"maybe\" is invalid: true or false"
        );
        let err = s
            .apply_env([("MANOUCHE_BODY_LIMIT", "-5")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MANOUCHE_BODY_LIMIT"), "{err}");
        let err = s
            .apply_env([("MANOUCHE_REQUEST_TIMEOUT", "0s")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.request_timeout"), "{err}");
        assert_eq!(
            s.server.request_timeout,
            Duration::from_secs(30),
            "unchanged on error"
        );
        let err = s
            .apply_env([("MANOUCHE_ALLOWED_HOSTS", "exa mple.com")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("allowed_hosts"), "{err}");
    }

    #[test]
    fn deploy_settings_from_the_file_and_the_environment() {
        let mut s = Settings::from_toml_str(
            "[server]\ndrain_grace = \"500ms\"\nreload_timeout = \"45s\"\nhealth = \"metrics\"\ntrusted_proxies = [\"10.0.0.0/8\"]\nproxy_headers = \"forwarded\"",
        )
        .unwrap();
        assert_eq!(s.server.drain_grace, Duration::from_millis(500));
        assert_eq!(s.server.reload_timeout, Duration::from_secs(45));
        assert_eq!(s.server.health, HealthEndpoints::Metrics);
        assert_eq!(
            s.server.proxy_headers,
            crate::proxies::ProxyHeaders::Forwarded
        );
        s.apply_env([
            ("MANOUCHE_DRAIN_GRACE", "3s"),
            ("MANOUCHE_RELOAD_TIMEOUT", "5s"),
            ("MANOUCHE_HEALTH", "off"),
            ("MANOUCHE_TRUSTED_PROXIES", "127.0.0.1, unix"),
            ("MANOUCHE_PROXY_HEADERS", "x-forwarded"),
        ])
        .unwrap();
        assert_eq!(s.server.drain_grace, Duration::from_secs(3));
        assert_eq!(s.server.reload_timeout, Duration::from_secs(5));
        assert_eq!(s.server.health, HealthEndpoints::Off);
        assert_eq!(s.server.trusted_proxies, ["127.0.0.1", "unix"]);
        assert!(s.server.trusted_proxies().unwrap().trusts(None));
        for (name, value, says) in [
            ("MANOUCHE_HEALTH", "sometimes", "MANOUCHE_HEALTH"),
            (
                "MANOUCHE_PROXY_HEADERS",
                "x-real-ip",
                "MANOUCHE_PROXY_HEADERS",
            ),
            (
                "MANOUCHE_TRUSTED_PROXIES",
                "10.0.0.1/8",
                "server.trusted_proxies",
            ),
            ("MANOUCHE_DRAIN_GRACE", "soon", "MANOUCHE_DRAIN_GRACE"),
            (
                "MANOUCHE_RELOAD_TIMEOUT",
                "later",
                "MANOUCHE_RELOAD_TIMEOUT",
            ),
        ] {
            let err = s.apply_env([(name, value)]).unwrap_err().to_string();
            assert!(err.contains(says), "{name}: {err}");
        }
        assert_eq!(
            s.server.trusted_proxies,
            ["127.0.0.1", "unix"],
            "unchanged on error"
        );
        let err = Settings::from_toml_str("[server]\ntrusted_proxies = [\"proxy.example\"]")
            .and_then(|s| s.validate())
            .unwrap_err()
            .to_string();
        assert!(err.contains("proxy.example"), "{err}");
    }

    #[test]
    fn email_settings_from_the_file_and_the_environment() {
        let s = Settings::from_toml_str("").unwrap();
        assert_eq!(s.email.port, 25);
        assert_eq!(s.email.default_from, "webmaster@localhost");
        assert_eq!(s.email.timeout, Duration::from_secs(30));
        let s = Settings::from_toml_str("debug = true").unwrap();
        assert_eq!(s.email_backend(), EmailBackendKind::Console);
        let mut s = Settings::from_toml_str(
            "[email]\nbackend = \"file\"\nfile_path = \"sent\"\ndefault_from = \"Site <site@example.com>\"\n",
        )
        .unwrap();
        assert_eq!(s.email_backend(), EmailBackendKind::File);
        assert_eq!(s.email.file_path.as_deref(), Some(Path::new("sent")));
        s.apply_env([
            ("MANOUCHE_EMAIL_BACKEND", "Memory"),
            ("MANOUCHE_EMAIL_HOST", "smtp.example.com"),
            ("MANOUCHE_EMAIL_PORT", "587"),
            ("MANOUCHE_EMAIL_USERNAME", "site"),
            ("MANOUCHE_EMAIL_PASSWORD", "hunter2"),
            ("MANOUCHE_EMAIL_USE_TLS", "yes"),
            ("MANOUCHE_EMAIL_TIMEOUT", "5s"),
            ("MANOUCHE_EMAIL_DEFAULT_FROM", "noreply@example.com"),
        ])
        .unwrap();
        assert_eq!(s.email_backend(), EmailBackendKind::Memory);
        assert_eq!(s.email.host, "smtp.example.com");
        assert_eq!(s.email.port, 587);
        assert!(s.email.use_tls && !s.email.use_ssl);
        assert_eq!(s.email.timeout, Duration::from_secs(5));
        assert_eq!(s.email.default_from, "noreply@example.com");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let err = s
            .apply_env([("MANOUCHE_EMAIL_BACKEND", "pigeon")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MANOUCHE_EMAIL_BACKEND") && err.contains("smtp"),
            "{err}"
        );
        let err = s
            .apply_env([("MANOUCHE_EMAIL_PORT", "70000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MANOUCHE_EMAIL_PORT"), "{err}");
    }

    #[test]
    fn email_settings_that_cannot_work_name_the_key() {
        for (toml, key) in [
            ("[email]\nbackend = \"file\"", "email.file_path"),
            ("[email]\nuse_tls = true\nuse_ssl = true", "email.use_tls"),
            ("[email]\nport = 0", "email.port"),
            ("[email]\ntimeout = \"0s\"", "email.timeout"),
            ("[email]\ndefault_from = \"\"", "email.default_from"),
            ("[email]\nbackend = \"pigeon\"", "backend"),
            ("[email]\nhots = \"x\"", "hots"),
        ] {
            let err = Settings::from_toml_str(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
        let smtp = Settings::from_toml_str("[email]\nbackend = \"smtp\"");
        if cfg!(feature = "smtp") {
            assert!(smtp.is_ok());
            let err = Settings::from_toml_str("[email]\nbackend = \"smtp\"\nusername = \"u\"")
                .unwrap_err()
                .to_string();
            assert!(err.contains("email.username"), "{err}");
        } else {
            let err = smtp.unwrap_err().to_string();
            assert!(
                err.contains("email.backend") && err.contains("`smtp` cargo feature"),
                "{err}"
            );
        }
        // The default with debug off follows the feature.
        let s = Settings::from_toml_str("").unwrap();
        let expected = if cfg!(feature = "smtp") {
            EmailBackendKind::Smtp
        } else {
            EmailBackendKind::Console
        };
        assert_eq!(s.email_backend(), expected);
    }

    #[test]
    fn csrf_defaults_file_and_environment() {
        let s = Settings::from_toml_str("").unwrap();
        assert!(s.csrf.enabled);
        assert_eq!(s.csrf.cookie_name, "csrftoken");
        assert_eq!(s.csrf.cookie_age, 31_449_600);
        assert_eq!(s.csrf.cookie_path, "/");
        assert_eq!(s.csrf.cookie_domain, None);
        assert!(!s.csrf.cookie_httponly);
        assert_eq!(s.csrf.cookie_samesite, "Lax");
        assert_eq!(s.csrf.header_name, "X-CSRFToken");
        assert!(s.csrf.trusted_origins.is_empty());
        assert!(s.csrf_cookie_secure(), "secure unless debug");
        assert!(
            !Settings::from_toml_str("debug = true")
                .unwrap()
                .csrf_cookie_secure()
        );

        let mut s = Settings::from_toml_str(
            "debug = true\n[csrf]\ncookie_secure = true\ntrusted_origins = [\"https://a.example\"]\ncookie_samesite = \"Strict\"\n",
        )
        .unwrap();
        assert!(s.csrf_cookie_secure());
        assert_eq!(s.csrf.trusted_origins, ["https://a.example"]);
        s.apply_env([
            (
                "MANOUCHE_CSRF_TRUSTED_ORIGINS",
                "https://*.example.com, http://localhost:3000,",
            ),
            ("MANOUCHE_CSRF_ENABLED", "off"),
            ("MANOUCHE_CSRF_COOKIE_SECURE", "false"),
            ("MANOUCHE_CSRF_COOKIE_DOMAIN", ".example.com"),
            ("MANOUCHE_CSRF_COOKIE_NAME", "xsrf"),
            ("MANOUCHE_CSRF_COOKIE_AGE", "3600"),
            ("MANOUCHE_CSRF_COOKIE_PATH", "/app/"),
            ("MANOUCHE_CSRF_COOKIE_HTTPONLY", "yes"),
            ("MANOUCHE_CSRF_COOKIE_SAMESITE", "lax"),
            ("MANOUCHE_CSRF_HEADER_NAME", "X-XSRF-Token"),
        ])
        .unwrap();
        assert_eq!(
            s.csrf.trusted_origins,
            ["https://*.example.com", "http://localhost:3000"]
        );
        assert!(!s.csrf.enabled);
        assert!(!s.csrf_cookie_secure());
        assert_eq!(s.csrf.cookie_domain.as_deref(), Some(".example.com"));
        assert_eq!(s.csrf.cookie_name, "xsrf");
        assert_eq!(s.csrf.cookie_age, 3600);
        assert_eq!(s.csrf.cookie_path, "/app/");
        assert!(s.csrf.cookie_httponly);
        assert_eq!(s.csrf.header_name, "X-XSRF-Token");
        s.apply_env([("MANOUCHE_CSRF_COOKIE_DOMAIN", "")]).unwrap();
        assert_eq!(s.csrf.cookie_domain, None);
    }

    #[test]
    fn bad_csrf_settings_stop_startup_naming_the_key() {
        for (toml, expected) in [
            (
                "[csrf]\ntrusted_origins = [\"example.com\"]",
                "invalid setting `csrf.trusted_origins`: \"example.com\" has no scheme",
            ),
            (
                "[csrf]\ntrusted_origins = [\"https://example.com/\"]",
                "`csrf.trusted_origins`: \"https://example.com/\" has a path",
            ),
            (
                "[csrf]\ncookie_samesite = \"sometimes\"",
                "`csrf.cookie_samesite`: \"sometimes\" is not a SameSite value",
            ),
            (
                "[csrf]\ncookie_samesite = \"None\"\ncookie_secure = false",
                "`csrf.cookie_samesite`: \"None\" needs a Secure cookie",
            ),
            (
                "[csrf]\nheader_name = \"X CSRF\"",
                "`csrf.header_name`: \"X CSRF\" is not an HTTP header name",
            ),
            (
                "[csrf]\ncookie_name = \"csrf token\"",
                "`csrf.cookie_name`: \"csrf token\" is not a cookie name",
            ),
            (
                "[csrf]\ncookie_path = \"app\"",
                "`csrf.cookie_path`: \"app\" must be a URL path",
            ),
            (
                "[csrf]\ncookie_domain = \"exa mple.com\"",
                "`csrf.cookie_domain`: \"exa mple.com\" is not a domain",
            ),
            (
                "[csrf]\ncookie_age = 99999999999",
                "`csrf.cookie_age`: 99999999999 seconds is more than a century",
            ),
            (
                "[csrf]\ntrusted_origin = []",
                "unknown field `trusted_origin`",
            ),
            (
                "[security]\ncsrf_cookie_secure = true",
                "`security.csrf_cookie_secure`: has moved: write `cookie_secure = true` (or false) in the [csrf] section",
            ),
        ] {
            let err = Settings::from_toml_str(toml).unwrap_err().to_string();
            assert!(err.contains(expected), "{toml}: {err}");
        }
        let mut s = Settings::default();
        let err = s
            .apply_env([("MANOUCHE_CSRF_TRUSTED_ORIGINS", "partner.example")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("csrf.trusted_origins"), "{err}");
        assert!(s.csrf.trusted_origins.is_empty(), "unchanged on error");
        let err = s
            .apply_env([("MANOUCHE_CSRF_COOKIE_AGE", "a year")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MANOUCHE_CSRF_COOKIE_AGE"), "{err}");
    }

    #[test]
    fn tls_needs_both_files() {
        let err = Settings::from_toml_str("[server]\ntls_cert = \"c.pem\"").unwrap_err();
        assert!(err.to_string().contains("tls_key"));
    }

    #[test]
    fn head_limits_have_nginx_defaults_and_sane_bounds() {
        let s = Settings::from_toml_str("").unwrap();
        assert_eq!(
            (
                s.server.max_request_line,
                s.server.max_header_line,
                s.server.max_header_size
            ),
            (8192, 8192, 32768)
        );
        for (toml, setting) in [
            ("max_request_line = 10", "server.max_request_line"),
            ("max_header_size = 2000000", "server.max_header_size"),
            ("max_header_line = 0", "server.max_header_line"),
            (
                "max_header_line = 16384\nmax_header_size = 8192",
                "server.max_header_line",
            ),
        ] {
            let err = Settings::from_toml_str(&format!("[server]\n{toml}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(setting), "{toml}: {err}");
        }
        let mut s = Settings::default();
        let err = s
            .apply_env([("MANOUCHE_MAX_HEADER_LINE", "100")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.max_header_line"), "{err}");
        assert_eq!(s.server.max_header_line, 8192, "left unchanged");
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let mut s = Settings {
            secret_key: "the-very-secret-key-0123456789".into(),
            database_url: "postgres://app:hunter2@db.internal:5432/site".into(),
            ..Settings::default()
        };
        s.email.password = "mail-pass".into();
        s.media.s3.secret_access_key = "s3-secret".into();
        let shown = format!("{s:?}");
        for secret in ["the-very-secret-key", "hunter2", "mail-pass", "s3-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("postgres://app:********@db.internal:5432/site"),
            "{shown}"
        );
        for (url, shown) in [
            ("postgres://u:p@h/db", "postgres://u:********@h/db"),
            ("u:p@h/db", "u:********@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h/db?user=u&password=p&x=1",
                "postgres://h/db?user=u&password=********&x=1",
            ),
            ("postgres://u:p:q@h", "postgres://u:********@h"),
            (
                "sqlite://db.sqlite3?mode=rwc",
                "sqlite://db.sqlite3?mode=rwc",
            ),
            ("postgres://u:p@h/a@b", "postgres://u:********@h/a@b"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
