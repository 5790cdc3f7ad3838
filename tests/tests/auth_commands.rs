//! `createsuperuser` and `changepassword` of the real example-site binary,
//! driven through a pseudo-terminal as a person would type, on a fresh
//! migrated SQLite database per test (and PostgreSQL with `DATABASE_URL`).
//! The users are checked in the database through the library, and the
//! interactive superuser logs in over HTTP against the served binary.

use std::process::Command;

use manouche::contrib::auth::User;
use manouche::contrib::auth::hashers::{self, HasherSettings};
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Database, Model};
use manouche_e2e::{Server, deploy_env, example_site, run_manage, workspace_root};
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

/// The pseudo-terminal's patience for each expected line.
const TIMEOUT_MS: u64 = 30_000;

/// Migrates `url` with the binary itself.
fn migrate(url: &str) {
    let (code, out) = run_manage(&["migrate"], &[("DATABASE_URL", url)]);
    assert_eq!(code, 0, "migrate failed:\n{out}");
}

/// The binary in a pseudo-terminal, with everything it showed so far.
struct Terminal {
    session: PtySession,
    /// The screen's text: prompts, messages and what echo printed.
    shown: String,
}

impl Terminal {
    /// The binary with `args` in a pseudo-terminal, its system user `ana`.
    /// A shell turns echo on first, as in a real terminal (rexpect turns
    /// it off), and prints the terminal's modes after the binary exits, so
    /// that a test can see that echo is on again (`stty -a`). The shell
    /// survives a Ctrl-C meant for the binary (`trap`), and exits with the
    /// binary's status.
    fn spawn(args: &[&str], url: &str) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"trap : INT; stty echo; "$0" "$@"; status=$?; stty -a; exit $status"#)
            .arg(example_site())
            .args(args)
            .current_dir(workspace_root())
            .env_remove("MANOUCHE_SETTINGS")
            .env("DATABASE_URL", url)
            .env("LOGNAME", "ana")
            .env("USER", "ana");
        for (name, value) in deploy_env() {
            command.env(name, value);
        }
        let session =
            rexpect::session::spawn_command(command, Some(TIMEOUT_MS)).expect("cannot start a pty");
        Self {
            session,
            shown: String::new(),
        }
    }

    /// Waits for `text` on the screen.
    fn expect(&mut self, text: &str) {
        let before = self.session.exp_string(text).unwrap_or_else(|e| {
            panic!(
                "waiting for {text:?}: {e}\nthe screen so far:\n{}",
                self.shown
            )
        });
        self.shown.push_str(&before);
        self.shown.push_str(text);
    }

    /// Waits for `prompt`, then types `line` and Enter.
    fn answer(&mut self, prompt: &str, line: &str) {
        self.expect(prompt);
        self.session.send_line(line).expect("typing into the pty");
    }

    /// Waits for the end; returns the exit status. `shown` then ends with
    /// `stty -a`'s report.
    fn finish(mut self) -> (String, i32) {
        let rest = self.session.exp_eof().expect("the program ends");
        self.shown.push_str(&rest);
        let status = match self.session.process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => code,
            other => panic!(
                "the program did not exit normally: {other:?}\n{}",
                self.shown
            ),
        };
        (self.shown, status)
    }
}

/// Whether the `stty -a` report at the end of `shown` says that echo is
/// on (`echo`, not `-echo`).
fn echo_is_on(shown: &str) -> bool {
    let report = shown.rsplit_once("speed ").expect("stty -a ran").1;
    report.split_whitespace().any(|flag| flag == "echo")
}

async fn user(db: &Database, username: &str) -> Option<User> {
    User::objects()
        .filter(User::username.eq(username.to_owned()))
        .first(db)
        .await
        .expect("query auth_user")
}

fn password_matches(user: &User, raw: &str) -> bool {
    hashers::check_password(raw, &user.password, &HasherSettings::default()).matched()
}

/// Logs in through the served binary's login form; returns the status
/// and whether a session cookie came back.
async fn log_in(server: &Server, username: &str, password: &str) -> (u16, bool) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = client
        .get(server.url("/accounts/login/"))
        .send()
        .await
        .expect("login page");
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("csrftoken="))
        .and_then(|v| v.split(';').next())
        .expect("a CSRF cookie")
        .to_owned();
    let html = page.text().await.expect("login page body");
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    let token = &html[start..start + html[start..].find('"').expect("closing quote")];
    let response = client
        .post(server.url("/accounts/login/"))
        .header("cookie", format!("csrftoken={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrfmiddlewaretoken={token}&username={username}&password={}",
            password.replace(' ', "+")
        ))
        .send()
        .await
        .expect("login post");
    let session = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("sessionid=") && !v.starts_with("sessionid=;"));
    (response.status().as_u16(), session)
}

#[tokio::test]
async fn createsuperuser_in_a_terminal_asks_refuses_and_creates() {
    for_each_database_with_url(|db, url| async move {
        migrate(&url);
        let mut terminal = Terminal::spawn(&["createsuperuser"], &url);
        terminal.answer("Username (leave blank to use 'ana'): ", "");
        terminal.answer("Email address: ", "ana@example.com");
        terminal.answer("Password: ", "first-secret-1");
        terminal.answer("Password (again): ", "second-secret-2");
        terminal.expect("Error: Your passwords didn't match.");
        terminal.answer("Password: ", "password");
        terminal.answer("Password (again): ", "password");
        terminal.expect("This password is too common.");
        terminal.answer(
            "Bypass password validation and create user anyway? [y/N]: ",
            "N",
        );
        terminal.answer("Password: ", "correct horse battery 42");
        terminal.answer("Password (again): ", "correct horse battery 42");
        terminal.expect("Superuser created successfully.");
        let (shown, status) = terminal.finish();
        assert_eq!(status, 0, "{shown}");
        // Echo was on: what was typed at the visible questions shows, the
        // passwords never do, and echo is on again afterwards.
        assert!(shown.contains("ana@example.com"), "{shown}");
        assert!(shown.contains("[y/N]: N"), "{shown}");
        for secret in [
            "first-secret-1",
            "second-secret-2",
            "password\r",
            "correct horse battery 42",
        ] {
            assert!(!shown.contains(secret), "{secret:?} was echoed: {shown}");
        }
        assert!(echo_is_on(&shown), "{shown}");

        let ana = user(&db, "ana").await.expect("ana was created");
        assert!(ana.is_staff && ana.is_superuser && ana.is_active);
        assert_eq!(ana.email, "ana@example.com");
        assert!(
            ana.password.starts_with("argon2$argon2id$"),
            "{}",
            ana.password
        );
        assert!(password_matches(&ana, "correct horse battery 42"));
        assert!(!password_matches(&ana, "password"));

        let server = Server::serve(&[("DATABASE_URL", url.as_str())]);
        assert_eq!(
            log_in(&server, "ana", "correct horse battery 42").await,
            (302, true),
            "{}",
            server.output()
        );
        assert_eq!(log_in(&server, "ana", "password").await, (200, false));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn createsuperuser_noinput_uses_the_variables_and_refuses_weak_passwords() {
    for_each_database_with_url(|db, url| async move {
        migrate(&url);
        let with = |vars: &[(&'static str, &'static str)]| {
            let mut env = vec![("DATABASE_URL", url.as_str())];
            env.extend_from_slice(vars);
            env
        };

        let (code, out) = run_manage(&["createsuperuser", "--noinput"], &with(&[]));
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("--username"), "{out}");
        assert!(out.contains("MANOUCHE_SUPERUSER_USERNAME"), "{out}");

        let weak = with(&[
            ("MANOUCHE_SUPERUSER_USERNAME", "admin"),
            ("MANOUCHE_SUPERUSER_EMAIL", "admin@example.com"),
            ("MANOUCHE_SUPERUSER_PASSWORD", "password"),
        ]);
        let (code, out) = run_manage(&["createsuperuser", "--no-input"], &weak);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("This password is too common."), "{out}");
        assert!(!out.contains("Superuser created"), "{out}");
        assert!(user(&db, "admin").await.is_none(), "no user on refusal");

        let good = with(&[
            ("MANOUCHE_SUPERUSER_USERNAME", "admin"),
            ("MANOUCHE_SUPERUSER_EMAIL", "admin@example.com"),
            ("MANOUCHE_SUPERUSER_PASSWORD", "a long admin passphrase"),
        ]);
        let (code, out) = run_manage(&["createsuperuser", "--noinput"], &good);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("Superuser created successfully."), "{out}");
        let admin = user(&db, "admin").await.expect("admin was created");
        assert!(admin.is_staff && admin.is_superuser && admin.is_active);
        assert_eq!(admin.email, "admin@example.com");
        assert!(password_matches(&admin, "a long admin passphrase"));

        // A duplicate username, from the flag this time.
        let (code, out) = run_manage(
            &[
                "createsuperuser",
                "--noinput",
                "--username",
                "admin",
                "--email",
                "",
            ],
            &with(&[]),
        );
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("That username is already taken."), "{out}");

        // No password: the superuser exists but cannot log in yet.
        let (code, out) = run_manage(
            &[
                "createsuperuser",
                "--noinput",
                "--username",
                "ops",
                "--email",
                "",
            ],
            &with(&[]),
        );
        assert_eq!(code, 0, "{out}");
        let ops = user(&db, "ops").await.expect("ops was created");
        assert!(ops.is_superuser && !ops.has_usable_password());
        assert_eq!(ops.email, "");

        // Not a terminal and no --noinput: nothing is asked or created.
        let (code, out) = run_manage(&["createsuperuser", "--username", "eve"], &with(&[]));
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("Superuser creation skipped due to not running in a TTY."),
            "{out}"
        );
        assert!(user(&db, "eve").await.is_none());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn createsuperuser_in_a_terminal_refuses_a_taken_username_and_ctrl_c_restores_echo() {
    for_each_database_with_url(|db, url| async move {
        migrate(&url);
        let (code, out) = run_manage(
            &[
                "createsuperuser",
                "--noinput",
                "--username",
                "ana",
                "--email",
                "",
            ],
            &[("DATABASE_URL", url.as_str())],
        );
        assert_eq!(code, 0, "{out}");

        // ana (the system user and --username) is taken: said, then the
        // question comes without a default.
        let mut terminal = Terminal::spawn(&["createsuperuser", "--username", "ana"], &url);
        terminal.expect("Error: That username is already taken.");
        terminal.answer("Username: ", "ana");
        terminal.expect("Error: That username is already taken.");
        terminal.answer("Username: ", "bob");
        terminal.answer("Email address: ", "");
        terminal.expect("Password: ");
        // Ctrl-C while echo is off for the password.
        terminal.session.send_control('c').expect("ctrl-c");
        terminal.expect("Operation cancelled.");
        let (shown, status) = terminal.finish();
        assert_eq!(status, 1, "{shown}");
        assert!(echo_is_on(&shown), "echo is back on: {shown}");
        assert!(user(&db, "bob").await.is_none(), "nothing created");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn changepassword_in_a_terminal_retries_and_changes_the_hash() {
    for_each_database_with_url(|db, url| async move {
        migrate(&url);
        let (code, out) = run_manage(
            &["changepassword", "nobody"],
            &[("DATABASE_URL", url.as_str())],
        );
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("user 'nobody' does not exist"), "{out}");

        let (code, out) = run_manage(
            &[
                "createsuperuser",
                "--noinput",
                "--username",
                "ana",
                "--email",
                "",
            ],
            &[
                ("DATABASE_URL", url.as_str()),
                ("MANOUCHE_SUPERUSER_PASSWORD", "the first passphrase"),
            ],
        );
        assert_eq!(code, 0, "{out}");

        // No USERNAME: the system user, ana.
        let mut terminal = Terminal::spawn(&["changepassword"], &url);
        terminal.expect("Changing password for user 'ana'");
        terminal.answer("Password: ", "new passphrase one");
        terminal.answer("Password (again): ", "new passphrase two");
        terminal.expect("Passwords do not match. Please try again.");
        terminal.answer("Password: ", "12345678");
        terminal.answer("Password (again): ", "12345678");
        terminal.expect("This password is entirely numeric.");
        terminal.answer("Password: ", "the second passphrase");
        terminal.answer("Password (again): ", "the second passphrase");
        terminal.expect("Password changed successfully for user 'ana'");
        let (shown, status) = terminal.finish();
        assert_eq!(status, 0, "{shown}");
        assert!(!shown.contains("passphrase"), "echoed: {shown}");
        assert!(!shown.contains("12345678"), "echoed: {shown}");
        let ana = user(&db, "ana").await.expect("ana");
        assert!(password_matches(&ana, "the second passphrase"));
        assert!(!password_matches(&ana, "the first passphrase"));

        // Three failures: nothing changes, exit status 1.
        let mut terminal = Terminal::spawn(&["changepassword", "ana"], &url);
        for _ in 0..3 {
            terminal.answer("Password: ", "one thing");
            terminal.answer("Password (again): ", "another");
            terminal.expect("Passwords do not match. Please try again.");
        }
        terminal.expect("Aborting password change for user 'ana' after 3 attempts");
        let (shown, status) = terminal.finish();
        assert_eq!(status, 1, "{shown}");
        let ana = user(&db, "ana").await.expect("ana");
        assert!(password_matches(&ana, "the second passphrase"));
        Ok(())
    })
    .await;
}
