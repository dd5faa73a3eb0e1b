//! sea-orm entities for jwtd's tables, and nothing else: no queries, no business rules.
//!
//! The schema itself lives in the `migration` crate; these types mirror it. Times are Unix
//! seconds (`i64`), the unit of JWT's `exp` and `iat`, so comparisons are exact and portable
//! across SQLite, PostgreSQL and MySQL.

pub mod auth_events;
pub mod blacklisted_tokens;
pub mod outstanding_tokens;
pub mod token_families;
pub mod users;
