//! `bench seed --from PEERS_DB`: fills the bench's database with the
//! peers' rows, so that every server answers from the same data, and
//! makes the user the login scripts use.
//!
//! The rows are read from the Django peer's SQLite file (opened read-only:
//! the peers keep using it) and written through the ORM, so the target
//! can be SQLite or PostgreSQL. The user gets a password hashed with the
//! project's `[auth.hasher]` settings; the password validators are not
//! applied (the peers' password is a short one).

use std::path::PathBuf;

use manouche::StartupError;
use manouche::app::CommandContext;
use manouche::clap::{self, Arg, ArgAction};
use manouche::contrib::auth::{Auth, User, hashers};
use manouche::db::{Auto, Backend, Executor, Model, Statement};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::views::{Fortune, World};

/// The command's arguments.
pub(crate) fn cli() -> clap::Command {
    clap::Command::new("seed")
        .about(
            "Copy the peers' worlds and fortunes into the database and make the bench's superuser",
        )
        .arg(
            Arg::new("from")
                .long("from")
                .value_name("PEERS_DB")
                .value_parser(clap::value_parser!(PathBuf))
                .required(true)
                .help("The Django peer's SQLite file (/tmp/manouche-peers/django/db.sqlite3)"),
        )
        .arg(
            Arg::new("username")
                .long("username")
                .env("MANOUCHE_SUPERUSER_USERNAME")
                .default_value("admin")
                .help("The superuser made (or whose password is reset)"),
        )
        .arg(
            Arg::new("password")
                .long("password")
                .env("MANOUCHE_SUPERUSER_PASSWORD")
                .hide_env_values(true)
                .default_value("benchpass123")
                .help("Its password"),
        )
        .arg(
            Arg::new("no-user")
                .long("no-user")
                .action(ArgAction::SetTrue)
                .help("Copy the rows only"),
        )
}

/// What the peers' file holds.
pub(crate) struct PeerRows {
    pub(crate) worlds: Vec<World>,
    pub(crate) fortunes: Vec<Fortune>,
}

pub(crate) async fn read_peers(path: &std::path::Path) -> Result<PeerRows, StartupError> {
    if !path.is_file() {
        return Err(StartupError::improperly_configured(format!(
            "{} is not a file: build the peers first (setup-peers.sh in the shared bench folder), or give --from the Django peer's db.sqlite3",
            path.display()
        )));
    }
    let failed = |e: sqlx::Error| {
        StartupError::improperly_configured(format!(
            "cannot read the peers' rows from {}: {e} (is it the Django peer's seeded db.sqlite3?)",
            path.display()
        ))
    };
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(failed)?;
    let worlds: Vec<(i64, i32)> =
        sqlx::query_as("SELECT id, randomnumber FROM bench_world ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .map_err(failed)?;
    let fortunes: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, message FROM bench_fortune ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .map_err(failed)?;
    if worlds.is_empty() || fortunes.is_empty() {
        return Err(StartupError::improperly_configured(format!(
            "{} has {} worlds and {} fortunes: seed the peers first (setup-peers.sh)",
            path.display(),
            worlds.len(),
            fortunes.len()
        )));
    }
    Ok(PeerRows {
        worlds: worlds
            .into_iter()
            .map(|(id, randomnumber)| World {
                id: Auto::from(id),
                randomnumber,
            })
            .collect(),
        fortunes: fortunes
            .into_iter()
            .map(|(id, message)| Fortune {
                id: Auto::from(id),
                message,
            })
            .collect(),
    })
}

/// After rows were written with their own keys, PostgreSQL's sequence
/// must start past them (Django's `sqlsequencereset`).
async fn reset_sequence(db: &dyn Executor, table: &str) -> Result<(), manouche::db::Error> {
    if db.backend() == Backend::Postgres {
        db.execute(Statement::raw(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )))
        .await?;
    }
    Ok(())
}

/// Runs `bench seed`.
pub(crate) async fn run(ctx: CommandContext) -> Result<(), StartupError> {
    let matches = ctx.matches();
    let from = matches
        .get_one::<PathBuf>("from")
        .expect("--from is required");
    let rows = read_peers(from).await?;
    let db = ctx.database()?;
    let (worlds, fortunes) = (rows.worlds.len(), rows.fortunes.len());
    db.transaction(|tx| async move {
        World::objects().delete(&tx).await?;
        Fortune::objects().delete(&tx).await?;
        World::objects().bulk_create(&tx, rows.worlds).await?;
        Fortune::objects().bulk_create(&tx, rows.fortunes).await?;
        reset_sequence(&tx, World::meta().table).await?;
        reset_sequence(&tx, Fortune::meta().table).await?;
        Ok::<_, manouche::db::Error>(())
    })
    .await?;
    println!(
        "Copied {worlds} worlds and {fortunes} fortunes from {}.",
        from.display()
    );
    if matches.get_flag("no-user") {
        return Ok(());
    }
    let username = matches
        .get_one::<String>("username")
        .expect("has a default")
        .clone();
    let password = matches
        .get_one::<String>("password")
        .expect("has a default")
        .clone();
    if username.is_empty() || password.is_empty() {
        return Err(StartupError::improperly_configured(
            "--username and --password must not be empty",
        ));
    }
    let hasher = ctx.service::<Auth>()?.settings().hasher.clone();
    let hash = tokio::task::spawn_blocking(move || hashers::make_password(&password, &hasher))
        .await
        .map_err(|e| StartupError::improperly_configured(format!("hashing failed: {e}")))?;
    let found = User::objects()
        .filter(User::username.eq(username.clone()))
        .first(&db)
        .await?;
    let made = found.is_none();
    let mut user = found.unwrap_or_else(|| User {
        username: username.clone(),
        ..User::default()
    });
    user.password = hash;
    user.is_staff = true;
    user.is_superuser = true;
    user.is_active = true;
    if made {
        User::objects().create(&db, user).await?;
    } else {
        user.save(&db).await?;
    }
    println!(
        "Superuser {username:?} {}.",
        if made {
            "created"
        } else {
            "updated (password reset)"
        }
    );
    Ok(())
}
