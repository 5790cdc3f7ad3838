//! Data migrations in Rust: functions an app registers by name, run by a
//! `run_rust` operation inside the migration's transaction.
//!
//! A schema change often needs the rows adjusted too (fill a new column,
//! split a field in two). Write an `async fn` taking the migration's
//! [`Transaction`], register it on the app with
//! [`App::data_migration`](crate::App::data_migration), and name it in a
//! migration file (`manage makemigrations --empty blog --name fill_slugs`
//! writes one to edit):
//!
//! ```json
//! {
//!   "app": "blog",
//!   "name": "0003_fill_slugs",
//!   "dependencies": [["blog", "0002_article_slug"]],
//!   "operations": [
//!     {"op": "run_rust", "function": "fill_slugs", "reverse": "clear_slugs"}
//!   ]
//! }
//! ```
//!
//! - **Atomic.** The function runs in (a savepoint of) the migration's
//!   transaction, between the SQL of the operations before and after it.
//!   When it returns an error or panics, the whole migration is rolled back
//!   and [`MigrationError::DataMigration`] names the migration and the
//!   function.
//! - **Checked before anything runs.** `migrate` and `migrate --plan` refuse
//!   a plan that names a function the app did not register
//!   ([`MigrationError::UnknownDataMigration`]).
//! - **Reversible only with `reverse`.** Without it, unapplying the
//!   migration fails up front ([`MigrationError::Irreversible`]), as for
//!   `run_sql` without `reverse_*`. A function with nothing to undo can be
//!   registered as the reverse of its own migration with an empty body.
//! - **The models are today's.** The ORM types in the function are the
//!   current structs, not the models as they were at that migration (Django's
//!   historical models): use them for columns that exist at that point in
//!   the history, and raw [`Statement`](crate::db::Statement)s otherwise, so
//!   that old migrations keep working when the models move on.
//! - Do not commit or roll back the transaction you are given: the executor
//!   does that for the whole migration.
//!
//! ```
//! use manouche::db::{Auto, Database, Executor, Model, Statement, Transaction};
//! use manouche::migrations::{DataMigrationResult, DataMigrations, Migration, MigrationSet,
//!     Operation, Target, executor};
//!
//! #[derive(Model)]
//! #[model(app = "docs_data")]
//! pub struct Page {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 80)]
//!     pub title: String,
//! }
//!
//! async fn add_home(tx: &Transaction) -> DataMigrationResult {
//!     Page { id: Auto::default(), title: "Home".into() }.save(tx).await?;
//!     Ok(())
//! }
//!
//! async fn remove_home(tx: &Transaction) -> DataMigrationResult {
//!     tx.execute(Statement::raw("DELETE FROM docs_data_page WHERE title = 'Home'")).await?;
//!     Ok(())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // What `App::new("docs_data").data_migration("add_home", ...)` registers
//! // for `manage migrate`:
//! let mut functions = DataMigrations::new();
//! functions.register("docs_data", "add_home", add_home)?;
//! functions.register("docs_data", "remove_home", remove_home)?;
//!
//! let set = MigrationSet::new(vec![
//!     Migration {
//!         app: "docs_data".into(),
//!         name: "0001_initial".into(),
//!         dependencies: vec![],
//!         operations: vec![Operation::CreateModel { schema: Page::schema() }],
//!     },
//!     serde_json::from_str(r#"{"app": "docs_data", "name": "0002_home", "operations": [
//!         {"op": "run_rust", "function": "add_home", "reverse": "remove_home"}
//!     ]}"#)?,
//! ])?;
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! let plan = executor::plan(&set, &executor::applied(&db).await?, &Target::All)?;
//! executor::migrate_with(&db, &set, &plan, &functions, false, |line| println!("{line}")).await?;
//! assert_eq!(Page::objects().count(&db).await?, 1);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::error::MigrationError;
use crate::db::Transaction;

/// What a data migration function returns. Any error fails the migration
/// (and rolls it back): a database error through `?`, or your own message
/// (`Err("3 articles have no title; fix them first".into())`).
pub type DataMigrationResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

type Function = dyn for<'a> Fn(&'a Transaction) -> BoxFuture<'a, DataMigrationResult> + Send + Sync;

/// What [`App::data_migration`](crate::App::data_migration) accepts: an
/// `async fn(&Transaction) -> DataMigrationResult` whose future is `Send`
/// (implemented for every such function; the trait only names the future
/// type, which depends on the transaction's lifetime).
pub trait DataMigrationFunction<'a>:
    Fn(&'a Transaction) -> <Self as DataMigrationFunction<'a>>::Future
{
    /// The function's future.
    type Future: Future<Output = DataMigrationResult> + Send + 'a;
}

impl<'a, F, Fut> DataMigrationFunction<'a> for F
where
    F: Fn(&'a Transaction) -> Fut,
    Fut: Future<Output = DataMigrationResult> + Send + 'a,
{
    type Future = Fut;
}

/// A registered data migration function.
#[derive(Clone)]
pub struct DataMigrationFn(Arc<Function>);

impl DataMigrationFn {
    /// Wraps `function`: an `async fn f(tx: &Transaction) ->
    /// DataMigrationResult`, passed by name.
    pub fn new<F>(function: F) -> Self
    where
        F: for<'a> DataMigrationFunction<'a> + Send + Sync + 'static,
    {
        Self(Arc::new(move |tx| Box::pin(function(tx))))
    }

    /// Runs the function on `tx`.
    pub fn call<'a>(&self, tx: &'a Transaction) -> BoxFuture<'a, DataMigrationResult> {
        (self.0)(tx)
    }
}

impl std::fmt::Debug for DataMigrationFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataMigrationFn")
    }
}

/// The data migration functions of every app, by `(app, name)`.
/// `Project` builds it from its apps; the default is empty, for running
/// migrations that have no `run_rust` operations.
#[derive(Debug, Clone, Default)]
pub struct DataMigrations {
    functions: BTreeMap<(String, String), DataMigrationFn>,
}

impl DataMigrations {
    /// No functions.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `function` as `name` of `app`.
    ///
    /// # Errors
    ///
    /// [`MigrationError::DuplicateDataMigration`] when `app` already has a
    /// function called `name`.
    pub fn register<F>(&mut self, app: &str, name: &str, function: F) -> Result<(), MigrationError>
    where
        F: for<'a> DataMigrationFunction<'a> + Send + Sync + 'static,
    {
        self.insert(app, name, DataMigrationFn::new(function))
    }

    /// Registers an already wrapped function (see
    /// [`register`](Self::register)).
    ///
    /// # Errors
    ///
    /// As for [`register`](Self::register).
    pub fn insert(
        &mut self,
        app: &str,
        name: &str,
        function: DataMigrationFn,
    ) -> Result<(), MigrationError> {
        let key = (app.to_owned(), name.to_owned());
        if self.functions.contains_key(&key) {
            return Err(MigrationError::DuplicateDataMigration {
                app: app.to_owned(),
                function: name.to_owned(),
            });
        }
        self.functions.insert(key, function);
        Ok(())
    }

    /// The function `name` of `app`.
    #[must_use]
    pub fn get(&self, app: &str, name: &str) -> Option<&DataMigrationFn> {
        self.functions.get(&(app.to_owned(), name.to_owned()))
    }

    /// The names registered for `app`.
    pub fn names<'s>(&'s self, app: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.functions
            .keys()
            .filter(move |(a, _)| a == app)
            .map(|(_, n)| n.as_str())
    }
}
