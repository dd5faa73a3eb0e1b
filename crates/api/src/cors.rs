//! Cross-origin requests from browser apps: the origins allowed to call jwtd with
//! credentials, and the CORS layer that answers them. Nothing is allowed by default.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::HttpSettings;
use crate::cookies::CSRF_HEADER;
use crate::error::REASON_HEADER;

/// An origin allowed to call jwtd from a browser with credentials, as browsers write it in
/// `Origin`: `scheme://host[:port]`, lower case, without a default port or a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedOrigin(HeaderValue);

impl AllowedOrigin {
    /// Reads an origin such as `https://app.example.com` or `http://localhost:5173` (a
    /// trailing `/` is allowed).
    ///
    /// # Errors
    /// A message saying why `text` is not an origin: `*`, `null`, a path, a query, user
    /// information or a missing host.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" || text.eq_ignore_ascii_case("null") {
            return Err(format!(
                "{text:?} is not allowed: name each origin, e.g. https://app.example.com"
            ));
        }
        let not_an_origin = || format!("{text:?} is not an origin (scheme://host[:port])");
        let uri: Uri = text.parse().map_err(|_| not_an_origin())?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(not_an_origin());
        };
        let path_ok = matches!(uri.path(), "" | "/");
        if !path_ok || uri.query().is_some() || authority.as_str().contains('@') {
            return Err(not_an_origin());
        }
        let scheme = scheme.to_ascii_lowercase();
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(not_an_origin());
        }
        let default_port = match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        let origin = match authority.port_u16() {
            Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        HeaderValue::from_str(&origin)
            .map(Self)
            .map_err(|_| not_an_origin())
    }

    /// The origin, as browsers send it.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// Whether a request's `Origin` header names one of `allowed`.
pub(crate) fn is_allowed(allowed: &[AllowedOrigin], origin: &HeaderValue) -> bool {
    allowed
        .iter()
        .any(|candidate| candidate.0.as_bytes() == origin.as_bytes())
}

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for the configured origins, or `None` when none is configured: then no
/// response carries a CORS header and browsers allow no cross-origin call.
///
/// For an allowed origin, preflights and responses name that origin (never `*`) and allow
/// credentials; the methods and headers the browser client sends are allowed, and the CSRF
/// token and the refusal reason are readable by the page.
pub(crate) fn layer(settings: &HttpSettings) -> Option<CorsLayer> {
    if settings.cors_allowed_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = settings
        .cors_allowed_origins
        .iter()
        .map(|origin| origin.0.clone())
        .collect();
    let mut headers: Vec<HeaderName> =
        vec![header::AUTHORIZATION, header::CONTENT_TYPE, CSRF_HEADER];
    if !headers.contains(&settings.auth_header_name) {
        headers.push(settings.auth_header_name.clone());
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers(headers)
            .expose_headers([CSRF_HEADER, REASON_HEADER])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_as_browsers_write_them() {
        let parse =
            |text: &str| AllowedOrigin::parse(text).map(|origin| origin.as_str().to_owned());
        assert_eq!(
            parse("https://App.Example.com/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(parse("https://a.example:443").unwrap(), "https://a.example");
        assert_eq!(
            parse("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
        assert_eq!(parse("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        for bad in [
            "*",
            "null",
            "app.example.com",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
