//! PEM key files read into what jsonwebtoken signs with, and into the public JWK that
//! verifies, names (`kid`) and is published. The keys are parsed by the RustCrypto crates
//! jsonwebtoken itself signs with; each must be of the kind the algorithm needs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;

use super::{Algorithm, KeyKind};

/// The smallest RSA modulus accepted (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

/// Why an HMAC algorithm takes no key file.
fn no_key_file(algorithm: Algorithm) -> String {
    format!("{algorithm} signs with a shared secret, not a key file")
}

fn text(pem: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(pem).map_err(|_| "is not PEM text".to_owned())
}

fn unfit(what: &str, algorithm: Algorithm, needed: &str) -> String {
    format!("is not a {what} {needed} key, which {algorithm} needs")
}

/// The signing key of a PKCS#8 PEM private key, and its public half as a JWK.
pub(super) fn private_key(algorithm: Algorithm, pem: &[u8]) -> Result<(EncodingKey, Jwk), String> {
    let text = text(pem)?;
    let what = "PKCS#8 (BEGIN PRIVATE KEY)";
    match algorithm.key_kind() {
        KeyKind::Hmac => Err(no_key_file(algorithm)),
        KeyKind::Rsa => {
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(text)
                .map_err(|_| unfit(what, algorithm, "RSA"))?;
            let public = rsa_jwk(algorithm, &key.to_public_key())?;
            let der = key
                .to_pkcs1_der()
                .map_err(|_| "cannot be re-encoded".to_owned())?;
            Ok((EncodingKey::from_rsa_der(der.as_bytes()), public))
        }
        KeyKind::P256 => {
            let key = p256::SecretKey::from_pkcs8_pem(text)
                .map_err(|_| unfit(what, algorithm, "P-256"))?;
            let point = key.public_key().to_encoded_point(false);
            let public = ec_jwk(algorithm, EllipticCurve::P256, point.x(), point.y())?;
            let der = key
                .to_pkcs8_der()
                .map_err(|_| "cannot be re-encoded".to_owned())?;
            Ok((EncodingKey::from_ec_der(der.as_bytes()), public))
        }
        KeyKind::P384 => {
            let key = p384::SecretKey::from_pkcs8_pem(text)
                .map_err(|_| unfit(what, algorithm, "P-384"))?;
            let point = key.public_key().to_encoded_point(false);
            let public = ec_jwk(algorithm, EllipticCurve::P384, point.x(), point.y())?;
            let der = key
                .to_pkcs8_der()
                .map_err(|_| "cannot be re-encoded".to_owned())?;
            Ok((EncodingKey::from_ec_der(der.as_bytes()), public))
        }
        KeyKind::Ed25519 => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(text)
                .map_err(|_| unfit(what, algorithm, "Ed25519"))?;
            let public = ed_jwk(algorithm, key.verifying_key().as_bytes());
            let der = key
                .to_pkcs8_der()
                .map_err(|_| "cannot be re-encoded".to_owned())?;
            Ok((EncodingKey::from_ed_der(der.as_bytes()), public))
        }
    }
}

/// The JWK of an SPKI PEM public key.
pub(super) fn public_key(algorithm: Algorithm, pem: &[u8]) -> Result<Jwk, String> {
    let text = text(pem)?;
    let what = "SPKI (BEGIN PUBLIC KEY)";
    match algorithm.key_kind() {
        KeyKind::Hmac => Err(no_key_file(algorithm)),
        KeyKind::Rsa => {
            let key = rsa::RsaPublicKey::from_public_key_pem(text)
                .map_err(|_| unfit(what, algorithm, "RSA"))?;
            rsa_jwk(algorithm, &key)
        }
        KeyKind::P256 => {
            let key = p256::PublicKey::from_public_key_pem(text)
                .map_err(|_| unfit(what, algorithm, "P-256"))?;
            let point = key.to_encoded_point(false);
            ec_jwk(algorithm, EllipticCurve::P256, point.x(), point.y())
        }
        KeyKind::P384 => {
            let key = p384::PublicKey::from_public_key_pem(text)
                .map_err(|_| unfit(what, algorithm, "P-384"))?;
            let point = key.to_encoded_point(false);
            ec_jwk(algorithm, EllipticCurve::P384, point.x(), point.y())
        }
        KeyKind::Ed25519 => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_pem(text)
                .map_err(|_| unfit(what, algorithm, "Ed25519"))?;
            Ok(ed_jwk(algorithm, key.as_bytes()))
        }
    }
}

/// Signs a probe with `signing` and verifies it with `verifying`: the last proof, before
/// any token is minted, that the pair works under `algorithm`.
pub(super) fn sign_and_verify(
    algorithm: Algorithm,
    signing: &EncodingKey,
    verifying: &DecodingKey,
) -> Result<(), String> {
    let probe = b"jwtd key check";
    let signature = jsonwebtoken::crypto::sign(probe, signing, algorithm.to_jwt())
        .map_err(|_| format!("cannot sign with {algorithm}"))?;
    match jsonwebtoken::crypto::verify(&signature, probe, verifying, algorithm.to_jwt()) {
        Ok(true) => Ok(()),
        _ => Err(format!(
            "its signatures do not verify with its public key under {algorithm}"
        )),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWK with `use: "sig"`, `alg`, and `kid` = its RFC 7638 SHA-256 thumbprint.
fn named(algorithm: Algorithm, parameters: AlgorithmParameters) -> Jwk {
    let key_algorithm = match algorithm {
        Algorithm::RS256 => Some(KeyAlgorithm::RS256),
        Algorithm::RS384 => Some(KeyAlgorithm::RS384),
        Algorithm::RS512 => Some(KeyAlgorithm::RS512),
        Algorithm::PS256 => Some(KeyAlgorithm::PS256),
        Algorithm::PS384 => Some(KeyAlgorithm::PS384),
        Algorithm::PS512 => Some(KeyAlgorithm::PS512),
        Algorithm::ES256 => Some(KeyAlgorithm::ES256),
        Algorithm::ES384 => Some(KeyAlgorithm::ES384),
        Algorithm::EdDSA => Some(KeyAlgorithm::EdDSA),
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
    };
    let mut jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm,
            ..CommonParameters::default()
        },
        algorithm: parameters,
    };
    jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256));
    jwk
}

fn rsa_jwk(algorithm: Algorithm, key: &rsa::RsaPublicKey) -> Result<Jwk, String> {
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "is an RSA key of {bits} bits; {algorithm} needs {MIN_RSA_BITS} at least"
        ));
    }
    Ok(named(
        algorithm,
        AlgorithmParameters::RSA(RSAKeyParameters {
            key_type: RSAKeyType::RSA,
            n: b64(&key.n().to_bytes_be()),
            e: b64(&key.e().to_bytes_be()),
        }),
    ))
}

fn ec_jwk(
    algorithm: Algorithm,
    curve: EllipticCurve,
    x: Option<&impl AsRef<[u8]>>,
    y: Option<&impl AsRef<[u8]>>,
) -> Result<Jwk, String> {
    let (Some(x), Some(y)) = (x, y) else {
        return Err("is the point at infinity".to_owned());
    };
    Ok(named(
        algorithm,
        AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
            key_type: EllipticCurveKeyType::EC,
            curve,
            x: b64(x.as_ref()),
            y: b64(y.as_ref()),
        }),
    ))
}

fn ed_jwk(algorithm: Algorithm, x: &[u8]) -> Jwk {
    named(
        algorithm,
        AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: b64(x),
        }),
    )
}
