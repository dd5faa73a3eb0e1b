//! Password hashing with argon2id, stored as PHC strings.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, Params, PasswordHasher as _, PasswordVerifier as _};

/// Hashing could not be set up or carried out.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The argon2 parameters are out of range.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed.
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// Hashes and verifies passwords with argon2id.
///
/// Verifying for a user that does not exist runs a full verification against a dummy hash
/// with the same parameters, so an unknown username costs the same time as a wrong password.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    pub const DEFAULT_MEMORY_KIB: u32 = 19 * 1024;
    /// See [`Self::DEFAULT_MEMORY_KIB`].
    pub const DEFAULT_ITERATIONS: u32 = 2;
    /// See [`Self::DEFAULT_MEMORY_KIB`].
    pub const DEFAULT_PARALLELISM: u32 = 1;

    /// A hasher with the given argon2id cost. `dummy_salt` is random bytes from the caller,
    /// used once to build the dummy hash for unknown users.
    ///
    /// # Errors
    /// `PasswordError::Params` when the cost is out of argon2's range.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        dummy_salt: [u8; 16],
    ) -> Result<Self, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|error| PasswordError::Params(error.to_string()))?;
        let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut hasher = Self {
            argon,
            dummy_hash: String::new(),
        };
        hasher.dummy_hash = hasher.hash("jwtd dummy password", dummy_salt)?;
        Ok(hasher)
    }

    /// Hashes a password with a caller-supplied random salt; returns the PHC string.
    ///
    /// # Errors
    /// `PasswordError::Hash` if argon2 fails (for example, the password is too long).
    pub fn hash(&self, password: &str, salt: [u8; 16]) -> Result<String, PasswordError> {
        let salt = SaltString::encode_b64(&salt)
            .map_err(|error| PasswordError::Hash(error.to_string()))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| PasswordError::Hash(error.to_string()))
    }

    /// Whether `password` matches the stored PHC string. With no stored hash (no such user),
    /// spends the same time on the dummy hash and answers `false`. A malformed stored hash
    /// never matches.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let matches = self
            .argon
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(64, 1, 1, [7; 16]).unwrap()
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = cheap();
        let phc = hasher.hash("correct horse", [1; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&phc)));
        assert!(!hasher.verify("battery staple", Some(&phc)));
    }

    #[test]
    fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = cheap();
        assert!(!hasher.verify("jwtd dummy password", None));
    }

    #[test]
    fn a_malformed_stored_hash_never_verifies() {
        assert!(!cheap().verify("x", Some("not a phc string")));
    }
}
