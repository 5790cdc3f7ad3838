//! The `manage` command line, one file per command. Every project's binary
//! is its own `manage`: `example-site serve --bind 127.0.0.1:8000`, or
//! `cargo manage routes` in this workspace.
//!
//! | command | what it does |
//! |---|---|
//! | `runserver [ADDR]` | development server (default `127.0.0.1:8000`) |
//! | `serve [--bind ADDR]` | production server, after the deploy checks |
//! | `routes` | every route with its name |
//! | `check [--deploy]` | system checks; exits 1 on errors |
//! | `collectstatic [--clear]` | static files into `[static] root`, hashed and compressed |
//! | `makemigrations [APP...] [--check] [--dry-run] [--name N] [--empty] [--noinput]` | writes the next migrations from the models' changes; in a terminal, asks about possible renames and values for existing rows (exit 3 when the user quits) |
//! | `migrate [APP] [TARGET\|zero] [--plan] [--fake]` | applies or unapplies migrations |
//! | `showmigrations [APP...]` | lists migrations, `[X]` when applied |
//! | `sqlmigrate APP NAME [--backwards]` | prints a migration's SQL |
//! | `startapp NAME [--directory DIR]` | writes a new app's module, models, views, template and migrations folder; never overwrites |
//!
//! Unknown commands and bad arguments print the usage and exit with 2.

mod check;
mod collectstatic;
mod makemigrations;
mod migrate;
mod routes;
mod runserver;
mod serve;
mod showmigrations;
mod sqlmigrate;
mod startapp;

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::project::Project;
use crate::{Error, Result};

#[derive(Debug, Parser)]
#[command(about = "Manage this Manouche project", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Runserver(runserver::Args),
    Serve(serve::Args),
    Routes(routes::Args),
    Check(check::Args),
    Collectstatic(collectstatic::Args),
    Makemigrations(makemigrations::Args),
    Migrate(migrate::Args),
    Showmigrations(showmigrations::Args),
    Sqlmigrate(sqlmigrate::Args),
    Startapp(startapp::Args),
}

/// What a command asks the process to exit with.
pub(crate) type ExitCode = i32;

pub(crate) async fn run<I, T>(project: Project, args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).unwrap_or_else(|err| err.exit());
    let guard = crate::logging::init(&project.settings().log);
    let outcome: Result<ExitCode> = match cli.command {
        Command::Runserver(args) => runserver::run(project, args).await,
        Command::Serve(args) => serve::run(project, args).await,
        Command::Routes(args) => routes::run(project, args),
        Command::Check(args) => check::run(project, args),
        Command::Collectstatic(args) => collectstatic::run(&project, args),
        Command::Makemigrations(args) => makemigrations::run(&project, args),
        Command::Migrate(args) => migrate::run(project, args).await,
        Command::Showmigrations(args) => showmigrations::run(project, args).await,
        Command::Sqlmigrate(args) => sqlmigrate::run(&project, args),
        Command::Startapp(args) => startapp::run(args),
    };
    let code = outcome.unwrap_or_else(|err: Error| {
        eprintln!("error: {err}");
        1
    });
    drop(guard);
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
