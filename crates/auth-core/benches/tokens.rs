//! Criterion micro-benchmarks of the token work on jwtd's hot paths, per algorithm: minting
//! an access token (`/token/refresh`), minting a refresh/access pair as a rotation does,
//! checking (`/me`, `/token/verify`), verifying with the claims (`/token/refresh`) and
//! hashing a token for storage.

#![expect(
    clippy::unwrap_used,
    reason = "set-up with fixed inputs: a failure must abort the benchmark"
)]

use std::hint::black_box;

use auth_core::{
    Algorithm, FamilyId, Jti, Keys, RefreshSpec, TokenCodec, TokenHash, TokenKind, TokenSettings,
    UserId,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// A fixed clock: every token is minted and verified at this instant.
const NOW: i64 = 1_750_000_000;

/// A test key pair of `tests/fixtures/keys` (`NAME.key.pem`, `NAME.pub.pem`).
macro_rules! pair {
    ($name:literal) => {
        (
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/keys/",
                $name,
                ".key.pem"
            ))
            .as_slice(),
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/keys/",
                $name,
                ".pub.pem"
            ))
            .as_slice(),
        )
    };
}

fn codec(algorithm: Algorithm) -> TokenCodec {
    let (private, public) = match algorithm {
        Algorithm::ES256 => pair!("p256-a"),
        Algorithm::ES384 => pair!("p384-a"),
        Algorithm::EdDSA => pair!("ed25519-a"),
        _ => pair!("rsa-a"),
    };
    let keys = if algorithm.is_hmac() {
        Keys::hmac(
            algorithm,
            b"a benchmark signing key of 64 bytes, for HS256, HS384 and HS512",
        )
    } else {
        Keys::from_pem(algorithm, private, &[public])
    }
    .unwrap();
    TokenCodec::new(TokenSettings::default(), keys)
}

fn tokens(c: &mut Criterion) {
    // One algorithm, or all: `cargo bench -p auth-core --bench tokens -- ES256/`.
    for algorithm in Algorithm::ALL {
        algorithm_benches(c, algorithm);
    }
}

fn algorithm_benches(c: &mut Criterion, algorithm: Algorithm) {
    let codec = codec(algorithm);
    let jti = Jti::from_random_bytes([1; 16]);
    let family = FamilyId::from_random_bytes([2; 16]);
    let spec = RefreshSpec {
        jti: &jti,
        user: UserId(42),
        family: &family,
        iat: NOW,
        exp: NOW + 86_400,
    };
    let refresh = codec.mint_refresh(&spec).unwrap();
    // What `/token/refresh` mints its access token from: the presented token's claims.
    let refresh_claims = codec
        .verify(&refresh, Some(TokenKind::Refresh), NOW)
        .unwrap()
        .claims;
    let access = codec
        .mint_access(&refresh_claims, &Jti::from_random_bytes([3; 16]), NOW)
        .unwrap();

    let mut group = c.benchmark_group(algorithm.as_str());
    group.bench_function("mint_access", |b| {
        b.iter(|| {
            codec
                .mint_access(black_box(&refresh_claims), &jti, NOW)
                .unwrap()
        });
    });
    // What a login signs and hashes: the refresh token, its SHA-256 for storage, and the
    // access token derived from it.
    let successor = Jti::from_random_bytes([4; 16]);
    group.bench_function("mint_pair", |b| {
        b.iter(|| {
            let spec = RefreshSpec {
                jti: black_box(&successor),
                ..spec.clone()
            };
            let refresh = codec.mint_refresh(&spec).unwrap();
            let hash = TokenHash::of(&refresh);
            let access = codec.mint_access_for(&spec, &jti, NOW).unwrap();
            (refresh, hash, access)
        });
    });
    // What `/me` does with its bearer token, and `/token/verify` with either type.
    group.bench_function("check_access", |b| {
        b.iter(|| {
            codec
                .check(black_box(&access), Some(TokenKind::Access), NOW)
                .unwrap()
        });
    });
    group.bench_function("check_any", |b| {
        b.iter(|| codec.check(black_box(&refresh), None, NOW).unwrap());
    });
    group.bench_function("verify_access", |b| {
        b.iter(|| {
            codec
                .verify(black_box(&access), Some(TokenKind::Access), NOW)
                .unwrap()
        });
    });
    group.bench_function("verify_refresh", |b| {
        b.iter(|| {
            codec
                .verify(black_box(&refresh), Some(TokenKind::Refresh), NOW)
                .unwrap()
        });
    });
    group.bench_function("token_hash", |b| {
        b.iter(|| TokenHash::of(black_box(&refresh)));
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
