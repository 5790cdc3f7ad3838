//! URL routing in the Django style: named routes, typed path parameters,
//! `include` with namespaces, and `reverse`.
//!
//! ```
//! use manouche::prelude::*;
//!
//! async fn detail(Path(id): Path<i64>) -> String { format!("article {id}") }
//! async fn index() -> &'static str { "blog" }
//!
//! fn blog_urls() -> Urls {
//!     Urls::namespaced("blog")                            // the namespace
//!         .path("", get(index), "index")
//!         .path("articles/<int:id>/", get(detail), "article-detail")
//! }
//!
//! let conf = Urls::new()
//!     .include("blog/", blog_urls())
//!     .compile()
//!     .unwrap()
//!     .conf;
//! assert_eq!(conf.reverse("blog:article-detail", &[&42]).unwrap(), "/blog/articles/42/");
//! assert!(conf.reverse("blog:article-detail", &[&"abc"]).is_err());
//! ```
//!
//! Patterns are Django's: literal text and `<converter:name>` parameters,
//! where the converter is `str` (the default), `int`, `slug`, `uuid` or
//! `path`. A request whose parameter does not fit its converter does not match
//! the route (404), so handlers can extract `Path<i64>` without a 400 case.
//! Every mistake in the URL tree — a bad pattern, two routes for one path, a
//! name used twice — is reported by [`Urls::compile`] at startup, all at once.
//!
//! Requests for a path without its trailing slash are redirected to the path
//! with it when that one exists (Django's `APPEND_SLASH`): 301 for GET and
//! HEAD, 308 (which keeps the method and body) for the rest.

mod pattern;

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http::{HeaderValue, Method, StatusCode, header};

pub use pattern::Converter;
use pattern::Pattern;

use crate::error_pages::ErrorReport;

/// A list of URL patterns: routes and included lists. The project has one at
/// its root; each app usually provides its own, included under a prefix.
#[must_use]
#[derive(Default)]
pub struct Urls {
    namespace: Option<String>,
    entries: Vec<Entry>,
}

enum Entry {
    Route {
        pattern: String,
        view: Box<View>,
        name: Option<String>,
    },
    Include {
        prefix: String,
        urls: Urls,
    },
    Mount {
        prefix: String,
        mount: Mount,
    },
}

/// What a route serves: an axum method router (`get(view)`,
/// `get(show).post(update)`), and whether the CSRF check skips it.
/// [`Urls::path`] and [`Urls::route`] take a `MethodRouter` as it is, or
/// one wrapped by [`csrf::exempt`](crate::csrf::exempt).
#[must_use]
pub struct View {
    handler: MethodRouter,
    csrf_exempt: bool,
}

impl View {
    /// The same view, exempt from the CSRF check (see
    /// [`csrf::exempt`](crate::csrf::exempt)).
    pub(crate) fn csrf_exempt(mut self) -> Self {
        self.csrf_exempt = true;
        self
    }
}

impl From<MethodRouter> for View {
    fn from(handler: MethodRouter) -> Self {
        Self {
            handler,
            csrf_exempt: false,
        }
    }
}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("csrf_exempt", &self.csrf_exempt)
            .finish_non_exhaustive()
    }
}

/// An axum [`Router`] for [`Urls::mount`], and whether the CSRF check skips
/// its routes: a `Router` as it is, or one wrapped by
/// [`csrf::exempt`](crate::csrf::exempt).
#[must_use]
pub struct Mount {
    router: Router,
    csrf_exempt: bool,
}

impl Mount {
    /// The same router, exempt from the CSRF check.
    pub(crate) fn csrf_exempt(mut self) -> Self {
        self.csrf_exempt = true;
        self
    }
}

impl From<Router> for Mount {
    fn from(router: Router) -> Self {
        Self {
            router,
            csrf_exempt: false,
        }
    }
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("csrf_exempt", &self.csrf_exempt)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Urls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Urls")
            .field("namespace", &self.namespace)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Urls {
    /// An empty list without a namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list whose names live in `namespace` once included
    /// (Django's `app_name`): `Urls::namespaced("blog")` makes `blog:index`.
    /// An [`App`](crate::App)'s URLs get the app's label as their namespace
    /// without this.
    pub fn namespaced(namespace: impl Into<String>) -> Self {
        Self {
            namespace: Some(namespace.into()),
            entries: Vec::new(),
        }
    }

    /// A named route. `pattern` is relative (`"articles/<int:id>/"`, `""` for
    /// the root); `view` is an axum method router (`get(view)`,
    /// `get(show).post(update)`), or one exempt from the CSRF check
    /// (`csrf::exempt(post(webhook))`, see [`crate::csrf`]).
    pub fn path(mut self, pattern: &str, view: impl Into<View>, name: &str) -> Self {
        self.entries.push(Entry::Route {
            pattern: pattern.to_owned(),
            view: Box::new(view.into()),
            name: Some(name.to_owned()),
        });
        self
    }

    /// A route without a name (it cannot be reversed).
    pub fn route(mut self, pattern: &str, view: impl Into<View>) -> Self {
        self.entries.push(Entry::Route {
            pattern: pattern.to_owned(),
            view: Box::new(view.into()),
            name: None,
        });
        self
    }

    /// Mounts another list under `prefix` (`"blog/"`). Its names get its
    /// namespace, if it has one.
    pub fn include(mut self, prefix: &str, urls: Urls) -> Self {
        self.entries.push(Entry::Include {
            prefix: prefix.to_owned(),
            urls,
        });
        self
    }

    /// Serves an existing axum [`Router`] under `prefix` (`"api/"`): its
    /// routes see the path without the prefix (axum's `nest`), go through
    /// the project's middleware, and have no names to reverse. A route of
    /// the list that overlaps the prefix is reported by
    /// [`compile`](Self::compile) as a conflict.
    ///
    /// ```
    /// use axum::Router;
    /// use manouche::prelude::*;
    ///
    /// let api = Router::new().route("/status", get(|| async { "ok" }));
    /// let urls = Urls::new().mount("api/", api);
    /// assert!(urls.compile().is_ok());
    /// ```
    pub fn mount(mut self, prefix: &str, router: impl Into<Mount>) -> Self {
        self.entries.push(Entry::Mount {
            prefix: prefix.to_owned(),
            mount: router.into(),
        });
        self
    }

    /// The list's namespace, if it has one.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Gives the list `namespace` when it has none yet (an app's URLs get
    /// its label).
    pub(crate) fn or_namespace(mut self, namespace: &str) -> Self {
        if self.namespace.is_none() {
            self.namespace = Some(namespace.to_owned());
        }
        self
    }

    /// Checks the whole tree and builds the router and the name table.
    ///
    /// # Errors
    /// Every problem found, not just the first: bad patterns, two routes
    /// matching the same paths, names or namespaces used twice.
    pub fn compile(self) -> Result<CompiledUrls, UrlErrors> {
        let mut builder = Builder::default();
        builder.walk(self, "", "");
        builder.finish()
    }
}

/// The result of [`Urls::compile`]: the router to serve and the name table.
#[derive(Debug)]
#[non_exhaustive]
pub struct CompiledUrls {
    /// All routes, flattened; with the converter checks and the trailing-slash
    /// fallback.
    pub router: Router,
    /// Names and patterns, for `reverse` and `manage routes`.
    pub conf: UrlConf,
}

/// One route as `manage routes` lists it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The full pattern, prefixes included: `blog/articles/<int:id>/`.
    pub pattern: String,
    /// The full name, namespaces included: `blog:article-detail`.
    pub name: Option<String>,
}

#[derive(Default)]
struct Builder {
    routes: Vec<(Pattern, Option<String>, View)>,
    /// Mounted axum routers: the full prefix (`api/`) and the router.
    mounts: Vec<(String, Mount)>,
    namespaces: HashMap<String, String>,
    errors: Vec<UrlError>,
}

impl Builder {
    fn walk(&mut self, urls: Urls, prefix: &str, namespace: &str) {
        let namespace = match &urls.namespace {
            Some(ns) if ns.is_empty() || ns.contains(':') => {
                self.errors.push(UrlError::BadNamespace {
                    namespace: ns.clone(),
                });
                namespace.to_owned()
            }
            Some(ns) => {
                let full = join_name(namespace, ns);
                if let Some(first) = self.namespaces.get(&full) {
                    self.errors.push(UrlError::DuplicateNamespace {
                        namespace: full.clone(),
                        first: first.clone(),
                        second: prefix.to_owned(),
                    });
                } else {
                    self.namespaces.insert(full.clone(), prefix.to_owned());
                }
                full
            }
            None => namespace.to_owned(),
        };
        for entry in urls.entries {
            match entry {
                Entry::Route {
                    pattern,
                    view,
                    name,
                } => {
                    let source = format!("{prefix}{pattern}");
                    let name = name.map(|n| join_name(&namespace, &n));
                    if let Some(n) = &name
                        && (n.is_empty() || n.ends_with(':'))
                    {
                        self.errors.push(UrlError::BadPattern {
                            pattern: source.clone(),
                            message: "route names must not be empty".into(),
                        });
                    }
                    match Pattern::parse(&source) {
                        Ok(p) => self.routes.push((p, name, *view)),
                        Err(message) => self.errors.push(UrlError::BadPattern {
                            pattern: source,
                            message,
                        }),
                    }
                }
                Entry::Include {
                    prefix: inner,
                    urls,
                } => {
                    if !inner.is_empty() && !inner.ends_with('/') {
                        self.errors.push(UrlError::BadPattern {
                            pattern: format!("{prefix}{inner}"),
                            message: "an include prefix must end with '/' (\"blog/\")".into(),
                        });
                    }
                    self.walk(urls, &format!("{prefix}{inner}"), &namespace);
                }
                Entry::Mount {
                    prefix: inner,
                    mount,
                } => {
                    let full = format!("{prefix}{inner}");
                    if inner.is_empty() || !inner.ends_with('/') || inner.starts_with('/') {
                        self.errors.push(UrlError::BadPattern {
                            pattern: full,
                            message: "a mount prefix must be non-empty, relative and end with '/' (\"api/\")".into(),
                        });
                    } else if full.contains('<') {
                        self.errors.push(UrlError::BadPattern {
                            pattern: full,
                            message: "a mount prefix cannot have parameters".into(),
                        });
                    } else {
                        self.mounts.push((full, mount));
                    }
                }
            }
        }
    }

    fn finish(mut self) -> Result<CompiledUrls, UrlErrors> {
        let mut matcher = matchit::Router::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut router = Router::new();
        let mut infos = Vec::with_capacity(self.routes.len());
        let mut csrf_exempt = Vec::with_capacity(self.routes.len());
        let mut sources: HashMap<String, String> = HashMap::new();
        for (index, (pattern, name, view)) in self.routes.into_iter().enumerate() {
            let path = pattern.router_path();
            csrf_exempt.push(view.csrf_exempt);
            let handler = view.handler;
            if let Err(err) = matcher.insert(path.clone(), Target::Route(index)) {
                let other = match &err {
                    matchit::InsertError::Conflict { with } => {
                        sources.get(with).cloned().unwrap_or_else(|| with.clone())
                    }
                    other => other.to_string(),
                };
                self.errors.push(UrlError::Conflict {
                    pattern: pattern.source.clone(),
                    other,
                });
                infos.push(pattern);
                continue;
            }
            sources.insert(path.clone(), pattern.source.clone());
            if let Some(name) = &name {
                if let Some(&first) = by_name.get(name) {
                    self.errors.push(UrlError::DuplicateName {
                        name: name.clone(),
                        first: infos
                            .get(first)
                            .map(|p: &Pattern| p.source.clone())
                            .unwrap_or_default(),
                        second: pattern.source.clone(),
                    });
                } else {
                    by_name.insert(name.clone(), index);
                }
            }
            let params: Arc<[(String, Converter)]> =
                pattern.params().map(|(n, c)| (n.to_owned(), c)).collect();
            let handler = if params.is_empty() {
                handler
            } else {
                handler.route_layer(axum::middleware::from_fn(move |raw, req, next| {
                    check_converters(Arc::clone(&params), raw, req, next)
                }))
            };
            router = router.route(&path, handler);
            infos.push(pattern);
        }
        for (prefix, mounted) in self.mounts {
            let base = format!("/{}", prefix.trim_end_matches('/'));
            let mut free = true;
            let target = Target::Mount {
                csrf_exempt: mounted.csrf_exempt,
            };
            for path in [base.clone(), format!("{base}/{{*manouche_rest}}")] {
                if let Err(err) = matcher.insert(path, target) {
                    let other = match &err {
                        matchit::InsertError::Conflict { with } => {
                            sources.get(with).cloned().unwrap_or_else(|| with.clone())
                        }
                        other => other.to_string(),
                    };
                    self.errors.push(UrlError::Conflict {
                        pattern: format!("{prefix} (mounted router)"),
                        other,
                    });
                    free = false;
                    break;
                }
            }
            if free {
                sources.insert(base.clone(), format!("{prefix} (mounted router)"));
                router = router.nest(&base, mounted.router);
            }
        }
        if !self.errors.is_empty() {
            return Err(UrlErrors(self.errors));
        }
        let names: Vec<Option<String>> = {
            let mut names = vec![None; infos.len()];
            for (name, &i) in &by_name {
                names[i] = Some(name.clone());
            }
            names
        };
        let labels = infos
            .iter()
            .zip(&names)
            .map(|(p, n)| {
                let label: Arc<str> = Arc::from(n.as_deref().unwrap_or(&p.source));
                metrics::SharedString::from_shared(label)
            })
            .collect();
        let conf = UrlConf {
            inner: Arc::new(Inner {
                patterns: infos,
                names,
                labels,
                csrf_exempt,
                by_name,
                namespaces: self.namespaces.into_keys().collect(),
                matcher,
            }),
        };
        let fallback_conf = conf.clone();
        let router = router
            .fallback(move |req: Request| append_slash(fallback_conf.clone(), req))
            // A known path with another method: the project's 405 page
            // (axum still adds the `Allow` header).
            .method_not_allowed_fallback(|req: Request| async move {
                ErrorReport::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("{} is not allowed here", req.method()),
                )
                .into_response()
            });
        Ok(CompiledUrls { router, conf })
    }
}

/// What a path of the matcher leads to.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The route at this index.
    Route(usize),
    /// A mounted router.
    Mount { csrf_exempt: bool },
}

fn join_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}:{name}")
    }
}

/// Rejects (404) a request whose parameters don't fit their converters.
async fn check_converters(
    params: Arc<[(String, Converter)]>,
    raw: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    for (key, value) in &raw {
        let fits = params
            .iter()
            .find(|(name, _)| name == key)
            .is_none_or(|(_, conv)| conv.accepts(value));
        if !fits {
            return ErrorReport::new(
                StatusCode::NOT_FOUND,
                format!("{value:?} is not a valid value for <{key}>"),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// The fallback: redirect to the slash-terminated path when it exists, else
/// the 404 page.
async fn append_slash(conf: UrlConf, req: Request) -> Response {
    let path = req.uri().path();
    if !path.ends_with('/') {
        let with_slash = format!("{path}/");
        // Only the site's own routes, with their converters: a mounted
        // router answers its paths (and its 404s) itself, and a path whose
        // parameters do not fit would only be a 404 after the redirect.
        if let Some(Target::Route(_)) = conf.serving(&with_slash) {
            // `//evil.example/` would be a link to another site (Django's
            // CVE-2018-14574): the path keeps its leading slashes escaped.
            let with_slash = escape_leading_slashes(with_slash);
            let target = match req.uri().query() {
                Some(q) => format!("{with_slash}?{q}"),
                None => with_slash,
            };
            // 301 as Django does for GET and HEAD; 308 keeps the method and
            // the body of the others, which 301 would turn into a GET.
            let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
                StatusCode::MOVED_PERMANENTLY
            } else {
                StatusCode::PERMANENT_REDIRECT
            };
            return match HeaderValue::try_from(target) {
                Ok(location) => (status, [(header::LOCATION, location)]).into_response(),
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            };
        }
    }
    ErrorReport::new(StatusCode::NOT_FOUND, format!("no route matches {path}"))
        .with_tried_patterns()
        .into_response()
}

/// `//host/...` as `/%2Fhost/...` (Django's `escape_leading_slashes`): a
/// `Location` starting with two slashes is a link to another host.
fn escape_leading_slashes(path: String) -> String {
    match path.strip_prefix("//") {
        Some(rest) => format!("/%2F{rest}"),
        None => path,
    }
}

/// The compiled URL tree: reverse lookup and the list of routes. Cheap to
/// clone. Also an extractor, so handlers can take `urls: UrlConf`
/// (see [`crate::request`]).
#[derive(Clone)]
pub struct UrlConf {
    inner: Arc<Inner>,
}

struct Inner {
    patterns: Vec<Pattern>,
    names: Vec<Option<String>>,
    /// Per route, its name (or pattern) as a metrics label.
    labels: Vec<metrics::SharedString>,
    /// Per route, whether the CSRF check skips it.
    csrf_exempt: Vec<bool>,
    by_name: HashMap<String, usize>,
    namespaces: Vec<String>,
    matcher: matchit::Router<Target>,
}

impl fmt::Debug for UrlConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlConf")
            .field("routes", &self.inner.patterns.len())
            .finish()
    }
}

impl UrlConf {
    /// Every route, in declaration order.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.inner
            .patterns
            .iter()
            .zip(&self.inner.names)
            .map(|(p, n)| RouteInfo {
                pattern: p.source.clone(),
                name: n.clone(),
            })
            .collect()
    }

    /// The URL path of the route named `name` (`"blog:article-detail"`), with
    /// `args` filling its parameters in order.
    ///
    /// # Errors
    /// [`NoReverseMatch`] when the name or namespace is unknown, the number of
    /// arguments is wrong, or an argument does not fit its converter.
    pub fn reverse(&self, name: &str, args: &[&dyn Display]) -> Result<String, NoReverseMatch> {
        let (index, pattern) = self.lookup(name)?;
        let expected: Vec<(&str, Converter)> = pattern.params().collect();
        if expected.len() != args.len() {
            return Err(NoReverseMatch::WrongArguments {
                name: name.to_owned(),
                pattern: pattern.source.clone(),
                expected: describe_params(&expected),
                given: args.len(),
            });
        }
        let values: Vec<String> = args.iter().map(ToString::to_string).collect();
        self.fill(index, name, &expected, values)
    }

    /// Like [`reverse`](Self::reverse), with parameters given by name.
    ///
    /// # Errors
    /// As for [`reverse`](Self::reverse); also when a name is missing or
    /// unknown.
    pub fn reverse_kwargs(
        &self,
        name: &str,
        kwargs: &[(&str, &dyn Display)],
    ) -> Result<String, NoReverseMatch> {
        let (index, pattern) = self.lookup(name)?;
        let expected: Vec<(&str, Converter)> = pattern.params().collect();
        let mut values = Vec::with_capacity(expected.len());
        for (param, _) in &expected {
            match kwargs.iter().find(|(k, _)| k == param) {
                Some((_, v)) => values.push(v.to_string()),
                None => {
                    return Err(NoReverseMatch::WrongArguments {
                        name: name.to_owned(),
                        pattern: pattern.source.clone(),
                        expected: describe_params(&expected),
                        given: kwargs.len(),
                    });
                }
            }
        }
        if let Some((unknown, _)) = kwargs
            .iter()
            .find(|(k, _)| !expected.iter().any(|(p, _)| p == k))
        {
            return Err(NoReverseMatch::UnknownArgument {
                name: name.to_owned(),
                pattern: pattern.source.clone(),
                argument: (*unknown).to_owned(),
            });
        }
        self.fill(index, name, &expected, values)
    }

    fn lookup(&self, name: &str) -> Result<(usize, &Pattern), NoReverseMatch> {
        if let Some(&index) = self.inner.by_name.get(name) {
            return Ok((index, &self.inner.patterns[index]));
        }
        if let Some((namespace, _)) = name.rsplit_once(':')
            && !self.inner.namespaces.iter().any(|n| n == namespace)
        {
            let mut known = self.inner.namespaces.clone();
            known.sort();
            return Err(NoReverseMatch::UnknownNamespace {
                namespace: namespace.to_owned(),
                known,
            });
        }
        Err(NoReverseMatch::UnknownName {
            name: name.to_owned(),
        })
    }

    fn fill(
        &self,
        index: usize,
        name: &str,
        expected: &[(&str, Converter)],
        values: Vec<String>,
    ) -> Result<String, NoReverseMatch> {
        let pattern = &self.inner.patterns[index];
        for ((param, conv), value) in expected.iter().zip(&values) {
            if !conv.accepts(value) {
                return Err(NoReverseMatch::BadArgument {
                    name: name.to_owned(),
                    pattern: pattern.source.clone(),
                    param: (*param).to_owned(),
                    converter: conv.name(),
                    value: value.clone(),
                });
            }
        }
        Ok(pattern.fill(&values))
    }

    /// The metrics label of the route matching `path`: its name, or its
    /// pattern when unnamed; `unmatched` when none matches.
    pub(crate) fn route_label(&self, path: &str) -> metrics::SharedString {
        match self.inner.matcher.at(path) {
            Ok(m) => match *m.value {
                Target::Route(index) => self.inner.labels[index].clone(),
                // Mounted routers share one label.
                Target::Mount { .. } => metrics::SharedString::const_str("mounted"),
            },
            Err(_) => metrics::SharedString::const_str("unmatched"),
        }
    }

    /// For the CSRF check: whether the view serving `path` is exempt;
    /// `None` when no view serves it (no route matches, or a parameter
    /// does not fit its converter), so that the request gets its 404 (or
    /// its trailing-slash redirect) as in Django, where URL resolution
    /// comes before the check.
    pub(crate) fn csrf_exempt(&self, path: &str) -> Option<bool> {
        match self.serving(path)? {
            Target::Mount { csrf_exempt } => Some(csrf_exempt),
            Target::Route(index) => Some(self.inner.csrf_exempt[index]),
        }
    }

    /// Whether a route or a mounted router serves `path`.
    pub(crate) fn serves(&self, path: &str) -> bool {
        self.serving(path).is_some()
    }

    /// What serves `path`: a mounted router, or a route whose parameters
    /// all fit their converters; `None` when nothing does.
    fn serving(&self, path: &str) -> Option<Target> {
        let found = self.inner.matcher.at(path).ok()?;
        match *found.value {
            Target::Mount { .. } => Some(*found.value),
            Target::Route(index) => {
                let pattern = &self.inner.patterns[index];
                // The router hands views the decoded values; so does this.
                let fits = pattern.params().all(|(name, converter)| {
                    found.params.get(name).is_none_or(|raw| {
                        percent_encoding::percent_decode_str(raw)
                            .decode_utf8()
                            .is_ok_and(|value| converter.accepts(&value))
                    })
                });
                fits.then_some(*found.value)
            }
        }
    }

    /// Whether some route matches `path` (as the router sees it).
    pub fn matches(&self, path: &str) -> bool {
        self.inner.matcher.at(path).is_ok()
    }
}

fn describe_params(params: &[(&str, Converter)]) -> String {
    if params.is_empty() {
        return "no arguments".into();
    }
    params
        .iter()
        .map(|(n, c)| format!("<{}:{n}>", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn with_current<T>(f: impl Fn(&UrlConf) -> Result<T, NoReverseMatch>) -> Result<T, NoReverseMatch> {
    crate::request::with_context(|c| f(&c.site.urls))
        .unwrap_or(Err(NoReverseMatch::NoConfiguration))
}

/// [`UrlConf::reverse`] on the running project's URLs: usable in handlers
/// and in templates (`{{ manouche::urls::reverse("home", [])? }}`).
///
/// # Errors
/// [`NoReverseMatch`].
pub fn reverse(name: &str, args: &[&dyn Display]) -> Result<String, NoReverseMatch> {
    with_current(|conf| conf.reverse(name, args))
}

/// [`UrlConf::reverse_kwargs`] on the running project's URLs.
///
/// # Errors
/// [`NoReverseMatch`].
pub fn reverse_kwargs(
    name: &str,
    kwargs: &[(&str, &dyn Display)],
) -> Result<String, NoReverseMatch> {
    with_current(|conf| conf.reverse_kwargs(name, kwargs))
}

/// `reverse!("home")`, `reverse!("blog:article-detail", 42)` or
/// `reverse!("blog:article-detail", id = 42)`: [`reverse`] without the
/// slice syntax.
#[macro_export]
macro_rules! reverse {
    ($name:expr $(,)?) => {
        $crate::urls::reverse($name, &[])
    };
    ($name:expr, $($key:ident = $value:expr),+ $(,)?) => {
        $crate::urls::reverse_kwargs(
            $name,
            &[$((stringify!($key), &$value as &dyn ::std::fmt::Display)),+],
        )
    };
    ($name:expr, $($value:expr),+ $(,)?) => {
        $crate::urls::reverse($name, &[$(&$value as &dyn ::std::fmt::Display),+])
    };
}

/// A mistake in the URL tree, found at startup.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// A pattern that cannot be parsed or routed.
    #[error("bad URL pattern {pattern:?}: {message}")]
    BadPattern {
        /// The pattern, prefixes included.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// Two patterns match the same paths.
    #[error(
        "URL pattern {pattern:?} conflicts with {other:?}: both would match the same paths; merge their handlers (get(a).post(b)) or change one"
    )]
    Conflict {
        /// The later pattern.
        pattern: String,
        /// The earlier one.
        other: String,
    },
    /// A route name used twice.
    #[error("URL name {name:?} is used by both {first:?} and {second:?}; names must be unique")]
    DuplicateName {
        /// The name.
        name: String,
        /// The first pattern with it.
        first: String,
        /// The second.
        second: String,
    },
    /// A namespace included twice.
    #[error(
        "URL namespace {namespace:?} is included twice (under {first:?} and {second:?}); give the second include another namespace"
    )]
    DuplicateNamespace {
        /// The namespace.
        namespace: String,
        /// The first prefix.
        first: String,
        /// The second prefix.
        second: String,
    },
    /// An empty namespace or one containing ':'.
    #[error("bad URL namespace {namespace:?}: it must be non-empty and contain no ':'")]
    BadNamespace {
        /// The namespace.
        namespace: String,
    },
}

/// All the mistakes found in a URL tree.
#[derive(Debug, Clone)]
pub struct UrlErrors(pub Vec<UrlError>);

impl Display for UrlErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the URL configuration has {} error(s):", self.0.len())?;
        for err in &self.0 {
            writeln!(f, "  - {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UrlErrors {}

/// Why `reverse` found no URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoReverseMatch {
    /// No route has this name.
    #[error("reverse for {name:?} not found: no route has this name (see `manage routes`)")]
    UnknownName {
        /// The name asked for.
        name: String,
    },
    /// The namespace part of the name is unknown.
    #[error("reverse: {namespace:?} is not a registered namespace (known: {known:?})")]
    UnknownNamespace {
        /// The namespace asked for.
        namespace: String,
        /// The namespaces that exist.
        known: Vec<String>,
    },
    /// Too many or too few arguments.
    #[error("reverse for {name:?} ({pattern:?}) takes {expected}, got {given} argument(s)")]
    WrongArguments {
        /// The name.
        name: String,
        /// Its pattern.
        pattern: String,
        /// The parameters it takes.
        expected: String,
        /// How many were given.
        given: usize,
    },
    /// A keyword argument the pattern does not have.
    #[error("reverse for {name:?} ({pattern:?}) has no parameter <{argument}>")]
    UnknownArgument {
        /// The name.
        name: String,
        /// Its pattern.
        pattern: String,
        /// The unknown argument.
        argument: String,
    },
    /// An argument that does not fit its converter.
    #[error("reverse for {name:?} ({pattern:?}): {value:?} is not a valid <{converter}:{param}>")]
    BadArgument {
        /// The name.
        name: String,
        /// Its pattern.
        pattern: String,
        /// The parameter.
        param: String,
        /// Its converter.
        converter: &'static str,
        /// The value given.
        value: String,
    },
    /// `reverse` was called outside a request (a spawned task, a test, a
    /// command), where there is no current project.
    #[error(
        "reverse called outside a request: there is no current project here; use `Site::urls().reverse(...)` or `UrlConf::reverse`"
    )]
    NoConfiguration,
}

#[cfg(test)]
mod slash_tests {
    #[test]
    fn leading_slashes_are_escaped_so_a_location_stays_on_the_site() {
        assert_eq!(
            super::escape_leading_slashes("//evil.example/".into()),
            "/%2Fevil.example/"
        );
        assert_eq!(super::escape_leading_slashes("///x/".into()), "/%2F/x/");
        assert_eq!(super::escape_leading_slashes("/news/".into()), "/news/");
    }
}
