//! The stored password hashes jwtd verifies: its own argon2 PHC strings, and the formats
//! Django writes in `auth_user.password`, so that users moved from Django keep their
//! passwords.
//!
//! Django prefixes each hash with its hasher's name:
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 of PBKDF2-HMAC-SHA256, 32 bytes>`, the
//!   salt used as its UTF-8 text;
//! - `argon2$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`: "argon2" before a PHC string
//!   (argon2i before Django 3.2; without `v=` for argon2 1.0, libargon2's reading);
//! - `bcrypt_sha256$$2b$<cost>$<salt and hash>`: bcrypt of the hex SHA-256 of the password,
//!   so that all of a long password counts;
//! - `bcrypt$$2b$...`: bcrypt of the password itself (its first 72 bytes).
//!
//! Anything else is refused, never guessed at: Django's weak hashers (MD5, SHA-1, crypt),
//! its unusable passwords (`!...`) and text that is no hash at all.

use argon2::Version;
use argon2::password_hash::PasswordHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The most PBKDF2 iterations a stored hash may ask for: ten times Django 5.2's 1,000,000,
/// so that one stored hash cannot hold a hashing thread for minutes.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// The highest bcrypt cost a stored hash may ask for: Django's default is 12, and each step
/// doubles the work.
pub const MAX_BCRYPT_COST: u32 = 16;

/// PBKDF2-SHA256's output in Django's hashes.
const PBKDF2_SHA256_LEN: usize = 32;

/// The schemes of the stored hashes jwtd can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashScheme {
    /// An argon2 PHC string (`$argon2id$...`), as jwtd writes them.
    Argon2,
    /// Django's `pbkdf2_sha256$...` (its default hasher).
    DjangoPbkdf2Sha256,
    /// Django's `argon2$...` (argon2id, or argon2i before Django 3.2).
    DjangoArgon2,
    /// Django's `bcrypt_sha256$...`.
    DjangoBcryptSha256,
    /// Django's `bcrypt$...`.
    DjangoBcrypt,
}

/// Why a stored hash cannot be verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnusableHash {
    /// Text without a scheme: no password hash at all.
    #[error("not a password hash")]
    NotAHash,
    /// Django's mark of an account without a password (`set_unusable_password`).
    #[error("Django's unusable password (an account without a password)")]
    Unusable,
    /// A scheme jwtd does not verify (Django's MD5, SHA-1, crypt, ...).
    #[error("unsupported password hash scheme {0:?}")]
    Unsupported(String),
    /// The scheme is known but the hash does not parse.
    #[error("malformed {0} hash")]
    Malformed(&'static str),
    /// The hash asks for more work than jwtd allows.
    #[error("{0} hash too costly to verify ({1})")]
    TooCostly(&'static str, String),
}

/// A stored hash, parsed far enough to be verified.
pub(super) enum Stored<'a> {
    /// An argon2 PHC string, and the version it has when it names none.
    Argon2 {
        phc: PasswordHash<'a>,
        unversioned: Version,
    },
    /// PBKDF2-HMAC-SHA256 with Django's text salt.
    Pbkdf2Sha256 {
        iterations: u32,
        salt: &'a str,
        digest: [u8; PBKDF2_SHA256_LEN],
    },
    /// A bcrypt string (`$2b$...`), of the password or of its hex SHA-256.
    Bcrypt { bcrypt: &'a str, prehash: bool },
}

impl Stored<'_> {
    /// The scheme, as reported to callers.
    pub(super) fn scheme(&self, stored: &str) -> HashScheme {
        match self {
            Stored::Argon2 { .. } if stored.starts_with('$') => HashScheme::Argon2,
            Stored::Argon2 { .. } => HashScheme::DjangoArgon2,
            Stored::Pbkdf2Sha256 { .. } => HashScheme::DjangoPbkdf2Sha256,
            Stored::Bcrypt { prehash: true, .. } => HashScheme::DjangoBcryptSha256,
            Stored::Bcrypt { prehash: false, .. } => HashScheme::DjangoBcrypt,
        }
    }

    /// Whether `password` matches a PBKDF2 or bcrypt hash, compared in constant time;
    /// `None` for argon2, which the caller computes in its own memory.
    pub(super) fn matches_without_argon2(&self, password: &str) -> Option<bool> {
        match self {
            Stored::Argon2 { .. } => None,
            Stored::Pbkdf2Sha256 {
                iterations,
                salt,
                digest,
            } => {
                let mut computed = [0u8; PBKDF2_SHA256_LEN];
                pbkdf2::pbkdf2_hmac::<Sha256>(
                    password.as_bytes(),
                    salt.as_bytes(),
                    *iterations,
                    &mut computed,
                );
                Some(computed.ct_eq(digest).into())
            }
            Stored::Bcrypt { bcrypt, prehash } => {
                // `bcrypt::verify` compares the digests in constant time.
                let verified = if *prehash {
                    bcrypt::verify(hex::encode(Sha256::digest(password.as_bytes())), bcrypt)
                } else {
                    bcrypt::verify(password.as_bytes(), bcrypt)
                };
                Some(verified.unwrap_or(false))
            }
        }
    }
}

/// Parses a stored hash of any scheme jwtd verifies.
pub(super) fn parse(stored: &str) -> Result<Stored<'_>, UnusableHash> {
    if stored.starts_with('$') {
        return argon2_phc(stored, "argon2", Version::default());
    }
    if stored.starts_with('!') {
        return Err(UnusableHash::Unusable);
    }
    let Some((scheme, rest)) = stored.split_once('$') else {
        return Err(UnusableHash::NotAHash);
    };
    match scheme {
        "pbkdf2_sha256" => pbkdf2_sha256(rest),
        // The PHC string starts at the `$`. Hashes without `v=` are argon2 1.0's, as the
        // libargon2 that Django uses reads them (RustCrypto's default would be 1.3).
        "argon2" => argon2_phc(&stored[scheme.len()..], "Django argon2", Version::V0x10),
        "bcrypt_sha256" => bcrypt(rest, "bcrypt_sha256", true),
        "bcrypt" => bcrypt(rest, "bcrypt", false),
        other => Err(UnusableHash::Unsupported(
            other.chars().take(32).collect::<String>(),
        )),
    }
}

fn argon2_phc<'a>(
    phc: &'a str,
    name: &'static str,
    unversioned: Version,
) -> Result<Stored<'a>, UnusableHash> {
    let ident = phc.get(1..).and_then(|rest| rest.split('$').next());
    if let Some(ident) = ident.filter(|ident| argon2::Algorithm::new(ident).is_err()) {
        return Err(UnusableHash::Unsupported(ident.chars().take(32).collect()));
    }
    let parsed = PasswordHash::new(phc).map_err(|_| UnusableHash::Malformed(name))?;
    if argon2::Params::try_from(&parsed).is_err() || parsed.salt.is_none() || parsed.hash.is_none()
    {
        return Err(UnusableHash::Malformed(name));
    }
    Ok(Stored::Argon2 {
        phc: parsed,
        unversioned,
    })
}

fn pbkdf2_sha256(rest: &str) -> Result<Stored<'_>, UnusableHash> {
    const NAME: &str = "pbkdf2_sha256";
    let malformed = || UnusableHash::Malformed(NAME);
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(encoded)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    if iterations.is_empty() || !iterations.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed());
    }
    let iterations: u32 = iterations.parse().map_err(|_| {
        UnusableHash::TooCostly(
            NAME,
            format!("more than {MAX_PBKDF2_ITERATIONS} iterations"),
        )
    })?;
    if iterations == 0 || salt.is_empty() {
        return Err(malformed());
    }
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(UnusableHash::TooCostly(
            NAME,
            format!("{iterations} iterations, more than {MAX_PBKDF2_ITERATIONS}"),
        ));
    }
    let decoded = STANDARD.decode(encoded).map_err(|_| malformed())?;
    let digest =
        <[u8; PBKDF2_SHA256_LEN]>::try_from(decoded.as_slice()).map_err(|_| malformed())?;
    Ok(Stored::Pbkdf2Sha256 {
        iterations,
        salt,
        digest,
    })
}

/// Django writes `bcrypt_sha256$` + bcrypt's own `$2b$...`, hence the empty field.
fn bcrypt<'a>(
    rest: &'a str,
    name: &'static str,
    prehash: bool,
) -> Result<Stored<'a>, UnusableHash> {
    let parts: bcrypt::HashParts = rest.parse().map_err(|_| UnusableHash::Malformed(name))?;
    let cost = parts.get_cost();
    if cost > MAX_BCRYPT_COST {
        return Err(UnusableHash::TooCostly(
            name,
            format!("cost {cost}, more than {MAX_BCRYPT_COST}"),
        ));
    }
    Ok(Stored::Bcrypt {
        bcrypt: rest,
        prehash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_is_recognised_by_its_prefix() {
        let cases = [
            (
                "$argon2id$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                HashScheme::Argon2,
            ),
            (
                "argon2$argon2id$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                HashScheme::DjangoArgon2,
            ),
            (
                "pbkdf2_sha256$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                HashScheme::DjangoPbkdf2Sha256,
            ),
            (
                "bcrypt_sha256$$2b$04$p9Kn/BivIXmZUvj9BgaSSeeYUPjea.7vyuD5MoC5fsiaZThkc/nny",
                HashScheme::DjangoBcryptSha256,
            ),
            (
                "bcrypt$$2b$04$p9Kn/BivIXmZUvj9BgaSSeeYUPjea.7vyuD5MoC5fsiaZThkc/nny",
                HashScheme::DjangoBcrypt,
            ),
        ];
        for (stored, scheme) in cases {
            let parsed = parse(stored).unwrap_or_else(|error| panic!("{stored}: {error}"));
            assert_eq!(parsed.scheme(stored), scheme, "{stored}");
        }
    }

    #[test]
    fn unknown_weak_unusable_and_malformed_hashes_are_refused_with_a_reason() {
        let cases: [(&str, UnusableHash); 14] = [
            ("", UnusableHash::NotAHash),
            ("plain text", UnusableHash::NotAHash),
            ("!Xy7s9aQ0", UnusableHash::Unusable),
            (
                "md5$salt$0123456789abcdef0123456789abcdef",
                UnusableHash::Unsupported("md5".to_owned()),
            ),
            (
                "pbkdf2_sha1$1000$salt$AAAA",
                UnusableHash::Unsupported("pbkdf2_sha1".to_owned()),
            ),
            (
                "$scrypt$ln=1,r=8,p=1$c2FsdA$AAAA",
                UnusableHash::Unsupported("scrypt".to_owned()),
            ),
            (
                "pbkdf2_sha256$$salt$AAAA",
                UnusableHash::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$0$salt$AAAA",
                UnusableHash::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$-1$salt$AAAA",
                UnusableHash::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$1000$salt$AAAA",
                UnusableHash::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$1000$salt",
                UnusableHash::Malformed("pbkdf2_sha256"),
            ),
            (
                "pbkdf2_sha256$1000$$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                UnusableHash::Malformed("pbkdf2_sha256"),
            ),
            (
                "bcrypt_sha256$$2b$04$short",
                UnusableHash::Malformed("bcrypt_sha256"),
            ),
            (
                "argon2$argon2id$v=19$m=64",
                UnusableHash::Malformed("Django argon2"),
            ),
        ];
        for (stored, expected) in cases {
            assert_eq!(parse(stored).err(), Some(expected), "{stored:?}");
        }
    }

    #[test]
    fn hashes_that_ask_for_too_much_work_are_refused() {
        let too_many = format!(
            "pbkdf2_sha256${}$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            MAX_PBKDF2_ITERATIONS + 1
        );
        let overflow =
            "pbkdf2_sha256$99999999999$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let bcrypt = "bcrypt_sha256$$2b$17$p9Kn/BivIXmZUvj9BgaSSeeYUPjea.7vyuD5MoC5fsiaZThkc/nny";
        for stored in [too_many.as_str(), overflow, bcrypt] {
            assert!(
                matches!(parse(stored), Err(UnusableHash::TooCostly(..))),
                "{stored}"
            );
        }
        let at_the_limit = format!(
            "pbkdf2_sha256${MAX_PBKDF2_ITERATIONS}$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        assert!(parse(&at_the_limit).is_ok());
    }

    #[test]
    fn non_ascii_text_in_a_hash_is_refused_not_a_panic() {
        for stored in [
            "bcrypt_sha256$$2b$04$p9Kn/BivIXmZUvj9BgaSSeeYUPjea.7vyuD5MoC5fsiaZThkc/nñ",
            "pbkdf2_sha256$1000$sälz$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "argon2$argon2id$v=19$m=64,t=1,p=1$ü$ü",
            "pbkdf2_sha256$１０００$salt$AAAA",
            "ünknown$x",
        ] {
            // A salt is any text without `$` for Django, so the second one parses.
            let _ = parse(stored);
        }
        assert!(
            parse("pbkdf2_sha256$1000$sälz$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok()
        );
    }
}
