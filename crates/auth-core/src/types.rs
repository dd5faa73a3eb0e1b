//! Newtypes for the identifiers that travel between tokens, rules and storage.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A text identifier: wraps any string (it is only ever compared, never interpreted), builds
/// one from 16 random bytes as 32 lowercase hex digits, and shows as `Name(text)`.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Wraps ", $what, " read from a token or the database.")]
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            #[doc = concat!("Builds ", $what, " from 16 random bytes supplied by the caller.")]
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(hex::encode(bytes))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// A token id (`jti`): 32 lowercase hex characters, as simplejwt writes `uuid4().hex`.
    Jti,
    "a `jti`"
);

text_id!(
    /// The id of a token family: one login and every refresh token rotated from it.
    /// Tokens carry it in the `sid` claim; it is also the session id users see.
    FamilyId,
    "a family id"
);

/// A user's primary key. Tokens carry it as a string (simplejwt 5.5.1); older tokens carry an
/// integer, and both are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The SHA-256 of an encoded token: what is stored instead of the token itself.
///
/// Comparison is constant-time, and `Debug` shows only a short prefix, so that neither a
/// timing side channel nor a log line gives away a stored digest.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes an encoded token.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Rebuilds a digest read from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses the lowercase hex form used in storage; `None` when it is not 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// The lowercase hex form used in storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_round_trips_through_hex_and_compares_by_value() {
        let hash = TokenHash::of("a.b.c");
        let parsed = TokenHash::from_hex(&hash.to_hex()).unwrap();
        assert_eq!(hash, parsed);
        assert_ne!(hash, TokenHash::of("a.b.d"));
        assert!(TokenHash::from_hex("zz").is_none());
    }

    #[test]
    fn token_hash_debug_does_not_show_the_whole_digest() {
        let hash = TokenHash::of("secret");
        assert!(!format!("{hash:?}").contains(&hash.to_hex()));
    }

    #[test]
    fn jti_from_random_bytes_is_32_lowercase_hex() {
        let jti = Jti::from_random_bytes([0xAB; 16]);
        assert_eq!(jti.as_str().len(), 32);
        assert!(
            jti.as_str()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
