//! Ports of Django's `tests/auth_tests/test_validators.py` that apply, and
//! answers of Django 5.2 and Python's `difflib` to compare with.

use super::*;

const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
const SIMILAR_EMAIL: &str = "The password is too similar to the email address.";
const SIMILAR_FIRST_NAME: &str = "The password is too similar to the first name.";
const SIMILAR_LAST_NAME: &str = "The password is too similar to the last name.";
const SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const COMMON: &str = "This password is too common.";
const NUMERIC: &str = "This password is entirely numeric.";

/// Django's test user.
const TESTCLIENT: UserAttributes<'static> = UserAttributes {
    username: "testclient",
    email: "testclient@example.com",
    first_name: "Test",
    last_name: "Client",
};

fn errors(password: &str, user: &UserAttributes<'_>, settings: &ValidatorSettings) -> Vec<String> {
    validate_password(password, user, settings)
        .err()
        .unwrap_or_default()
}

#[test]
fn the_default_validators_answer_as_django_5_2_does() {
    // Django 5.2, its four default validators, validate_password(password,
    // user) for User(username="testclient", email="testclient@example.com",
    // first_name="Test", last_name="Client"), User(username="password")
    // and user=None.
    let password = UserAttributes {
        username: "password",
        ..UserAttributes::default()
    };
    let none = UserAttributes::default();
    let cases: &[(&UserAttributes<'_>, &str, &[&str])] = &[
        (&TESTCLIENT, "testclient", &[SIMILAR_USERNAME]),
        (&TESTCLIENT, "example.com", &[SIMILAR_EMAIL]),
        (&TESTCLIENT, "drowssap", &[COMMON]),
        (&TESTCLIENT, "password", &[COMMON]),
        (&TESTCLIENT, "12345678", &[COMMON, NUMERIC]),
        (&TESTCLIENT, "1234567", &[SHORT, COMMON, NUMERIC]),
        (&TESTCLIENT, "", &[SHORT]),
        (&TESTCLIENT, " password ", &[COMMON]),
        (&TESTCLIENT, "PassWord", &[COMMON]),
        (&TESTCLIENT, "sufficiently-long", &[]),
        (&TESTCLIENT, "tneilctset", &[SIMILAR_USERNAME]),
        (&TESTCLIENT, "Test Client", &[SIMILAR_USERNAME]),
        (&TESTCLIENT, "client", &[SIMILAR_USERNAME, SHORT]),
        (&TESTCLIENT, "godzilla", &[COMMON]),
        (&TESTCLIENT, "asdfjkl:", &[COMMON]),
        (&TESTCLIENT, "&#2336:", &[SHORT, COMMON]),
        (&TESTCLIENT, "٣٤٥٦٧٨٩٠١", &[NUMERIC]),
        (&TESTCLIENT, "a-safe-password", &[]),
        (&TESTCLIENT, "xXx_Test_xXx", &[]),
        (&password, "testclient", &[]),
        (&password, "example.com", &[]),
        // quick_ratio only: an anagram is as similar as the name itself.
        (&password, "drowssap", &[SIMILAR_USERNAME, COMMON]),
        (&password, "password", &[SIMILAR_USERNAME, COMMON]),
        (&password, " password ", &[SIMILAR_USERNAME, COMMON]),
        (&password, "PassWord", &[SIMILAR_USERNAME, COMMON]),
        (&password, "tneilctset", &[]),
        (&password, "client", &[SHORT]),
        (&password, "a-safe-password", &[]),
        (&none, "testclient", &[]),
        (&none, "drowssap", &[COMMON]),
        (&none, "", &[SHORT]),
        (&none, "Test Client", &[]),
        (&none, "٣٤٥٦٧٨٩٠١", &[NUMERIC]),
        (&none, "xXx_Test_xXx", &[]),
    ];
    let settings = ValidatorSettings::default();
    for &(user, candidate, expected) in cases {
        assert_eq!(
            errors(candidate, user, &settings),
            expected.to_vec(),
            "{candidate:?} for {user:?}"
        );
    }
}

#[test]
fn validate_password_collects_every_message() {
    // Django's PasswordValidationTest.test_validate_password, with
    // CommonPasswordValidator and MinimumLengthValidator(min_length=12);
    // the order is the default list's (length before common), not that
    // test's.
    let settings = ValidatorSettings::none()
        .with_common(true)
        .with_min_length(12);
    let nobody = UserAttributes::default();
    assert_eq!(
        validate_password("sufficiently-long", &nobody, &settings),
        Ok(())
    );
    let too_short = "This password is too short. It must contain at least 12 characters.";
    assert_eq!(errors("django4242", &nobody, &settings), [too_short]);
    assert_eq!(errors("password", &nobody, &settings), [too_short, COMMON]);
    // No validators: anything goes.
    assert_eq!(
        validate_password("password", &TESTCLIENT, &ValidatorSettings::none()),
        Ok(())
    );
}

#[test]
fn help_texts_follow_the_enabled_checks() {
    // Django 5.2's password_validators_help_texts() for its defaults.
    assert_eq!(
        help_texts(&ValidatorSettings::default()),
        [
            "Your password can’t be too similar to your other personal information.",
            "Your password must contain at least 8 characters.",
            "Your password can’t be a commonly used password.",
            "Your password can’t be entirely numeric.",
        ]
    );
    // test_password_validators_help_texts.
    let settings = ValidatorSettings::none()
        .with_common(true)
        .with_min_length(12);
    let texts = help_texts(&settings);
    assert_eq!(texts.len(), 2);
    assert!(texts[0].contains("12 characters"));
    assert!(texts[1].contains("commonly used"));
    assert!(help_texts(&ValidatorSettings::none()).is_empty());
    // ngettext's singular.
    assert_eq!(
        help_texts(&ValidatorSettings::none().with_min_length(1)),
        ["Your password must contain at least 1 character."]
    );
}

#[test]
fn minimum_length() {
    // Django's MinimumLengthValidatorTest.
    let eight = ValidatorSettings::none().with_min_length(8);
    let three = ValidatorSettings::none().with_min_length(3);
    let nobody = UserAttributes::default();
    assert_eq!(validate_password("12345678", &nobody, &eight), Ok(()));
    assert_eq!(validate_password("123", &nobody, &three), Ok(()));
    assert_eq!(errors("1234567", &nobody, &eight), [SHORT]);
    assert_eq!(
        errors("12", &nobody, &three),
        ["This password is too short. It must contain at least 3 characters."]
    );
    assert_eq!(
        errors("", &nobody, &ValidatorSettings::none().with_min_length(1)),
        ["This password is too short. It must contain at least 1 character."]
    );
    // Characters, not bytes: eight characters, sixteen bytes.
    assert_eq!(validate_password("éééééééé", &nobody, &eight), Ok(()));
    assert_eq!(errors("ééééééé", &nobody, &eight), [SHORT]);
}

#[test]
fn user_attribute_similarity() {
    // Django's UserAttributeSimilarityValidatorTest.test_validate.
    let default = ValidatorSettings::none()
        .with_user_attribute_similarity(Some(0.7))
        .expect("valid");
    assert_eq!(
        validate_password("testclient", &UserAttributes::default(), &default),
        Ok(())
    );
    assert_eq!(
        errors("testclient", &TESTCLIENT, &default),
        [SIMILAR_USERNAME]
    );
    assert_eq!(
        errors("example.com", &TESTCLIENT, &default),
        [SIMILAR_EMAIL]
    );

    let first_name_only = UserAttributes {
        first_name: "Test",
        ..UserAttributes::default()
    };
    let loose = ValidatorSettings::none()
        .with_user_attribute_similarity(Some(0.3))
        .expect("valid");
    assert_eq!(
        errors("testclient", &first_name_only, &loose),
        [SIMILAR_FIRST_NAME]
    );
    // max_similarity=1 still refuses the attribute itself.
    let strict = ValidatorSettings::none()
        .with_user_attribute_similarity(Some(1.0))
        .expect("valid");
    assert_eq!(
        errors("Test", &first_name_only, &strict),
        [SIMILAR_FIRST_NAME]
    );
    assert_eq!(
        validate_password("testclient", &first_name_only, &default),
        Ok(())
    );

    let last_name_only = UserAttributes {
        last_name: "Reinhardt",
        ..UserAttributes::default()
    };
    assert_eq!(
        errors("reinhardt!", &last_name_only, &default),
        [SIMILAR_LAST_NAME]
    );
    // Only the first attribute found similar is named, in Django's order.
    let everyone = UserAttributes {
        username: "django",
        email: "django@example.com",
        first_name: "Django",
        last_name: "Django",
    };
    assert_eq!(errors("django", &everyone, &default), [SIMILAR_USERNAME]);
}

#[test]
fn similarity_settings_are_checked() {
    // Django: "max_similarity must be at least 0.1".
    for bad in [0.09, -0.5, 1.01, f64::NAN, f64::INFINITY] {
        match ValidatorSettings::default().with_user_attribute_similarity(Some(bad)) {
            Err(SettingsError::Invalid { setting, message }) => {
                assert_eq!(setting, "user_attribute_similarity");
                assert!(message.contains("at least 0.1 and at most 1"), "{message}");
            }
            other => panic!("{bad} gave {other:?}"),
        }
    }
    for off in [None, Some(0.0)] {
        let settings = ValidatorSettings::default()
            .with_user_attribute_similarity(off)
            .expect("off");
        assert_eq!(settings.user_attribute_similarity(), None);
        assert_eq!(
            validate_password("testclient-x", &TESTCLIENT, &settings),
            Ok(())
        );
    }
    assert!(
        ValidatorSettings::default()
            .with_user_attribute_similarity(Some(0.1))
            .is_ok()
    );
}

#[test]
fn settings_deserialize_with_defaults_and_checks() {
    let parse = |text: &str| toml::from_str::<ValidatorSettings>(text);
    assert_eq!(parse("").expect("defaults"), ValidatorSettings::default());
    let custom =
        parse("min_length = 12\ncommon = false\nnumeric = false\nuser_attribute_similarity = 0.5")
            .expect("valid");
    assert_eq!(
        (
            custom.min_length(),
            custom.common(),
            custom.numeric(),
            custom.user_attribute_similarity()
        ),
        (12, false, false, Some(0.5))
    );
    assert_eq!(
        parse("user_attribute_similarity = 0")
            .expect("off")
            .user_attribute_similarity(),
        None
    );
    let error = parse("user_attribute_similarity = 0.05")
        .expect_err("too low")
        .to_string();
    assert!(
        error.contains("user_attribute_similarity") && error.contains("at least 0.1"),
        "{error}"
    );
    let error = parse("min_length = -1").expect_err("negative").to_string();
    assert!(
        error.contains("min_length") || error.contains("usize"),
        "{error}"
    );
    let error = parse("minimum_length = 9")
        .expect_err("unknown key")
        .to_string();
    assert!(error.contains("unknown field `minimum_length`"), "{error}");
}

#[test]
fn common_passwords() {
    // Django's CommonPasswordValidatorTest.
    let settings = ValidatorSettings::none().with_common(true);
    let nobody = UserAttributes::default();
    assert_eq!(
        validate_password("a-safe-password", &nobody, &settings),
        Ok(())
    );
    // Including entries that were hex-encoded in the source list.
    for common in [
        "godzilla",
        "asdfjkl:",
        "&#2336:",
        "GODZILLA",
        "\t godzilla \u{1f}",
    ] {
        assert_eq!(errors(common, &nobody, &settings), [COMMON], "{common:?}");
    }
    // test_validate_django_supplied_file: the list is lowercase, and whole.
    assert_eq!(COMMON_PASSWORDS.len(), 19_640);
    assert!(COMMON_PASSWORDS.iter().all(|p| *p == p.to_lowercase()));
}

#[test]
fn numeric_passwords() {
    // Django's NumericPasswordValidatorTest.
    let settings = ValidatorSettings::none().with_numeric(true);
    let nobody = UserAttributes::default();
    assert_eq!(
        validate_password("a-safe-password", &nobody, &settings),
        Ok(())
    );
    assert_eq!(errors("42424242", &nobody, &settings), [NUMERIC]);
    // Any script's digits, as Python's str.isdigit; not the empty string.
    assert_eq!(errors("٤٢٤٢", &nobody, &settings), [NUMERIC]);
    assert_eq!(validate_password("", &nobody, &settings), Ok(()));
    assert_eq!(validate_password("4242 4242", &nobody, &settings), Ok(()));
}

#[test]
fn quick_ratio_is_difflibs() {
    // Python 3.11: difflib.SequenceMatcher(a=a, b=b).quick_ratio().
    let cases = [
        ("testclient", "testclient", 1.0),
        ("testclient", "test", 0.5714285714285714),
        ("testclient", "client", 0.75),
        ("example.com", "testclient@example.com", 0.6666666666666666),
        ("example.com", "example", 0.7777777777777778),
        ("testclient", "testclient@example.com", 0.625),
        ("password", "drowssap", 1.0),
        ("", "", 1.0),
        ("a", "", 0.0),
        ("abc", "xyz", 0.0),
        ("lètmein", "letmein", 0.8571428571428571),
        ("ÄÖÜ", "äöü", 0.0),
        ("aaaa", "a", 0.4),
        ("banana", "bandana", 0.9230769230769231),
        ("mississippi", "misp", 0.5333333333333333),
        ("🙂🙂x", "x🙂", 0.8),
    ];
    for (a, b, expected) in cases {
        let (a_chars, b_chars): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        assert_eq!(quick_ratio(&a_chars, &b_chars), expected, "{a:?} {b:?}");
    }
}

#[test]
fn attributes_split_as_python_re_split() {
    // Python 3.11: re.split(r"\W+", value.lower()).
    let cases: [(&str, &[&str]); 8] = [
        ("testclient@example.com", &["testclient", "example", "com"]),
        ("-a", &["", "a"]),
        ("a-", &["a", ""]),
        ("--", &["", ""]),
        ("", &[""]),
        ("jean-pierre o'neil", &["jean", "pierre", "o", "neil"]),
        ("a_b c", &["a_b", "c"]),
        ("été.übel", &["été", "übel"]),
    ];
    for (value, expected) in cases {
        assert_eq!(split_non_word(value), expected, "{value:?}");
    }
}
