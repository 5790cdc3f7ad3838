//! `manage migrate [APP] [TARGET|zero] [--plan] [--fake]`: applies (or, to
//! an earlier target, unapplies) migrations, one transaction each.

use std::collections::BTreeSet;

use crate::db::Database;
use crate::db::schema::registered_schemas;
use crate::migrations::autodetector::{self, Hints};
use crate::migrations::executor::{self, Target};
use crate::{Result, StartupError};

use crate::project::Project;

/// Bring the database schema up to date with the migrations.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only this app (and what it depends on).
    app: Option<String>,
    /// A migration of APP (name or unique prefix) to migrate to, or `zero`
    /// to unapply all of APP's migrations.
    target: Option<String>,
    /// Show what would be done, do nothing.
    #[arg(long)]
    plan: bool,
    /// Record the migrations as applied (or unapplied) without running them.
    #[arg(long)]
    fake: bool,
}

pub(crate) async fn connect(project: &Project) -> Result<Database, StartupError> {
    let settings = project.settings();
    Ok(Database::connect(&settings.database_url, &settings.database.pool_options()).await?)
}

pub(crate) async fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let set = project.migration_set()?;
    let data = project.data_migrations()?;
    let target = match (args.app, args.target) {
        (None, _) => Target::All,
        (Some(app), None) => Target::App(app),
        (Some(app), Some(t)) if t == "zero" => Target::Zero(app),
        (Some(app), Some(t)) => Target::Migration(app, t),
    };
    let db = connect(&project).await?;
    let applied = executor::applied(&db).await?;
    let plan = executor::plan(&set, &applied, &target)?;
    // A missing Rust function or reverse is reported before anything runs,
    // also by `--plan`.
    if let Err(err) = executor::check_plan(&plan, db.backend(), &data, args.fake) {
        db.close().await;
        return Err(err.into());
    }
    if args.plan {
        println!("Planned operations:");
        if plan.is_empty() {
            println!("  No planned migration operations.");
        }
        for step in &plan {
            let m = &step.migration;
            println!(
                "{}{}",
                m.label(),
                if step.backwards { " (unapply)" } else { "" }
            );
            for op in &m.operations {
                println!(
                    "    {}{}",
                    if step.backwards { "Undo " } else { "" },
                    op.describe()
                );
            }
        }
        db.close().await;
        return Ok(0);
    }
    println!("Running migrations:");
    if plan.is_empty() {
        println!("  No migrations to apply.");
    }
    let outcome = executor::migrate_with(&db, &set, &plan, &data, args.fake, |line| {
        println!("{line}")
    })
    .await;
    let outcome = match outcome {
        Ok(()) => project.post_migrate(&db).await,
        Err(e) => Err(e.into()),
    };
    db.close().await;
    outcome?;
    // As Django does: say when the models are ahead of the migrations.
    let models = registered_schemas();
    let apps: Vec<String> = models
        .iter()
        .map(|m| m.app.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let pending = autodetector::detect(&set, &models, &apps, &Hints::default());
    if !matches!(pending.as_deref(), Ok([])) {
        println!(
            "  Your models have changes that are not yet reflected in a migration: run \
             `manage makemigrations`, then `manage migrate`."
        );
    }
    Ok(0)
}

/// What `runserver` does before serving: in debug, applies the pending
/// migrations (so a fresh checkout just runs); otherwise says how many are
/// pending. Problems are reported, never fatal: the server still starts.
pub(crate) async fn on_runserver(project: &Project) {
    let settings = project.settings();
    if settings.database_url.is_empty() {
        return;
    }
    let set = match project.migration_set() {
        Ok(set) => set,
        Err(err) => {
            println!("Migrations could not be read: {err}");
            return;
        }
    };
    let result = async {
        let data = project.data_migrations()?;
        let db = connect(project).await?;
        let applied = executor::applied(&db).await?;
        let plan = executor::plan(&set, &applied, &Target::All)?;
        if plan.is_empty() {
            db.close().await;
            return Ok::<_, crate::Error>(());
        }
        if settings.debug {
            println!("Applying {} migration(s) (debug mode does this on start):", plan.len());
            let outcome =
                executor::migrate_with(&db, &set, &plan, &data, false, |line| println!("{line}"))
                    .await;
            let outcome = match outcome {
                Ok(()) => project.post_migrate(&db).await.map_err(crate::Error::from),
                Err(e) => Err(e.into()),
            };
            db.close().await;
            outcome?;
        } else {
            println!(
                "You have {} unapplied migration(s); the site may not work until you run `manage migrate`.",
                plan.len()
            );
            db.close().await;
        }
        Ok(())
    }
    .await;
    if let Err(err) = result {
        println!("Migrations: {err}");
    }
}
