//! Which client made a rotation, as a keyed digest: what binds a grace-window replay to the
//! client whose rotation it repeats (issue 15).
//!
//! A rotation records the [`ClientMark`] of its request on the successor it issued. A replay
//! of the rotated token is forgiven only when its own mark matches that one as far as
//! [`GraceBinding`] asks. The mark is an HMAC-SHA-256 under a server-side key of the
//! `User-Agent` and of the client address, each kept apart (so that `user-agent` binding can
//! compare the first alone): a leaked database shows neither, and without the key neither
//! can be tested against a guess.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// How much of the rotating client a grace-window replay must match.
/// `JWTD_ROTATION_GRACE_BINDING`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraceBinding {
    /// The same `User-Agent` and the same client address (the default).
    #[default]
    Client,
    /// The same `User-Agent` only: for mobile networks whose address changes.
    UserAgent,
    /// Any client (weaker: whoever holds a just-rotated token gets its successor).
    None,
}

impl GraceBinding {
    /// Parses the setting's value: `client`, `user-agent` or `none`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "client" => Some(GraceBinding::Client),
            "user-agent" => Some(GraceBinding::UserAgent),
            "none" => Some(GraceBinding::None),
            _ => None,
        }
    }

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GraceBinding::Client => "client",
            GraceBinding::UserAgent => "user-agent",
            GraceBinding::None => "none",
        }
    }
}

/// The server-side key of client marks: 64 bytes, HMAC-SHA-256's block. `Debug` shows
/// nothing of it.
#[derive(Clone)]
pub struct ClientMarkKey([u8; 64]);

impl ClientMarkKey {
    /// A key derived from a secret the deployment already keeps (its signing key), so that
    /// every instance sharing that secret marks a client alike: SHA-512 of a fixed label
    /// and the secret, which reveals nothing of the secret and is used for nothing else.
    pub fn derive(secret: &[u8]) -> Self {
        let digest = Sha512::new()
            .chain_update(b"jwtd client mark v1\0")
            .chain_update(secret)
            .finalize();
        Self(digest.into())
    }

    /// A key from 64 bytes the caller chose (random ones, for a process of its own).
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for ClientMarkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientMarkKey(..)")
    }
}

/// Bytes kept of each digest: 128 bits tell clients apart far beyond any guessing.
const PART: usize = 16;

/// The keyed digest of one request's client. Compared in constant time.
#[derive(Clone, Copy, Eq)]
pub struct ClientMark {
    agent: [u8; PART],
    address: [u8; PART],
}

impl ClientMark {
    /// The mark of a client with this `User-Agent` and address (each may be missing, which
    /// is a value of its own).
    pub fn of(key: &ClientMarkKey, user_agent: Option<&str>, address: Option<&str>) -> Self {
        Self {
            agent: part(key, b'u', user_agent),
            address: part(key, b'a', address),
        }
    }

    /// Whether a replay by `self` matches the rotation by `rotated` as `binding` asks.
    pub fn matches(&self, rotated: &ClientMark, binding: GraceBinding) -> bool {
        let agent: bool = self.agent.ct_eq(&rotated.agent).into();
        let address: bool = self.address.ct_eq(&rotated.address).into();
        match binding {
            GraceBinding::Client => agent & address,
            GraceBinding::UserAgent => agent,
            GraceBinding::None => true,
        }
    }

    /// The stored form: 64 lowercase hex digits (agent, then address).
    pub fn to_hex(&self) -> String {
        let mut text = hex::encode(self.agent);
        text.push_str(&hex::encode(self.address));
        text
    }

    /// Parses the stored form; `None` when it is not 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 2 * PART];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        let (agent, address) = bytes.split_at(PART);
        Some(Self {
            agent: agent.try_into().ok()?,
            address: address.try_into().ok()?,
        })
    }
}

impl PartialEq for ClientMark {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other, GraceBinding::Client)
    }
}

impl fmt::Debug for ClientMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientMark({}…)", hex::encode(&self.agent[..2]))
    }
}

/// The digest of one field: a domain byte, whether it is present, and its bytes.
fn part(key: &ClientMarkKey, domain: u8, value: Option<&str>) -> [u8; PART] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.0.into());
    mac.update(&[domain, u8::from(value.is_some())]);
    mac.update(value.unwrap_or_default().as_bytes());
    let digest: [u8; 32] = mac.finalize().into_bytes().into();
    let mut kept = [0u8; PART];
    kept.copy_from_slice(&digest[..PART]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ClientMarkKey {
        ClientMarkKey::derive(b"a signing key of the deployment")
    }

    #[test]
    fn a_mark_matches_the_same_client_and_round_trips_through_hex() {
        let mark = ClientMark::of(&key(), Some("app/1.0"), Some("192.0.2.7"));
        let stored = ClientMark::from_hex(&mark.to_hex()).unwrap();
        assert!(mark.matches(&stored, GraceBinding::Client));
        assert_eq!(mark.to_hex().len(), 64);
        assert!(ClientMark::from_hex("zz").is_none());
    }

    #[test]
    fn each_binding_compares_what_it_names() {
        let rotated = ClientMark::of(&key(), Some("app/1.0"), Some("192.0.2.7"));
        let moved = ClientMark::of(&key(), Some("app/1.0"), Some("198.51.100.1"));
        let other_agent = ClientMark::of(&key(), Some("curl/8"), Some("192.0.2.7"));
        assert!(!moved.matches(&rotated, GraceBinding::Client));
        assert!(moved.matches(&rotated, GraceBinding::UserAgent));
        assert!(!other_agent.matches(&rotated, GraceBinding::UserAgent));
        assert!(other_agent.matches(&rotated, GraceBinding::None));
    }

    #[test]
    fn a_missing_field_differs_from_an_empty_one_and_keys_differ() {
        let missing = ClientMark::of(&key(), None, None);
        let empty = ClientMark::of(&key(), Some(""), Some(""));
        assert!(!missing.matches(&empty, GraceBinding::UserAgent));
        let other_key = ClientMark::of(&ClientMarkKey::derive(b"another"), None, None);
        assert!(!missing.matches(&other_key, GraceBinding::Client));
    }

    #[test]
    fn neither_the_key_nor_the_mark_shows_itself() {
        let mark = ClientMark::of(&key(), Some("app/1.0"), None);
        assert!(!format!("{mark:?}").contains(&mark.to_hex()));
        assert_eq!(format!("{:?}", key()), "ClientMarkKey(..)");
        for binding in ["client", "user-agent", "none"] {
            assert_eq!(GraceBinding::parse(binding).unwrap().as_str(), binding);
        }
        assert_eq!(GraceBinding::parse("ip"), None);
    }
}
