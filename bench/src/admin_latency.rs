//! `bench admin-latency`: the admin's list page on a big table, in
//! process. Fills `bench_article` up to `--rows` (one SQL statement;
//! nothing is deleted), refreshes the planner's statistics, logs in as the
//! bench's superuser and times `--requests` requests of each page the
//! issue of big lists names: the first page, page 10,000 (reached by its
//! keyset cursor, as the list's Next links reach it), a search, and a
//! filter. Prints the median and the 99th percentile of each.
//!
//! ```text
//! DATABASE_URL=sqlite:///tmp/admin-1m.sqlite3 target/release/bench migrate
//! DATABASE_URL=sqlite:///tmp/admin-1m.sqlite3 target/release/bench admin-latency --rows 1000000
//! ```

use std::time::{Duration, Instant};

use manouche::StartupError;
use manouche::app::CommandContext;
use manouche::clap::{self, Arg};
use manouche::contrib::auth::{Auth, User};
use manouche::db::{Backend, Executor, Model, Statement};
use manouche::paginator::KeysetPaginator;
use manouche::test::Client;

use crate::views::Article;

const USERNAME: &str = "admin";
const PASSWORD: &str = "benchpass123";

/// The command's arguments.
pub(crate) fn cli() -> clap::Command {
    clap::Command::new("admin-latency")
        .about("Time the admin's article list on a big table, in process")
        .arg(
            Arg::new("rows")
                .long("rows")
                .value_parser(clap::value_parser!(u64))
                .default_value("1000000")
                .help("Articles the table is filled up to"),
        )
        .arg(
            Arg::new("requests")
                .long("requests")
                .value_parser(clap::value_parser!(usize))
                .default_value("100")
                .help("Requests timed per page"),
        )
}

fn failed(e: impl std::fmt::Display) -> StartupError {
    StartupError::improperly_configured(e.to_string())
}

/// Adds articles `from..=to` in one statement, as the Django peer's seed
/// makes them (a 500-byte body, every other one published).
async fn fill(db: &dyn Executor, from: u64, to: u64, author: i64) -> Result<(), StartupError> {
    let sql = match db.backend() {
        Backend::Postgres => format!(
            "INSERT INTO bench_article (title, body, published, created, author_id) \
             SELECT 'Article ' || i, repeat('x', 500), i % 2 = 0, \
             TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 second', {author} \
             FROM generate_series({from}, {to}) AS i"
        ),
        _ => format!(
            "WITH RECURSIVE s(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM s WHERE i < {to}) \
             INSERT INTO bench_article (title, body, published, created, author_id) \
             SELECT 'Article ' || i, printf('%.500c', 'x'), i % 2 = 0, \
             strftime('%Y-%m-%dT%H:%M:%S+00:00', '2026-01-01', '+' || i || ' seconds'), {author} FROM s"
        ),
    };
    db.execute(Statement::raw(sql)).await.map_err(failed)?;
    Ok(())
}

/// The median and the 99th percentile.
fn summary(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times[i]
    };
    (at(0.5), at(0.99))
}

/// Runs `bench admin-latency`.
pub(crate) async fn run(ctx: CommandContext) -> Result<(), StartupError> {
    let rows = *ctx.matches().get_one::<u64>("rows").expect("has a default");
    let requests = *ctx
        .matches()
        .get_one::<usize>("requests")
        .expect("has a default");
    let db = ctx.database()?;
    let user = match User::objects()
        .filter(User::username.eq(USERNAME))
        .first(&db)
        .await?
    {
        Some(user) => user,
        None => {
            let hasher = ctx.service::<Auth>()?.settings().hasher.clone();
            let mut user = User::new(USERNAME, PASSWORD, &hasher);
            user.is_staff = true;
            user.is_superuser = true;
            User::objects().create(&db, user).await?
        }
    };
    let author = user.id.get().ok_or_else(|| failed("the user has no key"))?;
    let have = u64::try_from(Article::objects().count(&db).await?).unwrap_or(0);
    if have < rows {
        let started = Instant::now();
        fill(&db, have + 1, rows, author).await?;
        println!(
            "added {} articles in {:.1} s",
            rows - have,
            started.elapsed().as_secs_f64()
        );
    }
    db.execute(Statement::raw("ANALYZE"))
        .await
        .map_err(failed)?;
    let estimate = db.estimated_rows(Article::meta().table).await?;
    println!("{rows} articles; the database's estimate: {estimate:?}");

    // Page 10,000's cursor: the row before it, in the list's order (on a
    // table that has one).
    let order = Article::objects().order_by_names(["-id"]).map_err(failed)?;
    let before = order
        .clone()
        .offset(10_000 * 50 - 1)
        .limit(1)
        .first(&db)
        .await?;
    let cursor = match before {
        Some(before) => Some(
            KeysetPaginator::new(order, 50)
                .and_then(|k| k.cursor_after(&before))
                .map_err(failed)?,
        ),
        None => None,
    };

    let mut settings = ctx.settings().clone();
    settings.debug = false;
    let client = Client::new(crate::project(settings)).map_err(failed)?;
    let r = client
        .post("/accounts/login/")
        .form(&[("username", USERNAME), ("password", PASSWORD)])
        .send()
        .await;
    if r.status() != 302 {
        return Err(failed(format!(
            "logging in as {USERNAME:?} answered {}: if the user exists with another password, \
             `bench seed` resets it",
            r.status()
        )));
    }
    let mut pages = vec![("first page", "/admin/bench/article/".to_owned())];
    if let Some(cursor) = cursor {
        pages.push((
            "page 10,000 (cursor)",
            format!("/admin/bench/article/?cursor={cursor}"),
        ));
    }
    pages.extend([
        (
            "search `Article 12`",
            "/admin/bench/article/?q=Article+12".to_owned(),
        ),
        (
            "filter published",
            "/admin/bench/article/?published=true".to_owned(),
        ),
        (
            "search + filter",
            "/admin/bench/article/?q=Article+12&published=false".to_owned(),
        ),
    ]);
    println!("| page | median | p99 | rows shown |");
    println!("|---|---|---|---|");
    for (name, path) in pages {
        let mut times = Vec::with_capacity(requests);
        let mut shown = 0;
        for i in 0..requests + 5 {
            let started = Instant::now();
            let r = client.get(&path).send().await;
            let took = started.elapsed();
            if r.status() != 200 {
                return Err(failed(format!(
                    "{path} answered {}: {}",
                    r.status(),
                    r.text()
                )));
            }
            if i >= 5 {
                times.push(took);
            } else {
                shown = r.text().matches("name=\"_selected_action\"").count();
            }
        }
        let (median, p99) = summary(times);
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {shown} |",
            median.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
