//! `manage showmigrations [APP...]`: every migration, `[X]` when applied.

use crate::Result;
use crate::migrations::{MigrationSet, executor, migrations_dir};
use crate::project::Project;

/// List the migrations and whether each is applied.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only these apps.
    apps: Vec<String>,
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode> {
    let set = MigrationSet::load(&migrations_dir())?;
    let db = super::migrate::connect(&project).await?;
    let applied = executor::applied(&db).await;
    db.close().await;
    let applied = applied?;
    for app in set.apps() {
        if !args.apps.is_empty() && !args.apps.contains(&app) {
            continue;
        }
        println!("{app}");
        for m in set.ordered().iter().filter(|m| m.app == app) {
            let mark = if applied.contains(&m.key()) { 'X' } else { ' ' };
            println!(" [{mark}] {}", m.name);
        }
    }
    for app in &args.apps {
        if !set.apps().contains(app) {
            println!("{app}\n (no migrations)");
        }
    }
    Ok(0)
}
