//! The new-article form: what was typed, kept as typed so that a page
//! with errors shows it again, and checked as Django's form fields check
//! it (with their messages): the title and body are required and
//! stripped, the title fits the model's 200 characters, and every tag
//! ticked is one of the site's tags.

use manouche::db::Model;
use manouche::forms::Form;

use super::models::{Article, Tag};

/// A reader's comment, as the article page asks for it (the model's 100
/// characters for the name; a body of a few paragraphs at most).
#[derive(Debug, Clone, Form)]
pub(crate) struct CommentForm {
    #[form(max_length = 100, label = "Your name")]
    pub(crate) name: String,
    #[form(widget = textarea, max_length = 3000, label = "Comment")]
    pub(crate) body: String,
}

/// The form as posted: repeated fields (`tags`) keep every value, other
/// fields their last one; unknown fields (the CSRF token) are ignored.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArticleForm {
    pub(crate) title: String,
    pub(crate) body: String,
    /// The `tags` values posted (tag ids, as text).
    pub(crate) tags: Vec<String>,
}

/// The messages for each field of [`ArticleForm`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ArticleErrors {
    pub(crate) title: Vec<String>,
    pub(crate) body: Vec<String>,
    pub(crate) tags: Vec<String>,
}

impl ArticleErrors {
    fn is_empty(&self) -> bool {
        self.title.is_empty() && self.body.is_empty() && self.tags.is_empty()
    }
}

/// A form that passed: the values to save.
#[derive(Debug, Clone)]
pub(crate) struct CleanArticle {
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) tags: Vec<Tag>,
}

const REQUIRED: &str = "This field is required.";

impl ArticleForm {
    /// Reads the posted fields.
    pub(crate) fn from_fields(fields: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (name, value) in fields {
            match name.as_str() {
                "title" => form.title = value,
                "body" => form.body = value,
                "tags" => form.tags.push(value),
                _ => {}
            }
        }
        form
    }

    /// Whether `tag` is ticked (to tick its box again on a page with
    /// errors).
    pub(crate) fn is_ticked(&self, tag: &Tag) -> bool {
        tag.pk()
            .is_some_and(|id| self.tags.iter().any(|t| t.trim() == id.to_string()))
    }

    /// Checks the form against the site's `tags`.
    ///
    /// # Errors
    /// The messages per field when something is wrong.
    pub(crate) fn clean(&self, tags: &[Tag]) -> Result<CleanArticle, ArticleErrors> {
        let mut errors = ArticleErrors::default();
        let title = self.title.trim().to_owned();
        let max = Article::meta()
            .field("title")
            .and_then(|f| f.max_length)
            .map_or(usize::MAX, |m| m as usize);
        let length = title.chars().count();
        if title.is_empty() {
            errors.title.push(REQUIRED.to_owned());
        } else if length > max {
            errors.title.push(format!(
                "Ensure this value has at most {max} characters (it has {length})."
            ));
        }
        // Browsers send line breaks as CRLF; paragraphs are split on "\n\n".
        let body = self.body.replace("\r\n", "\n").trim().to_owned();
        if body.is_empty() {
            errors.body.push(REQUIRED.to_owned());
        }
        let mut chosen: Vec<Tag> = Vec::new();
        for value in &self.tags {
            let value = value.trim();
            let Ok(id) = value.parse::<i64>() else {
                errors.tags.push(format!("“{value}” is not a valid value."));
                continue;
            };
            match tags.iter().find(|t| t.pk() == Some(id)) {
                Some(tag) if !chosen.iter().any(|c| c.pk() == Some(id)) => chosen.push(tag.clone()),
                Some(_) => {}
                None => errors.tags.push(format!(
                    "Select a valid choice. {id} is not one of the available choices."
                )),
            }
        }
        if errors.is_empty() {
            Ok(CleanArticle {
                title,
                body,
                tags: chosen,
            })
        } else {
            Err(errors)
        }
    }
}

/// The longest slug the model stores.
const SLUG_MAX: usize = 50;

/// A slug made from `text` (Django's `slugify`, for ASCII): lowercase
/// letters and digits, runs of anything else become one `-`; other
/// letters are dropped. `"article"` when nothing is left. At most
/// `SLUG_MAX - reserve` characters, so that a `-N` suffix still fits.
pub(crate) fn slugify(text: &str, reserve: usize) -> String {
    let mut slug = String::new();
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if gap && !slug.is_empty() {
                slug.push('-');
            }
            gap = false;
            slug.push(c.to_ascii_lowercase());
        } else if c.is_whitespace() || c == '-' {
            gap = true;
        }
    }
    slug.truncate(SLUG_MAX.saturating_sub(reserve));
    let slug = slug.trim_matches(['-', '_']).to_owned();
    if slug.is_empty() {
        "article".to_owned()
    } else {
        slug
    }
}

/// The `n`-th slug to try for `title`: its slug, then `slug-2`, `slug-3`…
pub(crate) fn candidate_slug(title: &str, n: u32) -> String {
    if n <= 1 {
        return slugify(title, 0);
    }
    let suffix = format!("-{n}");
    format!("{}{suffix}", slugify(title, suffix.len()))
}

#[cfg(test)]
mod tests {
    use manouche::db::{Auto, Slug};

    use super::*;

    fn tag(id: i64, name: &str) -> Tag {
        Tag {
            id: Auto::from(id),
            name: name.into(),
            slug: Slug::new(name.to_lowercase()).unwrap(),
        }
    }

    fn form(fields: &[(&str, &str)]) -> ArticleForm {
        ArticleForm::from_fields(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_good_form_is_cleaned() {
        let tags = [tag(1, "News"), tag(2, "Rust")];
        let form = form(&[
            ("csrfmiddlewaretoken", "x"),
            ("title", "  Hello  "),
            ("body", "One.\r\n\r\nTwo.\r\n"),
            ("tags", "2"),
            ("tags", "2"),
        ]);
        let clean = form.clean(&tags).unwrap();
        assert_eq!(clean.title, "Hello");
        assert_eq!(clean.body, "One.\n\nTwo.");
        assert_eq!(clean.tags.len(), 1);
        assert_eq!(clean.tags[0].name, "Rust");
        assert!(form.is_ticked(&tags[1]) && !form.is_ticked(&tags[0]));
    }

    #[test]
    fn every_field_says_what_is_wrong() {
        let tags = [tag(1, "News")];
        let long = "x".repeat(201);
        let errors = form(&[
            ("title", &long),
            ("body", " \r\n "),
            ("tags", "9"),
            ("tags", "b"),
        ])
        .clean(&tags)
        .unwrap_err();
        assert_eq!(
            errors.title,
            ["Ensure this value has at most 200 characters (it has 201)."]
        );
        assert_eq!(errors.body, ["This field is required."]);
        assert_eq!(
            errors.tags,
            [
                "Select a valid choice. 9 is not one of the available choices.",
                "“b” is not a valid value."
            ]
        );
        let errors = form(&[("title", "   ")]).clean(&tags).unwrap_err();
        assert_eq!(errors.title, ["This field is required."]);
        // 200 characters, not bytes.
        let accented = "é".repeat(200);
        assert!(
            form(&[("title", &accented), ("body", "b")])
                .clean(&tags)
                .is_ok()
        );
    }

    #[test]
    fn slugs_are_made_from_titles() {
        assert_eq!(slugify("Hello, World!", 0), "hello-world");
        assert_eq!(slugify("  Rust -- 2024 edition ", 0), "rust-2024-edition");
        assert_eq!(slugify("Café au lait", 0), "caf-au-lait");
        assert_eq!(slugify("日本語", 0), "article");
        assert_eq!(slugify(&"a b ".repeat(40), 0).len(), 49, "no trailing '-'");
        assert!(Slug::new(slugify("<script>", 0)).is_ok());
        assert_eq!(candidate_slug("Hello", 1), "hello");
        assert_eq!(candidate_slug("Hello", 3), "hello-3");
        let long = candidate_slug(&"word ".repeat(30), 12);
        assert!(long.len() <= 50 && long.ends_with("-12"), "{long}");
        assert!(Slug::new(long).is_ok());
    }
}
