//! The access-token profiles: simplejwt's claims (the default), or the JWT profile for
//! OAuth 2.0 access tokens of RFC 9068.
//!
//! Under RFC 9068 an access token's header says `typ: at+jwt` (§2.1) and its claims add
//! `sub` (the user id, as a string) and `client_id` to simplejwt's; `iss` and `aud`, which
//! the profile requires, come from the issuer and audience settings, which must be set. The
//! claims simplejwt clients read stay, so a client of either kind reads the same token.
//! Refresh tokens are the same under both profiles: only jwtd reads them.
//!
//! Verification follows §4: under RFC 9068 an access token must say `typ: at+jwt`, and a
//! token that says it must be an access token, so neither kind can be passed off as the
//! other by its header. Turning the profile on therefore ends the access tokens already out
//! (minutes, at most their lifetime); refresh tokens keep working and mint profile tokens.

use std::fmt;

use crate::error::TokenError;
use crate::token::kinds::TokenKind;

/// The media type of RFC 9068 access tokens, as the `typ` header writes it (§2.1).
pub const AT_JWT: &str = "at+jwt";

/// How access tokens are shaped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AccessTokenProfile {
    /// simplejwt's claims, `typ: JWT`: what simplejwt clients expect.
    #[default]
    Simplejwt,
    /// RFC 9068: `typ: at+jwt`, with `sub` and `client_id` added.
    Rfc9068 {
        /// The `client_id` claim: the OAuth client the tokens are issued to.
        client_id: String,
    },
}

impl AccessTokenProfile {
    /// The setting's spellings.
    pub const NAMES: [&'static str; 2] = ["simplejwt", "rfc9068"];

    /// The profile a setting names, with `client_id` for RFC 9068; `None` for an unknown name.
    pub fn parse(name: &str, client_id: impl Into<String>) -> Option<Self> {
        match name {
            "simplejwt" => Some(Self::Simplejwt),
            "rfc9068" => Some(Self::Rfc9068 {
                client_id: client_id.into(),
            }),
            _ => None,
        }
    }

    /// The setting's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Simplejwt => "simplejwt",
            Self::Rfc9068 { .. } => "rfc9068",
        }
    }

    /// The `client_id` written into access tokens, under RFC 9068.
    pub(crate) fn client_id(&self) -> Option<&str> {
        match self {
            Self::Simplejwt => None,
            Self::Rfc9068 { client_id } => Some(client_id),
        }
    }

    /// RFC 9068 §4: whether a verified token's `typ` header fits its type. Under simplejwt's
    /// profile the header's `typ` is not read, as simplejwt does not read it.
    ///
    /// # Errors
    /// `TokenError::Invalid` for an access token not typed `at+jwt`, or a token typed `at+jwt`
    /// that is not an access token.
    pub(crate) fn check_typ(
        &self,
        typ: Option<&str>,
        kind: Option<TokenKind>,
    ) -> Result<(), TokenError> {
        if *self == Self::Simplejwt {
            return Ok(());
        }
        // `typ` compares case-insensitively, and may carry the `application/` prefix (RFC
        // 7515 §4.1.9); RFC 9068 §4 asks for exactly `at+jwt` or `application/at+jwt`.
        let at_jwt = typ.is_some_and(|typ| {
            let typ = typ.to_ascii_lowercase();
            typ == AT_JWT || typ == "application/at+jwt"
        });
        if at_jwt == (kind == Some(TokenKind::Access)) {
            Ok(())
        } else {
            Err(TokenError::Invalid)
        }
    }
}

impl fmt::Display for AccessTokenProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
