//! The introspection caller's HTTP Basic authentication (RFC 7617, as RFC 6749 §2.3.1 uses
//! it): one configured client id and secret, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq as _;

use crate::AppState;
use crate::error::ApiError;

/// A client secret: never shown by `Debug`, never logged.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(redacted)")
    }
}

/// The one client allowed to call `/introspect` (a resource server).
#[derive(Clone, Debug)]
pub struct IntrospectionClient {
    /// Its id: the Basic user name.
    pub id: String,
    /// Its secret: the Basic password.
    pub secret: ClientSecret,
}

impl IntrospectionClient {
    /// Whether `id` and `secret` are this client's. Both are compared in full, in constant
    /// time (only their lengths may show), so that a wrong id and a wrong secret take
    /// the same time.
    fn matches(&self, id: &[u8], secret: &[u8]) -> bool {
        let id = self.id.as_bytes().ct_eq(id);
        let secret = self.secret.0.as_bytes().ct_eq(secret);
        (id & secret).into()
    }
}

/// A request authenticated as the configured introspection client.
#[derive(Clone, Copy, Debug)]
pub struct IntrospectionCaller;

impl FromRequestParts<AppState> for IntrospectionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = state
            .http
            .introspection
            .as_ref()
            .ok_or(ApiError::NotFound)?;
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::ClientUnauthorized(NOT_PROVIDED));
        };
        let (id, secret) = credentials(value.as_bytes())?;
        if client.matches(&id, &secret) {
            Ok(Self)
        } else {
            tracing::warn!(
                target: "jwtd::security",
                "introspection refused: wrong client credentials"
            );
            Err(ApiError::ClientUnauthorized(INVALID))
        }
    }
}

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const INVALID: &str = "Invalid username/password.";

/// The id and secret of a `Basic` header value, as DRF's `BasicAuthentication` reads it:
/// the scheme word in any case, then one base64 token of `id:secret`. The two are taken as
/// they are (not form-decoded): a secret of letters, digits and `-._~` reads the same
/// either way.
fn credentials(value: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let mut words = value
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    let scheme = words.next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(ApiError::ClientUnauthorized(NOT_PROVIDED));
    }
    let (Some(encoded), None) = (words.next(), words.next()) else {
        return Err(ApiError::ClientUnauthorized(INVALID));
    };
    let decoded = STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::ClientUnauthorized(INVALID))?;
    let colon = decoded
        .iter()
        .position(|byte| *byte == b':')
        .ok_or(ApiError::ClientUnauthorized(INVALID))?;
    Ok((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> IntrospectionClient {
        IntrospectionClient {
            id: "rs".to_owned(),
            secret: ClientSecret::new("s3cret:with-colon"),
        }
    }

    #[test]
    fn basic_headers_are_read_as_drf_reads_them() {
        let good = format!("Basic {}", STANDARD.encode("rs:s3cret:with-colon"));
        let (id, secret) = credentials(good.as_bytes()).unwrap();
        assert!(client().matches(&id, &secret));
        let lower = format!("basic   {}  ", STANDARD.encode("rs:s3cret:with-colon"));
        let (id, secret) = credentials(lower.as_bytes()).unwrap();
        assert!(client().matches(&id, &secret));
        for (value, message) in [
            ("Bearer abc".to_owned(), NOT_PROVIDED),
            ("Basic".to_owned(), INVALID),
            ("Basic a b".to_owned(), INVALID),
            ("Basic !!!".to_owned(), INVALID),
            (format!("Basic {}", STANDARD.encode("no-colon")), INVALID),
        ] {
            match credentials(value.as_bytes()) {
                Err(ApiError::ClientUnauthorized(got)) => assert_eq!(got, message, "{value}"),
                other => panic!("{value}: {other:?}"),
            }
        }
        for (id, secret) in [("rs", "s3cret"), ("rx", "s3cret:with-colon"), ("", "")] {
            assert!(!client().matches(id.as_bytes(), secret.as_bytes()));
        }
    }

    #[test]
    fn the_secret_is_never_shown() {
        assert!(!format!("{:?}", client()).contains("s3cret"));
    }
}
