//! Helpers for testing code that uses the database.
//!
//! [`for_each_database`] runs a test body on a fresh SQLite database, and
//! also on a fresh PostgreSQL database when `DATABASE_URL` points at one
//! (a uniquely named database is created, then dropped).
//!
//! ```no_run
//! use manouche::db::testing::for_each_database;
//!
//! #[tokio::test]
//! async fn counts() {
//!     for_each_database(|db| async move {
//!         assert_eq!(db.query_count(), 0);
//!         Ok(())
//!     })
//!     .await;
//! }
//! ```

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt as _;

use super::{Database, DatabaseOptions, Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "manouche_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh database for one test, removed by [`TestDatabase::cleanup`].
#[derive(Debug)]
pub struct TestDatabase {
    /// The database to test with.
    pub db: Database,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh SQLite database in a temporary file (WAL mode, like production).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the file cannot be created.
    pub async fn sqlite() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("{}.sqlite3", unique_name()));
        let url = format!("sqlite://{}", path.display());
        let db = Database::connect(&url, &DatabaseOptions::default()).await?;
        Ok(Self {
            db,
            url,
            cleanup: Cleanup::File(path),
        })
    }

    /// A fresh PostgreSQL database created through the server at `url`.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the server cannot be reached or the database
    /// cannot be created.
    pub async fn postgres(url: &str) -> Result<Self> {
        let name = unique_name();
        let admin = Database::connect(
            url,
            &DatabaseOptions {
                max_connections: 1,
                ..Default::default()
            },
        )
        .await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await;
        let base = match url.rfind('/') {
            Some(i) if i > "postgres://".len() => &url[..i],
            _ => url,
        };
        let query = url.find('?').map_or("", |i| &url[i..]);
        let fresh_url = format!("{base}/{name}{query}");
        let db = Database::connect(&fresh_url, &DatabaseOptions::default()).await?;
        Ok(Self {
            db,
            url: fresh_url,
            cleanup: Cleanup::Postgres {
                admin_url: url.to_owned(),
                name,
            },
        })
    }

    /// Closes the database and removes it.
    ///
    /// # Errors
    ///
    /// The database's error when the drop fails.
    pub async fn cleanup(self) -> Result<()> {
        self.db.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
                Ok(())
            }
            Cleanup::Postgres { admin_url, name } => {
                let admin = Database::connect(
                    &admin_url,
                    &DatabaseOptions {
                        max_connections: 1,
                        ..Default::default()
                    },
                )
                .await?;
                let res = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                admin.close().await;
                res
            }
        }
    }
}

/// Runs `test` on a fresh SQLite database, then on a fresh PostgreSQL
/// database when `DATABASE_URL` is a `postgres://` URL. Each database is
/// removed afterwards, even when the test fails.
///
/// # Panics
///
/// When `test` panics or returns an error (naming the backend), or when a
/// database cannot be set up.
pub async fn for_each_database<F, Fut>(test: F)
where
    F: Fn(Database) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    for_each_database_with_url(|db, _url| test(db)).await;
}

/// Like [`for_each_database`], also passing the database's URL, for tests of
/// code that connects by itself (a project's `database_url`, a `manage`
/// command).
///
/// # Panics
///
/// As [`for_each_database`].
pub async fn for_each_database_with_url<F, Fut>(test: F)
where
    F: Fn(Database, String) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut targets = vec![None];
    if let Ok(url) = std::env::var("DATABASE_URL")
        && (url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        targets.push(Some(url));
    }
    for target in targets {
        let fresh = match &target {
            None => TestDatabase::sqlite().await,
            Some(url) => TestDatabase::postgres(url).await,
        };
        let fresh = match fresh {
            Ok(fresh) => fresh,
            Err(e) => panic!("could not set up the test database: {e}"),
        };
        let backend = fresh.db.backend();
        let outcome = AssertUnwindSafe(test(fresh.db.clone(), fresh.url.clone()))
            .catch_unwind()
            .await;
        let cleaned = fresh.cleanup().await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("test failed on {backend:?}: {e}"),
            Err(panic) => {
                eprintln!("test panicked on {backend:?}");
                std::panic::resume_unwind(panic)
            }
        }
        if let Err(e) = cleaned {
            panic!("could not drop the test database: {e}");
        }
    }
}

/// Runs `fut` and returns its output with the number of statements it ran
/// on `db`.
pub async fn count_queries<T>(db: &Database, fut: impl Future<Output = T>) -> (T, u64) {
    let before = db.query_count();
    let out = fut.await;
    (out, db.query_count() - before)
}
