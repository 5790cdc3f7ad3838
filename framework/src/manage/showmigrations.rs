//! `manage showmigrations [APP...]`: every migration, `[X]` when applied;
//! applied migrations whose file is missing are listed too.

use crate::migrations::executor;
use crate::project::Project;
use crate::{Result, StartupError};

/// List the migrations and whether each is applied.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only these apps.
    apps: Vec<String>,
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let set = project.migration_set()?;
    let db = super::migrate::connect(&project).await?;
    let applied = executor::applied(&db).await;
    db.close().await;
    let applied = applied?;
    let mut apps = set.apps();
    apps.extend(applied.iter().map(|(app, _)| app.clone()));
    apps.extend(args.apps.iter().cloned());
    for app in apps {
        if !args.apps.is_empty() && !args.apps.contains(&app) {
            continue;
        }
        println!("{app}");
        let mut any = false;
        for m in set.ordered().iter().filter(|m| m.app == app) {
            let mark = if applied.contains(&m.key()) { 'X' } else { ' ' };
            println!(" [{mark}] {}", m.name);
            any = true;
        }
        // Recorded by the database but gone from the files.
        for (_, name) in applied
            .iter()
            .filter(|(a, n)| *a == app && set.get(a, n).is_none())
        {
            println!(" [X] {name} (applied, but its file is missing)");
            any = true;
        }
        if !any {
            println!(" (no migrations)");
        }
    }
    Ok(0)
}
