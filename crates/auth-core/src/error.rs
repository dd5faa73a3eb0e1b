//! The ways a token can be refused, with simplejwt's wording.

/// Why a stored refresh token was blacklisted. Stored as text in `blacklisted_tokens.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Revocation {
    /// Replaced by its successor on refresh.
    Rotated,
    /// Ended by `POST /logout`.
    Logout,
    /// Ended by `POST /logout/all`.
    LogoutAll,
    /// Its family was revoked because an already-rotated token was presented again.
    ReuseDetected,
    /// Its session was ended from `DELETE /sessions/{id}` or the CLI.
    SessionRevoked,
    /// The user's password was changed.
    PasswordChanged,
    /// The user was deactivated.
    UserDeactivated,
    /// Revoked by an administrator.
    Admin,
}

impl Revocation {
    /// Every reason, for parsing and documentation.
    pub const ALL: [Revocation; 8] = [
        Revocation::Rotated,
        Revocation::Logout,
        Revocation::LogoutAll,
        Revocation::ReuseDetected,
        Revocation::SessionRevoked,
        Revocation::PasswordChanged,
        Revocation::UserDeactivated,
        Revocation::Admin,
    ];

    /// The stored, machine-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::Rotated => "rotated",
            Revocation::Logout => "logout",
            Revocation::LogoutAll => "logout_all",
            Revocation::ReuseDetected => "reuse_detected",
            Revocation::SessionRevoked => "session_revoked",
            Revocation::PasswordChanged => "password_changed",
            Revocation::UserDeactivated => "user_deactivated",
            Revocation::Admin => "admin",
        }
    }

    /// Parses a stored name; unknown names read as `Admin` so that a row written by a newer
    /// version still blocks its token.
    pub fn parse(text: &str) -> Revocation {
        Revocation::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .unwrap_or(Revocation::Admin)
    }
}

/// A token was refused. `Display` is simplejwt's exact message for the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, malformed token, wrong `alg`, wrong `aud`/`iss`, immature token, or an id
    /// this server never issued.
    #[error("Token is invalid")]
    Invalid,
    /// `exp` is in the past (beyond the leeway), or the session's absolute lifetime is over.
    #[error("Token is expired")]
    Expired,
    /// No `exp` claim.
    #[error("Token has no 'exp' claim")]
    NoExp,
    /// No `jti` claim.
    #[error("Token has no id")]
    NoId,
    /// No type claim.
    #[error("Token has no type")]
    NoType,
    /// An access token where a refresh token was expected, or the reverse.
    #[error("Token has wrong type")]
    WrongType,
    /// The refresh token was blacklisted; the reason says why (for machines, never in the body).
    #[error("Token is blacklisted")]
    Blacklisted(Refusal),
}

/// The machine-readable reason behind a `Blacklisted` refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This request presented an already-rotated token outside the grace window: the family
    /// has just been revoked.
    ReuseDetected,
    /// The token's family was revoked earlier.
    FamilyRevoked,
    /// The token itself was blacklisted for this reason.
    Revoked(Revocation),
}

impl TokenError {
    /// A short machine-readable reason, sent in the `X-Jwtd-Reason` response header.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Invalid => "invalid",
            TokenError::Expired => "expired",
            TokenError::NoExp => "no_exp",
            TokenError::NoId => "no_id",
            TokenError::NoType => "no_type",
            TokenError::WrongType => "wrong_type",
            TokenError::Blacklisted(Refusal::ReuseDetected) => "reuse_detected",
            TokenError::Blacklisted(Refusal::FamilyRevoked) => "family_revoked",
            TokenError::Blacklisted(Refusal::Revoked(Revocation::Rotated)) => "rotated",
            TokenError::Blacklisted(Refusal::Revoked(reason)) => reason.as_str(),
        }
    }
}
