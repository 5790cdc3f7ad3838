//! `manage makemigrations [APP...] [--check] [--dry-run] [--name NAME]
//! [--empty] [--rename ...] [--default ...] [--no-rename-check]
//! [--noinput]`: writes the next migration of each app whose models
//! changed.
//!
//! In a terminal, a possible rename or a missing value for existing rows is
//! asked about ([`questioner`](crate::migrations::questioner)); quitting
//! (or the end of the input) writes nothing and exits with 3. With
//! `--noinput`, with `--check`, or when stdin is not a terminal, the
//! question is an error naming the flags that answer it (exit 1).

use std::io::IsTerminal as _;

use std::collections::BTreeSet;

use crate::db::schema::{ModelSchema, registered_schemas};
use crate::migrations::autodetector::{self, Hints};
use crate::migrations::questioner::Questioner;
use crate::migrations::{MigrationError, MigrationSet, migrations_dir, write_migration};
use crate::project::Project;
use crate::{Result, StartupError};

/// Create new migrations from the changes to the models.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only these apps (default: every app with models in this program).
    apps: Vec<String>,
    /// Write nothing; exit with 1 when the models have changes without a
    /// migration (for CI).
    #[arg(long)]
    check: bool,
    /// Show what would be written, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The migration's name (after the number).
    #[arg(long)]
    name: Option<String>,
    /// Write an empty migration for each app given, to fill in by hand
    /// (`run_sql`, `run_rust`).
    #[arg(long)]
    empty: bool,
    /// A rename: `app.Model=NewModel` or `app.Model.old_column=new_column`.
    #[arg(long, value_name = "HINT")]
    rename: Vec<String>,
    /// A value for existing rows of a new or newly non-null column:
    /// `app.Model.column=VALUE`.
    #[arg(long, value_name = "app.Model.column=VALUE")]
    default: Vec<String>,
    /// Generate remove + add for every removed and added field of the same
    /// type (and delete + create for every removed and added model) instead
    /// of asking whether it is a rename.
    #[arg(long)]
    no_rename_check: bool,
    /// For a library app's authors: write the migrations of the library
    /// app(s) named into DIR, the library crate's own `migrations/` folder
    /// (which is also read instead of the copy compiled into the binary).
    #[arg(long, value_name = "DIR")]
    library_dir: Option<std::path::PathBuf>,
    /// Never ask: what would be a question is an error naming the flag that
    /// answers it (also when stdin is not a terminal).
    #[arg(long = "noinput", visible_alias = "no-input")]
    noinput: bool,
}

/// The exit status when the user quits a question: nothing was written.
const QUIT: super::ExitCode = 3;

pub(crate) fn run(project: &Project, args: Args) -> Result<super::ExitCode, StartupError> {
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    for app in &args.apps {
        if !plain(app) {
            return Err(MigrationError::BadName {
                what: "app",
                value: app.clone(),
            }
            .into());
        }
    }
    if let Some(name) = args.name.as_deref().filter(|n| !plain(n)) {
        return Err(MigrationError::BadName {
            what: "--name",
            value: name.to_owned(),
        }
        .into());
    }
    let own: Vec<&str> = project.project_app_labels();
    let libraries: Vec<&str> = project.library_app_labels();
    let (dir, set, own, libraries) = match &args.library_dir {
        None => {
            for app in &args.apps {
                if libraries.contains(&app.as_str()) {
                    return Err(StartupError::improperly_configured(format!(
                        "the app {app:?} is a library app: its migrations ship in its crate, and makemigrations never writes into it \
                         (its authors use --library-dir)"
                    )));
                }
                if !own.contains(&app.as_str()) {
                    return Err(not_installed(app, &own));
                }
            }
            (migrations_dir(), project.migration_set()?, own, libraries)
        }
        Some(library_dir) => {
            if args.apps.is_empty() {
                return Err(StartupError::improperly_configured(
                    "--library-dir needs the library app(s) to write, by name",
                ));
            }
            for app in &args.apps {
                if !libraries.contains(&app.as_str()) {
                    return Err(not_installed(app, &libraries));
                }
            }
            // The folder's files replace the compiled-in copies of these
            // apps' migrations.
            let mut all: Vec<crate::migrations::Migration> = project
                .migration_set()?
                .ordered()
                .iter()
                .filter(|m| !args.apps.contains(&m.app))
                .cloned()
                .collect();
            all.extend(
                MigrationSet::read_dir(library_dir)?
                    .into_iter()
                    .filter(|m| args.apps.contains(&m.app)),
            );
            let writing: Vec<&str> = args.apps.iter().map(String::as_str).collect();
            let others: Vec<&str> = own
                .iter()
                .chain(&libraries)
                .copied()
                .filter(|l| !writing.contains(l))
                .collect();
            (
                library_dir.clone(),
                MigrationSet::new(all)?,
                writing,
                others,
            )
        }
    };
    // The installed apps' models only: a model whose app is not installed
    // never gets a table created or dropped here.
    let models: Vec<ModelSchema> = registered_schemas()
        .into_iter()
        .filter(|m| own.contains(&m.app.as_str()) || libraries.contains(&m.app.as_str()))
        .collect();
    if args.library_dir.is_none() {
        note_library_changes(&set, &models, &libraries);
    }
    let with_models: BTreeSet<String> = models
        .iter()
        .filter(|m| own.contains(&m.app.as_str()))
        .map(|m| m.app.clone())
        .collect();
    let apps: Vec<String> = if args.apps.is_empty() {
        // Dropping every table of an app must be asked for by name.
        for app in set.apps().difference(&with_models) {
            if own.contains(&app.as_str()) {
                println!(
                    "Note: app '{app}' has migrations but no models in this program; \
                     `manage makemigrations {app}` would delete its tables."
                );
            }
        }
        with_models.into_iter().collect()
    } else {
        args.apps.clone()
    };
    let new = if args.empty {
        if args.apps.is_empty() {
            eprintln!("error: --empty needs the app(s) to write an empty migration for");
            return Ok(2);
        }
        apps.iter()
            .map(|app| autodetector::empty(&set, app, args.name.as_deref()))
            .collect()
    } else {
        let mut hints = Hints {
            no_rename_check: args.no_rename_check,
            name: args.name.clone(),
            ..Hints::default()
        };
        for r in &args.rename {
            hints.add_rename(r)?;
        }
        for d in &args.default {
            hints.add_default(d)?;
        }
        let stdin = std::io::stdin();
        if args.noinput || args.check || !stdin.is_terminal() {
            autodetector::detect(&set, &models, &apps, &hints)?
        } else {
            let mut questioner = Questioner::new(stdin.lock(), std::io::stdout());
            match questioner.detect(&set, &models, &apps, &mut hints)? {
                Some(new) => new,
                None => {
                    println!("Stopped: no migration was written.");
                    return Ok(QUIT);
                }
            }
        }
    };
    if new.is_empty() {
        println!("No changes detected");
        return Ok(0);
    }
    for m in &new {
        println!("Migrations for '{}':", m.app);
        let path = dir.join(&m.app).join(format!("{}.json", m.name));
        println!("  {}", path.display());
        for op in &m.operations {
            println!("    - {}", op.describe());
        }
    }
    if args.check {
        println!("Models have changes without a migration: run `manage makemigrations`.");
        return Ok(1);
    }
    if !args.dry_run {
        for m in &new {
            write_migration(&dir, m)?;
        }
    }
    Ok(0)
}

fn not_installed(app: &str, installed: &[&str]) -> StartupError {
    StartupError::improperly_configured(format!(
        "no installed app is labelled {app:?} (candidates: {}); add `.app(...)` for it",
        if installed.is_empty() {
            "none".to_owned()
        } else {
            installed.join(", ")
        }
    ))
}

/// Says so when a library app's models differ from the migrations it
/// ships: they are not written (the library must ship them).
fn note_library_changes(set: &MigrationSet, models: &[ModelSchema], libraries: &[&str]) {
    for app in libraries {
        let hints = Hints {
            no_rename_check: true,
            ..Hints::default()
        };
        let apps = [(*app).to_owned()];
        let differs =
            autodetector::detect(set, models, &apps, &hints).map_or(true, |new| !new.is_empty());
        if differs {
            println!(
                "Note: the library app '{app}' has model changes that its migrations do not have; \
                 nothing is written for it (a library ships its own migrations: update the library)."
            );
        }
    }
}
