//! The token settings, named after simplejwt's.

use std::time::Duration;

use crate::rotation::GraceBinding;
use crate::token::AccessTokenProfile;

/// Everything that shapes how tokens are minted, verified and rotated.
///
/// Built once by the server from configuration; the defaults are jwtd's documented defaults
/// (rotation and blacklist-after-rotation on, unlike simplejwt).
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// `exp - iat` of an access token. simplejwt: `ACCESS_TOKEN_LIFETIME`.
    pub access_token_lifetime: Duration,
    /// `exp - iat` of a refresh token, capped by the session's absolute lifetime.
    pub refresh_token_lifetime: Duration,
    /// Whether `/token/refresh` also returns a new refresh token.
    pub rotate_refresh_tokens: bool,
    /// Whether a rotated refresh token is blacklisted (and so whether reuse can be detected).
    /// Also gates the blacklist check of `/token/verify`, as in simplejwt.
    pub blacklist_after_rotation: bool,
    /// Written into every token as `aud` and required on every token when set.
    pub audience: Option<String>,
    /// Written into every token as `iss` and required on every token when set.
    pub issuer: Option<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Name of the claim carrying the user id (`user_id`).
    pub user_id_claim: String,
    /// Name of the claim carrying the token type (`token_type`).
    pub token_type_claim: String,
    /// Name of the claim carrying the token id (`jti`).
    pub jti_claim: String,
    /// How long after a rotation the rotated token may be presented again and get back the
    /// same successor. Zero turns grace off: any second use is reuse.
    pub rotation_grace: Duration,
    /// How much of the rotating client a replay inside the grace window must match.
    pub rotation_grace_binding: GraceBinding,
    /// Absolute lifetime of a session (token family), counted from login.
    pub session_max_lifetime: Duration,
    /// How access tokens are shaped: simplejwt's claims, or RFC 9068's.
    pub access_token_profile: AccessTokenProfile,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(5 * 60),
            refresh_token_lifetime: Duration::from_secs(24 * 60 * 60),
            rotate_refresh_tokens: true,
            blacklist_after_rotation: true,
            audience: None,
            issuer: None,
            leeway: Duration::ZERO,
            user_id_claim: "user_id".to_owned(),
            token_type_claim: "token_type".to_owned(),
            jti_claim: "jti".to_owned(),
            rotation_grace: Duration::from_secs(10),
            rotation_grace_binding: GraceBinding::Client,
            session_max_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            access_token_profile: AccessTokenProfile::Simplejwt,
        }
    }
}

impl TokenSettings {
    /// Whether the user id, token type and token id claims have simplejwt's default names
    /// (`user_id`, `token_type`, `jti`), which token checks can then look for while parsing.
    pub fn default_claim_names(&self) -> bool {
        self.user_id_claim == "user_id"
            && self.token_type_claim == "token_type"
            && self.jti_claim == "jti"
    }
}

/// Whole seconds of a duration as a signed Unix-time offset, saturating at `i64::MAX`: how
/// every lifetime, grace and leeway setting is added to or taken from a Unix time.
pub fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
