//! Signing and verifying keys, prepared once at start-up.
//!
//! One key signs; one or more keys verify, each with its own algorithm and, once tokens carry
//! one, its own `kid`. Today jwtd has one HMAC secret that does both, under no `kid`, as
//! simplejwt does. Asymmetric algorithms and key rotation (issue 17) add `Algorithm`
//! variants, constructors building `SigningKey`/`VerifyingKey` from PEM files, and more
//! verifying keys; the codec already selects the verifying key by the token's `kid`.

use std::fmt;

use jsonwebtoken::{DecodingKey, EncodingKey, Header};

/// The signing algorithms jwtd accepts. Exactly one is configured per key; tokens naming any
/// other `alg` (including `none`) are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl Algorithm {
    /// Parses simplejwt's spelling (`"HS256"`); `None` for anything unsupported.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "HS256" => Some(Algorithm::HS256),
            "HS384" => Some(Algorithm::HS384),
            "HS512" => Some(Algorithm::HS512),
            _ => None,
        }
    }

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// jsonwebtoken's name for it.
    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
        }
    }
}

/// A key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The signing key is empty.
    #[error("the signing key is empty")]
    EmptyKey,
    /// The token could not be encoded.
    #[error("could not encode a token")]
    Encode(#[source] jsonwebtoken::errors::Error),
}

/// The key that signs new tokens, and the header every token it signs carries.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub(crate) algorithm: Algorithm,
    /// `{"typ":"JWT","alg":..}`, with the key's `kid` once keys have one.
    pub(crate) header: Header,
    pub(crate) key: EncodingKey,
}

/// A key that verifies tokens signed with one algorithm.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    /// The `kid` tokens signed with this key name; `None` for a key tokens name by no `kid`.
    pub(crate) kid: Option<String>,
    /// The only `alg` accepted from tokens verified with this key.
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one deployment: the one that signs and the ones that verify. `Debug` shows no
/// key material.
#[derive(Clone)]
pub struct Keys {
    signing: SigningKey,
    /// Never empty; the signing key's own verifying half comes first.
    verifying: Vec<VerifyingKey>,
}

impl Keys {
    /// Keys for an HMAC algorithm from a shared secret, which both signs and verifies.
    ///
    /// # Errors
    /// `KeyError::EmptyKey` when the secret is empty.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptyKey);
        }
        Ok(Self {
            signing: SigningKey {
                algorithm,
                header: Header::new(algorithm.to_jwt()),
                key: EncodingKey::from_secret(secret),
            },
            verifying: vec![VerifyingKey {
                kid: None,
                algorithm,
                key: DecodingKey::from_secret(secret),
            }],
        })
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.signing.algorithm
    }

    /// The key that signs.
    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The keys that verify, the signing key's first.
    pub(crate) fn verifying(&self) -> &[VerifyingKey] {
        &self.verifying
    }

    /// These keys with `kid` given to the signing key and its verifying half: what issue 17's
    /// key identifiers will do, for the tests of key selection.
    #[cfg(test)]
    pub(crate) fn with_kid(mut self, kid: &str) -> Self {
        self.signing.header.kid = Some(kid.to_owned());
        if let Some(first) = self.verifying.first_mut() {
            first.kid = Some(kid.to_owned());
        }
        self
    }

    /// These keys, also verifying with `other`'s verifying keys (an older key, still valid).
    #[cfg(test)]
    pub(crate) fn also_verifying(mut self, other: Keys) -> Self {
        self.verifying.extend(other.verifying);
        self
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<_> = self.verifying.iter().map(|key| &key.kid).collect();
        f.debug_struct("Keys")
            .field("algorithm", &self.algorithm())
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}
