//! Migrations: the database schema follows the models through files of
//! backend-neutral operations.
//!
//! - [`Operation`]s (create/delete/rename a model, add/remove/alter/rename a
//!   field, indexes, unique constraints, join tables, raw SQL, Rust
//!   functions) change a [`ProjectState`] and are turned into SQL per
//!   backend.
//! - [`data`] migrations: Rust functions an app registers
//!   ([`App::data_migration`](crate::App::data_migration)) and a `run_rust`
//!   operation calls inside the migration's transaction.
//! - A [`Migration`] is a named list of operations of one app, stored as
//!   `migrations/<app>/NNNN_name.json`; a [`MigrationSet`] reads them and
//!   orders them by their dependencies.
//! - The [`autodetector`] diffs the models against the state the migrations
//!   build, and writes the next migration (`manage makemigrations`).
//! - The [`executor`] applies and unapplies migrations, one transaction
//!   each, recording them in `manouche_migrations` (`manage migrate`).
//!
//! From the command line:
//!
//! | command | what it does |
//! |---|---|
//! | `makemigrations [APP...]` | writes `migrations/<app>/NNNN_name.json` for each changed app; `--check` exits 1 instead when there are changes (CI), `--dry-run` only prints, `--name`, `--empty APP` (a file to edit, for `run_sql` / `run_rust`) |
//! | `makemigrations --rename app.Model.old=new` / `--rename app.Model=New` | renames instead of drop + add (never guessed) |
//! | `makemigrations --default app.Model.column=VALUE` | the value existing rows get in a new (or newly) non-null column |
//! | `makemigrations` in a terminal | asks instead of stopping: "Was blog.Article.title renamed to headline (a VARCHAR(200) field)? [y/N]" (`n` drops + adds that pair only), "Was the model blog.Post renamed to Article? [y/N]" (only when both models have the same fields, as in Django), and a one-off value for existing rows (asked again until it parses for the column's type); see [`questioner`]. Quitting or the end of the input writes nothing and exits with 3 |
//! | `makemigrations --noinput` (`--no-input`) | never asks: a question is an error naming the flag that answers it (exit 1); also when stdin is not a terminal, and with `--check` |
//! | `migrate [APP] [NAME\|zero] [--plan] [--fake]` | applies, or unapplies down to `NAME` / everything of `APP`; a `run_rust` function the app does not register, or a missing reverse when unapplying, is refused before anything runs (also by `--plan`) |
//! | `showmigrations [APP...]` | `[X]` applied, `[ ]` not |
//! | `sqlmigrate APP NAME [--backwards]` | the SQL for the configured backend; a Rust function shows as `-- Rust function app.name (not SQL)` |
//!
//! A file is the JSON of a [`Migration`]; operations are tagged with `op`:
//!
//! ```json
//! {
//!   "app": "blog",
//!   "name": "0002_article_subtitle",
//!   "dependencies": [["blog", "0001_initial"]],
//!   "operations": [
//!     {"op": "rename_field", "model": "Article", "old": "title", "new": "headline"},
//!     {"op": "run_sql", "sqlite": ["UPDATE blog_article SET headline = trim(headline)"],
//!      "postgres": ["UPDATE blog_article SET headline = btrim(headline)"],
//!      "reverse_sqlite": [], "reverse_postgres": []},
//!     {"op": "run_rust", "function": "fill_slugs", "reverse": "clear_slugs"}
//!   ]
//! }
//! ```
//!
//! `run_sql` without `reverse_sqlite`/`reverse_postgres`, and `run_rust`
//! without `reverse`, make the migration irreversible: unapplying it fails
//! before anything runs.
//!
//! **Limitations** (each fails clearly rather than losing data):
//!
//! - Where migrations come from: the folder [`migrations_dir`] names
//!   (`migrations/` in the working directory, or `MANOUCHE_MIGRATIONS_DIR`)
//!   when it exists — so that a file `makemigrations` just wrote counts at
//!   once — and otherwise the files compiled into the binary with
//!   [`embed_migrations!`](crate::embed_migrations) and given to
//!   `Project::migrations`, so a deployed binary migrates without its
//!   source tree.
//! - Join tables cannot be renamed: renaming a many-to-many field (or
//!   its model) is refused by the autodetector unless `--no-rename-check`
//!   says to drop the old links.
//! - On PostgreSQL, unapplying the creation of models that refer to each
//!   other fails (and is rolled back): remove one of the foreign keys in a
//!   migration first. A type change uses `USING column::new_type`; values
//!   PostgreSQL cannot cast make the migration fail and roll back.
//!
//! ```
//! use manouche::db::{Auto, Database, Model};
//! use manouche::migrations::{MigrationSet, Target, autodetector, executor};
//!
//! #[derive(Model)]
//! #[model(app = "docs_mig")]
//! pub struct Page {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 80)]
//!     pub title: String,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let apps = vec!["docs_mig".to_owned()];
//! let new = autodetector::detect(&MigrationSet::default(), &[Page::schema()], &apps, &Default::default())?;
//! let set = MigrationSet::new(new)?;
//!
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! let plan = executor::plan(&set, &executor::applied(&db).await?, &Target::All)?;
//! executor::migrate(&db, &set, &plan, false, |line| println!("{line}")).await?;
//! assert_eq!(Page::objects().count(&db).await?, 0);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod autodetector;
pub mod data;
mod error;
pub mod executor;
mod loader;
mod operation;
pub mod questioner;
mod row_check;
mod schema_editor;
mod state;

pub use data::{DataMigrationFn, DataMigrationFunction, DataMigrationResult, DataMigrations};
pub use error::MigrationError;
pub use executor::Target;
pub use loader::{EmbeddedMigrations, Migration, MigrationSet, migrations_dir, write_migration};
pub use operation::Operation;
pub use row_check::{RowCheck, RowProblem};
pub use state::ProjectState;
