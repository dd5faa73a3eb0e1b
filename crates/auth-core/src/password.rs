//! Password hashing with argon2id, stored as PHC strings; Django's stored hashes verify too
//! (see [`django`]) and are replaced by argon2id at the next login.
//!
//! argon2 needs `m` KiB of scratch memory per hash. A server hashes on a few long-lived
//! threads, each holding one [`Argon2Memory`] for the configured cost while it has work and
//! reusing it from hash to hash. Each buffer is its own mapping, given back to the system when
//! dropped: a buffer carved from an allocator arena stays resident after it is freed, which is
//! how RSS once climbed past 600 MiB.

mod django;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;

pub use django::{HashScheme, MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS, UnusableHash};

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

/// The least address space an [`Argon2Memory`] reserves: above glibc's largest adaptive mmap
/// threshold (32 MiB), so that the buffer is always a mapping of its own.
const MAPPED_RESERVATION: usize = 33 << 20;

/// The scratch memory of one argon2 computation at a time, sized for a hasher's cost.
///
/// Reused across hashes: every block a hash reads is first written by that same hash, so
/// nothing carries over from one password to the next.
pub struct Argon2Memory {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for Argon2Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Memory")
            .field("kib", &self.blocks.len())
            .finish()
    }
}

impl Argon2Memory {
    /// Size in KiB (argon2 blocks are 1 KiB).
    pub fn kib(&self) -> usize {
        self.blocks.len()
    }

    /// Where the blocks live; it never changes, which tests use to show the memory is reused.
    pub fn address(&self) -> usize {
        self.blocks.as_ptr().addr()
    }
}

/// Hashes and verifies passwords with argon2id.
///
/// Verifying for a user that does not exist runs a full verification against a dummy hash
/// with the same parameters, so an unknown username costs the same time as a wrong password.
/// Stored hashes with other parameters (an older default, argon2i) still verify, in memory of
/// their own when they need more than the configured cost, and so do Django's (PBKDF2,
/// argon2, bcrypt); [`Self::needs_rehash`] tells which ones to replace after a login.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

/// The output length of the hashes jwtd writes (argon2's default).
const OUTPUT_LEN: usize = 32;

/// The longest salt and output a PHC string can carry (`password_hash`'s limits).
const MAX_PHC_BYTES: usize = 64;

impl PasswordHasher {
    /// OWASP's argon2id setting for a small memory budget: 7 MiB, 5 iterations, 1 lane, as
    /// strong as its 19 MiB/2 baseline (OWASP lists 46/1, 19/2, 12/3, 9/4, 7/5 MiB/iterations
    /// as equivalent). One hashing thread per core each keeps this much memory, so a 2-core
    /// server stays under 32 MiB.
    pub const DEFAULT_MEMORY_KIB: u32 = 7 * 1024;
    /// See [`Self::DEFAULT_MEMORY_KIB`].
    pub const DEFAULT_ITERATIONS: u32 = 5;
    /// See [`Self::DEFAULT_MEMORY_KIB`].
    pub const DEFAULT_PARALLELISM: u32 = 1;

    /// A hasher with the given argon2id cost. `dummy_salt` is random bytes from the caller,
    /// the salt of the dummy hash that unknown users are checked against.
    ///
    /// # Errors
    /// `PasswordError::Params` when the cost is out of argon2's range.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        dummy_salt: [u8; 16],
    ) -> Result<Self, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, Some(OUTPUT_LEN))
            .map_err(|error| PasswordError::Params(error.to_string()))?;
        // Its output is never compared meaningfully (an unknown user never matches), so it
        // need not be computed: parsing and recomputing it is what costs a real verification.
        let dummy_hash = phc_string(&params, &dummy_salt, &[0; OUTPUT_LEN])?;
        Ok(Self { params, dummy_hash })
    }

    /// Scratch memory for this hasher's cost, allocated and touched now so that the hashes
    /// that reuse it pay for no page faults.
    ///
    /// The allocation reserves at least [`MAPPED_RESERVATION`] bytes of address space, of
    /// which only the blocks in use are ever touched. glibc serves a request that large from a
    /// mapping of its own and unmaps it on free, whatever its adaptive threshold has learnt
    /// (it never raises the threshold past 32 MiB); a smaller buffer would come from the
    /// thread's arena after the first free, and its pages would stay resident once dropped.
    pub fn memory(&self) -> Argon2Memory {
        let count = self.params.block_count();
        let reserved = count.max(MAPPED_RESERVATION / std::mem::size_of::<Block>());
        let mut blocks = Vec::with_capacity(reserved);
        blocks.resize(count, Block::new());
        Argon2Memory { blocks }
    }

    /// Hashes a password with a caller-supplied random salt in `memory`; returns the PHC
    /// string.
    ///
    /// # Errors
    /// `PasswordError::Hash` if argon2 fails (for example, `memory` is too small).
    pub fn hash_with(
        &self,
        password: &str,
        salt: [u8; 16],
        memory: &mut Argon2Memory,
    ) -> Result<String, PasswordError> {
        let mut output = [0u8; OUTPUT_LEN];
        argon2id(self.params.clone())
            .hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                &mut output,
                &mut memory.blocks,
            )
            .map_err(|error| PasswordError::Hash(error.to_string()))?;
        phc_string(&self.params, &salt, &output)
    }

    /// Whether `password` matches the stored PHC string, computed in `memory` (or, for a hash
    /// whose cost needs more, in memory of its own). With no stored hash (no such user),
    /// spends the same time on the dummy hash and answers `false`. A malformed stored hash
    /// never matches. The comparison is constant-time.
    pub fn verify_with(
        &self,
        password: &str,
        stored: Option<&str>,
        memory: &mut Argon2Memory,
    ) -> bool {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let matches = match django::parse(phc) {
            Ok(django::Stored::Argon2 { phc, unversioned }) => {
                recompute_matches(password, &phc, unversioned, memory).unwrap_or(false)
            }
            Ok(other) => other.matches_without_argon2(password).unwrap_or(false),
            Err(_) => false,
        };
        matches && real
    }

    /// Whether a stored hash (that a password just matched) should be replaced by this
    /// hasher's: anything but an argon2id PHC string with exactly the configured cost and
    /// output length, such as Django's hashes or those of an earlier argon2 setting.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        let current = Algorithm::try_from(parsed.algorithm) == Ok(Algorithm::Argon2id)
            && parsed.version == Some(Version::V0x13.into())
            && Params::try_from(&parsed).is_ok_and(|params| params == self.params);
        !current
    }

    /// [`Self::hash_with`] in memory allocated for this one call; for tools, not servers.
    ///
    /// # Errors
    /// As [`Self::hash_with`].
    pub fn hash(&self, password: &str, salt: [u8; 16]) -> Result<String, PasswordError> {
        self.hash_with(password, salt, &mut self.memory())
    }

    /// [`Self::verify_with`] in memory allocated for this one call; for tools, not servers.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        self.verify_with(password, stored, &mut self.memory())
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn phc_string(params: &Params, salt: &[u8], output: &[u8]) -> Result<String, PasswordError> {
    let hash_error = |error: argon2::password_hash::Error| PasswordError::Hash(error.to_string());
    let salt = SaltString::encode_b64(salt).map_err(hash_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(hash_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(output).map_err(hash_error)?),
    };
    Ok(phc.to_string())
}

/// The scheme of a stored hash that jwtd can verify, or why it cannot: for checking hashes
/// brought from elsewhere (Django's `auth_user.password`) before storing them.
///
/// # Errors
/// [`UnusableHash`] for Django's unusable passwords, unsupported or weak schemes, malformed
/// hashes and costs above [`MAX_PBKDF2_ITERATIONS`] or [`MAX_BCRYPT_COST`].
pub fn stored_hash_scheme(stored: &str) -> Result<HashScheme, UnusableHash> {
    django::parse(stored).map(|parsed| parsed.scheme(stored))
}

/// Recomputes a parsed PHC hash for `password` with the PHC's own algorithm, version (or
/// `unversioned` when it names none), cost and salt, as argon2's `PasswordVerifier` does,
/// and compares in constant time. `None` when the PHC string is not a usable argon2 hash.
fn recompute_matches(
    password: &str,
    parsed: &PasswordHash<'_>,
    unversioned: Version,
    memory: &mut Argon2Memory,
) -> Option<bool> {
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).ok()?,
        None => unversioned,
    };
    let params = Params::try_from(parsed).ok()?;
    let expected = parsed.hash?;
    let mut salt = [0u8; MAX_PHC_BYTES];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let mut output = [0u8; MAX_PHC_BYTES];
    let output = output.get_mut(..expected.len())?;
    let needed = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let computed = if needed <= memory.blocks.len() {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, output, &mut memory.blocks)
    } else {
        // A hash made with a higher cost than today's: a temporary buffer, sized for it.
        let mut larger = vec![Block::new(); needed];
        argon.hash_password_into_with_memory(password.as_bytes(), salt, output, &mut larger)
    };
    computed.ok()?;
    Some(output.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher as _;

    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(64, 1, 1, [7; 16]).unwrap()
    }

    /// A PHC string made by argon2's own `PasswordHasher`, with any algorithm and cost.
    fn made_by_argon2(algorithm: Algorithm, version: Version, m: u32, t: u32, p: u32) -> String {
        let params = Params::new(m, t, p, None).unwrap();
        let salt = SaltString::encode_b64(&[5; 16]).unwrap();
        Argon2::new(algorithm, version, params)
            .hash_password(b"legacy password", &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = cheap();
        let phc = hasher.hash("correct horse", [1; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify("correct horse", Some(&phc)));
        assert!(!hasher.verify("battery staple", Some(&phc)));
    }

    #[test]
    fn hashes_are_the_phc_strings_argon2_itself_writes() {
        let hasher = PasswordHasher::new(256, 3, 2, [7; 16]).unwrap();
        let ours = hasher.hash("legacy password", [5; 16]).unwrap();
        assert_eq!(
            ours,
            made_by_argon2(Algorithm::Argon2id, Version::V0x13, 256, 3, 2)
        );
    }

    #[test]
    fn one_memory_serves_every_hash_without_reallocating_or_leaking_between_passwords() {
        let hasher = cheap();
        let mut memory = hasher.memory();
        let (address, kib) = (memory.address(), memory.kib());
        let first = hasher.hash_with("first", [1; 16], &mut memory).unwrap();
        let second = hasher.hash_with("second", [2; 16], &mut memory).unwrap();
        // The same results as in fresh memory: nothing of one hash reaches the next.
        assert_eq!(first, hasher.hash("first", [1; 16]).unwrap());
        assert_eq!(second, hasher.hash("second", [2; 16]).unwrap());
        for _ in 0..3 {
            assert!(hasher.verify_with("first", Some(&first), &mut memory));
            assert!(!hasher.verify_with("second", Some(&first), &mut memory));
            assert!(!hasher.verify_with("first", None, &mut memory));
        }
        assert_eq!((memory.address(), memory.kib()), (address, kib));
    }

    #[test]
    fn hashes_with_other_parameters_still_verify() {
        let hasher = cheap();
        let mut memory = hasher.memory();
        let address = memory.address();
        let legacy = [
            // The old default's shape (more memory than configured): a temporary buffer.
            made_by_argon2(Algorithm::Argon2id, Version::V0x13, 256, 2, 1),
            // Less memory than configured, more lanes: fits in the thread's memory.
            made_by_argon2(Algorithm::Argon2id, Version::V0x13, 32, 3, 2),
            made_by_argon2(Algorithm::Argon2i, Version::V0x13, 64, 2, 1),
            made_by_argon2(Algorithm::Argon2d, Version::V0x10, 128, 1, 1),
        ];
        for phc in &legacy {
            assert!(
                hasher.verify_with("legacy password", Some(phc), &mut memory),
                "{phc}"
            );
            assert!(
                !hasher.verify_with("wrong password", Some(phc), &mut memory),
                "{phc}"
            );
        }
        assert_eq!(
            memory.address(),
            address,
            "the thread's memory is never replaced"
        );
        assert_eq!(memory.kib(), 64);
    }

    #[test]
    fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = cheap();
        assert!(!hasher.verify("jwtd dummy password", None));
        assert!(!hasher.verify("", None));
    }

    #[test]
    fn the_dummy_hash_has_the_configured_cost() {
        let hasher = PasswordHasher::new(128, 3, 1, [7; 16]).unwrap();
        assert!(
            hasher
                .dummy_hash
                .starts_with("$argon2id$v=19$m=128,t=3,p=1$")
        );
    }

    #[test]
    fn a_malformed_stored_hash_never_verifies() {
        let hasher = cheap();
        for stored in [
            "not a phc string",
            "$argon2id$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ",
            "$argon2id$v=19$m=64,t=1,p=1$$AAAA",
            "$argon2id$v=7$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!hasher.verify("x", Some(stored)), "{stored}");
        }
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        assert!(matches!(
            PasswordHasher::new(1, 1, 1, [0; 16]),
            Err(PasswordError::Params(_))
        ));
    }
}
