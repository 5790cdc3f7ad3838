//! `manage sqlmigrate APP NAME [--backwards]`: prints the SQL a migration
//! runs on the project's database backend, without connecting.

use crate::db::Backend;
use crate::migrations::executor;
use crate::project::Project;
use crate::{Result, StartupError};

/// Print the SQL of a migration.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The app.
    app: String,
    /// The migration's name (or a unique prefix).
    name: String,
    /// The SQL that unapplies it.
    #[arg(long)]
    backwards: bool,
}

pub(crate) fn run(project: &Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let set = project.migration_set()?;
    let m = set.find(&args.app, &args.name)?;
    let url = &project.settings().database_url;
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    println!("BEGIN;");
    // A `run_rust` operation and a check of the rows print as comment
    // lines.
    for step in executor::steps_for(&set, backend, m, args.backwards)? {
        println!("{step}");
    }
    println!("COMMIT;");
    Ok(0)
}
