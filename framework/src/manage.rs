//! The `manage` command line, one file per command. Every project's binary
//! is its own `manage`: `example-site serve --bind 127.0.0.1:8000`, or
//! `cargo manage routes` in this workspace.
//!
//! | command | what it does |
//! |---|---|
//! | `runserver [ADDR]` | development server (default `127.0.0.1:8000`) |
//! | `serve [--bind ADDR] [--pidfile PATH]` | production server, after the deploy checks; `SIGHUP` reloads it |
//! | `reload --pidfile PATH` | starts the binary now on disk on the server's sockets, waits until it serves (exit 0) or failed (exit 1) |
//! | `routes` | every route with its name |
//! | `check [--deploy]` | system checks (settings, models, the apps' own); exits 1 on errors |
//! | `makemigrations [APP...] [--check] [--dry-run] [--name N] [--empty] [--noinput]` | writes the next migrations from the models' changes; in a terminal, asks about possible renames and values for existing rows (exit 3 when the user quits) |
//! | `migrate [APP] [TARGET\|zero] [--plan] [--fake]` | applies or unapplies migrations |
//! | `showmigrations [APP...]` | lists migrations, `[X]` when applied |
//! | `sqlmigrate APP NAME [--backwards]` | prints a migration's SQL |
//! | `startapp NAME [--directory DIR]` | writes a new app's module, models, views, template and migrations folder; never overwrites |
//! | `help [COMMAND]` | every command, grouped by the app that brings it (Django's `manage.py help`), or one command's help |
//!
//! Apps add their own ([`App::command`](crate::App::command)):
//! `collectstatic` comes with [`contrib::staticfiles`](crate::contrib::staticfiles).
//!
//! Unknown commands and bad arguments print the usage and exit with 2.

mod check;
mod makemigrations;
mod migrate;
mod reload;
mod routes;
mod runserver;
mod serve;
mod showmigrations;
mod sqlmigrate;
mod startapp;

use std::ffi::OsString;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::{CommandContext, Purpose};
use crate::project::Project;
use crate::{Result, StartupError};

#[derive(Debug, Parser)]
#[command(
    about = "Manage this Manouche project",
    long_about = None,
    disable_help_subcommand = true
)]
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
    Makemigrations(makemigrations::Args),
    Migrate(migrate::Args),
    Reload(reload::Args),
    Showmigrations(showmigrations::Args),
    Sqlmigrate(sqlmigrate::Args),
    Startapp(startapp::Args),
}

/// What a command asks the process to exit with.
pub(crate) type ExitCode = i32;

/// The command line: the built-in commands, the apps' ones and `help`.
fn command_line(project: &Project) -> Result<clap::Command, StartupError> {
    let mut cli = Cli::command();
    let builtin: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let mut seen: Vec<(String, String)> = Vec::new();
    for command in project.commands() {
        let name = command.cli.get_name().to_owned();
        if builtin.contains(&name) || name == "help" {
            return Err(StartupError::improperly_configured(format!(
                "the app {:?} adds a command {name:?}, which is a built-in command; rename it",
                command.app
            )));
        }
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            return Err(StartupError::improperly_configured(format!(
                "the apps {first:?} and {:?} both add a command {name:?}; rename one",
                command.app
            )));
        }
        seen.push((name, command.app.clone()));
        cli = cli.subcommand(command.cli.clone());
    }
    Ok(cli.subcommand(
        clap::Command::new("help")
            .about("List the commands by app, or show one command's help")
            .arg(clap::Arg::new("command").help("The command to explain")),
    ))
}

pub(crate) async fn run<I, T>(project: Project, args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let guard = crate::logging::init(&project.settings().log);
    let outcome = dispatch(project, args).await;
    let code = outcome.unwrap_or_else(|err: StartupError| {
        eprintln!("error: {err}");
        1
    });
    drop(guard);
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

async fn dispatch<I, T>(project: Project, args: I) -> Result<ExitCode, StartupError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cli = command_line(&project)?;
    let matches = cli
        .try_get_matches_from_mut(args)
        .unwrap_or_else(|err| err.exit());
    match matches.subcommand() {
        Some(("help", sub)) => Ok(help(&project, &mut cli, sub.get_one::<String>("command"))),
        Some((name, sub)) if !Command::has_subcommand(name) => {
            let command = project
                .commands()
                .find(|c| c.cli.get_name() == name)
                .cloned()
                .ok_or_else(|| {
                    StartupError::improperly_configured(format!("unknown command {name:?}"))
                })?;
            let prepared = project.prepare(Purpose::Command)?;
            let ctx = CommandContext {
                matches: sub.clone(),
                settings: Arc::new(project.settings().clone()),
                services: prepared.services,
            };
            (command.run)(ctx).await.map(|()| 0)
        }
        _ => {
            let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
            match cli.command {
                Command::Runserver(args) => runserver::run(project, args).await,
                Command::Serve(args) => serve::run(project, args).await,
                Command::Routes(args) => routes::run(project, args),
                Command::Check(args) => check::run(project, args),
                Command::Makemigrations(args) => makemigrations::run(&project, args),
                Command::Migrate(args) => migrate::run(project, args).await,
                Command::Reload(args) => reload::run(project, args).await,
                Command::Showmigrations(args) => showmigrations::run(project, args).await,
                Command::Sqlmigrate(args) => sqlmigrate::run(&project, args),
                Command::Startapp(args) => startapp::run(args),
            }
        }
    }
}

/// `help`: the commands grouped by app, as Django's `manage.py help`; or
/// one command's own help.
fn help(project: &Project, cli: &mut clap::Command, command: Option<&String>) -> ExitCode {
    if let Some(name) = command {
        let bin = cli.get_name().to_owned();
        return match cli.find_subcommand_mut(name) {
            Some(sub) => {
                let mut sub = sub.clone().bin_name(format!("{bin} {name}"));
                let _ = sub.print_long_help();
                0
            }
            None => {
                eprintln!("error: unknown command {name:?}; `help` lists them");
                2
            }
        };
    }
    let bin = cli
        .get_bin_name()
        .unwrap_or_else(|| cli.get_name())
        .to_owned();
    println!("Type '{bin} help <command>' for help on a specific command.\n");
    println!("Available commands:");
    // Every subcommand of the command line, under the app that brings it
    // (the built-in ones under `manouche`, listed first).
    let mut groups: Vec<(String, Vec<(String, String)>)> =
        vec![("manouche".to_owned(), Vec::new())];
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        let app = project
            .commands()
            .find(|c| c.cli.get_name() == name)
            .map_or("manouche", |c| c.app.as_str());
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let entry = (name.to_owned(), about);
        match groups.iter_mut().find(|(label, _)| label == app) {
            Some((_, list)) => list.push(entry),
            None => groups.push((app.to_owned(), vec![entry])),
        }
    }
    for (app, mut list) in groups {
        list.sort();
        println!("\n[{app}]");
        for (name, about) in list {
            println!("    {name:<16} {about}");
        }
    }
    0
}
