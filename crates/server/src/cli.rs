//! The command line: `jwtd serve`, `jwtd migrate`, `jwtd user ...`, `jwtd flush-expired`,
//! `jwtd sessions ...`, `jwtd events`, `jwtd config check`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A refresh-token rotation server speaking simplejwt's wire protocol.
#[derive(Debug, Parser)]
#[command(
    name = "jwtd",
    version,
    after_help = "Exit status: 0 on success, 1 on a runtime failure (database, files, a refused \
                  admin action), 2 on bad configuration or usage."
)]
pub struct Cli {
    /// A TOML file of settings (environment variables `JWTD_*` override it).
    #[arg(long, global = true, env = "JWTD_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Entry,
}

/// The commands: those that need the configuration loaded, and `config`, which inspects it.
#[derive(Debug, Subcommand)]
pub enum Entry {
    /// The commands run with a loaded configuration.
    #[command(flatten)]
    Run(Command),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every effective setting with where it came from (default, file, environment),
    /// secrets redacted; warn about unknown JWTD_* variables; exit 2 naming an invalid one.
    Check,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (applies migrations first unless JWTD_AUTO_MIGRATE=false).
    Serve {
        /// Listen address (host:port), overriding JWTD_BIND.
        #[arg(long, value_parser = socket_address)]
        bind: Option<String>,
    },
    /// Apply database migrations.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Delete expired refresh tokens, their blacklist rows, expired sessions and old
    /// security events (simplejwt's flushexpiredtokens).
    FlushExpired {
        /// Rows deleted per transaction (at least 1).
        #[arg(long, default_value_t = 1000, value_parser = batch_size)]
        batch_size: u64,
    },
    /// List or revoke a user's sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show recent security events.
    Events {
        /// Only this user's events.
        #[arg(long)]
        user: Option<String>,
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// A `host:port` listen address, checked here so that a bad one is a usage error.
fn socket_address(text: &str) -> Result<String, String> {
    text.parse::<std::net::SocketAddr>()
        .map(|_| text.to_owned())
        .map_err(|_| format!("{text:?} is not host:port (e.g. 127.0.0.1:8000)"))
}

/// A `--batch-size`: at least 1.
fn batch_size(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("--batch-size must be at least 1".to_owned()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
    }
}

/// How a password is given.
#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

/// User administration.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// The username.
        name: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Change a user's password; ends all of the user's sessions.
    SetPassword {
        /// The username.
        name: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Deactivate a user; ends all of the user's sessions.
    Deactivate {
        /// The username.
        name: String,
    },
    /// Reactivate a user.
    Activate {
        /// The username.
        name: String,
    },
    /// Import users from an export of Django's auth_user: a CSV file with the header
    /// `username,password,is_active` (other columns are ignored) or a JSON array of objects
    /// with those keys (`manage.py dumpdata auth.user` works as is). Passwords are Django's
    /// hashes as stored. Existing users are updated; running it again changes nothing.
    Import {
        /// The .csv or .json file (other names: JSON when it starts with `[`).
        file: PathBuf,
    },
}

/// Session administration.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions.
    List {
        /// The username.
        user: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one session, or all of them.
    Revoke {
        /// The username.
        user: String,
        /// The session id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Revoke every session of the user.
        #[arg(long)]
        all: bool,
    },
}

/// Signing-key administration.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key pair for an algorithm: the private key as PKCS#8 PEM (mode 600) and
    /// the public key as SPKI PEM; for HS256/384/512, a random 64-byte secret (hex, mode
    /// 600). Never overwrites a file.
    Generate {
        /// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384 or
        /// HS512.
        #[arg(long)]
        alg: String,
        /// The directory to write to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// The start of the file names; default: jwtd-<alg>-<UTC time>.
        #[arg(long)]
        name: Option<String>,
        /// RSA modulus size in bits (at least 2048).
        #[arg(long, default_value_t = 3072)]
        rsa_bits: usize,
    },
}
