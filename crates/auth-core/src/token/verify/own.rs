//! The hot path of `check` (`/me`, `/token/verify`): a token that carries, byte for byte, the
//! header jwtd's HMAC signing key writes.
//!
//! `jsonwebtoken::decode` parses the header twice, keys a new HMAC and parses the payload
//! twice (once for the caller, once for its own claim checks) for every token. For the one
//! header jwtd writes, none of that is needed: the header is known, so it is compared as
//! bytes, not parsed; the HMAC was keyed at start-up and is cloned; the payload is parsed
//! once. Every other token, and every token when `aud` or `iss` is configured (the checks the
//! library would add), goes through the library. The crafted-token corpus runs every token
//! through both paths and requires the same answer (`differs_from_the_library_nowhere`).
//!
//! This is the one place jwtd touches a JWS by hand, and it only ever accepts less than the
//! library would: a token it does not recognise is the library's.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::{Sha256, Sha384, Sha512};

use super::super::AccessTokenProfile;
use super::super::keys::{Algorithm, SigningKey};
use crate::error::TokenError;
use crate::settings::TokenSettings;

/// An HMAC keyed once with the signing secret; each token verifies on a clone. Public-key
/// algorithms have no own path: their verification cost is the signature's, not the parsing.
#[derive(Clone)]
enum Keyed {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl Keyed {
    fn new(algorithm: Algorithm, secret: &[u8]) -> Option<Self> {
        Some(match algorithm {
            Algorithm::HS256 => Self::Sha256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => Self::Sha384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => Self::Sha512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Whether `signature` is the MAC of `message`, compared in constant time.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        fn check<M: Mac + Clone>(keyed: &M, message: &[u8], signature: &[u8]) -> bool {
            let mut mac = keyed.clone();
            mac.update(message);
            mac.verify_slice(signature).is_ok()
        }
        match self {
            Self::Sha256(keyed) => check(keyed, message, signature),
            Self::Sha384(keyed) => check(keyed, message, signature),
            Self::Sha512(keyed) => check(keyed, message, signature),
        }
    }
}

/// What recognising and verifying jwtd's own HMAC tokens needs, prepared once.
#[derive(Clone)]
pub(in crate::token) struct OwnTokens {
    /// The header segment every token the signing key mints starts with.
    header: Box<[u8]>,
    keyed: Keyed,
}

impl OwnTokens {
    /// The fast path for tokens of `signing`, when it is an HMAC key, the library would add
    /// no claim check of its own (no `aud`, no `iss` configured) and the header's `typ` goes
    /// unread (simplejwt's access-token profile); `None` otherwise.
    pub(in crate::token) fn new(signing: &SigningKey, settings: &TokenSettings) -> Option<Self> {
        if settings.audience.is_some()
            || settings.issuer.is_some()
            || settings.access_token_profile != AccessTokenProfile::Simplejwt
        {
            return None;
        }
        let secret = signing.key.try_get_hmac_secret().ok()?;
        let keyed = Keyed::new(signing.algorithm, secret)?;
        // The header as `jsonwebtoken::encode` writes it: its JSON, base64url without padding.
        let json = serde_json::to_vec(&signing.header).ok()?;
        let header = URL_SAFE_NO_PAD.encode(json).into_bytes().into_boxed_slice();
        Some(Self { header, keyed })
    }

    /// The claims of `token` if it carries jwtd's own header: `None` when it does not (the
    /// library decides), `Some(Err)` when it does but its signature or payload is bad. The
    /// token is split as the library splits it: the signature after the last dot, the
    /// payload after the one before.
    pub(in crate::token) fn claims<C: DeserializeOwned>(
        &self,
        token: &[u8],
    ) -> Option<Result<C, TokenError>> {
        let (message, signature) = split_last(token)?;
        let (header, payload) = split_last(message)?;
        if header != &*self.header {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok();
        if !signature.is_some_and(|signature| self.keyed.verifies(message, &signature)) {
            return Some(Err(TokenError::Invalid));
        }
        let claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok());
        Some(claims.ok_or(TokenError::Invalid))
    }
}

impl std::fmt::Debug for OwnTokens {
    /// The header only: the keyed MAC holds state derived from the secret.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OwnTokens")
            .field("header", &String::from_utf8_lossy(&self.header))
            .finish_non_exhaustive()
    }
}

/// `bytes` before and after its last dot.
fn split_last(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = bytes.iter().rposition(|byte| *byte == b'.')?;
    Some((&bytes[..dot], &bytes[dot + 1..]))
}
