//! Black-box tests of jwtd through its real router (and one of its real binary), on every
//! configured database.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step must fail the test loudly"
)]

mod abuse;
mod access_profile;
mod access_revocation;
mod bodies;
mod claims;
mod cli;
mod config_check;
mod connections;
mod cookies;
mod django_login;
mod engines;
mod families;
mod faults;
mod flush;
mod fuzz;
mod grace_binding;
mod interop;
mod introspect;
mod key_rotation;
mod keys;
mod keys_generate;
mod limits;
mod login_timing;
mod logout;
mod logs;
mod me;
mod media_types;
mod operations;
mod revocation_messages;
mod revoke;
mod rotation;
mod scale_out;
mod sessions;
mod simplejwt_move;
mod smoke;
mod storage;
mod token_obtain;
mod token_refresh;
mod token_verify;
mod usage;
mod user_import;
