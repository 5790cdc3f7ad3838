//! The `manage` commands end to end on SQLite: `makemigrations` writes the
//! file, `migrate` applies and unapplies it, `showmigrations` and
//! `sqlmigrate` run. (Commands that exit non-zero end the process, so only
//! successful runs are exercised here; their failures are covered at the
//! library level.)

use manouche::db::{Auto, Database, Model};
use manouche::{Project, Settings};

#[derive(Debug, Clone, Model)]
#[model(app = "mt_cli", table = "mt_cli_note")]
pub struct Note {
    pub id: Auto<i64>,
    #[model(max_length = 40)]
    pub text: String,
}

async fn manage(url: &str, args: &[&str]) {
    let mut settings = Settings::default();
    url.clone_into(&mut settings.database_url);
    let argv = std::iter::once("manage").chain(args.iter().copied());
    Project::new(settings)
        .app(manouche::App::new("mt_cli"))
        .manage_from(argv)
        .await
        .expect("command succeeds");
}

#[tokio::test]
async fn commands_write_apply_list_and_unapply_migrations() {
    let dir = std::env::temp_dir().join(format!("mt_cli_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Migrations are read from `migrations/` in the working directory.
    std::env::set_current_dir(&dir).expect("chdir");
    let url = format!("sqlite://{}", dir.join("db.sqlite3").display());

    manage(&url, &["makemigrations", "--dry-run"]).await;
    assert!(!dir.join("migrations").exists(), "--dry-run writes nothing");
    manage(&url, &["makemigrations", "mt_cli"]).await;
    let file = dir.join("migrations/mt_cli/0001_initial.json");
    let text = std::fs::read_to_string(&file).expect("migration written");
    assert!(text.contains("\"create_model\""), "{text}");
    // Up to date now: `--check` exits 0 (it would exit 1 otherwise).
    manage(&url, &["makemigrations", "--check", "mt_cli"]).await;

    manage(&url, &["migrate", "--plan"]).await;
    manage(&url, &["sqlmigrate", "mt_cli", "0001"]).await;
    let db = Database::connect(&url, &Default::default())
        .await
        .expect("db");
    assert!(
        Note::objects().count(&db).await.is_err(),
        "--plan applies nothing"
    );

    manage(&url, &["migrate"]).await;
    assert_eq!(Note::objects().count(&db).await.expect("table exists"), 0);
    manage(&url, &["showmigrations"]).await;
    manage(&url, &["migrate", "mt_cli", "zero"]).await;
    assert!(Note::objects().count(&db).await.is_err(), "unapplied");
    manage(&url, &["migrate", "mt_cli", "--fake"]).await;
    assert!(
        Note::objects().count(&db).await.is_err(),
        "--fake runs nothing"
    );
    let applied = manouche::migrations::executor::applied(&db)
        .await
        .expect("recorder");
    assert!(applied.contains(&("mt_cli".to_owned(), "0001_initial".to_owned())));
    // An applied migration whose file is gone is still listed (and the
    // command does not fail).
    std::fs::remove_dir_all(dir.join("migrations")).expect("remove files");
    manage(&url, &["showmigrations"]).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
