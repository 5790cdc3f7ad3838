//! The bench app: the peers' two tables and the endpoints the load tests
//! hit, each doing the same work as the Django peer's view of the same
//! name (`peers/django/bench/views.py` in the shared bench folder).

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

use manouche::contrib::admin::{AdminSite, ModelAdmin};
use manouche::contrib::auth::{CurrentUser, User};
use manouche::contrib::sessions::Session;
use manouche::db::{Auto, DateTime, Db, ForeignKey};
use manouche::prelude::*;
use serde::Serialize;

/// The app: its models, their migration (compiled in, so that the binary
/// migrates from any folder), `manage seed` and the endpoints.
pub(crate) fn app() -> App {
    App::new("bench")
        .model::<World>()
        .model::<Fortune>()
        .model::<Article>()
        .migrations(manouche::embed_migrations!("src/migrations"))
        .command(crate::seed::cli(), crate::seed::run)
}

/// The admin the Django peer's `bench/admin.py` has: the articles' list
/// with the same columns, search, filter and page size; the users, so
/// that the author column shows the username.
pub(crate) fn admin() -> AdminSite {
    AdminSite::new()
        .register(
            ModelAdmin::<Article>::new()
                .list_display(&["title", "published", "created", "author"])
                .list_filter(&["published"])
                .search_fields(&["title"])
                .per_page(50)
                .title(|a| a.title.clone()),
        )
        .register(
            ModelAdmin::<User>::new()
                .list_display(&["username", "email", "is_staff"])
                .search_fields(&["username"])
                .title(|u| u.username.clone()),
        )
}

/// The peers' `bench_article` table (Django's `bench.Article`).
#[derive(Debug, Clone, Model)]
#[model(app = "bench", table = "bench_article", impl_default)]
pub(crate) struct Article {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 200)]
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) published: bool,
    #[model(auto_now_add)]
    pub(crate) created: DateTime,
    pub(crate) author: ForeignKey<User>,
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// The peers' `bench_world` table.
#[derive(Debug, Clone, Serialize, Model)]
#[model(app = "bench", table = "bench_world")]
pub(crate) struct World {
    pub(crate) id: Auto<i64>,
    #[serde(rename = "randomNumber")]
    pub(crate) randomnumber: i32,
}

/// The peers' `bench_fortune` table.
#[derive(Debug, Clone, Model)]
#[model(app = "bench", table = "bench_fortune")]
pub(crate) struct Fortune {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 2048)]
    pub(crate) message: String,
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

/// One session read and one write per request: the counter `n` in the
/// visitor's session, plus one (Django's `session` view). A request
/// without a session cookie starts a session (an insert instead).
async fn session(session: Session) -> Result<String> {
    let n = session.get::<u64>("n").await?.unwrap_or(0) + 1;
    session.insert("n", n).await?;
    Ok(n.to_string())
}

/// The logged-in user's username; an empty 403 for anonymous visitors
/// (Django's `whoami` view): the session and the user are loaded, nothing
/// else.
async fn whoami(CurrentUser(user): CurrentUser) -> Response {
    match user {
        Some(user) => user.username.into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

/// The endpoints, at the peers' paths (no trailing slash).
pub(crate) fn urls() -> Urls {
    Urls::new()
        .path("plaintext", get(plaintext), "plaintext")
        .path("json", get(json), "json")
        .path("db", get(db), "db")
        .path("fortunes", get(fortunes), "fortunes")
        .path("session", get(session), "session")
        .path("whoami", get(whoami), "whoami")
}
