//! The one list of paths, and the handlers, grouped by feature.

mod health;
mod me;
mod oauth;
mod sessions;
mod token;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};

use crate::AppState;
use crate::auth::AuthenticatedUser;
use crate::error::{ApiError, BASIC_CHALLENGE};
use crate::events::Client;

/// What the public router serves besides the API.
#[derive(Clone, Copy, Debug)]
pub struct RouterOptions {
    /// Serve `/metrics` (off when it is served on an address of its own, or not at all).
    pub metrics: bool,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self { metrics: true }
    }
}

/// Builds the router: simplejwt's paths (with and without a trailing slash) and jwtd's own,
/// `/metrics` included.
pub fn router(state: AppState) -> Router {
    router_with(state, RouterOptions::default())
}

/// Builds the router with `options`.
pub fn router_with(state: AppState, options: RouterOptions) -> Router {
    let mut router = Router::new();
    // `/token/logout` and `/token/logout/all` are `/logout` and `/logout/all` under the
    // refresh cookie's `Path`, so that a browser sends the cookie to them.
    let mut posts: Vec<(&str, MethodRouter<AppState>)> = vec![
        ("/token", post(token::obtain)),
        ("/token/refresh", post(token::refresh)),
        ("/token/verify", post(token::verify)),
        ("/logout", post(token::logout)),
        ("/token/logout", post(token::logout)),
        ("/token/blacklist", post(token::logout)),
        ("/logout/all", post(sessions::logout_all)),
        ("/token/logout/all", post(sessions::logout_all)),
        ("/revoke", post(oauth::revoke)),
    ];
    // Unconfigured, introspection does not exist: 404, as any unknown path.
    if state.http.introspection.is_some() {
        posts.push(("/introspect", post(oauth::introspect)));
    }
    for (path, route) in posts {
        let route = route
            .options(allow_post)
            .fallback(|method: Method| async move { not_allowed(method, "POST, OPTIONS") });
        router = router
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    let gets: [(&str, MethodRouter<AppState>); 7] = [
        ("/openapi.json", get(health::openapi)),
        ("/me", get(me::me)),
        ("/sessions", get(sessions::list)),
        ("/healthz", get(health::healthz)),
        ("/readyz", get(health::readyz)),
        ("/.well-known/jwks.json", get(health::jwks)),
        (METRICS, get(health::metrics)),
    ];
    for (path, route) in gets {
        if path == METRICS && !options.metrics {
            continue;
        }
        // DRF authenticates before it dispatches on the method: on a protected path a wrong
        // method without valid credentials is answered 401, not 405.
        let route = if PROTECTED.contains(&path) {
            route.fallback(|_: AuthenticatedUser, method: Method| async move {
                not_allowed(method, "GET, HEAD, OPTIONS")
            })
        } else {
            route
                .fallback(|method: Method| async move { not_allowed(method, "GET, HEAD, OPTIONS") })
        };
        router = router
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    let session =
        delete(sessions::revoke).fallback(|_: AuthenticatedUser, method: Method| async move {
            not_allowed(method, "DELETE, OPTIONS")
        });
    router = router
        .route("/sessions/{id}", session.clone())
        .route("/sessions/{id}/", session)
        .fallback(|| async { ApiError::NotFound });
    // With `Bearer` first (the default), every 401 already names it: no layer to run.
    if let Some(challenge) = www_authenticate_challenge(&state.http.auth_header_types) {
        router = router.layer(middleware::from_fn_with_state(challenge, www_authenticate));
    }
    // Inside the request id and the metrics, so that a 408 is logged and counted like any
    // other answer.
    if let Some(limit) = state.http.request_timeout {
        router = router.layer(middleware::from_fn_with_state(
            limit,
            crate::limits::request_deadline,
        ));
    }
    // Around everything but the request id, so that every answer to an allowed origin (errors
    // too) carries CORS headers.
    if let Some(cors) = crate::cors::layer(&state.http) {
        router = router.layer(cors);
    }
    // Outermost, so that its id is on every answer; added with `layer` (not around the whole
    // router) so that it runs after routing and sees the matched path template.
    router = router.layer(middleware::from_fn_with_state(
        state.clone(),
        crate::observe::observe,
    ));
    router.with_state(state)
}

/// A router with `/metrics` alone, for serving it on an address of its own.
pub fn metrics_router(state: AppState) -> Router {
    let metrics = get(health::metrics)
        .fallback(|method: Method| async move { not_allowed(method, "GET, HEAD, OPTIONS") });
    Router::new()
        .route(METRICS, metrics.clone())
        .route(&format!("{METRICS}/"), metrics)
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

const METRICS: &str = "/metrics";

/// The GET paths that need an access token.
const PROTECTED: [&str; 2] = ["/me", "/sessions"];

fn not_allowed(method: Method, allow: &'static str) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        allow,
    }
}

async fn allow_post() -> impl IntoResponse {
    (StatusCode::OK, [(header::ALLOW, "POST, OPTIONS")])
}

/// The `WWW-Authenticate` value naming the first configured scheme, when it is not the
/// `Bearer` that `ApiError`'s 401s already name.
fn www_authenticate_challenge(schemes: &[String]) -> Option<HeaderValue> {
    schemes
        .first()
        .filter(|scheme| *scheme != "Bearer")
        .and_then(|scheme| HeaderValue::from_str(&format!("{scheme} realm=\"api\"")).ok())
}

/// Names the configured first scheme in every 401's `WWW-Authenticate`, as simplejwt does.
async fn www_authenticate(
    State(challenge): State<HeaderValue>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    // `/introspect`'s Basic challenge is not the Bearer one this replaces.
    if response.status() == StatusCode::UNAUTHORIZED
        && response.headers().get(header::WWW_AUTHENTICATE) != Some(&BASIC_CHALLENGE)
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

const MAX_USER_AGENT: usize = 512;

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_canonical());
        let address = peer.map(|peer| {
            crate::client_address::of(peer, &parts.headers, &state.http.trusted_proxies)
        });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
            .map(|agent| agent.chars().take(MAX_USER_AGENT).collect());
        Ok(Client {
            ip: address,
            user_agent,
        })
    }
}
