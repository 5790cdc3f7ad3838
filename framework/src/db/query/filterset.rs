//! Filtering and sorting chosen by the client, through an allow-list.
//!
//! [`Q::named`] and [`QuerySet::order_by_names`] take names from the
//! project's code: they reach every field of the model, so handing them a
//! query string turns `?password_hash__startswith=a` into an oracle. A
//! [`FilterSet`] is the query-string side, in the manner of django-filter's
//! `FilterSet` and Django REST framework's `ordering_fields`: it names the
//! fields a client may filter and sort on, and refuses everything else
//! with an error that answers `400 Bad Request`.
//!
//! ```
//! use manouche::db::query::FilterSet;
//! use manouche::db::{Auto, Error, Model};
//!
//! #[derive(Model)]
//! #[model(app = "shop")]
//! pub struct Item {
//!     pub id: Auto<i64>,
//!     pub name: String,
//!     pub price: f64,
//!     pub secret: String,
//! }
//!
//! let allowed = FilterSet::<Item>::new()
//!     .filters(["name", "price"])
//!     .ordering(["price", "name"])
//!     .ignore(["page"]);
//! let query = [("name__icontains", "lamp"), ("ordering", "-price"), ("page", "2")];
//! assert!(allowed.apply(Item::objects(), query).is_ok());
//! let refused = allowed.apply(Item::objects(), [("secret__startswith", "a")]);
//! assert!(matches!(refused, Err(Error::RefusedField { .. })));
//! ```
//!
//! A parameter is `field` or `field__lookup` with Django's lookup names
//! (`exact`, `iexact`, `contains`, `icontains`, `startswith`,
//! `istartswith`, `endswith`, `iendswith`, `gt`, `gte`, `lt`, `lte`, `in`,
//! `range`, `isnull`); the field may be a path through relations
//! (`author__username`) when that path is allowed as a whole. The value is
//! parsed for the field's type, so a bad number, date or a `NaN` is an
//! [`Error::InvalidValue`], also a 400. Sorting is the `ordering` parameter
//! (a comma-separated list, `-` for descending), as in Django REST
//! framework.
//!
//! Unlike django-filter, a parameter that is neither a filter nor listed
//! in [`ignore`](FilterSet::ignore) is refused rather than passed over: a
//! misspelt filter that silently shows every row is the bug this type is
//! there to prevent.

use std::fmt;
use std::marker::PhantomData;

use super::{LookupOp, Q, QuerySet};
use crate::db::model::Model;
use crate::db::{Error, Result};

/// The query-string parameter that sorts, as in Django REST framework.
pub const ORDERING: &str = "ordering";

/// The fields of `M` a client may filter and sort on. See the
/// [module documentation](self).
pub struct FilterSet<M> {
    filters: Vec<&'static str>,
    ordering: Vec<&'static str>,
    ignored: Vec<&'static str>,
    model: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for FilterSet<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterSet")
            .field("filters", &self.filters)
            .field("ordering", &self.ordering)
            .field("ignored", &self.ignored)
            .finish()
    }
}

impl<M> Clone for FilterSet<M> {
    fn clone(&self) -> Self {
        Self {
            filters: self.filters.clone(),
            ordering: self.ordering.clone(),
            ignored: self.ignored.clone(),
            model: PhantomData,
        }
    }
}

impl<M: Model> Default for FilterSet<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> FilterSet<M> {
    /// A filter set that allows nothing.
    #[must_use]
    pub fn new() -> Self {
        Self {
            filters: Vec::new(),
            ordering: Vec::new(),
            ignored: Vec::new(),
            model: PhantomData,
        }
    }

    /// Allows filtering on these fields or relation paths
    /// (`"author__username"`), with any lookup.
    #[must_use]
    pub fn filters(mut self, paths: impl IntoIterator<Item = &'static str>) -> Self {
        self.filters.extend(paths);
        self
    }

    /// Allows sorting on these fields of `M` with `?ordering=`.
    #[must_use]
    pub fn ordering(mut self, fields: impl IntoIterator<Item = &'static str>) -> Self {
        self.ordering.extend(fields);
        self
    }

    /// Parameters [`apply`](Self::apply) passes over because the view
    /// reads them itself (`page`, `cursor`).
    #[must_use]
    pub fn ignore(mut self, params: impl IntoIterator<Item = &'static str>) -> Self {
        self.ignored.extend(params);
        self
    }

    /// The condition of one parameter, `field` or `field__lookup`, with its
    /// value as text.
    ///
    /// # Errors
    ///
    /// [`Error::RefusedField`] when the field is not allowed (or the lookup
    /// is not one of Django's), [`Error::InvalidValue`] when the text does
    /// not fit the field, [`Error::UnknownField`] when an allowed name is
    /// not a field of `M` at all (a mistake in the allow-list).
    pub fn q(&self, param: &str, text: &str) -> Result<Q<M>> {
        Ok(self.condition(param, text)?.0)
    }

    /// The condition of `param` with `text`, and the allowed path it is on.
    fn condition<'p>(&self, param: &'p str, text: &str) -> Result<(Q<M>, &'p str)> {
        let (path, op) = self.split(param)?;
        let op = match op {
            LookupOp::IsNull(_) => {
                let yes =
                    crate::db::SqlType::Bool
                        .parse(text)
                        .map_err(|e| Error::InvalidValue {
                            field: param.to_owned(),
                            message: e.0,
                        })?;
                LookupOp::IsNull(matches!(yes, sea_query::Value::Bool(Some(true))))
            }
            op => op,
        };
        Ok((Q::named(path, op, text)?, path))
    }

    /// `qs` sorted by an `?ordering=` value: comma-separated allowed
    /// fields, each with `-` for descending. An empty value leaves the
    /// order as it is.
    ///
    /// # Errors
    ///
    /// [`Error::RefusedField`] for a field not allowed for sorting.
    pub fn order_by(&self, qs: QuerySet<M>, value: &str) -> Result<QuerySet<M>> {
        let names: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(qs);
        }
        for name in &names {
            let bare = name.trim_start_matches(['-', '+']);
            if !self.ordering.contains(&bare) {
                return Err(self.refused(bare, &self.ordering));
            }
        }
        qs.order_by_names(names)
    }

    /// `qs` filtered and sorted by query-string parameters. Each filter
    /// parameter may be given once; several filters are ANDed. A filter
    /// through a many-to-many or reverse relation makes the query
    /// `distinct()`, so that a row matching several related rows comes
    /// once.
    ///
    /// # Errors
    ///
    /// As [`q`](Self::q) and [`order_by`](Self::order_by), and
    /// [`Error::RefusedField`] for a parameter given twice.
    pub fn apply<K, V>(
        &self,
        mut qs: QuerySet<M>,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Result<QuerySet<M>>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: Vec<String> = Vec::new();
        let mut distinct = false;
        for (name, value) in params {
            let (name, value) = (name.as_ref(), value.as_ref());
            if self.ignored.contains(&name) {
                continue;
            }
            if seen.iter().any(|s| s == name) {
                return Err(Error::RefusedField {
                    model: M::meta().name,
                    field: name.to_owned(),
                    allowed: "each parameter once".to_owned(),
                });
            }
            seen.push(name.to_owned());
            if name == ORDERING {
                qs = self.order_by(qs, value)?;
                continue;
            }
            let (q, path) = self.condition(name, value)?;
            distinct |= M::meta().resolve_path(path).is_ok_and(|p| p.multi_valued());
            qs = qs.filter(q);
        }
        Ok(if distinct { qs.distinct() } else { qs })
    }

    /// The allowed field path and the lookup of `param`.
    fn split<'p>(&self, param: &'p str) -> Result<(&'p str, LookupOp)> {
        if self.filters.contains(&param) {
            return Ok((param, LookupOp::Exact));
        }
        if let Some((path, lookup)) = param.rsplit_once("__")
            && self.filters.contains(&path)
        {
            return LookupOp::from_name(lookup)
                .map(|op| (path, op))
                .ok_or_else(|| Error::RefusedField {
                    model: M::meta().name,
                    field: param.to_owned(),
                    allowed: format!("`{lookup}` is not a lookup; use one of {LOOKUPS}"),
                });
        }
        Err(self.refused(param, &self.filters))
    }

    fn refused(&self, name: &str, allowed: &[&str]) -> Error {
        Error::RefusedField {
            model: M::meta().name,
            field: name.to_owned(),
            allowed: if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            },
        }
    }
}

/// Django's lookup names, for messages.
const LOOKUPS: &str = "exact, iexact, contains, icontains, startswith, istartswith, endswith, \
                       iendswith, gt, gte, lt, lte, in, range, isnull";

impl LookupOp {
    /// The lookup of Django's name `name` (`"icontains"`, `"gte"`,
    /// `"isnull"`...). `isnull` comes as `IsNull(true)`; the value decides.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "exact" => Self::Exact,
            "iexact" => Self::IExact,
            "contains" => Self::Contains,
            "icontains" => Self::IContains,
            "startswith" => Self::StartsWith,
            "istartswith" => Self::IStartsWith,
            "endswith" => Self::EndsWith,
            "iendswith" => Self::IEndsWith,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "in" => Self::In,
            "range" => Self::Range,
            "isnull" => Self::IsNull(true),
            _ => return None,
        })
    }
}
