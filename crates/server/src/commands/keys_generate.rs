//! `jwtd keys generate --alg ALG`: a new signing key pair, written as PEM files that
//! `JWTD_SIGNING_KEY_FILE` and `JWTD_VERIFYING_KEY_FILE` can name, or an HMAC secret.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use api::clock::{Clock as _, SystemClock, rfc3339};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use rand::RngCore as _;
use rand::rngs::OsRng;

use auth_core::{Algorithm, KeyKind};

use crate::cli::KeysCommand;

/// Bytes of randomness in an HMAC secret (written hex-encoded, as jwtd's own key file).
const HMAC_SECRET_BYTES: usize = 64;

/// The smallest RSA modulus jwtd writes (RFC 7518 asks for 2048 bits at least).
const MIN_RSA_BITS: usize = 2048;

/// Runs `jwtd keys ...`.
///
/// # Errors
/// An unknown algorithm, too small an RSA size, a file that exists or cannot be written.
pub(super) fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    let KeysCommand::Generate {
        alg,
        out,
        name,
        rsa_bits,
    } = command;
    let Some(kind) = Algorithm::parse(&alg).map(Algorithm::key_kind) else {
        bail!(
            "unsupported --alg {alg:?}: RS256/384/512, PS256/384/512, ES256, ES384, EdDSA or HS256/384/512"
        );
    };
    let name = name.unwrap_or_else(|| {
        let time: String = rfc3339(SystemClock.now())
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        format!("jwtd-{}-{time}", alg.to_ascii_lowercase())
    });
    let (private, public) = match kind {
        KeyKind::Hmac => {
            let mut secret = [0u8; HMAC_SECRET_BYTES];
            OsRng.fill_bytes(&mut secret);
            let file = out.join(format!("{name}.key"));
            write_new(&file, hex::encode(secret).as_bytes(), 0o600)?;
            println!("wrote the {alg} secret to {} (mode 600)", file.display());
            return Ok(ExitCode::SUCCESS);
        }
        KeyKind::Rsa => {
            if rsa_bits < MIN_RSA_BITS {
                bail!("--rsa-bits must be at least {MIN_RSA_BITS}");
            }
            let key = rsa::RsaPrivateKey::new(&mut OsRng, rsa_bits)
                .context("cannot generate the RSA key")?;
            (
                key.to_pkcs8_pem(LineEnding::LF)?,
                key.to_public_key().to_public_key_pem(LineEnding::LF)?,
            )
        }
        KeyKind::P256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            (
                key.to_pkcs8_pem(LineEnding::LF)?,
                key.public_key().to_public_key_pem(LineEnding::LF)?,
            )
        }
        KeyKind::P384 => {
            let key = p384::SecretKey::random(&mut OsRng);
            (
                key.to_pkcs8_pem(LineEnding::LF)?,
                key.public_key().to_public_key_pem(LineEnding::LF)?,
            )
        }
        KeyKind::Ed25519 => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            (
                key.to_pkcs8_pem(LineEnding::LF)?,
                key.verifying_key().to_public_key_pem(LineEnding::LF)?,
            )
        }
    };
    let private_file = out.join(format!("{name}.key.pem"));
    let public_file = out.join(format!("{name}.pub.pem"));
    if public_file.exists() {
        bail!("{} already exists; nothing written", public_file.display());
    }
    write_new(&private_file, private.as_bytes(), 0o600)?;
    if let Err(error) = write_new(&public_file, public.as_bytes(), 0o644) {
        // Half a pair is of no use: take the private key back.
        let _ = std::fs::remove_file(&private_file);
        return Err(error);
    }
    println!(
        "wrote the {alg} private key to {} (PKCS#8, mode 600)",
        private_file.display()
    );
    println!(
        "wrote the {alg} public key to {} (SPKI)",
        public_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `file` with `mode`, refusing to replace an existing one.
fn write_new(file: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(file)
        .with_context(|| {
            format!(
                "cannot create {} (an existing file is never replaced)",
                file.display()
            )
        })?;
    created
        .write_all(contents)
        .and_then(|()| created.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_of_the_issue_has_a_key_kind_and_others_none() {
        let kind = |alg: &str| Algorithm::parse(alg).map(Algorithm::key_kind);
        for (alg, expected) in [
            ("RS256", KeyKind::Rsa),
            ("PS512", KeyKind::Rsa),
            ("ES256", KeyKind::P256),
            ("ES384", KeyKind::P384),
            ("EdDSA", KeyKind::Ed25519),
            ("HS384", KeyKind::Hmac),
        ] {
            assert_eq!(kind(alg), Some(expected), "{alg}");
        }
        for alg in ["none", "es256", "ES512", "EdDSA ", ""] {
            assert!(kind(alg).is_none(), "{alg}");
        }
    }

    #[test]
    fn an_existing_file_is_never_replaced() {
        let file: std::path::PathBuf =
            std::env::temp_dir().join(format!("jwtd-keys-{}.pem", std::process::id()));
        let _ = std::fs::remove_file(&file);
        write_new(&file, b"first", 0o600).unwrap();
        assert!(write_new(&file, b"second", 0o600).is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
        std::fs::remove_file(&file).unwrap();
    }
}
