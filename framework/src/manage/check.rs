//! `manage check [--deploy]`: loads the project, checks the URL tree, the
//! models (every model's app installed), the apps' own checks and, with
//! `--deploy`, the production settings. Exits 1 when an error (or, with
//! `--fail-level warning`, a warning) is found.

use crate::checks::{CheckMessage, Level};
use crate::project::Project;
use crate::{Result, StartupError};

/// Look for problems in the project.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Also check the settings for a production deployment.
    #[arg(long)]
    deploy: bool,
    /// The level at which the command fails.
    #[arg(long, value_enum, default_value = "error")]
    fail_level: FailLevel,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FailLevel {
    Error,
    Warning,
}

pub(crate) fn run(project: Project, args: Args) -> Result<super::ExitCode, StartupError> {
    // Building checks settings and every URL pattern too.
    let (_site, messages) = project.build_checked(args.deploy)?;
    Ok(report(&messages, args.fail_level))
}

fn report(messages: &[CheckMessage], fail_level: FailLevel) -> super::ExitCode {
    if messages.is_empty() {
        println!("System check identified no issues.");
        return 0;
    }
    println!("System check identified some issues:\n");
    for message in messages {
        println!("{message}\n");
    }
    println!("System check identified {} issue(s).", messages.len());
    let threshold = match fail_level {
        FailLevel::Error => Level::Error,
        FailLevel::Warning => Level::Warning,
    };
    i32::from(messages.iter().any(|m| m.level >= threshold))
}
