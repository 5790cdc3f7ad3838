//! The [`Service<T>`](crate::services::Service) extractor.

use std::any::type_name;

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::request::current_service;
use crate::services::{Service, Services};

impl<S: Send + Sync, T: Send + Sync + 'static> FromRequestParts<S> for Service<T> {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(value) = current_service::<T>() {
            return Ok(Self(value));
        }
        // A router served outside a project can carry the container itself.
        if let Some(value) = parts
            .extensions
            .get::<Services>()
            .and_then(Services::get::<T>)
        {
            return Ok(Self(value));
        }
        Err(crate::Error::improperly_configured(format!(
            "no service of type {} is registered: register it in an app's `ready` hook \
             (`ready.services_mut().insert(...)`)",
            type_name::<T>()
        )))
    }
}
