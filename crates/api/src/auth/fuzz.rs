//! Property test of the `Authorization` header parser against a model of what DRF does with
//! the header: Python's `bytes.split()`, then the scheme word and exactly one token. `make
//! test` runs a few cases; `make fuzz` many (`PROPTEST_CASES`).

use proptest::prelude::*;

use super::{Credentials, parse_header};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `JWTAuthentication.get_raw_token` on `header.split()`, as `None`, `Malformed` or the
/// token's bytes.
fn drf(header: &[u8], schemes: &[String]) -> Result<Option<Vec<u8>>, ()> {
    let parts: Vec<&[u8]> = header
        .split(|byte| b" \t\n\r\x0b\x0c".contains(byte))
        .filter(|part| !part.is_empty())
        .collect();
    match parts.as_slice() {
        [] => Ok(None),
        [scheme, ..] if !schemes.iter().any(|wanted| wanted.as_bytes() == *scheme) => Ok(None),
        [_, token] => Ok(Some(token.to_vec())),
        _ => Err(()),
    }
}

/// Header values as HTTP allows them (visible ASCII, space, tab and bytes above 0x7f), made
/// mostly of scheme words, separators and token characters.
fn header() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"Bearer".to_vec()),
        Just(b"JWT".to_vec()),
        Just(b"bearer".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"  ".to_vec()),
        Just(b"eyJ.a-b_c.d".to_vec()),
        prop_oneof![Just(b'\t'), 0x20_u8..=0x7e, 0x80_u8..=0xff].prop_map(|byte| vec![byte]),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_header_parser_answers_as_drf_splits(header in header()) {
        let schemes = vec!["Bearer".to_owned(), "JWT".to_owned()];
        let ours = match parse_header(&header, &schemes) {
            Credentials::None => Ok(None),
            Credentials::Token(token) => Ok(Some(token.to_vec())),
            Credentials::Malformed => Err(()),
        };
        prop_assert_eq!(ours, drf(&header, &schemes));
    }
}
