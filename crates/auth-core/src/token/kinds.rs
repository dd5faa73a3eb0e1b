//! What tokens are and say: their types, the user claim as found, what verification returns
//! and what minting a refresh token needs.

use serde_json::{Map, Value};

use crate::types::{FamilyId, Jti, UserId};

/// The claim that carries the token family (session) id.
pub const SESSION_CLAIM: &str = "sid";

/// The two token types jwtd issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived, stateless, sent as `Authorization: Bearer`.
    Access,
    /// Long-lived, stored by hash, rotated on use.
    Refresh,
}

impl TokenKind {
    /// The value of the type claim.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The user-id claim as found in a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserClaim {
    /// Absent, null or empty: simplejwt skips every user check then.
    Missing,
    /// A string or integer holding an id.
    Id(UserId),
    /// Present but not an id this server could have issued.
    Unrecognized,
}

/// A token whose signature, algorithm, audience, issuer, times and required claims have been
/// checked, with every claim. What the database knows about it (blacklist, family) is checked
/// by the caller. Derefs to the [`CheckedToken`] it extends (`verified.jti`, ...).
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// What the checks found.
    pub checked: CheckedToken,
    /// Every claim, in the token's order.
    pub claims: Map<String, Value>,
}

impl std::ops::Deref for VerifiedToken {
    type Target = CheckedToken;

    fn deref(&self) -> &CheckedToken {
        &self.checked
    }
}

/// What [`crate::TokenCodec::check`] found in a valid token: everything verification reads.
#[derive(Clone, Debug)]
pub struct CheckedToken {
    /// The type claim, when it names a type jwtd knows.
    pub kind: Option<TokenKind>,
    /// The token id.
    pub jti: Jti,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The user-id claim.
    pub user: UserClaim,
    /// The family (session) id, when the token carries one.
    pub family: Option<FamilyId>,
}

/// What a new refresh token says.
#[derive(Clone, Debug)]
pub struct RefreshSpec<'a> {
    /// Its id.
    pub jti: &'a Jti,
    /// Its owner.
    pub user: UserId,
    /// Its family.
    pub family: &'a FamilyId,
    /// Issued-at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
}
