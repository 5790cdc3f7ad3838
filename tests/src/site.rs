//! The example site on one test database, for the tests that drive it as
//! its users would (over HTTP in `tests/auth.rs`, through a browser in
//! `tests/browser.rs`): migrated by the binary's own `migrate`, with users
//! and permissions, servers on it, and the mail they send.
//!
//! **Cheap hashing.** The servers get `MANOUCHE_AUTH_HASHER` (the
//! `[auth.hasher]` section through the environment) with small argon2id
//! parameters (1 MiB, one pass), and the test's users are hashed with the
//! same, so that a login costs milliseconds and no login rehashes; the
//! hashes are still argon2id in Django's format.
//!
//! **Mail.** The servers use the file backend, one file per message in a
//! folder of the site's own (removed with the site), so that a test reads
//! what a user would find in their inbox. Uploads go to a media folder
//! of the site's own too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use manouche::contrib::auth::hashers::HasherSettings;
use manouche::contrib::auth::{Permission, User};
use manouche::db::{Database, Model};

use crate::{Server, deploy_env, example_site, free_port, run_binary, workspace_root};

/// `[auth.hasher]` for the servers (see the module docs).
const CHEAP_HASHER: &str =
    "{ argon2_memory_cost = 1024, argon2_time_cost = 1, argon2_parallelism = 1 }";

/// The hasher settings the servers get (see the module docs).
pub fn cheap_hasher() -> HasherSettings {
    HasherSettings::new(1024, 1, 1).expect("valid argon2 parameters")
}

/// The example site on one test database: migrated by the binary, with
/// the environment its servers share and a folder for the mail they send.
pub struct Site {
    /// The site's database, for the test to read and write.
    pub db: Database,
    env: Vec<(&'static str, String)>,
    mail_dir: PathBuf,
    /// Where the servers store uploads (`media.root`).
    pub media_dir: PathBuf,
}

impl Site {
    /// Runs `example-site migrate` on the database at `url` (which `db` is
    /// connected to).
    pub fn migrated(db: &Database, url: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let mail_dir = std::env::temp_dir().join(format!(
            "manouche-e2e-mail-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&mail_dir);
        let media_dir = mail_dir.with_file_name(format!(
            "manouche-e2e-media-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&media_dir);
        let mut env = deploy_env();
        env.extend([
            ("DATABASE_URL", url.to_owned()),
            ("MANOUCHE_AUTH_HASHER", CHEAP_HASHER.to_owned()),
            ("MANOUCHE_EMAIL_BACKEND", "file".to_owned()),
            ("MANOUCHE_EMAIL_FILE_PATH", mail_dir.display().to_string()),
            ("MANOUCHE_MEDIA_ROOT", media_dir.display().to_string()),
        ]);
        let site = Self {
            db: db.clone(),
            env,
            mail_dir,
            media_dir,
        };
        let (code, out) = site.run(&["migrate"]);
        assert_eq!(code, 0, "migrate failed:\n{out}");
        site
    }

    /// Runs the binary to completion with the site's environment; returns
    /// (exit code, stdout + stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_binary(example_site(), workspace_root(), args, &env)
    }

    /// A server process on the site's database, with `extra` settings on
    /// top of the site's; returns once it listens.
    pub fn serve(&self, extra: &[(&'static str, &str)]) -> Server {
        self.serve_with(&[], extra)
    }

    /// Like [`Site::serve`], with more arguments after `serve --bind ...`
    /// (`--metrics ADDR`).
    pub fn serve_with(&self, args: &[&str], extra: &[(&'static str, &str)]) -> Server {
        let bind = format!("127.0.0.1:{}", free_port());
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut all = vec!["serve", "--bind", &bind];
        all.extend_from_slice(args);
        let server = Server::spawn_binary(
            example_site(),
            workspace_root(),
            &all,
            &env,
            bind.parse().expect("a socket address"),
        );
        server.wait_until_listening();
        server
    }

    /// `createsuperuser --noinput` with the `MANOUCHE_SUPERUSER_*`
    /// variables: an active staff superuser with `password`.
    pub fn superuser(&self, username: &str, password: &str) {
        let email = format!("{username}@example.com");
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend([
            ("MANOUCHE_SUPERUSER_USERNAME", username),
            ("MANOUCHE_SUPERUSER_EMAIL", email.as_str()),
            ("MANOUCHE_SUPERUSER_PASSWORD", password),
        ]);
        let (code, out) = run_binary(
            example_site(),
            workspace_root(),
            &["createsuperuser", "--noinput"],
            &env,
        );
        assert_eq!(code, 0, "createsuperuser failed:\n{out}");
        assert!(out.contains("Superuser created successfully."), "{out}");
    }

    /// Saves an active user with `password` (hashed as the servers hash),
    /// named "Username Example", at `username@example.com`. (The binary's
    /// `createsuperuser` makes only superusers.)
    pub async fn user(&self, username: &str, password: &str) -> User {
        let mut user = User::new(username, password, &cheap_hasher());
        user.first_name = capitalized(username);
        user.last_name = "Example".to_owned();
        user.email = format!("{username}@example.com");
        User::objects()
            .create(&self.db, user)
            .await
            .expect("save the user")
    }

    /// Gives `user` the permission `app_label.codename` (made by migrate).
    pub async fn grant(&self, user: &User, permission: &str) {
        let (app_label, codename) = permission.split_once('.').expect("app.codename");
        let permission = Permission::objects()
            .filter(Permission::app_label.eq(app_label) & Permission::codename.eq(codename))
            .get(&self.db)
            .await
            .unwrap_or_else(|e| panic!("migrate made {permission}: {e}"));
        user.user_permissions
            .add(&self.db, &[&permission])
            .await
            .expect("grant");
    }

    /// The messages the servers sent so far, oldest first.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.mail_dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("a mail file"))
            .collect()
    }

    /// The password-reset link (`http://HOST/accounts/reset/...`, as
    /// written) in the newest mail to `to`.
    pub fn reset_link(&self, to: &str) -> String {
        let mails = self.mails();
        let mail = mails
            .iter()
            .rev()
            .find(|m| m.contains(&format!("To: {to}")))
            .unwrap_or_else(|| panic!("no mail to {to} in {mails:?}"));
        let line = mail
            .lines()
            .find(|l| l.contains("/accounts/reset/"))
            .unwrap_or_else(|| panic!("no reset link in:\n{mail}"));
        line.trim().to_owned()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail_dir);
        let _ = std::fs::remove_dir_all(&self.media_dir);
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
