//! `serve --pidfile PATH`: the serving process's id in a file, for
//! supervisors and scripts (`kill -TERM $(cat PATH)`), as uWSGI's and
//! nginx's `pidfile`.
//!
//! The file is written atomically: the id goes to a temporary file in the
//! same directory, which is then renamed over `PATH`, so a reader sees the
//! old content or the new, never a half-written one. It is removed when
//! the process exits, but only while it still holds this process's id:
//! after a reload (`reload`), the old process writes its successor's id
//! there once the successor is ready, and then, exiting after its drain,
//! leaves the file alone; the successor removes it when it exits in turn.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// A pidfile this process wrote; removed on drop if it still names this
/// process.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    /// Writes this process's id to `path` (replacing what is there).
    ///
    /// # Errors
    /// When the directory does not exist or cannot be written.
    pub(crate) fn write(path: &Path) -> io::Result<Self> {
        let pid = std::process::id();
        write_pid(path, pid)?;
        Ok(Self {
            path: path.to_owned(),
            pid,
        })
    }

    /// The pidfile of a process started by a reload: the old process
    /// writes this one's id there once it is ready; removed on exit like
    /// one this process wrote.
    pub(crate) fn adopt(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            pid: std::process::id(),
        }
    }
}

/// Writes `pid` to `path` atomically (a temporary file in the same
/// directory, renamed over it).
///
/// # Errors
/// When the directory does not exist or cannot be written.
pub(crate) fn write_pid(path: &Path, pid: u32) -> io::Result<()> {
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        ));
    };
    let mut temporary = name.to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        writeln!(file, "{pid}")?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    Ok(())
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|content| content.trim() == self.pid.to_string());
        if ours {
            if let Err(err) = std::fs::remove_file(&self.path) {
                tracing::warn!(target: "manouche::server", "cannot remove the pidfile {}: {err}", self.path.display());
            }
            // A failed reload's report goes with the process it was about.
            let _ = std::fs::remove_file(super::reload::report_path(&self.path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("manouche-pidfile-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn holds_the_pid_and_is_removed_on_drop_leaving_no_temporary_file() {
        let dir = scratch("drop");
        let path = dir.join("site.pid");
        std::fs::write(&path, "stale\n").unwrap();
        let pidfile = PidFile::write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        drop(pidfile);
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_pidfile_another_process_rewrote_is_left_alone() {
        let dir = scratch("successor");
        let path = dir.join("site.pid");
        let pidfile = PidFile::write(&path).unwrap();
        std::fs::write(&path, "4242424\n").unwrap();
        drop(pidfile);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242424\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let path = scratch("missing").join("no/such/dir/site.pid");
        let err = PidFile::write(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(PidFile::write(Path::new("/")).is_err());
    }
}
