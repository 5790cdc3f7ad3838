//! Migrations: the database schema follows the models through files of
//! backend-neutral operations.
//!
//! - [`Operation`]s (create/delete/rename a model, add/remove/alter/rename a
//!   field, indexes, unique constraints, join tables, raw SQL) change a
//!   [`ProjectState`] and are turned into SQL per backend.
//! - A [`Migration`] is a named list of operations of one app, stored as
//!   `migrations/<app>/NNNN_name.json`; a [`MigrationSet`] reads them and
//!   orders them by their dependencies.
//! - The [`autodetector`] diffs the models against the state the migrations
//!   build, and writes the next migration (`manage makemigrations`).
//! - The [`executor`] applies and unapplies migrations, one transaction
//!   each, recording them in `manouche_migrations` (`manage migrate`).
//!
//! **Limitation:** migration files are read at run time from the folder
//! [`migrations_dir`] names (`migrations/` in the working directory, or
//! `MANOUCHE_MIGRATIONS_DIR`), not yet embedded in the binary. Deploy the
//! folder with the binary.
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
mod error;
pub mod executor;
mod loader;
mod operation;
mod schema_editor;
mod state;

pub use error::MigrationError;
pub use executor::Target;
pub use loader::{Migration, MigrationSet, migrations_dir, write_migration};
pub use operation::Operation;
pub use state::ProjectState;
