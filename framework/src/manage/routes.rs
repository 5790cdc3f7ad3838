//! `manage routes`: every route, in matching order, with its name.

use crate::project::Project;
use crate::{Result, StartupError};

/// List every URL pattern with its name.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(project: Project, _args: Args) -> Result<super::ExitCode, StartupError> {
    let site = project.build()?;
    let routes = site.urls().routes();
    let width = routes
        .iter()
        .map(|r| r.pattern.len() + 1)
        .max()
        .unwrap_or(1)
        .max(7);
    println!("{:<width$}  NAME", "PATTERN");
    for route in routes {
        println!(
            "{:<width$}  {}",
            format!("/{}", route.pattern),
            route.name.as_deref().unwrap_or("-")
        );
    }
    Ok(0)
}
