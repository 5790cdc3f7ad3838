//! The session stores: the database (the `sessions_session` table, through
//! the ORM), memory, Redis, or any other tower-sessions store.

use std::fmt;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error as StoreError, Result as StoreResult};
use tower_sessions::{MemoryStore, SessionStore};

use super::{SessionSettings, StoreKind};
use crate::StartupError;
use crate::db::{Database, DateTime, Model};

/// A stored session: Django's `django_session` row (key, JSON data,
/// expiry).
#[derive(Debug, Clone, Model)]
#[model(app = "sessions", table = "sessions_session")]
pub struct SessionRow {
    /// The key the cookie holds.
    #[model(primary_key, max_length = 40)]
    pub session_key: String,
    /// The session's values, as a JSON object.
    pub session_data: String,
    /// When the session stops being accepted.
    #[model(db_index)]
    pub expire_date: DateTime,
}

/// The project's session store (a service: `Service<Store>`), one of the
/// configured kinds or a custom one.
pub struct Store {
    kind: Kind,
}

enum Kind {
    Database(DatabaseStore),
    Memory(MemoryStore),
    #[cfg(feature = "redis")]
    Redis(tower_sessions_redis_store::RedisStore<tower_sessions_redis_store::fred::prelude::Pool>),
    Custom(Box<dyn SessionStore>),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match &self.kind {
            Kind::Database(_) => "Store::Database",
            Kind::Memory(_) => "Store::Memory",
            #[cfg(feature = "redis")]
            Kind::Redis(_) => "Store::Redis",
            Kind::Custom(_) => "Store::Custom",
        })
    }
}

impl Store {
    /// The store `[sessions]` asks for.
    ///
    /// # Errors
    /// The database store without a database, the Redis store without a
    /// URL (or without the `redis` feature), a URL that does not parse.
    pub fn from_settings(
        settings: &SessionSettings,
        database: Option<Database>,
    ) -> Result<Self, StartupError> {
        let kind = match settings.store {
            StoreKind::Database => Kind::Database(DatabaseStore {
                db: database.ok_or_else(|| {
                    StartupError::ImproperlyConfigured(
                        "[sessions] store = \"database\" (the default) needs a database: set database_url, or choose store = \"memory\" or \"redis\""
                            .to_owned(),
                    )
                })?,
            }),
            StoreKind::Memory => Kind::Memory(MemoryStore::default()),
            StoreKind::Redis => redis(settings)?,
        };
        Ok(Self { kind })
    }

    /// A store of one's own.
    pub fn custom(store: impl SessionStore) -> Self {
        Self {
            kind: Kind::Custom(Box::new(store)),
        }
    }

    /// Deletes the expired sessions where the store keeps them until told
    /// (the database); `None` for stores that expire them themselves.
    ///
    /// # Errors
    /// The database's error.
    pub async fn clear_expired(&self) -> Result<Option<u64>, crate::db::Error> {
        match &self.kind {
            Kind::Database(store) => Ok(Some(
                SessionRow::objects()
                    .filter(SessionRow::expire_date.lt(chrono::Utc::now()))
                    .delete(&store.db)
                    .await?,
            )),
            _ => Ok(None),
        }
    }

    fn inner(&self) -> &dyn SessionStore {
        match &self.kind {
            Kind::Database(s) => s,
            Kind::Memory(s) => s,
            #[cfg(feature = "redis")]
            Kind::Redis(s) => s,
            Kind::Custom(s) => s.as_ref(),
        }
    }
}

#[cfg(feature = "redis")]
fn redis(settings: &SessionSettings) -> Result<Kind, StartupError> {
    use tower_sessions_redis_store::fred::prelude::{Config, Pool, ReconnectPolicy};

    let url = settings
        .redis_url
        .clone()
        .or_else(|| std::env::var("REDIS_URL").ok())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            StartupError::ImproperlyConfigured(
                "[sessions] store = \"redis\" needs the server's address: set [sessions] redis_url or REDIS_URL (redis://host:6379/0)"
                    .to_owned(),
            )
        })?;
    let bad = |e: &dyn fmt::Display| {
        StartupError::ImproperlyConfigured(format!(
            "[sessions] redis_url {url:?} cannot be used: {e}"
        ))
    };
    let config = Config::from_url(&url).map_err(|e| bad(&e))?;
    let policy = ReconnectPolicy::new_exponential(0, 100, 30_000, 2);
    let pool = Pool::new(config, None, None, Some(policy), 4).map_err(|e| bad(&e))?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(bad(
            &"the Redis store connects from inside the tokio runtime",
        ));
    }
    for handle in pool.connect_pool() {
        let url = url.clone();
        tokio::spawn(async move {
            if let Ok(Err(e)) = handle.await {
                tracing::error!(target: "manouche::sessions", "the Redis session store at {url} stopped: {e}");
            }
        });
    }
    Ok(Kind::Redis(tower_sessions_redis_store::RedisStore::new(
        pool,
    )))
}

#[cfg(not(feature = "redis"))]
fn redis(_settings: &SessionSettings) -> Result<Kind, StartupError> {
    Err(StartupError::ImproperlyConfigured(
        "[sessions] store = \"redis\" needs manouche's `redis` feature (on by default): enable it in Cargo.toml"
            .to_owned(),
    ))
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> StoreResult<()> {
        // Always a fresh key: tower-sessions keeps a flushed session's old
        // key in its record, and a store would write it back (a fixation).
        record.id = Id::default();
        self.inner().create(record).await
    }

    async fn save(&self, record: &Record) -> StoreResult<()> {
        self.inner().save(record).await
    }

    async fn load(&self, session_id: &Id) -> StoreResult<Option<Record>> {
        self.inner().load(session_id).await
    }

    async fn delete(&self, session_id: &Id) -> StoreResult<()> {
        self.inner().delete(session_id).await
    }
}

/// Sessions in the `sessions_session` table.
#[derive(Debug, Clone)]
struct DatabaseStore {
    db: Database,
}

fn backend(e: crate::db::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn expire_date(record: &Record) -> DateTime {
    let nanos = record.expiry_date.unix_timestamp_nanos();
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX);
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, sub).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

fn row(record: &Record) -> StoreResult<SessionRow> {
    Ok(SessionRow {
        session_key: record.id.to_string(),
        session_data: serde_json::to_string(&record.data)
            .map_err(|e| StoreError::Encode(e.to_string()))?,
        expire_date: expire_date(record),
    })
}

impl DatabaseStore {
    async fn insert(&self, row: SessionRow) -> Result<(), crate::db::Error> {
        SessionRow::objects().create(&self.db, row).await.map(drop)
    }

    async fn update(&self, row: &SessionRow) -> Result<u64, crate::db::Error> {
        SessionRow::objects()
            .filter(SessionRow::session_key.eq(row.session_key.clone()))
            .update(
                &self.db,
                [
                    SessionRow::session_data.set(row.session_data.clone()),
                    SessionRow::expire_date.set(row.expire_date),
                ],
            )
            .await
    }
}

#[async_trait]
impl SessionStore for DatabaseStore {
    async fn create(&self, record: &mut Record) -> StoreResult<()> {
        // A new key until one is free (a clash of 128 random bits is
        // astronomically unlikely, but never overwrite someone's session).
        for _ in 0..8 {
            match self.insert(row(record)?).await {
                Ok(()) => return Ok(()),
                Err(crate::db::Error::UniqueViolation { .. }) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
        Err(StoreError::Backend(
            "no free session key after 8 tries".to_owned(),
        ))
    }

    async fn save(&self, record: &Record) -> StoreResult<()> {
        let row = row(record)?;
        if self.update(&row).await.map_err(backend)? > 0 {
            return Ok(());
        }
        // Gone meanwhile (cleared, or deleted by another request): write it
        // back under the same key; a concurrent writer's row wins the race.
        match self.insert(row.clone()).await {
            Ok(()) => Ok(()),
            Err(crate::db::Error::UniqueViolation { .. }) => {
                self.update(&row).await.map(drop).map_err(backend)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn load(&self, session_id: &Id) -> StoreResult<Option<Record>> {
        let Some(found) = SessionRow::objects()
            .filter(SessionRow::session_key.eq(session_id.to_string()))
            .filter(SessionRow::expire_date.gt(chrono::Utc::now()))
            .first(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let Ok(data) = serde_json::from_str(&found.session_data) else {
            // Django: corrupted data is an empty session, not an error.
            tracing::warn!(target: "manouche::security", "session data corrupted; starting a new session");
            return Ok(None);
        };
        let nanos = i128::from(found.expire_date.timestamp_nanos_opt().unwrap_or(i64::MAX));
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date: time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
                .map_err(|e| StoreError::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, session_id: &Id) -> StoreResult<()> {
        SessionRow::objects()
            .filter(SessionRow::session_key.eq(session_id.to_string()))
            .delete(&self.db)
            .await
            .map(drop)
            .map_err(backend)
    }
}
