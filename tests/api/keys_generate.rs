//! `jwtd keys generate`: each key pair the binary writes parses with jsonwebtoken, and a
//! token signed with the private key verifies with the public one (and not with another
//! pair's).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use crate::cli::Site;

fn mode(file: &Path) -> u32 {
    std::fs::metadata(file).unwrap().permissions().mode() & 0o777
}

fn keys(alg: Algorithm, private: &[u8], public: &[u8]) -> (EncodingKey, DecodingKey) {
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => (
            EncodingKey::from_ec_pem(private).unwrap(),
            DecodingKey::from_ec_pem(public).unwrap(),
        ),
        Algorithm::EdDSA => (
            EncodingKey::from_ed_pem(private).unwrap(),
            DecodingKey::from_ed_pem(public).unwrap(),
        ),
        _ => (
            EncodingKey::from_rsa_pem(private).unwrap(),
            DecodingKey::from_rsa_pem(public).unwrap(),
        ),
    }
}

fn sign_and_verify(alg: Algorithm, encoding: &EncodingKey, decoding: &DecodingKey) -> bool {
    let claims = serde_json::json!({ "sub": "1", "exp": 4_000_000_000_u64 });
    let token = jsonwebtoken::encode(&Header::new(alg), &claims, encoding).unwrap();
    jsonwebtoken::decode::<serde_json::Value>(&token, decoding, &Validation::new(alg)).is_ok()
}

#[test]
fn each_generated_pair_signs_and_verifies_through_jsonwebtoken() {
    let site = Site::new(&[]);
    let out = site.dir.to_str().unwrap();
    let algorithms = [
        ("RS256", Algorithm::RS256),
        ("PS384", Algorithm::PS384),
        ("ES256", Algorithm::ES256),
        ("ES384", Algorithm::ES384),
        ("EdDSA", Algorithm::EdDSA),
    ];
    let mut pairs = Vec::new();
    for (name, alg) in algorithms {
        let stdout = site.jwtd_ok(
            &[
                "keys",
                "generate",
                "--alg",
                name,
                "--out",
                out,
                "--name",
                name,
                "--rsa-bits",
                "2048",
            ],
            "",
        );
        let private = site.dir.join(format!("{name}.key.pem"));
        let public = site.dir.join(format!("{name}.pub.pem"));
        assert!(stdout.contains(private.to_str().unwrap()), "{stdout}");
        assert_eq!(mode(&private), 0o600, "{name}");
        let private_pem = std::fs::read(&private).unwrap();
        let public_pem = std::fs::read(&public).unwrap();
        assert!(
            private_pem.starts_with(b"-----BEGIN PRIVATE KEY-----\n"),
            "{name}"
        );
        assert!(
            public_pem.starts_with(b"-----BEGIN PUBLIC KEY-----\n"),
            "{name}"
        );
        let (encoding, decoding) = keys(alg, &private_pem, &public_pem);
        assert!(sign_and_verify(alg, &encoding, &decoding), "{name}");
        pairs.push((alg, encoding, decoding));
    }
    // Each public key verifies its own private key's tokens only.
    let (alg, encoding, _) = &pairs[2];
    assert_eq!(*alg, Algorithm::ES256);
    let es256_again = site.jwtd_ok(
        &[
            "keys", "generate", "--alg", "ES256", "--out", out, "--name", "ES256b",
        ],
        "",
    );
    assert!(es256_again.contains("ES256b.key.pem"));
    let (_, second) = keys(
        Algorithm::ES256,
        &std::fs::read(site.dir.join("ES256b.key.pem")).unwrap(),
        &std::fs::read(site.dir.join("ES256b.pub.pem")).unwrap(),
    );
    assert!(!sign_and_verify(Algorithm::ES256, encoding, &second));
}

#[test]
fn hmac_secrets_are_private_and_nothing_is_ever_overwritten() {
    let site = Site::new(&[]);
    let out = site.dir.to_str().unwrap();
    site.jwtd_ok(
        &[
            "keys", "generate", "--alg", "HS256", "--out", out, "--name", "hmac",
        ],
        "",
    );
    let secret_file = site.dir.join("hmac.key");
    assert_eq!(mode(&secret_file), 0o600);
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert_eq!(secret.len(), 128, "64 bytes, hex");
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));

    let again = site.jwtd(
        &[
            "keys", "generate", "--alg", "HS512", "--out", out, "--name", "hmac",
        ],
        "",
    );
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);

    site.jwtd_ok(
        &[
            "keys", "generate", "--alg", "EdDSA", "--out", out, "--name", "ed",
        ],
        "",
    );
    let private = std::fs::read(site.dir.join("ed.key.pem")).unwrap();
    let refused = site.jwtd(
        &[
            "keys", "generate", "--alg", "EdDSA", "--out", out, "--name", "ed",
        ],
        "",
    );
    assert!(!refused.status.success());
    assert_eq!(std::fs::read(site.dir.join("ed.key.pem")).unwrap(), private);

    for args in [
        &["keys", "generate", "--alg", "none", "--out", out][..],
        &[
            "keys",
            "generate",
            "--alg",
            "RS256",
            "--out",
            out,
            "--rsa-bits",
            "1024",
        ][..],
    ] {
        let output = site.jwtd(args, "");
        assert!(!output.status.success(), "{args:?}");
    }
}
