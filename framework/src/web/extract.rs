//! axum's `Json`, `Form`, `Path` and `Query` extractors, with their
//! rejections turned into the project's error pages.
//!
//! axum answers a body that is not JSON, a path parameter that does not
//! parse or a bad query string itself, with a plain-text body that names
//! the parser's complaint (`Failed to deserialize the JSON body into the
//! target type: missing field ...`). These wrappers answer the same
//! status through [`crate::Error`], so the response is the project's
//! 400/415/422 page: the detail shows with `debug` on, and production
//! shows the page alone, as every other error. The prelude exports these;
//! use them as axum's (`Json(article): Json<Article>`, and `Json(value)`
//! as a response).

use std::ops::{Deref, DerefMut};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An axum rejection as the project's error: its status and its text.
macro_rules! rejected {
    ($rejection:expr) => {{
        let rejection = $rejection;
        crate::Error::new(rejection.status(), rejection.body_text())
    }};
}

macro_rules! wrapper {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name<T>(pub T);

        impl<T> Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    };
}

wrapper!(
    /// A JSON request body (415 without a JSON content type, 400 for
    /// text that is not JSON, 422 for JSON of another shape), or a JSON
    /// response.
    Json
);
wrapper!(
    /// An urlencoded form body (or query string, for `GET`).
    Form
);
wrapper!(
    /// The route's parameters, after their converters (see
    /// [`crate::urls`]).
    Path
);
wrapper!(
    /// The query string, deserialized.
    Query
);

/// A wrapper that reads the request body through axum's extractor
/// `$axum`, and answers as `$axum` does when returned.
macro_rules! body_extractor {
    ($name:ident, $($axum:ident)::+) => {
        impl<T, S> FromRequest<S> for $name<T>
        where
            T: DeserializeOwned,
            S: Send + Sync,
        {
            type Rejection = crate::Error;

            async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
                match <$($axum)::+<T>>::from_request(req, state).await {
                    Ok(value) => Ok(Self(value.0)),
                    Err(rejection) => Err(rejected!(rejection)),
                }
            }
        }

        impl<T: Serialize> IntoResponse for $name<T> {
            fn into_response(self) -> Response {
                $($axum)::+(self.0).into_response()
            }
        }
    };
}

/// A wrapper that reads the request head through axum's extractor
/// `$axum`.
macro_rules! parts_extractor {
    ($name:ident, $($axum:ident)::+) => {
        impl<T, S> FromRequestParts<S> for $name<T>
        where
            T: DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = crate::Error;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                match <$($axum)::+<T>>::from_request_parts(parts, state).await {
                    Ok(value) => Ok(Self(value.0)),
                    Err(rejection) => Err(rejected!(rejection)),
                }
            }
        }
    };
}

body_extractor!(Json, axum::Json);
body_extractor!(Form, axum::extract::Form);
parts_extractor!(Path, axum::extract::Path);
parts_extractor!(Query, axum::extract::Query);
