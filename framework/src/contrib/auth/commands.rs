//! `manage createsuperuser` and `manage changepassword`, Django's commands
//! of the same names, with their questions and messages.
//!
//! ```text
//! $ example-site createsuperuser
//! Username (leave blank to use 'ana'):
//! Email address: ana@example.com
//! Password:
//! Password (again):
//! Superuser created successfully.
//!
//! $ MANOUCHE_SUPERUSER_PASSWORD='a long passphrase' \
//!     example-site createsuperuser --noinput --username admin --email admin@example.com
//! Superuser created successfully.
//!
//! $ example-site changepassword ana
//! Changing password for user 'ana'
//! Password:
//! Password (again):
//! Password changed successfully for user 'ana'
//! ```
//!
//! **createsuperuser** asks, in a terminal, for the username (the system
//! user's name is offered when it is a valid username nobody has), the
//! e-mail address (optional) and the password twice, without echo. A
//! password the validators (`[auth.password_validators]`) refuse is shown
//! with their messages and the question whether to create the user anyway
//! (`y` or `yes`; Django accepts only `y`). The user is active, staff and
//! superuser; the password is hashed with `[auth.hasher]`.
//!
//! With `--noinput` (or `--no-input`) nothing is asked: the username comes
//! from `--username` or `MANOUCHE_SUPERUSER_USERNAME`, the e-mail address
//! from `--email` or `MANOUCHE_SUPERUSER_EMAIL` (one of them must be given,
//! empty for none, as Django requires), the password from
//! `MANOUCHE_SUPERUSER_PASSWORD`; without it the user gets an unusable
//! password (set one later with `changepassword`). **Unlike Django**, a
//! password given this way is validated: a weak one, or a blank one, is
//! refused with the validators' messages and exit status 1, and no user is
//! made, so that a deployment script cannot create an admin with a weak
//! password unnoticed.
//!
//! Without a terminal and without `--noinput`, nothing is created and the
//! command says so, with exit status 0 (Django's "Superuser creation
//! skipped due to not running in a TTY").
//!
//! **changepassword [USERNAME]** (by default the system user's name) asks
//! for the new password twice, without echo, and checks it with the
//! validators; after three failed tries it gives up with exit status 1.
//! An empty password aborts. Changing the password logs the user out of
//! every session. When the standard input is not a terminal, the
//! passwords are read from it line by line, after a warning.
//!
//! Ctrl-C at any question leaves the terminal as it was, creates or
//! changes nothing, and exits with status 1.

mod terminal;

use std::io::IsTerminal as _;

use unicode_normalization::UnicodeNormalization as _;

use super::validators::{self, UserAttributes};
use super::{Auth, User, hashers};
use crate::StartupError;
use crate::app::CommandContext;
use crate::db::{Database, Model};
use terminal::{Console, Terminal, input_error};

const USERNAME_VAR: &str = "MANOUCHE_SUPERUSER_USERNAME";
const EMAIL_VAR: &str = "MANOUCHE_SUPERUSER_EMAIL";
const PASSWORD_VAR: &str = "MANOUCHE_SUPERUSER_PASSWORD";

/// `auth_user.username`'s length.
const USERNAME_MAX_LENGTH: usize = 150;
/// `auth_user.email`'s length.
const EMAIL_MAX_LENGTH: usize = 254;
/// `changepassword`'s tries (Django's `MAX_TRIES`).
const MAX_TRIES: usize = 3;

const TAKEN: &str = "Error: That username is already taken.";
const INVALID_USERNAME: &str = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
const INVALID_EMAIL: &str = "Enter a valid email address.";
const BLANK_FIELD: &str = "This field cannot be blank.";
const BLANK_PASSWORD: &str = "Error: Blank passwords aren't allowed.";
const BYPASS: &str = "Bypass password validation and create user anyway? [y/N]: ";

fn fail(message: impl Into<String>) -> StartupError {
    StartupError::improperly_configured(message)
}

// ---- createsuperuser ----

/// `createsuperuser`'s command line.
pub(super) fn createsuperuser_cli() -> clap::Command {
    use clap::{Arg, ArgAction};
    clap::Command::new("createsuperuser")
        .about("Create a superuser: an active staff user with every permission")
        .long_about(
            "Create a superuser: an active staff user with every permission.\n\n\
             In a terminal it asks for the username, the e-mail address and the password \
             (twice, hidden); a password the validators refuse can be kept after a \
             confirmation. Without a terminal it needs --noinput.",
        )
        .arg(
            Arg::new("username")
                .long("username")
                .value_name("USERNAME")
                .help("The superuser's login (or MANOUCHE_SUPERUSER_USERNAME with --noinput)"),
        )
        .arg(
            Arg::new("email")
                .long("email")
                .value_name("EMAIL")
                .help("The superuser's e-mail address (or MANOUCHE_SUPERUSER_EMAIL with --noinput; empty for none)"),
        )
        .arg(
            Arg::new("noinput")
                .long("noinput")
                .visible_alias("no-input")
                .action(ArgAction::SetTrue)
                .help("Ask nothing: take the username, e-mail address and password from the flags and MANOUCHE_SUPERUSER_* variables")
                .long_help(
                    "Ask nothing. The username comes from --username or \
                     MANOUCHE_SUPERUSER_USERNAME, the e-mail address from --email or \
                     MANOUCHE_SUPERUSER_EMAIL (one must be given; empty for none), the \
                     password from MANOUCHE_SUPERUSER_PASSWORD. Without a password the \
                     superuser cannot log in until `changepassword` gives one.\n\n\
                     Unlike Django, the password given this way is checked by the password \
                     validators: a weak or blank one is refused (exit status 1) and no user \
                     is created.",
                ),
        )
}

/// `createsuperuser`.
pub(super) async fn createsuperuser(context: CommandContext) -> Result<(), StartupError> {
    let matches = context.matches();
    let username = matches.get_one::<String>("username").cloned();
    let email = matches.get_one::<String>("email").cloned();
    let noinput = matches.get_flag("noinput");
    let auth = context.service::<Auth>()?;
    let db = context.database()?;
    if noinput {
        let env = SuperuserEnv::from_process()?;
        create_without_input(&db, &auth, username, email, &env).await?;
        println!("Superuser created successfully.");
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        println!(
            "Superuser creation skipped due to not running in a TTY. You can run `{} \
             createsuperuser` in your project to create one manually.",
            program_name()
        );
        return Ok(());
    }
    let mut console = Terminal::default();
    let questions = Questions {
        username,
        email,
        system_user: system_username(),
    };
    terminal::cancellable(create_interactively(&mut console, &db, &auth, questions)).await?;
    Ok(())
}

/// The `MANOUCHE_SUPERUSER_*` variables (Django's `DJANGO_SUPERUSER_*`).
#[derive(Debug, Default)]
struct SuperuserEnv {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

impl SuperuserEnv {
    fn from_process() -> Result<Self, StartupError> {
        let var = |name: &str| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(fail(format!("{name} is not valid UTF-8")))
            }
        };
        Ok(Self {
            username: var(USERNAME_VAR)?,
            email: var(EMAIL_VAR)?,
            password: var(PASSWORD_VAR)?,
        })
    }
}

/// `createsuperuser --noinput`.
async fn create_without_input(
    db: &Database,
    auth: &Auth,
    username: Option<String>,
    email: Option<String>,
    env: &SuperuserEnv,
) -> Result<User, StartupError> {
    let Some(username) = username.or_else(|| env.username.clone()) else {
        return Err(fail(format!(
            "You must use --username with --noinput (or set {USERNAME_VAR})."
        )));
    };
    let username = normalize_username(&username);
    if let Some(error) = check_username(db, &username).await? {
        return Err(fail(error.trim_start_matches("Error: ")));
    }
    // Django: the flag unless empty, then the variable; an empty value of
    // either is "no address", nothing at all is an error.
    let given = [email.as_deref(), env.email.as_deref()];
    let email = match given.iter().flatten().find(|e| !e.is_empty()) {
        Some(value) => clean_email(value).map_err(|errors| fail(errors.join("; ")))?,
        None if given.contains(&Some("")) => String::new(),
        None => {
            return Err(fail(format!(
                "You must use --email with --noinput (or set {EMAIL_VAR}; an empty value \
                 leaves the superuser without an address)."
            )));
        }
    };
    let password = match &env.password {
        None => None,
        Some(password) if password.trim().is_empty() => {
            return Err(fail(format!(
                "{}\nThe superuser was not created; set {PASSWORD_VAR} to a real password, or \
                 unset it for a user who cannot log in yet.",
                BLANK_PASSWORD.trim_start_matches("Error: ")
            )));
        }
        Some(password) => {
            let attributes = UserAttributes {
                username: &username,
                email: &email,
                ..UserAttributes::default()
            };
            if let Err(errors) = validators::validate_password(
                password,
                &attributes,
                &auth.settings().password_validators,
            ) {
                return Err(fail(format!(
                    "{}\nThe superuser was not created; set a stronger {PASSWORD_VAR}.",
                    errors.join("\n")
                )));
            }
            Some(password.clone())
        }
    };
    save_superuser(db, auth, username, email, password).await
}

/// What `createsuperuser` in a terminal starts from.
#[derive(Debug, Default)]
struct Questions {
    /// `--username`: not asked unless it is refused.
    username: Option<String>,
    /// `--email`: not asked.
    email: Option<String>,
    /// The system user's name, offered as the username.
    system_user: Option<String>,
}

/// `createsuperuser` in a terminal (Django's questions and messages).
async fn create_interactively(
    console: &mut impl Console,
    db: &Database,
    auth: &Auth,
    questions: Questions,
) -> Result<User, StartupError> {
    let Questions {
        username,
        email,
        system_user,
    } = questions;
    let mut username = match username {
        Some(given) if given.is_empty() => return Err(fail("Username cannot be blank.")),
        Some(given) => {
            let given = normalize_username(&given);
            match check_username(db, &given).await? {
                Some(error) => {
                    console.err(&error);
                    None
                }
                None => Some(given),
            }
        }
        None => None,
    };
    let default = match system_user {
        Some(system) => suggested_username(db, &system).await?,
        None => None,
    };
    let prompt = match &default {
        Some(default) => format!("Username (leave blank to use '{default}'): "),
        None => "Username: ".to_owned(),
    };
    while username.is_none() {
        let typed = console.input(&prompt).await.map_err(input_error)?;
        let typed = match &default {
            Some(default) if typed.is_empty() => default.clone(),
            _ => normalize_username(&typed),
        };
        if let Err(errors) = clean_username(&typed) {
            console.err(&format!("Error: {}", errors.join("; ")));
            continue;
        }
        match check_username(db, &typed).await? {
            Some(error) => console.err(&error),
            None => username = Some(typed),
        }
    }
    let username = username.expect("the loop ends with a username");

    let email = match email {
        Some(given) => clean_email(&given).map_err(|errors| fail(errors.join("; ")))?,
        None => loop {
            let typed = console
                .input("Email address: ")
                .await
                .map_err(input_error)?;
            match clean_email(&typed) {
                Ok(email) => break email,
                Err(errors) => console.err(&format!("Error: {}", errors.join("; "))),
            }
        },
    };

    let attributes = UserAttributes {
        username: &username,
        email: &email,
        ..UserAttributes::default()
    };
    let password = loop {
        let password = console.password("Password: ").await.map_err(input_error)?;
        let again = console
            .password("Password (again): ")
            .await
            .map_err(input_error)?;
        if password != again {
            console.err("Error: Your passwords didn't match.");
            continue;
        }
        if password.trim().is_empty() {
            console.err(BLANK_PASSWORD);
            continue;
        }
        if let Err(errors) = validators::validate_password(
            &password,
            &attributes,
            &auth.settings().password_validators,
        ) {
            console.err(&errors.join("\n"));
            let answer = console.input(BYPASS).await.map_err(input_error)?;
            if !matches!(answer.to_lowercase().as_str(), "y" | "yes") {
                continue;
            }
        }
        break password;
    };
    let user = save_superuser(db, auth, username, email, Some(password)).await?;
    console.out("Superuser created successfully.");
    Ok(user)
}

/// Saves an active staff superuser; `None` for an unusable password.
async fn save_superuser(
    db: &Database,
    auth: &Auth,
    username: String,
    email: String,
    password: Option<String>,
) -> Result<User, StartupError> {
    let password = match password {
        Some(raw) => hash(raw, auth).await?,
        None => hashers::make_unusable_password(),
    };
    let user = User {
        username,
        email: normalize_email(&email),
        password,
        is_staff: true,
        is_superuser: true,
        is_active: true,
        ..User::default()
    };
    match User::objects().create(db, user).await {
        Ok(user) => Ok(user),
        // Taken between the check and the insert.
        Err(e) if e.is_unique_violation() => Err(fail(TAKEN.trim_start_matches("Error: "))),
        Err(e) => Err(e.into()),
    }
}

/// Hashes `raw` with `[auth.hasher]`, off the async threads.
async fn hash(raw: String, auth: &Auth) -> Result<String, StartupError> {
    let hasher = auth.settings().hasher.clone();
    match tokio::task::spawn_blocking(move || hashers::make_password(&raw, &hasher)).await {
        Ok(encoded) => Ok(encoded),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(fail("the runtime shut down while hashing the password")),
    }
}

// ---- changepassword ----

/// `changepassword`'s command line.
pub(super) fn changepassword_cli() -> clap::Command {
    clap::Command::new("changepassword")
        .about("Change a user's password")
        .long_about(
            "Change a user's password: asks for it twice, hidden, and checks it with the \
             password validators (three tries). The user's other sessions are logged out.",
        )
        .arg(
            clap::Arg::new("username")
                .value_name("USERNAME")
                .help("The user; by default, the system user's name"),
        )
}

/// `changepassword`.
pub(super) async fn changepassword(context: CommandContext) -> Result<(), StartupError> {
    let username = match context.matches().get_one::<String>("username") {
        Some(username) => username.clone(),
        None => system_username().ok_or_else(|| {
            fail("cannot tell the system user's name (LOGNAME and USER are not set): give the USERNAME")
        })?,
    };
    let auth = context.service::<Auth>()?;
    let db = context.database()?;
    let mut console = Terminal::default();
    terminal::cancellable(change_password(&mut console, &db, &auth, &username)).await
}

/// `changepassword` (Django's questions and messages).
async fn change_password(
    console: &mut impl Console,
    db: &Database,
    auth: &Auth,
    username: &str,
) -> Result<(), StartupError> {
    let Some(user) = User::objects()
        .filter(User::username.eq(username.to_owned()))
        .first(db)
        .await?
    else {
        return Err(fail(format!("user '{username}' does not exist")));
    };
    console.out(&format!("Changing password for user '{}'", user.username));
    let mut failures = 0;
    let password = loop {
        if failures == MAX_TRIES {
            return Err(fail(format!(
                "Aborting password change for user '{}' after {MAX_TRIES} attempts",
                user.username
            )));
        }
        let password = ask_new_password(console, "Password: ").await?;
        let again = ask_new_password(console, "Password (again): ").await?;
        if password != again {
            console.out("Passwords do not match. Please try again.");
            failures += 1;
            continue;
        }
        if let Err(errors) = validators::validate_password(
            &password,
            &super::views::attributes(&user),
            &auth.settings().password_validators,
        ) {
            console.err(&errors.join("\n"));
            failures += 1;
            continue;
        }
        break password;
    };
    let encoded = hash(password, auth).await?;
    User::objects()
        .filter(User::id.eq(user.key()))
        .update(db, [User::password.set(encoded)])
        .await?;
    console.out(&format!(
        "Password changed successfully for user '{}'",
        user.username
    ));
    Ok(())
}

/// A password for `changepassword`: an empty one aborts (Django's
/// `_get_pass`).
async fn ask_new_password(
    console: &mut impl Console,
    prompt: &str,
) -> Result<String, StartupError> {
    let password = console.password(prompt).await.map_err(input_error)?;
    if password.is_empty() {
        return Err(fail("aborted: the password is empty"));
    }
    Ok(password)
}

// ---- usernames and e-mail addresses, as Django's User fields check them ----

/// Django's `AbstractBaseUser.normalize_username`: NFKC, so that
/// look-alike characters make the same name.
fn normalize_username(username: &str) -> String {
    username.nfkc().collect()
}

/// Django's `UserManager.normalize_email`: the domain in lowercase.
fn normalize_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

/// The `username` field's checks (Django's `field.clean`): not blank, the
/// `UnicodeUsernameValidator`, at most 150 characters.
fn clean_username(username: &str) -> Result<(), Vec<String>> {
    if username.is_empty() {
        return Err(vec![BLANK_FIELD.to_owned()]);
    }
    let mut errors = Vec::new();
    // Python's `\w` (letters, digits, `_`) and `.@+-`.
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-'))
    {
        errors.push(INVALID_USERNAME.to_owned());
    }
    let length = username.chars().count();
    if length > USERNAME_MAX_LENGTH {
        errors.push(format!(
            "Ensure this value has at most {USERNAME_MAX_LENGTH} characters (it has {length})."
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What is wrong with `username` for a new user (Django's
/// `_validate_username`), or `None`.
async fn check_username(db: &Database, username: &str) -> Result<Option<String>, StartupError> {
    if User::objects()
        .filter(User::username.eq(username.to_owned()))
        .exists(db)
        .await?
    {
        return Ok(Some(TAKEN.to_owned()));
    }
    if username.is_empty() {
        return Ok(Some("Username cannot be blank.".to_owned()));
    }
    Ok(clean_username(username)
        .err()
        .map(|errors| errors.join("; ")))
}

/// The `email` field's checks (Django's `field.clean` of an `EmailField`
/// with `blank=True`): empty is fine; otherwise the `EmailValidator` and
/// at most 254 characters. Returns the address.
fn clean_email(email: &str) -> Result<String, Vec<String>> {
    if email.is_empty() {
        return Ok(String::new());
    }
    let mut errors = Vec::new();
    if !is_valid_email(email) {
        errors.push(INVALID_EMAIL.to_owned());
    }
    let length = email.chars().count();
    if length > EMAIL_MAX_LENGTH {
        errors.push(format!(
            "Ensure this value has at most {EMAIL_MAX_LENGTH} characters (it has {length})."
        ));
    }
    if errors.is_empty() {
        Ok(email.to_owned())
    } else {
        Err(errors)
    }
}

/// Django's `EmailValidator`: a dot-atom or quoted local part, then a
/// domain name with a top-level domain of letters (or `xn--`), an IP
/// address in brackets, or `localhost`; 320 characters at most.
fn is_valid_email(value: &str) -> bool {
    if value.chars().count() > 320 {
        return false;
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    is_valid_local_part(local)
        && (domain == "localhost" || is_valid_domain(domain) || is_valid_address_literal(domain))
}

fn is_valid_local_part(local: &str) -> bool {
    const ATEXT: &str = "-!#$%&'*+/=?^_`{}|~";
    let dot_atom = !local.is_empty()
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ATEXT.contains(c))
        });
    dot_atom || is_quoted_string(local)
}

/// `"..."` with printable ASCII (no space), or any character but CR and LF
/// escaped with `\`.
fn is_quoted_string(local: &str) -> bool {
    let Some(inner) = local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let ok = match c {
            '\\' => chars
                .next()
                .is_some_and(|e| matches!(e, '\x01'..='\x09' | '\x0b' | '\x0c' | '\x0e'..='\x7f')),
            '\x01'..='\x08'
            | '\x0b'
            | '\x0c'
            | '\x0e'..='\x1f'
            | '!'
            | '#'..='['
            | ']'..='\x7f' => true,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Django's `hostname_re + domain_re + tld_no_fqdn_re`: labels of letters
/// (any from U+00A1 to U+FFFF too), digits and `-`, 63 characters at most,
/// not starting or ending with `-`; the last label letters only (two or
/// more) or punycode (`xn--`).
fn is_valid_domain(domain: &str) -> bool {
    let in_class = |c: char, digits: bool| {
        c.is_ascii_alphabetic()
            || ('\u{a1}'..='\u{ffff}').contains(&c)
            || (digits && c.is_ascii_digit())
    };
    let label_ok = |label: &str, digits: bool, min: usize| {
        let length = label.chars().count();
        (min..=63).contains(&length)
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c == '-' || in_class(c, digits))
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, names)) = labels.split_last() else {
        return false;
    };
    if names.is_empty() || !names.iter().all(|label| label_ok(label, true, 1)) {
        return false;
    }
    let punycode = tld
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("xn--"))
        && (5..=63).contains(&tld.len())
        && tld[4..].chars().all(|c| c.is_ascii_alphanumeric());
    label_ok(tld, false, 2) || punycode
}

/// `[192.0.2.1]` or `[2001:db8::1]`.
fn is_valid_address_literal(domain: &str) -> bool {
    domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|address| {
            !address.is_empty()
                && address
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                && address.parse::<std::net::IpAddr>().is_ok()
        })
}

// ---- the system user ----

/// The name of the user running the command (Python's
/// `getpass.getuser`): `LOGNAME`, `USER`, `LNAME` or `USERNAME`, else the
/// account of the process's user id in `/etc/passwd`.
fn system_username() -> Option<String> {
    for name in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let Ok(value) = std::env::var(name)
            && !value.is_empty()
        {
            return Some(value);
        }
    }
    let uid = rustix::process::getuid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    account_of(&passwd, uid)
}

/// The name of `uid`'s line in a `passwd` file.
fn account_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// The username `createsuperuser` offers for `system` (Django's
/// `get_default_username`): ASCII (accents dropped), without spaces, in
/// lowercase; none when that is not a valid username or is taken.
async fn suggested_username(db: &Database, system: &str) -> Result<Option<String>, StartupError> {
    let Some(candidate) = ascii_username(system) else {
        return Ok(None);
    };
    let taken = User::objects()
        .filter(User::username.eq(candidate.clone()))
        .exists(db)
        .await?;
    Ok((!taken).then_some(candidate))
}

/// `system` in NFKD with everything but ASCII dropped, spaces removed and
/// lowercased, when that is a valid username.
fn ascii_username(system: &str) -> Option<String> {
    let candidate: String = system
        .nfkd()
        .filter(|c| c.is_ascii() && *c != ' ')
        .collect::<String>()
        .to_lowercase();
    (!candidate.is_empty() && clean_username(&candidate).is_ok()).then_some(candidate)
}

/// The program's file name, for "run `NAME createsuperuser`".
fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(std::path::Path::file_name)
        .map_or_else(
            || "manage".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        )
}

#[cfg(test)]
mod tests;
