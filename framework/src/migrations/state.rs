//! [`ProjectState`]: the models as the migrations describe them, built by
//! applying operations in order.
//!
//! ```
//! use manouche::migrations::ProjectState;
//!
//! let state = ProjectState::default();
//! assert!(state.model("blog", "Article").is_none());
//! ```

use std::collections::BTreeMap;

use crate::db::schema::{ModelSchema, TableSchema};

/// Every app's model schemas at one point of the migration history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectState {
    /// App label → model name → schema.
    pub apps: BTreeMap<String, BTreeMap<String, ModelSchema>>,
}

impl ProjectState {
    /// A state holding exactly `schemas` (e.g. the registered models).
    #[must_use]
    pub fn from_schemas(schemas: impl IntoIterator<Item = ModelSchema>) -> Self {
        let mut state = Self::default();
        for s in schemas {
            state.insert(s);
        }
        state
    }

    /// Adds or replaces a model.
    pub fn insert(&mut self, schema: ModelSchema) {
        self.apps
            .entry(schema.app.clone())
            .or_default()
            .insert(schema.model.clone(), schema);
    }

    /// The model `app.model`.
    #[must_use]
    pub fn model(&self, app: &str, model: &str) -> Option<&ModelSchema> {
        self.apps.get(app).and_then(|m| m.get(model))
    }

    /// The model `app.model`, mutably.
    pub fn model_mut(&mut self, app: &str, model: &str) -> Option<&mut ModelSchema> {
        self.apps.get_mut(app).and_then(|m| m.get_mut(model))
    }

    /// Removes and returns the model `app.model`.
    pub fn remove(&mut self, app: &str, model: &str) -> Option<ModelSchema> {
        let models = self.apps.get_mut(app)?;
        let removed = models.remove(model);
        if models.is_empty() {
            self.apps.remove(app);
        }
        removed
    }

    /// Every model, by app then name.
    pub fn models(&self) -> impl Iterator<Item = &ModelSchema> {
        self.apps.values().flat_map(BTreeMap::values)
    }

    /// The model whose table (or one of whose join tables) is `table`.
    #[must_use]
    pub fn owner_of_table(&self, table: &str) -> Option<&ModelSchema> {
        self.models()
            .find(|m| m.table.name == table || m.join_tables.iter().any(|j| j.name == table))
    }

    /// The table called `table`, wherever it is.
    #[must_use]
    pub fn table(&self, table: &str) -> Option<&TableSchema> {
        self.models().find_map(|m| {
            std::iter::once(&m.table)
                .chain(m.join_tables.iter())
                .find(|t| t.name == table)
        })
    }
}
