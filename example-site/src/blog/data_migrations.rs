//! The blog's data migrations: Rust functions that `run_rust` operations in
//! `migrations/blog/` call by name, registered in [`super::app`].

use manouche::db::{Auto, Model, Slug, Transaction};
use manouche::migrations::DataMigrationResult;

use super::models::Tag;

/// The tags a new site starts with: `(name, slug)`.
const STARTER_TAGS: [(&str, &str); 2] = [("News", "news"), ("Rust", "rust")];

/// `0002_starter_tags`: adds the starter tags (those a site already has
/// are left alone).
pub(crate) async fn add_starter_tags(tx: &Transaction) -> DataMigrationResult {
    for (name, slug) in STARTER_TAGS {
        let slug = Slug::new(slug)?;
        if Tag::objects()
            .filter(Tag::slug.eq(slug.clone()))
            .exists(tx)
            .await?
        {
            continue;
        }
        let mut tag = Tag {
            id: Auto::new(),
            name: name.to_owned(),
            slug,
        };
        tag.save(tx).await?;
    }
    Ok(())
}

/// Undoes `0002_starter_tags`: removes the starter tags.
pub(crate) async fn remove_starter_tags(tx: &Transaction) -> DataMigrationResult {
    for (_, slug) in STARTER_TAGS {
        Tag::objects()
            .filter(Tag::slug.eq(Slug::new(slug)?))
            .delete(tx)
            .await?;
    }
    Ok(())
}
