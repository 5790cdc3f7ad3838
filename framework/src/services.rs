//! Project services: one typed container per project (the database, an
//! app's settings section, a cache, a mailer, anything an app registers in
//! its [`ready`](crate::App::ready) hook), reached in handlers with the
//! [`Service<T>`] extractor.
//!
//! ```
//! use manouche::prelude::*;
//! use manouche::services::Service;
//! use manouche::test::Client;
//!
//! struct Greeter {
//!     greeting: String,
//! }
//!
//! async fn hello(greeter: Service<Greeter>) -> String {
//!     format!("{}, world", greeter.greeting)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let project = Project::new(Settings::default())
//!     .app(App::new("hello").ready(|ready| {
//!         ready.services_mut().insert(Greeter { greeting: "Bonjour".into() });
//!         Ok(())
//!     }))
//!     .urls(Urls::new().path("", get(hello), "hello"));
//! let client = Client::new(project).unwrap();
//! assert_eq!(client.get("/").send().await.text(), "Bonjour, world");
//! # });
//! ```
//!
//! Services belong to the project, not to the process: two projects built
//! in one process each see their own.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The typed container: at most one value per type.
#[derive(Clone, Default)]
pub struct Services {
    values: HashMap<TypeId, Entry>,
}

#[derive(Clone)]
struct Entry {
    name: &'static str,
    value: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.values.values().map(|e| e.name).collect();
        names.sort_unstable();
        f.debug_set().entries(names).finish()
    }
}

impl Services {
    /// An empty container.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `value`, replacing (and returning) the one of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<Arc<T>> {
        self.insert_arc(Arc::new(value))
    }

    /// Registers a shared value, replacing (and returning) the one of the
    /// same type.
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) -> Option<Arc<T>> {
        let entry = Entry {
            name: type_name::<T>(),
            value,
        };
        self.values
            .insert(TypeId::of::<T>(), entry)
            .and_then(|old| old.value.downcast::<T>().ok())
    }

    /// The value of type `T`, if one is registered.
    #[must_use]
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|e| Arc::clone(&e.value).downcast::<T>().ok())
    }

    /// A reference to the value of type `T`, if one is registered.
    #[must_use]
    pub fn get_ref<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|e| e.value.downcast_ref::<T>())
    }

    /// Whether a value of type `T` is registered.
    #[must_use]
    pub fn contains<T: Send + Sync + 'static>(&self) -> bool {
        self.values.contains_key(&TypeId::of::<T>())
    }

    /// The type names of the registered values, sorted (for messages).
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self.values.values().map(|e| e.name).collect();
        names.sort_unstable();
        names
    }
}

/// A project service as an extractor: `Service<Greeter>` derefs to the
/// `Greeter` registered in an app's `ready` hook. A handler asking for a
/// service nobody registered gets a 500 naming the type (and the reason in
/// debug). The extractor is in [`crate::web`].
pub struct Service<T>(pub Arc<T>);

impl<T> Service<T> {
    /// The shared value.
    #[must_use]
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T> Clone for Service<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Service<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Service<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Service").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type_and_replacing_returns_the_old_one() {
        let mut services = Services::new();
        assert!(services.insert(1_u32).is_none());
        assert_eq!(services.insert(2_u32).as_deref(), Some(&1));
        services.insert(String::from("x"));
        assert_eq!(services.get::<u32>().as_deref(), Some(&2));
        assert_eq!(services.get_ref::<String>().map(String::as_str), Some("x"));
        assert!(services.get::<i64>().is_none());
        assert_eq!(services.names(), ["alloc::string::String", "u32"]);
    }
}
