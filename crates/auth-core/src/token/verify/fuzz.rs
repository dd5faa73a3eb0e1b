//! Property tests of token decoding: whatever a client sends as a token (any bytes, a token
//! with claims of any shape, a valid token changed anywhere), checking it never panics, the
//! own-token path answers exactly as the library path does, and nothing verifies that
//! jsonwebtoken's own `decode` refuses. `make test` runs a few cases of each; `make fuzz`
//! many (`PROPTEST_CASES`).

use jsonwebtoken::{DecodingKey, Validation};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::corpus::{HEADER, KEY, NOW, access_payload, codec, signed};
use crate::{TokenCodec, TokenKind};

/// Cases per property: `PROPTEST_CASES`, else a few for every `make test`.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What `check` answers, comparable across codecs.
fn answer(codec: &TokenCodec, token: &[u8], expected: Option<TokenKind>) -> String {
    format!(
        "{:?}",
        codec
            .check(token, expected, NOW)
            .map(|c| (c.kind, c.jti, c.exp, c.user, c.family))
    )
}

/// Checks `token` every way: both paths agree for each expected type, `verify` agrees with
/// `check`, and an accepted token is one the library decodes with its plain validation.
fn assert_consistent(token: &[u8]) {
    let own = codec(|_| {});
    let library = own.clone().without_own_path();
    for expected in [None, Some(TokenKind::Access), Some(TokenKind::Refresh)] {
        let checked = answer(&own, token, expected);
        assert_eq!(checked, answer(&library, token, expected));
        let text = String::from_utf8_lossy(token);
        if text.as_bytes() == token {
            let verified = own.verify(&text, expected, NOW);
            assert_eq!(
                verified.as_ref().map(|_| ()).map_err(|error| *error),
                own.check(token, expected, NOW).map(|_| ()),
            );
            if verified.is_ok() {
                let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
                validation.validate_exp = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                jsonwebtoken::decode::<Map<String, Value>>(
                    text.as_bytes(),
                    &DecodingKey::from_secret(KEY),
                    &validation,
                )
                .unwrap_or_else(|error| panic!("accepted, but the library says {error}"));
            }
        }
    }
}

/// A JSON value of any shape a claim could take.
fn claim_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (NOW - 10..NOW + 1_000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("access".to_owned()),
            Just("refresh".to_owned()),
            Just("1".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::from),
        proptest::collection::vec(any::<u8>().prop_map(Value::from), 0..3).prop_map(Value::Array),
    ]
}

/// A payload of claims jwtd reads (and others), each of any shape, or none.
fn payload() -> impl Strategy<Value = String> {
    let names = prop_oneof![
        Just("exp"),
        Just("iat"),
        Just("nbf"),
        Just("jti"),
        Just("token_type"),
        Just("user_id"),
        Just("sid"),
        Just("sub"),
        Just("aud"),
        Just("iss"),
    ];
    proptest::collection::vec((names, claim_value()), 0..10).prop_map(|claims| {
        let mut map = Map::new();
        for (name, value) in claims {
            map.insert(name.to_owned(), value);
        }
        Value::Object(map).to_string()
    })
}

/// One change to a token's bytes.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        Just(b'.'),
        Just(b'='),
        Just(b'A'),
        Just(b'-'),
        Just(b'_'),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Mutation::Replace(at, byte)),
        (any::<usize>(), byte).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(token: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    for mutation in mutations {
        let len = bytes.len().max(1);
        match *mutation {
            Mutation::Replace(at, byte) if !bytes.is_empty() => bytes[at % len] = byte,
            Mutation::Insert(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
            Mutation::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            Mutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_refused_alike_by_both_paths(token in proptest::collection::vec(any::<u8>(), 0..300)) {
        assert_consistent(&token);
    }

    #[test]
    fn token_shaped_text_is_refused_alike_by_both_paths(token in "[A-Za-z0-9_=.-]{0,200}") {
        assert_consistent(token.as_bytes());
    }

    #[test]
    fn signed_payloads_of_any_shape_are_judged_alike_by_both_paths(payload in payload()) {
        assert_consistent(signed(HEADER, &payload, false).as_bytes());
    }

    #[test]
    fn a_changed_valid_token_is_judged_alike_and_never_beyond_the_library(
        refresh in any::<bool>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let payload = if refresh {
            access_payload("").replace(r#""token_type":"access""#, r#""token_type":"refresh""#)
        } else {
            access_payload("")
        };
        let token = signed(HEADER, &payload, false);
        assert_consistent(&mutate(&token, &mutations));
    }
}
