//! What every admin view starts from ([`AdminRequest`]: the staff
//! member, the site, the database, the permissions), and the admin's
//! URLs of a model.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::{AdminSite, Registered};
use crate::contrib::auth::{self, Denied, StaffRequired, User};
use crate::db::{Database, Db, ModelMeta};

/// The site whose page is asked for: each site's routes carry their own
/// (several sites can be mounted), as a request extension.
pub(super) struct Site(pub(super) Arc<AdminSite>);

impl<S: Send + Sync> FromRequestParts<S> for Site {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Arc<AdminSite>>()
            .cloned()
            .map(Site)
            .ok_or_else(|| {
                crate::Error::internal("an admin view was reached without its site").into_response()
            })
    }
}

/// The registered model named in the URL, or 404.
pub(super) fn registered(
    site: &AdminSite,
    app: &str,
    model: &str,
) -> crate::Result<Arc<dyn Registered>> {
    site.model(app, model)
        .cloned()
        .ok_or_else(|| crate::Error::not_found(format!("no model {app}.{model} in the admin")))
}

/// What every admin view starts from: the active staff member (anonymous
/// visitors go to the login page, others get 403), the site, the
/// database, and the member's permissions, read once per request (one
/// query however many checks the page makes; none for a superuser).
pub(super) struct AdminRequest {
    pub(super) user: User,
    pub(super) site: Arc<AdminSite>,
    pub(super) db: Database,
    /// `app.codename`s held; `None` for a superuser, who holds them all.
    perms: Option<BTreeSet<String>>,
}

impl<S: Send + Sync> FromRequestParts<S> for AdminRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Site(site) = Site::from_request_parts(parts, state).await?;
        let StaffRequired(user) = StaffRequired::from_request_parts(parts, state)
            .await
            .map_err(|denied| match denied {
                Denied::Login(_) => to_login(parts, &site),
                denied => denied.into_response(),
            })?;
        let db = Db::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let perms = if user.is_superuser {
            None
        } else {
            Some(
                user.permissions(&db)
                    .await
                    .map_err(|e| crate::Error::from(e).into_response())?,
            )
        };
        Ok(Self {
            user,
            site,
            db,
            perms,
        })
    }
}

impl AdminRequest {
    /// Whether the member may do `action` on `meta` (`view`, `add`, ...).
    pub(super) fn may(&self, meta: &ModelMeta, action: &str) -> bool {
        self.holds(meta, &meta.permission_codename(action))
    }

    /// Whether the member holds the permission `codename` of `meta`'s app.
    pub(super) fn holds(&self, meta: &ModelMeta, codename: &str) -> bool {
        self.perms
            .as_ref()
            .is_none_or(|p| p.contains(&format!("{}.{codename}", meta.app)))
    }

    /// 403 unless the member may do `action`.
    pub(super) fn require(&self, meta: &ModelMeta, action: &str) -> crate::Result<()> {
        if self.may(meta, action) {
            Ok(())
        } else {
            Err(crate::Error::forbidden(format!(
                "you may not {action} {}",
                meta.verbose_name_plural
            )))
        }
    }

    /// The registered model named in the URL, or 404.
    pub(super) fn model(&self, app: &str, model: &str) -> crate::Result<Arc<dyn Registered>> {
        registered(&self.site, app, model)
    }
}

/// The redirect of an anonymous visitor to the admin's login page, with
/// `next` the page asked for.
fn to_login(parts: &Parts, site: &AdminSite) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    crate::web::found(&auth::redirect_to_login(next, &site.info().login_url))
}
