//! The keys tokens are signed and verified with, read from the settings and files: an HMAC
//! secret (configured, or generated once and kept in a file only its owner can read), or a
//! PKCS#8 private key and its public keys for the public-key algorithms.
//!
//! A key that is missing, does not parse or does not fit the algorithm stops start-up as
//! any invalid setting does (exit 2), with a message naming the setting and the file, never
//! the key.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use auth_core::{Algorithm, ClientMarkKey, KeyError, Keys};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;

/// Bytes of randomness in a generated key (hex-encoded in the file).
const GENERATED_KEY_BYTES: usize = 64;

/// A key setting that cannot be used; `main` exits 2 on it, as on any invalid setting.
#[derive(Debug)]
pub struct InvalidKey(pub String);

impl fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidKey {}

fn invalid(setting: &str, message: impl fmt::Display) -> anyhow::Error {
    InvalidKey(format!("invalid setting {setting}: {message}")).into()
}

/// What to do when no HMAC secret is configured and its file does not exist yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Generate it (serving, admin commands).
    Generate,
    /// Leave it: `Ok(None)` (`jwtd config check` changes nothing).
    Skip,
}

/// The keys the settings name.
///
/// # Errors
/// [`InvalidKey`] naming the setting (and file) that is wrong; other errors when a
/// generated key cannot be written.
pub fn keys(config: &Config, missing: Missing) -> anyhow::Result<Option<Keys>> {
    let Some(algorithm) = Algorithm::parse(&config.tokens.algorithm) else {
        return Err(invalid(
            "JWTD_ALGORITHM",
            format!("unsupported algorithm {:?}", config.tokens.algorithm),
        ));
    };
    if algorithm.is_hmac() {
        hmac_keys(config, algorithm, missing)
    } else {
        public_keys(config, algorithm).map(Some)
    }
}

/// The key that marks the client of a rotation (grace binding), derived from the signing
/// key: the configured HMAC secret, or the bytes of the signing key's file (the generated
/// HMAC secret, or the private key), so that every instance sharing the key marks a client
/// alike. Call it after [`keys`], which creates a missing HMAC key file.
///
/// # Errors
/// When the signing key's file cannot be read.
pub fn client_mark_key(config: &Config) -> anyhow::Result<ClientMarkKey> {
    if let Some(secret) = &config.tokens.signing_key {
        return Ok(ClientMarkKey::derive(secret.expose_secret().as_bytes()));
    }
    let file = config.key_file();
    let bytes = fs::read(&file)
        .with_context(|| format!("cannot read the signing key file {}", file.display()))?;
    Ok(ClientMarkKey::derive(&bytes))
}

fn hmac_keys(
    config: &Config,
    algorithm: Algorithm,
    missing: Missing,
) -> anyhow::Result<Option<Keys>> {
    if !config.tokens.verifying_key_file.0.is_empty() {
        return Err(invalid(
            "JWTD_VERIFYING_KEY_FILE",
            format!(
                "{algorithm} verifies with its secret (JWTD_SIGNING_KEY); public key files are for RS*, PS*, ES256, ES384 and EdDSA"
            ),
        ));
    }
    let minimum = algorithm.min_secret_len().unwrap_or(0);
    let secret = match &config.tokens.signing_key {
        Some(secret) => {
            if secret.expose_secret().len() < minimum {
                return Err(invalid(
                    "JWTD_SIGNING_KEY",
                    format!(
                        "{algorithm} needs a key of {minimum} bytes at least, as long as its hash (RFC 7518 §3.2); `jwtd keys generate --alg {algorithm}` makes one"
                    ),
                ));
            }
            secret.clone()
        }
        None => {
            let file = config.key_file();
            let secret = match (file.exists(), missing) {
                (false, Missing::Skip) => return Ok(None),
                (false, Missing::Generate) => load_or_create(&file)?,
                (true, _) => read_secret(&file)?,
            };
            if secret.expose_secret().len() < minimum {
                return Err(invalid(
                    "JWTD_SIGNING_KEY_FILE",
                    format!(
                        "the key in {} is shorter than the {minimum} bytes {algorithm} needs",
                        file.display()
                    ),
                ));
            }
            secret
        }
    };
    Keys::hmac(algorithm, secret.expose_secret().as_bytes())
        .map(Some)
        .map_err(|error| invalid("JWTD_SIGNING_KEY", error))
}

fn public_keys(config: &Config, algorithm: Algorithm) -> anyhow::Result<Keys> {
    if config.tokens.signing_key.is_some() {
        return Err(invalid(
            "JWTD_SIGNING_KEY",
            format!(
                "{algorithm} signs with the private key in JWTD_SIGNING_KEY_FILE, not a secret; unset JWTD_SIGNING_KEY"
            ),
        ));
    }
    let Some(private_file) = &config.tokens.signing_key_file else {
        return Err(invalid(
            "JWTD_SIGNING_KEY_FILE",
            format!(
                "{algorithm} needs a PKCS#8 private key file; `jwtd keys generate --alg {algorithm}` makes a pair"
            ),
        ));
    };
    let public_files: Vec<PathBuf> = config
        .tokens
        .verifying_key_file
        .0
        .iter()
        .map(PathBuf::from)
        .collect();
    if public_files.is_empty() {
        return Err(invalid(
            "JWTD_VERIFYING_KEY_FILE",
            format!(
                "{algorithm} needs the public key of JWTD_SIGNING_KEY_FILE (and any older ones still verifying, comma-separated)"
            ),
        ));
    }
    check_private(private_file).map_err(|message| invalid("JWTD_SIGNING_KEY_FILE", message))?;
    let private = fs::read(private_file).map_err(|error| {
        invalid(
            "JWTD_SIGNING_KEY_FILE",
            format!("cannot read {}: {error}", private_file.display()),
        )
    })?;
    let mut publics = Vec::with_capacity(public_files.len());
    for file in &public_files {
        publics.push(fs::read(file).map_err(|error| {
            invalid(
                "JWTD_VERIFYING_KEY_FILE",
                format!("cannot read {}: {error}", file.display()),
            )
        })?);
    }
    let public_slices: Vec<&[u8]> = publics.iter().map(Vec::as_slice).collect();
    Keys::from_pem(algorithm, &private, &public_slices).map_err(|error| match error {
        KeyError::VerifyingKey { index, reason } => invalid(
            "JWTD_VERIFYING_KEY_FILE",
            format!(
                "{} {reason}",
                public_files
                    .get(index)
                    .map_or_else(String::new, |file| file.display().to_string())
            ),
        ),
        KeyError::SigningKeyNotListed => invalid(
            "JWTD_VERIFYING_KEY_FILE",
            format!(
                "none of its keys is the public key of {} (JWTD_SIGNING_KEY_FILE)",
                private_file.display()
            ),
        ),
        other => invalid(
            "JWTD_SIGNING_KEY_FILE",
            format!("{} {other}", private_file.display()),
        ),
    })
}

/// Refuses a private key file that others could read or replace: readable or writable by
/// group or others, or owned by another user than the one jwtd runs as.
fn check_private(file: &Path) -> Result<(), String> {
    let metadata =
        fs::metadata(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is readable or writable by group or others (mode {mode:o}); chmod 600 it",
            file.display()
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if metadata.uid() != me {
        return Err(format!(
            "{} is owned by user {}, not by the user jwtd runs as ({me})",
            file.display(),
            metadata.uid()
        ));
    }
    Ok(())
}

/// The secret in `file`, creating it on first use.
///
/// # Errors
/// When the file cannot be read or created, or holds no key.
fn load_or_create(file: &Path) -> anyhow::Result<SecretString> {
    let mut bytes = [0u8; GENERATED_KEY_BYTES];
    for chunk in bytes.chunks_mut(16) {
        let random: [u8; 16] = rand::random();
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    let generated = hex::encode(bytes);
    if let Some(parent) = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(mut created) => {
            created
                .write_all(generated.as_bytes())
                .and_then(|()| created.sync_all())
                .with_context(|| format!("cannot write the signing key to {}", file.display()))?;
            tracing::info!(file = %file.display(), "generated a new signing key");
            Ok(SecretString::from(generated))
        }
        // Another process created it first (or it existed): use theirs.
        Err(error) if error.kind() == ErrorKind::AlreadyExists => read_secret(file),
        Err(error) => Err(error).with_context(|| format!("cannot create {}", file.display())),
    }
}

fn read_secret(file: &Path) -> anyhow::Result<SecretString> {
    check_private(file).map_err(|message| invalid("JWTD_SIGNING_KEY_FILE", message))?;
    let text = fs::read_to_string(file).map_err(|error| {
        invalid(
            "JWTD_SIGNING_KEY_FILE",
            format!("cannot read {}: {error}", file.display()),
        )
    })?;
    let key = text.trim().to_owned();
    if key.is_empty() {
        return Err(invalid(
            "JWTD_SIGNING_KEY_FILE",
            format!("the signing key file {} is empty", file.display()),
        ));
    }
    Ok(SecretString::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("jwtd-key-{}", std::process::id()));
        let file = dir.join("test.key");
        let _ = fs::remove_file(&file);
        let first = load_or_create(&file).unwrap();
        let second = load_or_create(&file).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), GENERATED_KEY_BYTES * 2);
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Readable by others: refused, naming the file.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let refused = read_secret(&file).unwrap_err().to_string();
        assert!(
            refused.starts_with(&format!(
                "invalid setting JWTD_SIGNING_KEY_FILE: {} is readable or writable by group or others (mode 640)",
                file.display()
            )),
            "{refused}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
