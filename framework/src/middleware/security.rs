//! Security headers, on by default: `X-Frame-Options: DENY`,
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`,
//! `Cross-Origin-Opener-Policy: same-origin`, and HSTS when configured.
//! A handler that sets one of them itself keeps its own value (e.g. a page
//! meant to be framed sets `X-Frame-Options: SAMEORIGIN`).

use http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::settings::{SecuritySettings, SettingsError};

/// The headers to add, computed once from the settings.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
    pub(crate) fn new(settings: &SecuritySettings) -> Result<Self, SettingsError> {
        let mut headers = Vec::new();
        let mut add = |name: HeaderName, setting: &'static str, value: &str| {
            if value.is_empty() {
                return Ok(());
            }
            let value = HeaderValue::from_str(value).map_err(|_| SettingsError::Invalid {
                setting,
                message: format!("{value:?} is not a valid header value"),
            })?;
            headers.push((name, value));
            Ok::<_, SettingsError>(())
        };
        add(
            header::X_FRAME_OPTIONS,
            "security.x_frame_options",
            &settings.x_frame_options,
        )?;
        if settings.content_type_nosniff {
            add(
                header::X_CONTENT_TYPE_OPTIONS,
                "security.content_type_nosniff",
                "nosniff",
            )?;
        }
        add(
            header::REFERRER_POLICY,
            "security.referrer_policy",
            &settings.referrer_policy,
        )?;
        add(
            HeaderName::from_static("cross-origin-opener-policy"),
            "security.cross_origin_opener_policy",
            &settings.cross_origin_opener_policy,
        )?;
        if settings.hsts_seconds > 0 {
            let mut value = format!("max-age={}", settings.hsts_seconds);
            if settings.hsts_include_subdomains {
                value.push_str("; includeSubDomains");
            }
            if settings.hsts_preload {
                value.push_str("; preload");
            }
            add(
                header::STRICT_TRANSPORT_SECURITY,
                "security.hsts_seconds",
                &value,
            )?;
        }
        Ok(Self { headers })
    }

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        // One growth instead of several (the request id comes next).
        headers.reserve(self.headers.len() + 1);
        for (name, value) in &self.headers {
            headers.entry(name).or_insert_with(|| value.clone());
        }
    }
}
