//! Cookie mode for browser apps: the refresh token travels in an `HttpOnly` cookie whose
//! `Path` is `/token`, out of the page's JavaScript. A request that the cookie authenticates
//! must prove it comes from a trusted page: its `Origin` is an allowed origin, and it echoes
//! the readable `csrftoken` cookie in `X-CSRF-Token` (double submit).
//!
//! With cookie mode off nothing here reads a request or changes a response.

use std::borrow::Cow;

use auth_core::TokenKind;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cookie::Cookie;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::cors::is_allowed;
use crate::error::ApiError;
use crate::input::Fields;

/// The request header that carries the CSRF token back, and the response header that hands
/// it to the page.
pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// The readable cookie holding the CSRF token.
pub const CSRF_COOKIE: &str = "csrftoken";

/// The refresh cookie's `Path`: the browser sends it to `/token/refresh`, `/token/logout`
/// and `/token/logout/all` (and `/token`, which ignores it), and nowhere else.
pub const REFRESH_COOKIE_PATH: &str = "/token";

/// The cookies' `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with requests from the same site.
    Strict,
    /// Also sent with top-level navigations from other sites.
    Lax,
    /// Sent with every request; requires `Secure`.
    None,
}

impl SameSite {
    /// Reads `Strict`, `Lax` or `None`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Self::Strict),
            "lax" => Some(Self::Lax),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    fn attribute(self) -> cookie::SameSite {
        match self {
            Self::Strict => cookie::SameSite::Strict,
            Self::Lax => cookie::SameSite::Lax,
            Self::None => cookie::SameSite::None,
        }
    }
}

/// How cookie mode sets its cookies.
#[derive(Clone, Debug)]
pub struct CookieSettings {
    /// The refresh cookie's name.
    pub name: String,
    /// Mark both cookies `Secure` (HTTPS only); off only for `http://localhost` development.
    pub secure: bool,
    /// Both cookies' `SameSite`; `None` requires `secure`.
    pub same_site: SameSite,
    /// The cookies' `Domain`; unset, they belong to jwtd's host alone.
    pub domain: Option<String>,
    /// Keep the refresh token in the JSON body as well.
    pub in_body: bool,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: "refresh_token".to_owned(),
            secure: true,
            same_site: SameSite::Strict,
            domain: None,
            in_body: false,
        }
    }
}

impl CookieSettings {
    fn cookie<'a>(
        &'a self,
        name: &'a str,
        value: String,
        path: &'a str,
        max_age: i64,
    ) -> Cookie<'a> {
        let mut builder = Cookie::build((name, value))
            .secure(self.secure)
            .same_site(self.same_site.attribute())
            .path(path)
            .max_age(cookie::time::Duration::seconds(max_age.max(0)));
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.as_str());
        }
        builder.build()
    }

    /// The `Set-Cookie` values for a refresh token living `max_age` more seconds, and for
    /// the CSRF token beside it.
    fn set(&self, refresh: &str, csrf: &str, max_age: i64) -> [Cookie<'_>; 2] {
        let mut refresh = self.cookie(&self.name, refresh.to_owned(), REFRESH_COOKIE_PATH, max_age);
        refresh.set_http_only(true);
        [
            refresh,
            self.cookie(CSRF_COOKIE, csrf.to_owned(), "/", max_age),
        ]
    }

    /// The `Set-Cookie` values that remove both cookies (same name, `Path` and `Domain`).
    fn clear(&self) -> [Cookie<'_>; 2] {
        self.set("", "", 0)
    }
}

/// What a request carries for cookie mode: its refresh cookie and its proof of coming from a
/// trusted page. Empty with cookie mode off, whatever the request carries.
#[derive(Debug, Default)]
pub struct BrowserCookies {
    refresh: Option<String>,
    csrf_cookie: Option<String>,
    csrf_header: Option<HeaderValue>,
    origin: Origin,
}

/// What the request's `Origin` header says.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Origin {
    #[default]
    Missing,
    Allowed,
    Foreign,
}

impl FromRequestParts<AppState> for BrowserCookies {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(settings) = &state.http.refresh_cookie else {
            return Ok(Self::default());
        };
        let origin = match parts.headers.get(header::ORIGIN) {
            None => Origin::Missing,
            Some(origin) if is_allowed(&state.http.cors_allowed_origins, origin) => Origin::Allowed,
            Some(_) => Origin::Foreign,
        };
        Ok(Self {
            refresh: cookie_value(&parts.headers, &settings.name),
            csrf_cookie: cookie_value(&parts.headers, CSRF_COOKIE),
            csrf_header: parts.headers.get(CSRF_HEADER).cloned(),
            origin,
        })
    }
}

/// The first non-empty value of the cookie `name` in the request's `Cookie` headers (the
/// browser sends the one with the longest `Path` first).
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// A refresh token a request presented, and whether its cookie did.
#[derive(Debug)]
pub struct RefreshToken<'a> {
    /// The token.
    pub token: Cow<'a, str>,
    /// It came from the refresh cookie, and the request proved its origin.
    pub from_cookie: bool,
}

impl BrowserCookies {
    /// The refresh token of a request: its body's `refresh` field, or, when the body has
    /// none and the request carries the refresh cookie, the cookie's, once the request has
    /// proved that it comes from a trusted page.
    ///
    /// # Errors
    /// `ApiError::Csrf` (403) when the cookie would be used without that proof, before
    /// anything is consumed or revoked; otherwise the body's own error, as without cookie
    /// mode.
    pub fn refresh_token<'a>(&'a self, fields: &'a Fields) -> Result<RefreshToken<'a>, ApiError> {
        match fields.required_strings(["refresh"]) {
            Ok([token]) => Ok(RefreshToken {
                token,
                from_cookie: false,
            }),
            Err(ApiError::Fields(errors)) => match &self.refresh {
                Some(cookie) => {
                    self.prove()?;
                    Ok(RefreshToken {
                        token: Cow::Borrowed(cookie),
                        from_cookie: true,
                    })
                }
                None => Err(ApiError::Fields(errors)),
            },
            Err(other) => Err(other),
        }
    }

    /// Checks the CSRF proof: an allowed `Origin` and `X-CSRF-Token` equal to the
    /// `csrftoken` cookie (compared in constant time).
    fn prove(&self) -> Result<(), ApiError> {
        match self.origin {
            Origin::Allowed => {}
            Origin::Missing => {
                return Err(ApiError::Csrf("Origin checking failed - no Origin header."));
            }
            Origin::Foreign => {
                return Err(ApiError::Csrf(
                    "Origin checking failed - the origin is not a trusted origin.",
                ));
            }
        }
        let Some(cookie) = &self.csrf_cookie else {
            return Err(ApiError::Csrf("CSRF cookie not set."));
        };
        let Some(sent) = &self.csrf_header else {
            return Err(ApiError::Csrf("CSRF token missing."));
        };
        if bool::from(sent.as_bytes().ct_eq(cookie.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Csrf("CSRF token incorrect."))
        }
    }

    /// Whether ending the session of `token` ends the one the refresh cookie holds (or the
    /// request carries no refresh cookie), so that the cookie is to be cleared.
    fn holds(&self, token: &str) -> bool {
        self.refresh.as_deref().is_none_or(|cookie| cookie == token)
    }
}

/// The body of a cookie-mode answer without the refresh token.
#[derive(Serialize)]
struct AccessOnly<'a> {
    access: &'a str,
}

/// A new session or a refresh, answered: in body mode `body` as is; in cookie mode the
/// refresh token in its cookie, with a CSRF token in a readable cookie and in
/// `X-CSRF-Token`, and a body of `access` alone (or `body` when the body keeps both).
///
/// `refresh` is the refresh token the session now holds; `presented` the one the request
/// presented, if any (a refresh proved by the cookie keeps its CSRF token, so that other
/// tabs' requests in flight stay valid).
///
/// # Errors
/// `ApiError::Internal` if the refresh token just issued cannot be read back.
pub fn session<T: Serialize>(
    state: &AppState,
    browser: &BrowserCookies,
    body: &T,
    access: &str,
    refresh: &str,
    presented: Option<&RefreshToken<'_>>,
) -> Result<Response, ApiError> {
    let Some(settings) = &state.http.refresh_cookie else {
        return Ok(Json(body).into_response());
    };
    let now = state.clock.now();
    let exp = state
        .codec
        .check(refresh, Some(TokenKind::Refresh), now)
        .map_err(|error| {
            ApiError::Internal(format!("an issued refresh token is refused: {error}"))
        })?
        .exp;
    let kept = presented
        .filter(|presented| presented.from_cookie)
        .and(browser.csrf_cookie.as_deref());
    let csrf = kept.map_or_else(new_csrf_token, str::to_owned);
    let mut response = if settings.in_body {
        Json(body).into_response()
    } else {
        Json(AccessOnly { access }).into_response()
    };
    let headers = response.headers_mut();
    for cookie in settings.set(refresh, &csrf, exp.saturating_sub(now)) {
        headers.append(header::SET_COOKIE, header_value(&cookie)?);
    }
    headers.insert(
        CSRF_HEADER,
        HeaderValue::from_str(&csrf).map_err(|_| ApiError::Internal("a CSRF token".into()))?,
    );
    Ok(response)
}

/// A logout answered: `body`, and in cookie mode the cookies cleared when the session that
/// ended is the cookie's (`ended` is its refresh token; `None`: every session ended).
///
/// # Errors
/// `ApiError::Internal` if a cookie cannot be written as a header (a bad configured domain).
pub fn ended(
    state: &AppState,
    browser: &BrowserCookies,
    ended: Option<&str>,
    body: impl IntoResponse,
) -> Result<Response, ApiError> {
    let mut response = body.into_response();
    let Some(settings) = &state.http.refresh_cookie else {
        return Ok(response);
    };
    if ended.is_none_or(|token| browser.holds(token)) {
        let headers = response.headers_mut();
        for cookie in settings.clear() {
            headers.append(header::SET_COOKIE, header_value(&cookie)?);
        }
    }
    Ok(response)
}

fn header_value(cookie: &Cookie<'_>) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&cookie.to_string())
        .map_err(|_| ApiError::Internal("a cookie is not a valid header value".into()))
}

/// A fresh CSRF token: 256 random bits, in hex.
fn new_csrf_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}
