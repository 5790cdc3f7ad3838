//! Ports of Django's `tests/auth_tests/test_hashers.py` that apply, the
//! hashes Django 5.2 wrote (`tests/fixtures/django_password_hashes.json`),
//! and every malformed hash we could think of.

use std::time::{Duration, Instant};

use super::*;

/// Cheap parameters, so that the tests run fast.
fn cheap() -> HasherSettings {
    HasherSettings::new(64, 1, 1).expect("valid")
}

#[derive(serde::Deserialize)]
struct Fixture {
    django_version: String,
    password: String,
    hashes: std::collections::BTreeMap<String, String>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!(
        "../../../../tests/fixtures/django_password_hashes.json"
    ))
    .expect("the fixture is JSON")
}

#[test]
fn django_5_2_hashes_verify_and_ask_for_an_upgrade() {
    let fixture = fixture();
    assert!(fixture.django_version.starts_with("5.2"));
    let names: Vec<&str> = fixture.hashes.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "argon2",
            "bcrypt",
            "bcrypt_sha256",
            "pbkdf2_sha1",
            "pbkdf2_sha256"
        ]
    );
    // Django's defaults, written by Django itself.
    assert!(fixture.hashes["pbkdf2_sha256"].starts_with("pbkdf2_sha256$1000000$"));
    assert!(fixture.hashes["argon2"].starts_with("argon2$argon2id$v=19$m=102400,t=2,p=8$"));

    let settings = HasherSettings::default();
    for (name, encoded) in &fixture.hashes {
        let check = check_password(&fixture.password, encoded, &settings);
        assert!(check.matched(), "{name}: {check:?}");
        assert!(
            check.must_update(),
            "{name} is not argon2id with the settings"
        );
        assert_eq!(check.error(), None);
    }
    // The two a Django site most likely has, with a wrong password too.
    for name in ["pbkdf2_sha256", "argon2"] {
        let check = check_password("lètmein, Manouche?", &fixture.hashes[name], &settings);
        assert_eq!(check, Check::mismatch(None), "{name}");
    }
}

#[test]
fn djangos_own_argon2_parameters_need_no_upgrade_when_configured() {
    let fixture = fixture();
    let django = HasherSettings::new(102_400, 2, 8).expect("valid");
    let check = check_password(&fixture.password, &fixture.hashes["argon2"], &django);
    assert!(check.matched() && !check.must_update(), "{check:?}");
}

#[test]
fn new_hashes_are_argon2id_in_djangos_format_and_match_argon2_cffi() {
    // Django 5.2 with argon2-cffi 25.1: Argon2PasswordHasher with
    // memory_cost=64, time_cost=1, parallelism=1,
    // .encode("lètmein", "abcdefghijklmnopqrstuv").
    assert_eq!(
        argon2id::encode("lètmein", "abcdefghijklmnopqrstuv", &cheap()),
        "argon2$argon2id$v=19$m=64,t=1,p=1$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$TvgaZw6hJ+LUSTAGvv0nTPAZyRFZkBKqasT8iYdCpTg"
    );
    assert_eq!(
        argon2id::encode("", "abcdefghijklmnopqrstuv", &cheap()),
        "argon2$argon2id$v=19$m=64,t=1,p=1$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$AdcoR1mKKpeTTv6/03cy0/2tWTVpoxAldwaFAf1fSPg"
    );
}

#[test]
fn make_password_then_check_password() {
    // Django's test_argon2.
    let settings = cheap();
    let encoded = make_password("lètmein", &settings);
    assert!(encoded.starts_with("argon2$argon2id$v=19$m=64,t=1,p=1$"));
    assert!(is_password_usable(&encoded));
    let check = check_password("lètmein", &encoded, &settings);
    assert!(check.matched() && !check.must_update() && check.error().is_none());
    assert!(!check_password("lètmeinz", &encoded, &settings).matched());
    // A new random 22-character salt each time.
    let again = make_password("lètmein", &settings);
    assert_ne!(encoded, again);
    let salt = encoded.split('$').nth(4).expect("a salt");
    assert_eq!(salt.len(), 30, "22 bytes in unpadded base64");
    // Blank passwords.
    let blank = make_password("", &settings);
    assert!(check_password("", &blank, &settings).matched());
    assert!(!check_password(" ", &blank, &settings).matched());
}

#[test]
fn default_settings_are_the_owasp_minimum() {
    let settings = HasherSettings::default();
    assert_eq!(
        (
            settings.memory_cost(),
            settings.time_cost(),
            settings.parallelism()
        ),
        (19_456, 2, 1)
    );
    let encoded = make_password("x", &settings);
    assert!(encoded.starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"));
}

#[test]
fn old_django_argon2_hashes_still_verify() {
    let settings = cheap();
    // Django's test_argon2: argon2i without a version attribute (argon2 1.0).
    let no_version = "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg";
    let check = check_password("secret", no_version, &settings);
    assert!(check.matched() && check.must_update(), "{check:?}");
    assert!(!check_password("wrong", no_version, &settings).matched());
    // With a version attribute, and a 16-byte hash.
    let versioned = "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q";
    assert!(check_password("secret", versioned, &settings).matched());
    assert!(!check_password("wrong", versioned, &settings).matched());
}

#[test]
fn argon2_upgrades_when_any_parameter_differs() {
    // Django's test_argon2_upgrade and test_argon2_version_upgrade.
    let base = HasherSettings::new(64, 1, 1).expect("valid");
    let encoded = make_password("letmein", &base);
    for other in [(128, 1, 1), (64, 2, 1), (64, 1, 2)] {
        let settings = HasherSettings::new(other.0, other.1, other.2).expect("valid");
        let check = check_password("letmein", &encoded, &settings);
        assert!(check.matched() && check.must_update(), "{other:?}");
        // Never on a wrong password.
        assert!(!check_password("letmeout", &encoded, &settings).must_update());
    }
    assert!(!check_password("letmein", &encoded, &base).must_update());

    let settings = HasherSettings::new(8, 1, 1).expect("valid");
    let sixteen_bytes =
        "argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw";
    let check = check_password("secret", sixteen_bytes, &settings);
    assert!(check.matched() && check.must_update());
}

#[test]
fn argon2_upgrades_a_weak_salt() {
    // Django's salt entropy check: "iodizedsalt" has 11 characters, less
    // than 128 bits' worth.
    let settings = cheap();
    let weak = argon2id::encode("lètmein", "iodizedsalt", &settings);
    assert_eq!(
        weak,
        "argon2$argon2id$v=19$m=64,t=1,p=1$aW9kaXplZHNhbHQ$r1+2QPOgXIpoFgnjnZuNorzkWPpaoYyjGKP//BjUuhE"
    );
    assert!(check_password("lètmein", &weak, &settings).must_update());
    let strong = argon2id::encode("lètmein", "abcdefghijklmnopqrstuv", &settings);
    assert!(!check_password("lètmein", &strong, &settings).must_update());
}

#[test]
fn pbkdf2_hashes_verify_as_django_writes_them() {
    let settings = cheap();
    // Django 5.2: PBKDF2PasswordHasher().encode("lètmein", "seasalt",
    // iterations=1000), and the SHA-1 one.
    for encoded in [
        "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
        "pbkdf2_sha1$1000$seasalt$ljleU4wBmTtz/MoG5YTwxpM0d7I=",
    ] {
        let check = check_password("lètmein", encoded, &settings);
        assert!(
            check.matched() && check.must_update(),
            "{encoded}: {check:?}"
        );
        assert!(!check_password("lètmeinz", encoded, &settings).matched());
        assert!(!check_password("", encoded, &settings).matched());
    }
    // Django's test_pbkdf2 and test_low_level_pbkdf2_sha1 (390,000 iterations).
    let sha256 = "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=";
    assert!(check_password("lètmein", sha256, &settings).matched());
    let sha1 = "pbkdf2_sha1$390000$seasalt2$aDapRanzW8aHTz97v2TcfHzWD+I=";
    assert!(check_password("lètmein", sha1, &settings).matched());
    // Django compares the whole text: another spelling of the count is
    // not the hash it wrote.
    let leading_zero = "pbkdf2_sha256$01000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
    assert!(!check_password("lètmein", leading_zero, &settings).matched());
}

#[test]
fn bcrypt_hashes_verify_as_django_writes_them() {
    let settings = cheap();
    // Django 5.2 with bcrypt 5.0, rounds=4.
    let sha256 = "bcrypt_sha256$$2b$04$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcZS";
    let check = check_password("lètmein", sha256, &settings);
    assert!(check.matched() && check.must_update(), "{check:?}");
    assert!(!check_password("lètmeinz", sha256, &settings).matched());
    let plain = "bcrypt$$2b$04$DZxnC0Da0t0J/S6v4LY97.VIiGve7K0h3agRwOWnDfsplOa9FU.Xy";
    assert!(check_password("lètmein", plain, &settings).matched());
    assert!(!check_password("lètmeinz", plain, &settings).matched());
    // Django's test_bcrypt_sha256: a long password is not cut at 72 bytes.
    let long = "VSK0UYV6FFQVZ0KG88DYN9WADAADZO1CTSIVDJUNZSUML6IBX7LN7ZS3R5JGB3RGZ7VI7G7DJQ9NI8BQFSRPTG6UWTTVESA5ZPUN";
    let long_hash = "bcrypt_sha256$$2b$04$KUxwC3p55pet7XSuMALMo.sbQ7SIqL9vR4y0bomTt9sM3b6UrXKZ6";
    assert!(check_password(long, long_hash, &settings).matched());
    assert!(!check_password(&long[..72], long_hash, &settings).matched());
    let blank = "bcrypt_sha256$$2b$04$HFhhy8rh82hLXmW/FLci0uYkIB4QiFnQ/yUgPFCFgbOycBsdx7oS.";
    assert!(check_password("", blank, &settings).matched());
    assert!(!check_password(" ", blank, &settings).matched());
}

#[test]
fn unusable_passwords_never_match() {
    // Django's test_unusable.
    let settings = cheap();
    let encoded = make_unusable_password();
    assert_eq!(
        encoded.len(),
        UNUSABLE_PASSWORD_PREFIX.len() + UNUSABLE_PASSWORD_SUFFIX_LENGTH
    );
    assert!(encoded.starts_with('!'));
    assert!(!is_password_usable(&encoded));
    for raw in [encoded.as_str(), UNUSABLE_PASSWORD_PREFIX, "", "lètmein"] {
        assert_eq!(
            check_password(raw, &encoded, &settings),
            Check::mismatch(None)
        );
    }
    assert_eq!(safe_summary(&encoded), Err(HashError::NotAHash));
    assert_ne!(encoded, make_unusable_password(), "a random part");
}

#[test]
fn anything_else_is_usable() {
    // Django's test_is_password_usable.
    for encoded in ["lètmein_badencoded", "", "argon2$argon2id$garbage"] {
        assert!(is_password_usable(encoded), "{encoded}");
    }
}

#[test]
fn unknown_algorithms_and_non_hashes_are_errors_not_matches() {
    let settings = cheap();
    let cases = [
        ("", HashError::Empty),
        (
            "lolcat$salt$hash",
            HashError::UnknownAlgorithm {
                algorithm: "lolcat".to_owned(),
            },
        ),
        // Django's legacy hashers, which Manouche does not read.
        (
            "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3",
            HashError::UnknownAlgorithm {
                algorithm: "md5".to_owned(),
            },
        ),
        (
            "sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b",
            HashError::UnknownAlgorithm {
                algorithm: "sha1".to_owned(),
            },
        ),
        ("88a434c88cca4e900f7874cd98123f43", HashError::NotAHash),
        ("lètmein", HashError::NotAHash),
        (
            "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g",
            HashError::NotAHash,
        ),
        ("pass word$x", HashError::NotAHash),
    ];
    for (encoded, error) in cases {
        let check = check_password(encoded, encoded, &settings);
        assert_eq!(check, Check::mismatch(Some(error.clone())), "{encoded}");
        assert_eq!(safe_summary(encoded), Err(error), "{encoded}");
    }
    // The message names the algorithm and what to do, never the hash.
    let message = HashError::UnknownAlgorithm {
        algorithm: "md5".to_owned(),
    }
    .to_string();
    assert!(message.contains("`md5`") && message.contains("reset their password"));
}

#[test]
fn malformed_hashes_say_what_is_wrong_and_never_panic() {
    let settings = cheap();
    let salt = "c29tZXNhbHQ"; // "somesalt"
    let hash = "YC9+jJCrQhs5R6db7LlN8Q";
    let argon2 = |params: &str| format!("argon2$argon2id$v=19${params}${salt}${hash}");
    let cases: Vec<(String, &str, &str)> = vec![
        ("argon2$".into(), "argon2", "expected argon2$"),
        (
            "argon2$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ".into(),
            "argon2",
            "parameters",
        ),
        (
            format!("argon2$argon2x$v=19$m=8,t=1,p=1${salt}${hash}"),
            "argon2",
            "variety",
        ),
        (
            format!("argon2$argon2id$v=20$m=8,t=1,p=1${salt}${hash}"),
            "argon2",
            "version",
        ),
        (argon2("m=8,t=1"), "argon2", "parameters"),
        (argon2("m=8,t=1,p=1,x=1"), "argon2", "parameters"),
        (argon2("t=1,m=8,p=1"), "argon2", "parameters"),
        (argon2("m=8,t=1,p=+1"), "argon2", "parameters"),
        (argon2("m=8,t=1,p=99999999999"), "argon2", "parameters"),
        (argon2("m=8,t=0,p=1"), "argon2", "at least one pass"),
        (argon2("m=8,t=1,p=0"), "argon2", "lanes"),
        // 8 × p would overflow 32 bits.
        (argon2("m=8,t=1,p=4294967295"), "argon2", "lanes"),
        (argon2("m=8,t=1,p=2"), "argon2", "8 KiB per lane"),
        (argon2("m=4294967295,t=1,p=1"), "argon2", "4 GiB"),
        (
            format!("argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA${hash}"),
            "argon2",
            "the salt has 4 bytes",
        ),
        (
            format!("argon2$argon2id$v=19$m=8,t=1,p=1$!!!!${hash}"),
            "argon2",
            "salt is not base64",
        ),
        (
            format!("argon2$argon2id$v=19$m=8,t=1,p=1${salt}$YWJj"),
            "argon2",
            "the hash has 3 bytes",
        ),
        (
            format!("argon2$argon2id$v=19$m=8,t=1,p=1${salt}$é"),
            "argon2",
            "hash is not base64",
        ),
        (
            "pbkdf2_sha256$1000$seasalt".into(),
            "pbkdf2_sha256",
            "expected",
        ),
        (
            "pbkdf2_sha256$abc$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=".into(),
            "pbkdf2_sha256",
            "iteration count",
        ),
        (
            "pbkdf2_sha256$0$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=".into(),
            "pbkdf2_sha256",
            "iteration count",
        ),
        (
            "pbkdf2_sha256$-1$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=".into(),
            "pbkdf2_sha256",
            "iteration count",
        ),
        (
            "pbkdf2_sha256$99999999999$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=".into(),
            "pbkdf2_sha256",
            "iteration count",
        ),
        (
            "pbkdf2_sha256$1000$$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=".into(),
            "pbkdf2_sha256",
            "salt is empty",
        ),
        (
            "pbkdf2_sha256$1000$seasalt$ljleU4wBmTtz/MoG5YTwxpM0d7I=".into(),
            "pbkdf2_sha256",
            "base64 of 32 bytes",
        ),
        (
            "pbkdf2_sha1$1000$seasalt$not base64".into(),
            "pbkdf2_sha1",
            "base64 of 20 bytes",
        ),
        (
            "bcrypt_sha256$$2b$04$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcZ".into(),
            "bcrypt_sha256",
            "expected $2b$",
        ),
        (
            "bcrypt_sha256$$2b$04$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcéS".into(),
            "bcrypt_sha256",
            "expected $2b$",
        ),
        (
            "bcrypt_sha256$$2c$04$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcZS".into(),
            "bcrypt_sha256",
            "version",
        ),
        (
            "bcrypt$$2b$99$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcZS".into(),
            "bcrypt",
            "cost",
        ),
        (
            "bcrypt$$2b$03$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcZS".into(),
            "bcrypt",
            "cost",
        ),
        (
            "bcrypt$$2b$04$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIc!S".into(),
            "bcrypt",
            "base64",
        ),
    ];
    for (encoded, algorithm, reason) in cases {
        let check = check_password("secret", &encoded, &settings);
        assert!(!check.matched() && !check.must_update(), "{encoded}");
        match check.error() {
            Some(HashError::Malformed {
                algorithm: a,
                reason: r,
            }) if *a == algorithm && r.contains(reason) => {}
            other => panic!("{encoded}: expected {algorithm} / {reason:?}, got {other:?}"),
        }
        assert!(safe_summary(&encoded).is_err());
    }
}

#[test]
fn safe_summaries_are_djangos() {
    // Django 5.2's safe_summary of the same hashes.
    let argon2 = "argon2$argon2id$v=19$m=64,t=1,p=1$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$TvgaZw6hJ+LUSTAGvv0nTPAZyRFZkBKqasT8iYdCpTg";
    let expected: Vec<(&str, String)> = [
        ("algorithm", "argon2"),
        ("variety", "argon2id"),
        ("version", "19"),
        ("memory cost", "64"),
        ("time cost", "1"),
        ("parallelism", "1"),
        ("salt", "abcdef****************"),
        ("hash", "TvgaZw*************************************"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(safe_summary(argon2), Ok(expected));

    let bcrypt = "bcrypt_sha256$$2b$04$F26qKz8VDCNhOKYSrXhi/eZB1kNk1mPdZoflazoM62m56aaVQIcZS";
    let expected: Vec<(&str, String)> = [
        ("algorithm", "bcrypt_sha256"),
        ("work factor", "4"),
        ("salt", "F26qKz****************"),
        ("checksum", "ZB1kNk*************************"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(safe_summary(bcrypt), Ok(expected));

    let pbkdf2 = "pbkdf2_sha1$1000$seasalt$ljleU4wBmTtz/MoG5YTwxpM0d7I=";
    assert_eq!(
        safe_summary(pbkdf2).expect("readable")[3],
        ("hash", "ljleU4**********************".to_owned())
    );
}

#[test]
fn settings_refuse_what_argon2_cannot_do() {
    let invalid = |m, t, p| match HasherSettings::new(m, t, p) {
        Err(SettingsError::Invalid { setting, message }) => (setting, message),
        other => panic!("({m}, {t}, {p}) gave {other:?}"),
    };
    let (setting, message) = invalid(19_456, 0, 1);
    assert_eq!(setting, "argon2_time_cost");
    assert!(message.contains("at least one pass"), "{message}");
    assert_eq!(invalid(19_456, 2, 0).0, "argon2_parallelism");
    assert_eq!(invalid(u32::MAX, 2, 1 << 24).0, "argon2_parallelism");
    let (setting, message) = invalid(31, 2, 4);
    assert_eq!(setting, "argon2_memory_cost");
    assert!(
        message.contains("at least 8 KiB per lane (32 for 4)"),
        "{message}"
    );
    let (setting, message) = invalid(MAX_ARGON2_MEMORY_COST + 1, 2, 1);
    assert_eq!(setting, "argon2_memory_cost");
    assert!(message.contains("4 GiB"), "{message}");

    assert!(HasherSettings::new(8, 1, 1).is_ok());
    assert!(HasherSettings::new(32, 1, 4).is_ok());
    assert!(HasherSettings::new(MAX_ARGON2_MEMORY_COST, 1, 1).is_ok());
}

#[test]
fn settings_deserialize_with_defaults_and_checks() {
    let parse = |text: &str| toml::from_str::<HasherSettings>(text);
    assert_eq!(parse("").expect("defaults"), HasherSettings::default());
    let custom = parse("argon2_memory_cost = 102400\nargon2_parallelism = 8").expect("valid");
    assert_eq!(custom, HasherSettings::new(102_400, 2, 8).expect("valid"));

    let error = parse("argon2_time_cost = 0")
        .expect_err("no pass")
        .to_string();
    assert!(
        error.contains("argon2_time_cost") && error.contains("at least one pass"),
        "{error}"
    );
    let error = parse("argon2_memory_cost = -1")
        .expect_err("negative")
        .to_string();
    assert!(error.contains("u32"), "{error}");
    let error = parse("memory_cost = 65536")
        .expect_err("unknown key")
        .to_string();
    assert!(error.contains("unknown field `memory_cost`"), "{error}");
}

#[test]
fn a_check_that_cannot_run_costs_as_much_as_one_that_can() {
    // The timing defence: an unusable password, or an unreadable hash,
    // still costs one hash with the settings (Django's fake runtime).
    let settings = HasherSettings::new(8 * 1024, 2, 1).expect("valid");
    let encoded = make_password("secret", &settings);
    let fastest = |f: &dyn Fn()| {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO)
    };
    let real = fastest(&|| {
        let _ = check_password("wrong", &encoded, &settings);
    });
    let unusable = fastest(&|| {
        let _ = check_password("wrong", &make_unusable_password(), &settings);
    });
    let unreadable = fastest(&|| {
        let _ = check_password("wrong", "md5$salt$hash", &settings);
    });
    let missing_user = fastest(&|| run_dummy_hash("wrong", &settings));
    for (what, took) in [
        ("unusable", unusable),
        ("unreadable", unreadable),
        ("dummy", missing_user),
    ] {
        assert!(
            took * 3 > real,
            "{what}: {took:?} against a real check's {real:?}"
        );
    }
}
