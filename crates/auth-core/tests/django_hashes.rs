//! Django's own hashes (tests/fixtures/django/vectors.json, made by Django itself; see the
//! README there) verify with jwtd's hasher, wrong passwords do not, and each one is marked
//! for replacement by argon2id.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed step must fail the test loudly"
)]

use auth_core::{HashScheme, PasswordHasher, stored_hash_scheme};
use serde_json::Value;

const VECTORS: &str = include_str!("../../../tests/fixtures/django/vectors.json");

struct Vector {
    name: String,
    password: String,
    encoded: String,
}

fn vectors() -> Vec<Vector> {
    let file: Value = serde_json::from_str(VECTORS).unwrap();
    file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vector| Vector {
            name: vector["name"].as_str().unwrap().to_owned(),
            password: vector["password"].as_str().unwrap().to_owned(),
            encoded: vector["encoded"].as_str().unwrap().to_owned(),
        })
        .collect()
}

fn cheap() -> PasswordHasher {
    PasswordHasher::new(64, 1, 1, [7; 16]).unwrap()
}

#[test]
fn every_django_vector_verifies_and_a_wrong_password_does_not() {
    let hasher = cheap();
    let mut memory = hasher.memory();
    let vectors = vectors();
    assert_eq!(vectors.len(), 15);
    for vector in &vectors {
        assert!(
            hasher.verify_with(&vector.password, Some(&vector.encoded), &mut memory),
            "{}",
            vector.name
        );
        let mut wrong = vec![format!("{}!", vector.password)];
        // Django's default costs take a second each in a debug build: one wrong password.
        if !vector.name.contains("default") {
            wrong.extend([vector.password.to_uppercase(), String::new()]);
        }
        for wrong in wrong {
            assert!(
                !hasher.verify_with(&wrong, Some(&vector.encoded), &mut memory),
                "{}: {wrong:?}",
                vector.name
            );
        }
    }
}

#[test]
fn django_vectors_name_their_scheme_and_all_need_a_rehash() {
    let hasher = cheap();
    for vector in vectors() {
        let expected = match vector.encoded.split('$').next().unwrap() {
            "pbkdf2_sha256" => HashScheme::DjangoPbkdf2Sha256,
            "argon2" => HashScheme::DjangoArgon2,
            "bcrypt_sha256" => HashScheme::DjangoBcryptSha256,
            "bcrypt" => HashScheme::DjangoBcrypt,
            other => panic!("unexpected scheme {other}"),
        };
        assert_eq!(
            stored_hash_scheme(&vector.encoded),
            Ok(expected),
            "{}",
            vector.name
        );
        // Even Django's argon2id with jwtd's own cost: jwtd stores bare PHC strings.
        assert!(hasher.needs_rehash(&vector.encoded), "{}", vector.name);
    }
}

#[test]
fn bcrypt_sha256_counts_every_byte_of_a_long_password() {
    let hasher = cheap();
    let vector = vectors()
        .into_iter()
        .find(|vector| vector.name == "bcrypt_sha256 cheap long")
        .unwrap();
    assert!(vector.password.len() > 72);
    // Plain bcrypt would accept any password with the same first 72 bytes.
    let same_start = format!("{}different ending", &vector.password[..72]);
    assert!(!hasher.verify(&same_start, Some(&vector.encoded)));
    assert!(hasher.verify(&vector.password, Some(&vector.encoded)));
}

#[test]
fn a_rehashed_password_is_jwtd_argon2id_and_needs_no_further_rehash() {
    let hasher = cheap();
    for vector in vectors()
        .iter()
        .filter(|vector| vector.name.contains("cheap"))
    {
        let rehashed = hasher.hash(&vector.password, [9; 16]).unwrap();
        assert_eq!(stored_hash_scheme(&rehashed), Ok(HashScheme::Argon2));
        assert!(!hasher.needs_rehash(&rehashed), "{}", vector.name);
        assert!(hasher.verify(&vector.password, Some(&rehashed)));
    }
}

#[test]
fn argon2_hashes_of_another_cost_or_variant_need_a_rehash() {
    let hasher = cheap();
    let other = PasswordHasher::new(128, 1, 1, [7; 16]).unwrap();
    let other_cost = other.hash("pw", [1; 16]).unwrap();
    assert!(hasher.needs_rehash(&other_cost));
    assert!(!other.needs_rehash(&other_cost));
    for stored in [
        // argon2i, argon2d, version 1.0, a 16-byte output: all verify, none is current.
        "$argon2i$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2d$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=16$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=64,t=1,p=1$BQUFBQUFBQUFBQUFBQUFBQ$AAAAAAAAAAAAAAAAAAAAAA",
        "not a hash",
    ] {
        assert!(hasher.needs_rehash(stored), "{stored}");
    }
}
