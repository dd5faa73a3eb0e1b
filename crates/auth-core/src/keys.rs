//! Signing keys, decoded once at start-up.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::Header;
use sha2::{Sha256, Sha384, Sha512};

/// The signing algorithms jwtd accepts. Exactly one is configured; tokens signed with any
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

/// The longest signature of the HMAC algorithms: HS512's 64 bytes.
pub(crate) const MAX_SIGNATURE: usize = 64;

/// A signature of at most [`MAX_SIGNATURE`] bytes, kept on the stack.
pub(crate) struct Signature {
    bytes: [u8; MAX_SIGNATURE],
    len: usize,
}

impl Signature {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The HMAC of the configured algorithm, already keyed: each signature and each verification
/// clones this state instead of deriving the key pads from the secret again.
#[derive(Clone)]
enum KeyedMac {
    HS256(Hmac<Sha256>),
    HS384(Hmac<Sha384>),
    HS512(Hmac<Sha512>),
}

impl KeyedMac {
    fn new(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::EmptyKey;
        Ok(match algorithm {
            Algorithm::HS256 => Self::HS256(Hmac::new_from_slice(secret).map_err(invalid)?),
            Algorithm::HS384 => Self::HS384(Hmac::new_from_slice(secret).map_err(invalid)?),
            Algorithm::HS512 => Self::HS512(Hmac::new_from_slice(secret).map_err(invalid)?),
        })
    }

    /// The HMAC of `message`.
    fn sign(&self, message: &[u8]) -> Signature {
        fn sign<M: Mac + Clone>(mac: &M, message: &[u8]) -> Signature {
            let mut mac = mac.clone();
            mac.update(message);
            let tag = mac.finalize().into_bytes();
            let mut signature = Signature {
                bytes: [0; MAX_SIGNATURE],
                len: tag.len(),
            };
            signature.bytes[..tag.len()].copy_from_slice(&tag);
            signature
        }
        match self {
            Self::HS256(mac) => sign(mac, message),
            Self::HS384(mac) => sign(mac, message),
            Self::HS512(mac) => sign(mac, message),
        }
    }

    /// Whether `signature` is the HMAC of `message`; `verify_slice` compares in constant time.
    fn matches(&self, message: &[u8], signature: &[u8]) -> bool {
        fn check<M: Mac + Clone>(mac: &M, message: &[u8], signature: &[u8]) -> bool {
            let mut mac = mac.clone();
            mac.update(message);
            mac.verify_slice(signature).is_ok()
        }
        match self {
            Self::HS256(mac) => check(mac, message, signature),
            Self::HS384(mac) => check(mac, message, signature),
            Self::HS512(mac) => check(mac, message, signature),
        }
    }
}

/// The keys for one algorithm: signing and verifying. `Debug` shows no key material.
#[derive(Clone)]
pub struct Keys {
    pub(crate) algorithm: Algorithm,
    /// The header segment of the tokens jwtd mints (`base64url({"typ":"JWT","alg":..})`),
    /// the very bytes `jsonwebtoken::encode` writes for this algorithm.
    pub(crate) header_segment: String,
    mac: KeyedMac,
}

impl Keys {
    /// Keys for an HMAC algorithm from a shared secret.
    ///
    /// # Errors
    /// `KeyError::EmptyKey` when the secret is empty.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptyKey);
        }
        let header = Header::new(algorithm.to_jwt());
        // What jsonwebtoken writes as the first segment of every token it encodes.
        let header_json = serde_json::to_vec(&header)
            .map_err(|error| KeyError::Encode(jsonwebtoken::errors::Error::from(error)))?;
        Ok(Self {
            algorithm,
            header_segment: URL_SAFE_NO_PAD.encode(header_json),
            mac: KeyedMac::new(algorithm, secret)?,
        })
    }

    /// This key's signature of `message` (a token's `header.payload`).
    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.mac.sign(message)
    }

    /// Whether `signature` is this key's signature of `message` (a token's
    /// `header.payload`), compared in constant time.
    pub(crate) fn signature_matches(&self, message: &[u8], signature: &[u8]) -> bool {
        self.mac.matches(message, signature)
    }

    /// The configured algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}
