//! The signing key: configured, or generated once and kept in a file readable only by
//! its owner.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

/// Bytes of randomness in a generated key (hex-encoded in the file).
const GENERATED_KEY_BYTES: usize = 64;

/// The configured key, or the one in `file`, creating it on first use.
///
/// # Errors
/// When the file cannot be read or created, or holds no key.
pub fn load_or_create(
    configured: Option<&SecretString>,
    file: &Path,
) -> anyhow::Result<SecretString> {
    if let Some(key) = configured {
        if key.expose_secret().len() < 32 {
            tracing::warn!(
                "JWTD_SIGNING_KEY is shorter than 32 bytes; HMAC keys should be at least as long as the hash"
            );
        }
        return Ok(key.clone());
    }
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
        Err(error) if error.kind() == ErrorKind::AlreadyExists => read(file),
        Err(error) => Err(error).with_context(|| format!("cannot create {}", file.display())),
    }
}

fn read(file: &Path) -> anyhow::Result<SecretString> {
    let metadata = fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %file.display(), "the signing key file is readable by others; chmod 600 it");
    }
    let text =
        fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let key = text.trim().to_owned();
    if key.is_empty() {
        bail!("the signing key file {} is empty", file.display());
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
        let first = load_or_create(None, &file).unwrap();
        let second = load_or_create(None, &file).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), GENERATED_KEY_BYTES * 2);
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }
}
