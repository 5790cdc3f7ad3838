//! The commands' dialogues with a scripted console on a migrated database
//! (SQLite, and PostgreSQL with `DATABASE_URL`), and the field checks
//! against Django's answers. The real terminal is exercised end to end in
//! `tests/tests/auth_commands.rs`.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use super::terminal::Console;
use super::*;
use crate::contrib::auth::hashers::HasherSettings;
use crate::contrib::auth::{AuthSettings, throttle};
use crate::db::testing::for_each_database_with_url;
use crate::{Project, Settings};

/// Answers given in order; the transcript shows prompts with what was
/// typed (passwords as `***`), `out` lines as they are and `err` lines
/// after `! `.
#[derive(Default)]
struct Script {
    answers: VecDeque<&'static str>,
    transcript: String,
}

impl Script {
    fn new(answers: &[&'static str]) -> Self {
        Self {
            answers: answers.iter().copied().collect(),
            transcript: String::new(),
        }
    }

    fn next(&mut self, prompt: &str) -> io::Result<&'static str> {
        self.transcript.push_str(prompt);
        self.answers
            .pop_front()
            .ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }
}

impl Console for Script {
    async fn input(&mut self, prompt: &str) -> io::Result<String> {
        let answer = self.next(prompt)?;
        self.transcript.push_str(answer);
        self.transcript.push('\n');
        Ok(answer.to_owned())
    }

    async fn password(&mut self, prompt: &str) -> io::Result<String> {
        let answer = self.next(prompt)?;
        self.transcript.push_str("***\n");
        Ok(answer.to_owned())
    }

    fn out(&mut self, line: &str) {
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    fn err(&mut self, line: &str) {
        for line in line.lines() {
            self.transcript.push_str("! ");
            self.transcript.push_str(line);
            self.transcript.push('\n');
        }
    }
}

fn cheap_hasher() -> HasherSettings {
    HasherSettings::new(64, 1, 1).expect("valid argon2 parameters")
}

fn auth() -> Auth {
    let settings = AuthSettings {
        hasher: cheap_hasher(),
        ..AuthSettings::default()
    };
    Auth {
        throttle: throttle::Throttle::new(settings.throttle.clone()),
        settings: Arc::new(settings),
        secret_key: "test".to_owned(),
    }
}

/// A migrated database with the user `ana` (password `correct horse 42`).
async fn migrated(db: &Database, url: &str) -> crate::db::Result<()> {
    let url = url.to_owned();
    Project::new(Settings::default())
        .configure(move |s| s.database_url = url)
        .app(crate::contrib::sessions::app())
        .app(crate::contrib::auth::app())
        .migrate(db)
        .await
        .expect("migrate");
    let mut ana = User::new("ana", "correct horse 42", &cheap_hasher());
    ana.email = "ana@example.com".to_owned();
    User::objects().create(db, ana).await?;
    Ok(())
}

async fn user(db: &Database, username: &str) -> Option<User> {
    User::objects()
        .filter(User::username.eq(username.to_owned()))
        .first(db)
        .await
        .expect("query")
}

fn password_matches(user: &User, raw: &str) -> bool {
    hashers::check_password(raw, &user.password, &cheap_hasher()).matched()
}

#[tokio::test]
async fn createsuperuser_asks_again_after_each_refusal_as_django_does() {
    for_each_database_with_url(|db, url| async move {
        migrated(&db, &url).await?;
        let auth = auth();
        let long = "b".repeat(151);
        let long: &'static str = Box::leak(long.into_boxed_str());
        let mut script = Script::new(&[
            "",         // not offered: ana (the system user) is taken
            "ana",      // taken
            "bad name", // invalid
            long,       // too long
            "bob",      // fine
            "bob@",     // invalid
            "Bob@Example.COM",
            "one",
            "two", // mismatch
            "  ",
            "  ", // blank
            "password",
            "password",
            "n", // common, not bypassed
            "12345678",
            "12345678",
            "", // numeric and common, Enter = no
            "Bob@example.com",
            "Bob@example.com",
            "yes", // similar, bypassed
        ]);
        let questions = Questions {
            system_user: Some("Ana".to_owned()),
            ..Questions::default()
        };
        let created = create_interactively(&mut script, &db, &auth, questions)
            .await
            .expect("created");
        assert_eq!(
            script.transcript,
            format!(
                "Username: \n\
                 ! Error: This field cannot be blank.\n\
                 Username: ana\n\
                 ! Error: That username is already taken.\n\
                 Username: bad name\n\
                 ! Error: {INVALID_USERNAME}\n\
                 Username: {long}\n\
                 ! Error: Ensure this value has at most 150 characters (it has 151).\n\
                 Username: bob\n\
                 Email address: bob@\n\
                 ! Error: Enter a valid email address.\n\
                 Email address: Bob@Example.COM\n\
                 Password: ***\nPassword (again): ***\n\
                 ! Error: Your passwords didn't match.\n\
                 Password: ***\nPassword (again): ***\n\
                 ! Error: Blank passwords aren't allowed.\n\
                 Password: ***\nPassword (again): ***\n\
                 ! This password is too common.\n\
                 {BYPASS}n\n\
                 Password: ***\nPassword (again): ***\n\
                 ! This password is too common.\n\
                 ! This password is entirely numeric.\n\
                 {BYPASS}\n\
                 Password: ***\nPassword (again): ***\n\
                 ! The password is too similar to the email address.\n\
                 {BYPASS}yes\n\
                 Superuser created successfully.\n"
            ),
        );
        let bob = user(&db, "bob").await.expect("bob was saved");
        assert_eq!(bob.key(), created.key());
        assert!(bob.is_staff && bob.is_superuser && bob.is_active);
        assert_eq!(bob.email, "Bob@example.com", "the domain is lowercased");
        assert!(password_matches(&bob, "Bob@example.com"));
        assert!(
            bob.password
                .starts_with("argon2$argon2id$v=19$m=64,t=1,p=1$")
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn createsuperuser_takes_the_flags_and_offers_a_free_system_name() {
    for_each_database_with_url(|db, url| async move {
        migrated(&db, &url).await?;
        let auth = auth();
        // --username taken: said, then asked; the system name is offered
        // in ASCII, lowercase, without spaces.
        let mut script = Script::new(&["", "a-good-pass-42", "a-good-pass-42"]);
        let questions = Questions {
            username: Some("ana".to_owned()),
            email: Some("jm@example.com".to_owned()),
            system_user: Some("Jürgen Müller".to_owned()),
        };
        create_interactively(&mut script, &db, &auth, questions)
            .await
            .expect("created");
        assert_eq!(
            script.transcript,
            "! Error: That username is already taken.\n\
             Username (leave blank to use 'jurgenmuller'): \n\
             Password: ***\nPassword (again): ***\n\
             Superuser created successfully.\n"
        );
        assert_eq!(
            user(&db, "jurgenmuller").await.expect("saved").email,
            "jm@example.com"
        );

        // A system name that cannot be a username is not offered; a blank
        // answer is refused.
        let mut script = Script::new(&["", "carl", "a-good-pass-42", "a-good-pass-42"]);
        let questions = Questions {
            system_user: Some("山田".to_owned()),
            email: Some(String::new()),
            ..Questions::default()
        };
        create_interactively(&mut script, &db, &auth, questions)
            .await
            .expect("created");
        assert!(
            script.transcript.starts_with(
                "Username: \n! Error: This field cannot be blank.\nUsername: carl\nPassword: "
            ),
            "{}",
            script.transcript
        );

        // A bad --email or an empty --username ends the command.
        let bad_email = Questions {
            username: Some("dora".to_owned()),
            email: Some("dora".to_owned()),
            ..Questions::default()
        };
        let err = create_interactively(&mut Script::new(&[]), &db, &auth, bad_email)
            .await
            .expect_err("refused");
        assert_eq!(err.to_string(), "Enter a valid email address.");
        let blank = Questions {
            username: Some(String::new()),
            ..Questions::default()
        };
        let err = create_interactively(&mut Script::new(&[]), &db, &auth, blank)
            .await
            .expect_err("refused");
        assert_eq!(err.to_string(), "Username cannot be blank.");

        // The end of the input is a cancellation; nothing is saved.
        let err =
            create_interactively(&mut Script::new(&["eve"]), &db, &auth, Questions::default())
                .await
                .expect_err("cancelled");
        assert_eq!(err.to_string(), "Operation cancelled (end of input).");
        assert!(user(&db, "eve").await.is_none());
        assert!(user(&db, "dora").await.is_none());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn createsuperuser_noinput_reads_flags_then_variables_and_validates_the_password() {
    for_each_database_with_url(|db, url| async move {
        migrated(&db, &url).await?;
        let auth = auth();
        let env =
            |username: Option<&str>, email: Option<&str>, password: Option<&str>| SuperuserEnv {
                username: username.map(str::to_owned),
                email: email.map(str::to_owned),
                password: password.map(str::to_owned),
            };
        let refuse =
            |outcome: Result<User, StartupError>| outcome.expect_err("refused").to_string();
        let none = env(None, None, None);

        let message = refuse(create_without_input(&db, &auth, None, None, &none).await);
        assert!(message.contains("--username"), "{message}");
        assert!(message.contains(USERNAME_VAR), "{message}");
        let message =
            refuse(create_without_input(&db, &auth, Some("eve".into()), None, &none).await);
        assert!(message.contains("--email"), "{message}");
        assert!(message.contains(EMAIL_VAR), "{message}");
        let message = refuse(
            create_without_input(&db, &auth, Some("ana".into()), Some(String::new()), &none).await,
        );
        assert_eq!(message, "That username is already taken.");
        let message = refuse(
            create_without_input(
                &db,
                &auth,
                Some("bad name!".into()),
                Some(String::new()),
                &none,
            )
            .await,
        );
        assert_eq!(message, INVALID_USERNAME);
        let message = refuse(
            create_without_input(&db, &auth, Some("eve".into()), Some("eve".into()), &none).await,
        );
        assert_eq!(message, INVALID_EMAIL);
        let message = refuse(
            create_without_input(
                &db,
                &auth,
                None,
                None,
                &env(Some("eve"), Some(""), Some("password")),
            )
            .await,
        );
        assert!(
            message.starts_with("This password is too common.\n"),
            "{message}"
        );
        assert!(message.contains(PASSWORD_VAR), "{message}");
        let message = refuse(
            create_without_input(
                &db,
                &auth,
                None,
                None,
                &env(Some("eve"), Some(""), Some(" ")),
            )
            .await,
        );
        assert!(
            message.starts_with("Blank passwords aren't allowed.\n"),
            "{message}"
        );
        assert!(user(&db, "eve").await.is_none(), "nothing was saved");

        // The flags win over the variables; a password from the variable.
        let eve = create_without_input(
            &db,
            &auth,
            Some("eve".into()),
            None,
            &env(
                Some("ignored"),
                Some("eve@EXAMPLE.org"),
                Some("a-good-pass-42"),
            ),
        )
        .await
        .expect("created");
        assert_eq!(eve.username, "eve");
        assert_eq!(eve.email, "eve@example.org");
        let eve = user(&db, "eve").await.expect("saved");
        assert!(eve.is_staff && eve.is_superuser && eve.is_active);
        assert!(password_matches(&eve, "a-good-pass-42"));

        // Without a password: unusable. An empty --email falls back to
        // the variable, as in Django.
        let fay = create_without_input(
            &db,
            &auth,
            Some("fay".into()),
            Some(String::new()),
            &env(None, Some("fay@example.org"), None),
        )
        .await
        .expect("created");
        assert!(!fay.has_usable_password());
        assert_eq!(fay.email, "fay@example.org");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn changepassword_retries_three_times_then_gives_up() {
    for_each_database_with_url(|db, url| async move {
        migrated(&db, &url).await?;
        let auth = auth();
        let err = change_password(&mut Script::new(&[]), &db, &auth, "nobody")
            .await
            .expect_err("unknown");
        assert_eq!(err.to_string(), "user 'nobody' does not exist");

        let mut script = Script::new(&[
            "one",
            "two",
            "Ana@Example.com",
            "Ana@Example.com",
            "1234",
            "1234",
        ]);
        let err = change_password(&mut script, &db, &auth, "ana")
            .await
            .expect_err("three failures");
        assert_eq!(
            err.to_string(),
            "Aborting password change for user 'ana' after 3 attempts"
        );
        assert_eq!(
            script.transcript,
            "Changing password for user 'ana'\n\
             Password: ***\nPassword (again): ***\n\
             Passwords do not match. Please try again.\n\
             Password: ***\nPassword (again): ***\n\
             ! The password is too similar to the email address.\n\
             Password: ***\nPassword (again): ***\n\
             ! This password is too short. It must contain at least 8 characters.\n\
             ! This password is too common.\n\
             ! This password is entirely numeric.\n"
        );
        let err = change_password(&mut Script::new(&["x", ""]), &db, &auth, "ana")
            .await
            .expect_err("empty");
        assert!(err.to_string().starts_with("aborted"), "{err}");
        let ana = user(&db, "ana").await.expect("ana");
        assert!(password_matches(&ana, "correct horse 42"), "unchanged");

        let mut script = Script::new(&["one", "two", "new stable 42", "new stable 42"]);
        change_password(&mut script, &db, &auth, "ana")
            .await
            .expect("changed");
        assert!(
            script
                .transcript
                .ends_with("Password changed successfully for user 'ana'\n"),
            "{}",
            script.transcript
        );
        let ana = user(&db, "ana").await.expect("ana");
        assert!(password_matches(&ana, "new stable 42"));
        assert!(!password_matches(&ana, "correct horse 42"));
        assert_eq!(ana.email, "ana@example.com", "nothing else changed");
        Ok(())
    })
    .await;
}

#[test]
fn usernames_are_checked_as_djangos_field() {
    assert_eq!(clean_username("ana.b@c+d-e_f"), Ok(()));
    assert_eq!(clean_username("Zoë_2"), Ok(()));
    assert_eq!(clean_username(&"x".repeat(150)), Ok(()));
    assert_eq!(clean_username(""), Err(vec![BLANK_FIELD.to_owned()]));
    for bad in ["a b", "a!", "a/b", "tab\t", "new\nline"] {
        assert_eq!(
            clean_username(bad),
            Err(vec![INVALID_USERNAME.to_owned()]),
            "{bad:?}"
        );
    }
    assert_eq!(
        clean_username(&format!("bad name!{}", "a".repeat(151))),
        Err(vec![
            INVALID_USERNAME.to_owned(),
            "Ensure this value has at most 150 characters (it has 160).".to_owned(),
        ])
    );
    // NFKC: full-width letters and ligatures are their plain forms.
    assert_eq!(normalize_username("ｂｏｂ"), "bob");
    assert_eq!(normalize_username("ﬁsh"), "fish");
}

#[test]
fn the_system_name_is_offered_in_ascii_when_it_makes_a_username() {
    assert_eq!(ascii_username("Ana").as_deref(), Some("ana"));
    assert_eq!(
        ascii_username("Jürgen Müller").as_deref(),
        Some("jurgenmuller")
    );
    assert_eq!(ascii_username("Łukasz").as_deref(), Some("ukasz"));
    assert_eq!(ascii_username("山田"), None);
    assert_eq!(ascii_username("o'brien"), None);
    assert_eq!(ascii_username(&"a".repeat(151)), None);
    let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                  # a comment\n\
                  ana:x:1000:1000:Ana,,,:/home/ana:/bin/zsh\n";
    assert_eq!(account_of(passwd, 1000).as_deref(), Some("ana"));
    assert_eq!(account_of(passwd, 0).as_deref(), Some("root"));
    assert_eq!(account_of(passwd, 4242), None);
}

#[test]
fn email_addresses_are_checked_as_djangos_email_validator() {
    // Each case's answer is Django 5.2's `validate_email`.
    let cases: &[(&str, bool)] = &[
        ("email@here.com", true),
        ("weirder-email@here.and.there.com", true),
        ("email@[127.0.0.1]", true),
        ("email@[2001:dB8::1]", true),
        ("email@[2001:dB8:0:0:0:0:0:1]", true),
        ("email@[::fffF:127.0.0.1]", true),
        ("example@valid-----hyphens.com", true),
        ("example@valid-with-hyphens.com", true),
        ("test@domain.with.idn.tld.उदाहरण.परीक्षा", true),
        ("email@localhost", true),
        ("\"test@test\"@example.com", true),
        ("\"\\\\\\011\"@here.com", true),
        ("a@xn--80akhbyknj4f.xn--p1ai", true),
        ("a@b.xn--a", true),
        ("a@b.xn-aa", true),
        ("a@b.ée", true),
        ("a@bé.cd", true),
        ("a.b@c.de", true),
        ("a@b.c0m", false),
        ("", false),
        ("abc", false),
        ("abc@", false),
        ("abc@bar", false),
        ("a @x.cz", false),
        ("abc@.com", false),
        ("something@@somewhere.com", false),
        ("email@127.0.0.1", false),
        ("email@[127.0.0.256]", false),
        ("email@[2001:db8::12345]", false),
        ("email@[2001:db8:0:0:0:0:1]", false),
        ("email@[::ffff:127.0.0.256]", false),
        ("email@[2001:dg8::1]", false),
        ("email@[::fTzF:127.0.0.1]", false),
        ("example@invalid-.com", false),
        ("example@-invalid.com", false),
        ("example@invalid.com-", false),
        ("example@inv-.alid-.com", false),
        ("example@inv-.-alid.com", false),
        ("test@example.com\n\n<script src=\"x.js\">", false),
        ("trailingdot@shouldfail.com.", false),
        ("a@b.com\n", false),
        ("a\n@b.com", false),
        ("\"test@test\"\n@example.com", false),
        ("a@[127.0.0.1]\n", false),
        ("a@b.c", false),
        ("a@b.x-", false),
        ("a@b.-x", false),
        ("a@xn--", false),
        ("a@b.é", false),
        ("é@b.cd", false),
        ("a..b@c.de", false),
        (".a@c.de", false),
        ("a.@c.de", false),
        ("a@c.de.", false),
        ("a@[1.2.3.4]x", false),
        ("a@[01.2.3.4]", false),
        ("a@[1.2.3]", false),
    ];
    for (email, valid) in cases {
        assert_eq!(is_valid_email(email), *valid, "{email:?}");
    }
    let label = "a".repeat(63);
    assert!(is_valid_email(&format!("example@atm.{label}")));
    assert!(is_valid_email(&format!("example@{label}.atm")));
    assert!(!is_valid_email(&format!("example@atm.{label}a")));
    assert!(!is_valid_email(&format!("example@{label}b.atm.{label}")));

    assert_eq!(clean_email(""), Ok(String::new()));
    let long = format!("{}@example.com", "a".repeat(250));
    assert_eq!(
        clean_email(&long),
        Err(vec![
            "Ensure this value has at most 254 characters (it has 262).".to_owned()
        ])
    );
    assert_eq!(normalize_email("Ana@Example.COM"), "Ana@example.com");
}
