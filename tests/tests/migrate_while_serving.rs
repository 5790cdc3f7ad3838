//! A site keeps serving while another process migrates its database
//! (PostgreSQL, when `DATABASE_URL` names one): the example site serves
//! its blog pages to a few keep-alive clients while this test process
//! applies a migration that changes the type of a column those pages read
//! (`blog_article.title`, `VARCHAR(200)` to `TEXT`, then back). The
//! server's connections hold prepared statements whose result type
//! changed; PostgreSQL refuses them ("cached plan must not change result
//! type"), and each connection clears its statements and runs the one that
//! failed again. No request fails, and no connection prepares again more
//! than once per change (`manouche_db_statements_prepared_again_total`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Backend, Database};
use manouche::migrations::executor::{self, Target};
use manouche::migrations::{Migration, MigrationSet, Operation};
use manouche::settings::DatabaseSettings;
use manouche_e2e::{Site, free_port};

/// `blog.0001_initial` as written, and a step after it that changes
/// `Article.title` to `max_length` `None` (`TEXT`). Applied to a database
/// where the whole site is migrated, the step's state is the initial one
/// plus later columns it does not touch: PostgreSQL alters the one column
/// in place.
fn widening_set() -> MigrationSet {
    let dir = manouche_e2e::workspace_root().join("migrations/blog");
    let initial: Migration = serde_json::from_str(
        &std::fs::read_to_string(dir.join("0001_initial.json"))
            .expect("the blog's first migration"),
    )
    .expect("a migration file");
    let mut state = manouche::migrations::ProjectState::default();
    initial.apply(&mut state).expect("applies");
    let mut title = state
        .model("blog", "Article")
        .and_then(|m| m.table.column("title"))
        .cloned()
        .expect("blog.Article.title");
    assert_eq!(title.max_length, Some(200));
    title.max_length = None;
    let step = Migration {
        app: "blog".into(),
        name: "9001_title_text".into(),
        dependencies: vec![("blog".into(), "0001_initial".into())],
        operations: vec![Operation::AlterField {
            model: "Article".into(),
            column: title,
            foreign_key: None,
            fill: None,
        }],
    };
    MigrationSet::new(vec![initial, step]).expect("set")
}

async fn migrate(db: &Database, set: &MigrationSet, target: Target) {
    let applied = executor::applied(db).await.expect("recorder");
    let plan = executor::plan(set, &applied, &target).expect("plan");
    executor::migrate(db, set, &plan, false, |_| {})
        .await
        .expect("migrate");
}

/// The counter `name` in Prometheus text, 0 when absent.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test]
async fn a_site_serving_while_another_process_changes_a_column_type_answers_every_request() {
    for_each_database_with_url(|db, url| async move {
        if db.backend() != Backend::Postgres {
            // SQLite prepares nothing on a server: nothing to show.
            return Ok(());
        }
        let site = Site::migrated(&db, &url);
        let metrics = format!("127.0.0.1:{}", free_port());
        let server = site.serve_with(&["--metrics", &metrics], &[]);
        let pages = [server.url("/blog/"), server.url("/blog/articles/1/")];

        // Clients on keep-alive connections, until told to stop.
        let stop = Arc::new(AtomicBool::new(false));
        let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let clients: Vec<_> = (0..6)
            .map(|i| {
                let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
                let page = pages[i % pages.len()].clone();
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut statuses = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        match http.get(&page).send().await {
                            Ok(r) if r.status() == 200 => {
                                let _ = r.bytes().await;
                                served.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(r) => {
                                statuses.push(r.status().as_u16());
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => {
                                statuses.push(0);
                                failed.fetch_add(1, Ordering::SeqCst);
                                eprintln!("{page}: {e}");
                            }
                        }
                    }
                    statuses
                })
            })
            .collect();
        let settle = || async {
            let before = served.load(Ordering::SeqCst);
            while served.load(Ordering::SeqCst) < before + 200 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        settle().await;

        // Widen, serve on, narrow back, serve on: two changes of the type
        // the pages' statements return.
        let set = widening_set();
        migrate(&db, &set, Target::All).await;
        settle().await;
        migrate(
            &db,
            &set,
            Target::Migration("blog".into(), "0001_initial".into()),
        )
        .await;
        settle().await;
        stop.store(true, Ordering::SeqCst);
        let mut statuses = Vec::new();
        for client in clients {
            statuses.extend(client.await.expect("client"));
        }
        assert_eq!(
            failed.load(Ordering::SeqCst),
            0,
            "every request answered 200 (got {statuses:?}); server log:\n{}",
            server.output()
        );

        // Each of the pool's connections prepared again at most once per
        // change; at least one did (or the test showed nothing).
        let text = reqwest::get(format!("http://{metrics}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let again = counter(&text, "manouche_db_statements_prepared_again_total");
        let connections = u64::from(DatabaseSettings::default().max_connections);
        assert!(
            (1..=2 * connections).contains(&again),
            "{again} statements prepared again for {connections} connections and 2 changes"
        );
        Ok(())
    })
    .await;
}
