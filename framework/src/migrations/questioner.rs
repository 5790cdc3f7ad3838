//! The questions `manage makemigrations` asks in a terminal (Django's
//! questioner): when the [`autodetector`] stops
//! because it needs to know something, the [`Questioner`] asks, records
//! the answer as a [`Hints`] entry and runs the detection again, until it
//! succeeds or the user quits.
//!
//! | the autodetector stops with | the question | the answer becomes |
//! |---|---|---|
//! | [`MigrationError::PossibleRename`] | `Was blog.Article.title renamed to headline (a VARCHAR(200) field)? [y/N]` | `y`: a rename ([`Hints::renames`]); `n`: drop + add for that pair only ([`Hints::not_renames`]) |
//! | [`MigrationError::PossibleModelRename`] | `Was the model blog.Post renamed to Article? [y/N]` | the same, for the model |
//! | [`MigrationError::NeedsDefault`] | `1) Provide a one-off default now` / `2) Quit` | the value, checked for the column's type and asked again until it parses ([`Hints::defaults`]) |
//!
//! Quitting (option 2, `exit` at the value prompt, or the end of the input)
//! returns `None`: nothing is written. Any other error is returned as is.
//! The questions read from any [`BufRead`] and write to any [`Write`], so
//! they can be scripted:
//!
//! ```
//! use manouche::db::{Auto, Model};
//! use manouche::migrations::{Migration, MigrationSet, Operation, autodetector::Hints};
//! use manouche::migrations::questioner::Questioner;
//!
//! mod v1 {
//!     use manouche::db::{Auto, Model};
//!     #[derive(Model)]
//!     #[model(app = "docs_q", table = "docs_q_page")]
//!     pub struct Page { pub id: Auto<i64>, #[model(max_length = 80)] pub title: String }
//! }
//! mod v2 {
//!     use manouche::db::{Auto, Model};
//!     #[derive(Model)]
//!     #[model(app = "docs_q", table = "docs_q_page")]
//!     pub struct Page { pub id: Auto<i64>, #[model(max_length = 80)] pub heading: String }
//! }
//!
//! let set = MigrationSet::new(vec![Migration {
//!     app: "docs_q".into(),
//!     name: "0001_initial".into(),
//!     dependencies: vec![],
//!     operations: vec![Operation::CreateModel { schema: v1::Page::schema() }],
//! }])?;
//! let mut output = Vec::new();
//! let mut questioner = Questioner::new(&b"y\n"[..], &mut output);
//! let mut hints = Hints::default();
//! let new = questioner
//!     .detect(&set, &[v2::Page::schema()], &["docs_q".into()], &mut hints)?
//!     .expect("not quit");
//! assert_eq!(
//!     new[0].operations,
//!     [Operation::RenameField { model: "Page".into(), old: "title".into(), new: "heading".into() }],
//! );
//! let asked = String::from_utf8(output).unwrap();
//! assert!(asked.contains("Was docs_q.Page.title renamed to heading (a VARCHAR(80) field)? [y/N]"));
//! # Ok::<_, manouche::migrations::MigrationError>(())
//! ```

use std::io::{BufRead, Write};

use super::autodetector::{self, Hints, parse_default};
use super::error::MigrationError;
use super::loader::{Migration, MigrationSet};
use crate::db::Backend;
use crate::db::fields::SqlType;
use crate::db::schema::{ColumnSchema, ModelSchema};

/// Asks the autodetector's questions on `input` / `output` (a terminal's
/// stdin and stdout in `makemigrations`).
#[derive(Debug)]
pub struct Questioner<R, W> {
    input: R,
    output: W,
}

/// What reading one answer gave.
enum Answer {
    Line(String),
    /// The input ended.
    End,
}

impl<R: BufRead, W: Write> Questioner<R, W> {
    /// A questioner reading answers from `input` and writing questions to
    /// `output`.
    pub fn new(input: R, output: W) -> Self {
        Self { input, output }
    }

    /// Runs [`autodetector::detect`] with `hints`, asking a question each
    /// time it stops for one, adding the answer to `hints`, and trying
    /// again. `None` when the user quit (or the input ended): write
    /// nothing then.
    ///
    /// # Errors
    ///
    /// What the autodetector returns that is not a question (and a question
    /// the answers did not settle, rather than asking it forever), or
    /// [`MigrationError::Prompt`] when the terminal cannot be read or
    /// written.
    pub fn detect(
        &mut self,
        set: &MigrationSet,
        models: &[ModelSchema],
        apps: &[String],
        hints: &mut Hints,
    ) -> Result<Option<Vec<Migration>>, MigrationError> {
        let mut asked: Vec<String> = Vec::new();
        loop {
            let err = match autodetector::detect(set, models, apps, hints) {
                Ok(migrations) => return Ok(Some(migrations)),
                Err(err) => err,
            };
            // Each answer changes the hints, so the same question again
            // means the answer could not be used.
            let key = err.to_string();
            if asked.contains(&key) {
                return Err(err);
            }
            asked.push(key);
            let settled = match &err {
                MigrationError::PossibleRename {
                    app,
                    model,
                    old,
                    new,
                } => {
                    let kind = column(models, app, model, new)
                        .map(|c| format!(" ({} field)", with_article(&type_name(c))))
                        .unwrap_or_default();
                    let question = format!("Was {app}.{model}.{old} renamed to {new}{kind}?");
                    self.ask_rename(&question)?.map(|renamed| {
                        let hint = (app.clone(), model.clone(), Some(old.clone()), new.clone());
                        if renamed {
                            hints.renames.push(hint);
                        } else {
                            hints.not_renames.push(hint);
                        }
                    })
                }
                MigrationError::PossibleModelRename { app, old, new } => {
                    let question = format!("Was the model {app}.{old} renamed to {new}?");
                    self.ask_rename(&question)?.map(|renamed| {
                        let hint = (app.clone(), old.clone(), None, new.clone());
                        if renamed {
                            hints.renames.push(hint);
                        } else {
                            hints.not_renames.push(hint);
                        }
                    })
                }
                MigrationError::NeedsDefault { app, model, field } => {
                    let Some(c) = column(models, app, model, field) else {
                        return Err(err);
                    };
                    let existed = set
                        .state()
                        .ok()
                        .and_then(|s| s.model(app, model).map(|m| m.table.column(field).is_some()))
                        .unwrap_or(false);
                    self.ask_default(app, model, c, existed)?.map(|value| {
                        hints
                            .defaults
                            .insert((app.clone(), model.clone(), field.clone()), value);
                    })
                }
                _ => return Err(err),
            };
            if settled.is_none() {
                return Ok(None);
            }
        }
    }

    fn say(&mut self, text: &str) -> Result<(), MigrationError> {
        self.output
            .write_all(text.as_bytes())
            .and_then(|()| self.output.flush())
            .map_err(MigrationError::Prompt)
    }

    fn read(&mut self) -> Result<Answer, MigrationError> {
        let mut line = String::new();
        let n = self
            .input
            .read_line(&mut line)
            .map_err(MigrationError::Prompt)?;
        if n == 0 {
            // Leave the prompt's line.
            self.say("\n")?;
            return Ok(Answer::End);
        }
        Ok(Answer::Line(
            line.trim_end_matches(['\n', '\r']).trim().to_owned(),
        ))
    }

    /// `Some(true)` for yes, `Some(false)` for no (also an empty answer),
    /// `None` when the input ended.
    fn ask_rename(&mut self, question: &str) -> Result<Option<bool>, MigrationError> {
        self.say(&format!("{question} [y/N] "))?;
        loop {
            let Answer::Line(line) = self.read()? else {
                return Ok(None);
            };
            match line.to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(Some(true)),
                "" | "n" | "no" => return Ok(Some(false)),
                _ => self.say("Please answer y or n: ")?,
            }
        }
    }

    /// The value existing rows get, or `None` when the user quits.
    fn ask_default(
        &mut self,
        app: &str,
        model: &str,
        c: &ColumnSchema,
        existed: bool,
    ) -> Result<Option<String>, MigrationError> {
        let field = &c.name;
        let why = if existed {
            format!(
                "{app}.{model}.{field} becomes non-null without a default, and rows may already \
                 hold NULL in it."
            )
        } else {
            format!(
                "{app}.{model}.{field} is a new non-null field without a default, and the table \
                 may already have rows."
            )
        };
        self.say(&format!(
            "{why}\nThe database needs a value for them. Please select a fix:\n \
             1) Provide a one-off default now (used for existing rows only)\n \
             2) Quit and add a default in the model (`#[model(default = ...)]`), or make the \
             field an `Option<_>`\nSelect an option: "
        ))?;
        loop {
            let Answer::Line(line) = self.read()? else {
                return Ok(None);
            };
            match line.as_str() {
                "1" => break,
                "2" => return Ok(None),
                _ => self.say("Please select 1 or 2: ")?,
            }
        }
        let kind = with_article(&type_name(c));
        let empty_text = if c.sql_type == SqlType::String {
            ", `\"\"` for an empty text"
        } else {
            ""
        };
        self.say(&format!(
            "Enter the value for existing rows, {kind} value ({}{empty_text}), or `exit` to \
             quit:\n>>> ",
            example(c.sql_type)
        ))?;
        loop {
            let Answer::Line(line) = self.read()? else {
                return Ok(None);
            };
            let value = match line.as_str() {
                "exit" | "quit" => return Ok(None),
                "" => {
                    self.say("Please enter a value, or `exit` to quit.\n>>> ")?;
                    continue;
                }
                "\"\"" if c.sql_type == SqlType::String => String::new(),
                _ => line,
            };
            match parse_default(c.sql_type, &value) {
                Ok(_) => return Ok(Some(value)),
                Err(reason) => self.say(&format!("{reason}; please try again.\n>>> "))?,
            }
        }
    }
}

/// The column `app.model.column` of the models.
fn column<'m>(
    models: &'m [ModelSchema],
    app: &str,
    model: &str,
    column: &str,
) -> Option<&'m ColumnSchema> {
    models
        .iter()
        .find(|m| m.app == app && m.model == model)
        .and_then(|m| m.table.column(column))
}

/// The column's type as PostgreSQL spells it (`VARCHAR(200)`), the
/// production backend.
fn type_name(c: &ColumnSchema) -> String {
    Backend::Postgres
        .dialect()
        .column_type(c.sql_type, c.max_length, c.decimal)
}

/// `a VARCHAR(200)`, `an INTEGER`.
fn with_article(word: &str) -> String {
    let article = if word.starts_with(['A', 'E', 'I', 'O']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {word}")
}

/// What a value of `ty` looks like.
fn example(ty: SqlType) -> &'static str {
    match ty {
        SqlType::Bool => "true or false",
        SqlType::SmallInt | SqlType::Integer | SqlType::BigInt => "a whole number, e.g. 0",
        SqlType::Double | SqlType::Decimal => "a number, e.g. 0.0",
        SqlType::Date => "YYYY-MM-DD",
        SqlType::Time => "HH:MM[:SS]",
        SqlType::DateTime => "RFC 3339, e.g. 2024-01-31T12:00:00Z",
        SqlType::Uuid => "a UUID",
        SqlType::Json => "JSON, e.g. {} or []",
        SqlType::String | SqlType::Bytes => "the text as typed",
    }
}
