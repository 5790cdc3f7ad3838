//! `manage collectstatic [--clear]`: gathers the static files into
//! `[static] root` with content-hashed names, CSS references rewritten and
//! gzip/brotli variants, for `serve` to hold in memory.

use crate::Result;
use crate::project::Project;

/// Collect static files into the static root.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Empty the root first (removes files whose sources are gone).
    #[arg(long)]
    clear: bool,
    /// Accepted for Django compatibility; this command never asks.
    #[arg(long, hide = true)]
    noinput: bool,
}

pub(crate) fn run(project: &Project, args: Args) -> Result<super::ExitCode> {
    let settings = project.settings();
    let finder = project.static_finder();
    let root = &settings.static_files.root;
    let report = crate::static_files::collect(settings, &finder, args.clear)?;
    println!(
        "{} static file(s) collected into {} ({} compressed variant(s)); names are in {}/staticfiles.json",
        report.files,
        root.display(),
        report.compressed,
        root.display()
    );
    if report.files == 0 {
        let dirs: Vec<String> = finder
            .dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        println!("Note: no files found in {dirs:?}.");
    }
    Ok(0)
}
