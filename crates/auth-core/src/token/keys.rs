//! Signing and verifying keys, prepared once at start-up.
//!
//! One key signs; one or more keys verify, each under the one configured algorithm and its
//! own `kid`. Every token jwtd mints names its key in `kid`: for an HMAC secret a digest of
//! it under a domain-separation prefix ([`hmac_kid`]), for a public key its RFC 7638 JWK
//! thumbprint. A token names a verifying key by `kid`; a token with no `kid` (simplejwt's,
//! or jwtd's before it wrote one) is verified with the signing key alone. The server reads
//! key files; this module gets their bytes.

mod pem;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use sha2::{Digest, Sha256};

/// The signing algorithms jwtd accepts. Exactly one is configured per deployment; tokens
/// naming any other `alg` (including `none`) are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in the order the documentation lists them.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// Parses the `alg` spelling (`"HS256"`, `"EdDSA"`); `None` for anything unsupported.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str() == text)
    }

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Whether tokens are signed with a shared secret (HS*) rather than a key pair.
    pub fn is_hmac(self) -> bool {
        self.key_kind() == KeyKind::Hmac
    }

    /// The kind of key it signs with.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyKind::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyKind::Rsa,
            Algorithm::ES256 => KeyKind::P256,
            Algorithm::ES384 => KeyKind::P384,
            Algorithm::EdDSA => KeyKind::Ed25519,
        }
    }

    /// For an HMAC algorithm, the shortest secret it should be given: as long as its hash
    /// (RFC 7518 §3.2); `None` for the others.
    pub fn min_secret_len(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }

    /// jsonwebtoken's name for it.
    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::RS384 => jsonwebtoken::Algorithm::RS384,
            Algorithm::RS512 => jsonwebtoken::Algorithm::RS512,
            Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
            Algorithm::PS384 => jsonwebtoken::Algorithm::PS384,
            Algorithm::PS512 => jsonwebtoken::Algorithm::PS512,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// The kinds of key the algorithms sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A shared secret (HS*).
    Hmac,
    /// An RSA key pair (RS*, PS*).
    Rsa,
    /// A P-256 key pair (ES256).
    P256,
    /// A P-384 key pair (ES384).
    P384,
    /// An Ed25519 key pair (EdDSA).
    Ed25519,
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key could not be used. The messages never show key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The signing key is empty.
    #[error("the signing key is empty")]
    EmptyKey,
    /// An HMAC secret was given for a public-key algorithm, or a key pair for HMAC.
    #[error("{0} does not sign with this kind of key")]
    WrongKind(Algorithm),
    /// The private key does not parse, or does not fit the algorithm.
    #[error("{0}")]
    SigningKey(String),
    /// The public key at this position of the list does not parse, or does not fit.
    #[error("key {} of the list: {reason}", index + 1)]
    VerifyingKey {
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// None of the public keys is the signing key's own.
    #[error("none of the public keys is the signing key's own public key")]
    SigningKeyNotListed,
    /// The token could not be encoded.
    #[error("could not encode a token")]
    Encode(#[source] jsonwebtoken::errors::Error),
}

/// The key that signs new tokens, and the header every token it signs carries.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub(crate) algorithm: Algorithm,
    /// `{"typ":"JWT","alg":..,"kid":..}`.
    pub(crate) header: Header,
    pub(crate) key: EncodingKey,
}

/// A key that verifies the tokens naming its `kid`, under one algorithm.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    /// The `kid` tokens signed with this key name.
    pub(crate) kid: String,
    /// Whether it also verifies tokens naming no `kid`: the signing key only.
    pub(crate) unnamed: bool,
    /// The only `alg` accepted from tokens verified with this key.
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one deployment: the one that signs and the ones that verify, and the public
/// ones as a JWK Set. `Debug` shows no key material.
#[derive(Clone)]
pub struct Keys {
    signing: SigningKey,
    /// Never empty; the signing key's own verifying half comes first.
    verifying: Vec<VerifyingKey>,
    /// The public keys (none for HMAC), in the order of `verifying`.
    jwks: JwkSet,
}

/// The `kid` of an HMAC secret: 16 bytes of SHA-256 over a domain-separation prefix, the
/// algorithm and the secret, base64url. It tells keys apart without revealing anything a
/// token signed with the secret does not already (the MAC is an oracle of its own).
pub(crate) fn hmac_kid(algorithm: Algorithm, secret: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(b"jwtd hmac kid v1\0");
    digest.update(algorithm.as_str().as_bytes());
    digest.update(b"\0");
    digest.update(secret);
    URL_SAFE_NO_PAD.encode(&digest.finalize()[..16])
}

fn header(algorithm: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(algorithm.to_jwt());
    header.kid = Some(kid.to_owned());
    header
}

impl Keys {
    /// Keys for an HMAC algorithm from a shared secret, which both signs and verifies. The
    /// length the algorithm asks for is the server's check ([`Algorithm::min_secret_len`]):
    /// simplejwt accepts any non-empty key, and so does this.
    ///
    /// # Errors
    /// `KeyError::EmptyKey` when the secret is empty, `WrongKind` for a public-key algorithm.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if !algorithm.is_hmac() {
            return Err(KeyError::WrongKind(algorithm));
        }
        if secret.is_empty() {
            return Err(KeyError::EmptyKey);
        }
        let kid = hmac_kid(algorithm, secret);
        Ok(Self {
            signing: SigningKey {
                algorithm,
                header: header(algorithm, &kid),
                key: EncodingKey::from_secret(secret),
            },
            verifying: vec![VerifyingKey {
                kid,
                unnamed: true,
                algorithm,
                key: DecodingKey::from_secret(secret),
            }],
            jwks: JwkSet { keys: Vec::new() },
        })
    }

    /// Keys for a public-key algorithm: `private_pem` (PKCS#8) signs; `public_pems` (SPKI)
    /// verify, and one of them must be the private key's own public key. The others are
    /// older keys whose tokens still verify, or a newer one published ahead of signing.
    /// Every key must fit `algorithm` (an RSA key of 2048 bits or more for RS*/PS*, P-256
    /// for ES256, P-384 for ES384, Ed25519 for EdDSA). A key listed twice counts once.
    ///
    /// # Errors
    /// `SigningKey` or `VerifyingKey` naming what does not parse or fit,
    /// `SigningKeyNotListed`, or `WrongKind` for an HMAC algorithm.
    pub fn from_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pems: &[&[u8]],
    ) -> Result<Self, KeyError> {
        if algorithm.is_hmac() {
            return Err(KeyError::WrongKind(algorithm));
        }
        let (key, own) = pem::private_key(algorithm, private_pem).map_err(KeyError::SigningKey)?;
        let mut listed: Vec<Jwk> = Vec::with_capacity(public_pems.len());
        for (index, pem) in public_pems.iter().enumerate() {
            let jwk = pem::public_key(algorithm, pem)
                .map_err(|reason| KeyError::VerifyingKey { index, reason })?;
            if !listed
                .iter()
                .any(|seen| seen.common.key_id == jwk.common.key_id)
            {
                listed.push(jwk);
            }
        }
        let Some(position) = listed
            .iter()
            .position(|jwk| jwk.common.key_id == own.common.key_id)
        else {
            return Err(KeyError::SigningKeyNotListed);
        };
        // The signing key's first, the others in the order given.
        let own = listed.remove(position);
        listed.insert(0, own);
        let mut verifying = Vec::with_capacity(listed.len());
        for (index, jwk) in listed.iter().enumerate() {
            let decoding = DecodingKey::from_jwk(jwk).map_err(|_| KeyError::VerifyingKey {
                index,
                reason: "cannot be used to verify".to_owned(),
            })?;
            verifying.push(VerifyingKey {
                kid: jwk.common.key_id.clone().unwrap_or_default(),
                unnamed: index == 0,
                algorithm,
                key: decoding,
            });
        }
        let kid = verifying[0].kid.clone();
        pem::sign_and_verify(algorithm, &key, &verifying[0].key).map_err(KeyError::SigningKey)?;
        Ok(Self {
            signing: SigningKey {
                algorithm,
                header: header(algorithm, &kid),
                key,
            },
            verifying,
            jwks: JwkSet { keys: listed },
        })
    }

    /// The algorithm tokens are signed and verified with.
    pub fn algorithm(&self) -> Algorithm {
        self.signing.algorithm
    }

    /// The `kid` of the signing key, which every minted token carries.
    pub fn kid(&self) -> &str {
        self.verifying[0].kid.as_str()
    }

    /// The `kid` of every verifying key, the signing key's first.
    pub fn kids(&self) -> Vec<&str> {
        self.verifying.iter().map(|key| key.kid.as_str()).collect()
    }

    /// The public keys as an RFC 7517 JWK Set (`kty`, `crv`/`n`/`e`/`x`/`y`, `kid`, `alg`,
    /// `use: "sig"`), the signing key's first; an empty set for HMAC.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::to_value(&self.jwks).unwrap_or_else(|_| serde_json::json!({ "keys": [] }))
    }

    /// The key that signs.
    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The keys that verify, the signing key's first.
    pub(crate) fn verifying(&self) -> &[VerifyingKey] {
        &self.verifying
    }

    /// These keys, also verifying with `other`'s verifying keys (an older key, still valid).
    #[cfg(test)]
    pub(crate) fn also_verifying(mut self, other: Keys) -> Self {
        self.verifying
            .extend(other.verifying.into_iter().map(|key| VerifyingKey {
                unnamed: false,
                ..key
            }));
        self
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("algorithm", &self.algorithm())
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
