//! Minting and verifying tokens with simplejwt's claims, on the `jsonwebtoken` crate.
//!
//! The library parses and checks the JWS (segments, header, `alg`, signature, `aud`/`iss`);
//! jwtd's own code adds simplejwt's claim rules on top, in simplejwt's order, against a `now`
//! given as an argument. Everything the library needs (keys, headers, `Validation`) is
//! prepared once, in [`TokenCodec::new`].

mod keys;
mod kinds;
mod mint;
mod profile;
mod verify;

use jsonwebtoken::Header;

pub use keys::{Algorithm, KeyError, KeyKind, Keys};
pub use kinds::{CheckedToken, RefreshSpec, SESSION_CLAIM, TokenKind, UserClaim, VerifiedToken};
pub use profile::{AT_JWT, AccessTokenProfile};

use crate::settings::TokenSettings;
use verify::{OwnTokens, Verifier};

/// Mints and verifies tokens under one set of settings and keys.
#[derive(Clone, Debug)]
pub struct TokenCodec {
    settings: TokenSettings,
    keys: Keys,
    /// The header of access tokens: the signing key's, typed `at+jwt` under RFC 9068.
    access_header: Header,
    /// One per verifying key, in the keys' order.
    verifiers: Vec<Verifier>,
    /// `check`'s path for the tokens jwtd's HMAC key mints, when it has one.
    own: Option<OwnTokens>,
}

impl TokenCodec {
    /// Builds a codec; what verification needs (each verifying key with its `Validation`) is
    /// prepared once here.
    pub fn new(settings: TokenSettings, keys: Keys) -> Self {
        let verifiers = keys
            .verifying()
            .iter()
            .map(|key| Verifier::new(key, &settings))
            .collect();
        let own = OwnTokens::new(keys.signing(), &settings);
        let mut access_header = keys.signing().header.clone();
        if settings.access_token_profile != AccessTokenProfile::Simplejwt {
            access_header.typ = Some(AT_JWT.to_owned());
        }
        Self {
            settings,
            keys,
            access_header,
            verifiers,
            own,
        }
    }

    /// The settings this codec was built with.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The keys this codec was built with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}
