//! PostgreSQL specifics: connection options, column types and error codes.

use std::str::FromStr;

use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPoolOptions};

use super::Dialect;
use crate::db::{DatabaseOptions, Error, Result, SqlType};

/// The Postgres dialect.
pub(crate) struct Postgres;

impl Dialect for Postgres {
    fn query_builder(&self) -> &dyn sea_query::QueryBuilder {
        &sea_query::PostgresQueryBuilder
    }

    fn schema_builder(&self) -> &dyn sea_query::SchemaBuilder {
        &sea_query::PostgresQueryBuilder
    }

    fn column_type(
        &self,
        ty: SqlType,
        max_length: Option<u32>,
        decimal: Option<(u32, u32)>,
    ) -> String {
        match (ty, decimal) {
            (SqlType::Decimal, Some((digits, places))) => format!("NUMERIC({digits}, {places})"),
            _ => column_type(ty, max_length),
        }
    }

    fn auto_column_type(&self, ty: SqlType) -> String {
        match ty {
            SqlType::Integer | SqlType::SmallInt => "SERIAL".to_owned(),
            _ => "BIGSERIAL".to_owned(),
        }
    }

    fn classify(&self, err: Box<dyn DatabaseError>) -> Error {
        classify(err)
    }
}

pub(crate) async fn connect(url: &str, options: &DatabaseOptions) -> Result<sqlx::PgPool> {
    let (pool, connect) = pool_options(url, options)?;
    pool.connect_with(connect)
        .await
        .map_err(|source| Error::Connect { source })
}

/// A pool that opens its first connection when first used (needs a Tokio
/// runtime).
pub(crate) fn connect_lazy(url: &str, options: &DatabaseOptions) -> Result<sqlx::PgPool> {
    let (pool, connect) = pool_options(url, options)?;
    Ok(pool.connect_lazy_with(connect))
}

fn pool_options(url: &str, options: &DatabaseOptions) -> Result<(PgPoolOptions, PgConnectOptions)> {
    let mut connect =
        PgConnectOptions::from_str(url).map_err(|source| Error::Connect { source })?;
    if let Some(timeout) = options.statement_timeout {
        // Sent at connection start-up (`-c statement_timeout=...`): no
        // round trip per query.
        let ms = timeout.as_millis().max(1);
        connect = connect.options([("statement_timeout", format!("{ms}ms"))]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .min_connections(options.min_connections)
        .acquire_timeout(options.acquire_timeout)
        .idle_timeout(options.idle_timeout)
        .test_before_acquire(options.health_checks);
    Ok((pool, connect))
}

fn column_type(ty: SqlType, max_length: Option<u32>) -> String {
    match ty {
        SqlType::Bool => "BOOLEAN".into(),
        SqlType::SmallInt => "SMALLINT".into(),
        SqlType::Integer => "INTEGER".into(),
        SqlType::BigInt => "BIGINT".into(),
        SqlType::Double => "DOUBLE PRECISION".into(),
        SqlType::Decimal => "NUMERIC".into(),
        SqlType::String => match max_length {
            Some(n) => format!("VARCHAR({n})"),
            None => "TEXT".into(),
        },
        SqlType::Date => "DATE".into(),
        SqlType::Time => "TIME".into(),
        SqlType::DateTime => "TIMESTAMPTZ".into(),
        SqlType::Uuid => "UUID".into(),
        SqlType::Json => "JSONB".into(),
        SqlType::Bytes => "BYTEA".into(),
    }
}

/// Whether `err` is PostgreSQL refusing to run a prepared statement whose
/// result columns changed type since it was prepared ("cached plan must
/// not change result type"): another connection altered the table, e.g. a
/// `migrate` while this process serves. The statement is right; only the
/// connection's prepared copy is stale. Recognised by the function that
/// raises it, whatever the server's language, or else by its English text.
pub(crate) fn is_stale_plan(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.try_downcast_ref::<PgDatabaseError>().is_some_and(|pg| {
        pg.code() == "0A000"
            && (pg.routine() == Some("RevalidateCachedQuery")
                || pg
                    .message()
                    .starts_with("cached plan must not change result type"))
    })
}

/// `Key (a, b)=(1, 2) already exists.` → `["a", "b"]`.
fn key_columns(detail: Option<&str>) -> Vec<String> {
    detail
        .and_then(|d| d.strip_prefix("Key ("))
        .and_then(|d| d.split_once(")="))
        .map(|(cols, _)| {
            cols.split(", ")
                .map(|c| c.trim_matches('"').to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn classify(err: Box<dyn DatabaseError>) -> Error {
    let Some(pg) = err.try_downcast_ref::<PgDatabaseError>() else {
        return Error::Query {
            source: sqlx::Error::Database(err),
        };
    };
    let table = pg.table().unwrap_or_default().to_owned();
    match pg.code() {
        "23505" => Error::UniqueViolation {
            table,
            fields: key_columns(pg.detail()),
        },
        "23503" => Error::ForeignKeyViolation {
            table,
            fields: key_columns(pg.detail()),
        },
        "23502" => Error::NotNullViolation {
            table,
            field: pg.column().unwrap_or_default().to_owned(),
        },
        "23514" => Error::CheckViolation {
            table,
            constraint: pg.constraint().unwrap_or_default().to_owned(),
        },
        "42P01" => {
            // relation "blog_article" does not exist
            let table = pg
                .message()
                .split('"')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            Error::MissingTable { table }
        }
        "42703" => Error::MissingColumn {
            message: pg.message().to_owned(),
        },
        // lock_not_available: past lock_timeout (migrations set one).
        "55P03" => Error::LockTimeout {
            message: pg.message().to_owned(),
        },
        // query_canceled: by statement_timeout (a cancel request from
        // another session gives the same code and is as much a timeout).
        "57014" => Error::StatementTimeout {
            message: pg.message().to_owned(),
        },
        _ => Error::Query {
            source: sqlx::Error::Database(err),
        },
    }
}
