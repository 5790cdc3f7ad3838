//! The blog's forms: the comment form, and the slugs a new article's
//! address is made from. (The new-article form is a model form built from
//! `Article` in `blog.rs`.)

use manouche::forms::Form;

/// A reader's comment, as the article page asks for it (the model's 100
/// characters for the name; a body of a few paragraphs at most).
#[derive(Debug, Clone, Form)]
pub(crate) struct CommentForm {
    #[form(max_length = 100, label = "Your name")]
    pub(crate) name: String,
    #[form(widget = textarea, max_length = 3000, label = "Comment")]
    pub(crate) body: String,
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
    use manouche::db::Slug;

    use super::*;

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
