//! jwtd's token rules: claims, minting and verification of JWTs, rotation decisions,
//! settings types and password hashing (argon2id, and verifying Django's hashes).
//!
//! This crate is pure: it does no I/O, reads no clock and draws no randomness. The current
//! time, fresh identifiers and salts come in as arguments, so every rule is deterministic and
//! testable with a fixed clock. The `api` crate carries out what this crate decides.

mod error;
mod password;
mod rotation;
mod settings;
mod token;
mod types;

pub use error::{Refusal, Revocation, TokenError};
pub use password::{
    Argon2Memory, HashScheme, MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS, PasswordError,
    PasswordHasher, UnusableHash, stored_hash_scheme,
};
pub use rotation::{
    BlacklistEntry, ClientMark, ClientMarkKey, Decision, Denial, EventKind, FamilyState,
    GraceBinding, Plan, Presented, RotationRules, Stored, SuccessorState, Use, UserState,
    blacklisted_refusal, decide,
};
pub use settings::{TokenSettings, seconds};
pub use token::{
    AT_JWT, AccessTokenProfile, Algorithm, CheckedToken, KeyError, KeyKind, Keys, RefreshSpec,
    SESSION_CLAIM, TokenCodec, TokenKind, UserClaim, VerifiedToken,
};
pub use types::{FamilyId, Jti, TokenHash, UserId};
