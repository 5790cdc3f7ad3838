//! TechEmpower-style endpoints served by an ordinary Manouche project, with
//! the framework's full default middleware stack, for load tests against
//! the peers in the shared bench folder (see BENCHMARKS.md).
//!
//! ```text
//! DATABASE_URL=sqlite://seeded.sqlite3 bench collectstatic
//! DATABASE_URL=sqlite://seeded.sqlite3 bench serve --bind 127.0.0.1:8000
//! ```
//!
//! `/plaintext`, `/json`, `/db` (one random row by primary key through the
//! ORM), `/fortunes` (all rows, one added, sorted, rendered by askama) and
//! `/static/site/app.css`.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

use manouche::db::{Auto, Db};
use manouche::prelude::*;
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// The peers' `bench_world` table.
#[derive(Debug, Clone, Serialize, Model)]
#[model(table = "bench_world")]
struct World {
    id: Auto<i64>,
    #[serde(rename = "randomNumber")]
    randomnumber: i32,
}

/// The peers' `bench_fortune` table.
#[derive(Debug, Clone, Model)]
#[model(table = "bench_fortune")]
struct Fortune {
    id: Auto<i64>,
    #[model(max_length = 2048)]
    message: String,
}

#[derive(Template, TemplateResponse)]
#[template(path = "fortunes.html")]
struct Fortunes {
    fortunes: Vec<Fortune>,
}

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

/// A random id in 1..=10000 from a per-thread xorshift generator.
fn random_id() -> i64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u8) | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x % 10_000) as i64 + 1
    })
}

async fn db(db: Db) -> Result<Json<World>> {
    let id = random_id();
    let world = World::objects().filter(World::id.eq(id)).get(&db).await?;
    Ok(Json(world))
}

async fn fortunes(db: Db) -> Result<Fortunes> {
    let mut fortunes = Fortune::objects().all(&db).await?;
    fortunes.push(Fortune {
        id: Auto::from(0),
        message: "Additional fortune added at request time.".to_owned(),
    });
    fortunes.sort_by(|a, b| a.message.cmp(&b.message));
    Ok(Fortunes { fortunes })
}

fn urls() -> Urls {
    Urls::new()
        .path("plaintext", get(plaintext), "plaintext")
        .path("json", get(json), "json")
        .path("db", get(db), "db")
        .path("fortunes", get(fortunes), "fortunes")
}

#[tokio::main]
async fn main() -> manouche::Result<()> {
    // The settings are compiled in, so the binary runs from any folder;
    // environment variables still override them.
    let mut settings = Settings::from_toml_str(include_str!("../settings.toml"))?;
    settings.apply_env(std::env::vars())?;
    Project::new(settings)
        .app(manouche::contrib::staticfiles::app())
        .urls(urls())
        .manage()
        .await
}
