//! The crafted-token corpus: tokens of every shape a client could send (headers, claims,
//! payloads and framing jwtd does not write), each verified by codecs of several settings,
//! for each expected type and at two instants. Every answer must be the one recorded in
//! `corpus.expected`: the answers of the hand-written parser jwtd had before it verified on
//! jsonwebtoken, which were themselves checked against jsonwebtoken's `decode`. The one
//! intended change: a `crit` header is now refused (RFC 7515 §4.1.11).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde_json::{Map, Value};

use crate::{Algorithm, FamilyId, Keys, TokenCodec, TokenKind, TokenSettings};

pub(super) const KEY: &[u8] = b"claims-test-key";
pub(super) const NOW: i64 = 1_800_000_000;

/// The recorded answers, one line per codec and token.
const EXPECTED: &str = include_str!("corpus.expected");

pub(super) fn codec(configure: impl FnOnce(&mut TokenSettings)) -> TokenCodec {
    let mut settings = TokenSettings::default();
    configure(&mut settings);
    TokenCodec::new(settings, Keys::hmac(Algorithm::HS256, KEY).unwrap())
}

pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and payload, signed with `key` under `algorithm`.
pub(super) fn signed_with(
    header: &str,
    payload: impl AsRef<[u8]>,
    algorithm: jsonwebtoken::Algorithm,
    key: &[u8],
) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_ref()));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(key),
        algorithm,
    )
    .unwrap();
    format!("{message}.{signature}")
}

/// `message` and its HS256 signature with `KEY`, whatever the message's shape.
fn sign_message(message: String) -> String {
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(KEY),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

/// A token with exactly this header and payload text, signed with HS256 (or HS512).
pub(super) fn signed(header: &str, payload: &str, hs512: bool) -> String {
    let algorithm = if hs512 {
        jsonwebtoken::Algorithm::HS512
    } else {
        jsonwebtoken::Algorithm::HS256
    };
    signed_with(header, payload, algorithm, KEY)
}

pub(super) const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

pub(super) fn access_payload(extra: &str) -> String {
    let exp = NOW + 300;
    format!(
        r#"{{"token_type":"access","exp":{exp},"iat":{NOW},"jti":"abc","user_id":"1","sid":"fam"{extra}}}"#
    )
}

fn tokens() -> Vec<String> {
    let mut tokens = Vec::new();
    let headers = [
        HEADER,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","kid":"k1","custom":"x"}"#,
        r#"{"alg":"HS256","kid":1}"#,
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"HS512","typ":"JWT"}"#,
        r#"{"alg":"RS256","typ":"JWT"}"#,
        r#"{"typ":"JWT"}"#,
        r#"{"typ":"JWT","alg":"HS256","alg":"HS256"}"#,
        r#"not json"#,
        r#"[]"#,
    ];
    for header in headers {
        tokens.push(signed(header, &access_payload(""), false));
    }
    tokens.push(signed(
        r#"{"alg":"HS512","typ":"JWT"}"#,
        &access_payload(""),
        true,
    ));
    let extras = [
        "",
        r#","exp":1"#,
        r#","exp":null"#,
        r#","nbf":1,"nbf":2"#,
        r#","sub":"a","sub":"b""#,
        r#","iss":"a","iss":"a""#,
        r#","aud":"a","aud":"a""#,
        r#","jti":"again""#,
        r#","token_type":"refresh""#,
        r#","user_id":"2""#,
        r#","sid":"other""#,
        r#","sub":"someone""#,
        r#","sub":5"#,
        r#","sub":[1]"#,
        r#","sub":{}"#,
        r#","sub":[]"#,
        r#","sub":true"#,
        r#","sub":null"#,
        r#","nbf":[]"#,
        r#","nbf":[1]"#,
        r#","nbf":{}"#,
        r#","nbf":{"a":1}"#,
        r#","iat":[1]"#,
        r#","iat":{}"#,
        r#","jti":[1]"#,
        r#","jti":{"a":1}"#,
        r#","aud":{"a":1}"#,
        r#","iss":[["x"]]"#,
        r#","nbf":1800000001"#,
        r#","nbf":"soon""#,
        r#","nbf":null"#,
        r#","unknown":1e400"#,
        r#","unknown":-1e400"#,
        r#","unknown":123456789012345678901234567890"#,
        r#","unknown":"\ud800""#,
        r#","unknown":"\u00e9\n""#,
        r#","unknown":[[[[{"a":[1,2,{"b":null}]}]]]]"#,
        r#","unknown":true,"other":false"#,
        r#","\u0065xp":1"#,
        r#","aud":"jwtd""#,
        r#","aud":["x","jwtd"]"#,
        r#","aud":["x"]"#,
        r#","aud":[]"#,
        r#","aud":["jwtd",1]"#,
        r#","aud":5"#,
        r#","aud":null"#,
        r#","aud":"other""#,
        r#","iss":"jwtd-issuer""#,
        r#","iss":["jwtd-issuer"]"#,
        r#","iss":"other""#,
        r#","iss":null"#,
        r#","aud":"jwtd","iss":"jwtd-issuer""#,
        r#","id":"custom-id","typ":"access""#,
        r#","id":7,"typ":"access""#,
    ];
    for extra in extras {
        tokens.push(signed(HEADER, &access_payload(extra), false));
    }
    let payloads = [
        r#"{}"#.to_owned(),
        r#"[]"#.to_owned(),
        r#""claims""#.to_owned(),
        r#"null"#.to_owned(),
        format!("{} trailing", access_payload("")),
        format!("{}  \n", access_payload("")),
        r#"{"token_type":"access","jti":"a","user_id":"1"}"#.to_owned(),
        format!(r#"{{"token_type":"access","exp":"{NOW}","jti":"a"}}"#),
        format!(r#"{{"token_type":"access","exp":{NOW},"jti":"a"}}"#),
        format!(r#"{{"token_type":"access","exp":{}.9,"jti":"a"}}"#, NOW + 1),
        r#"{"token_type":"access","exp":-5,"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":1e400,"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":[],"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":[1],"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":{},"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":{"a":[]},"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":true,"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"sub":"x","sub":5}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"iat":"x","jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"iat":1e300,"jti":"a"}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":null}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":5}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300}"#.to_owned(),
        r#"{"exp":1e300,"jti":"a"}"#.to_owned(),
        r#"{"token_type":null,"exp":1e300,"jti":"a"}"#.to_owned(),
        r#"{"token_type":5,"exp":1e300,"jti":"a"}"#.to_owned(),
        r#"{"token_type":"refresh","exp":1e300,"jti":"a","user_id":1}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":""}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":"x1"}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":1.5}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":true}"#.to_owned(),
        r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":null,"sid":5}"#.to_owned(),
        format!("{}{}", "[".repeat(200), "]".repeat(200)),
        format!(
            r#"{{"token_type":"access","exp":1e300,"jti":"a","deep":{}{}}}"#,
            "[".repeat(130),
            "]".repeat(130)
        ),
    ];
    for payload in &payloads {
        tokens.push(signed(HEADER, payload, false));
    }
    // Tampered or malformed framing.
    let good = signed(HEADER, &access_payload(""), false);
    let (message, signature) = good.rsplit_once('.').unwrap();
    tokens.extend([
        format!("{message}.{}", &signature[1..]),
        format!("{message}.{signature}="),
        format!("{message}.A{}", &signature[1..]),
        format!("{message}."),
        format!("{message}.{signature}.{signature}"),
        format!("x.{good}"),
        message.to_owned(),
        String::new(),
        "..".to_owned(),
        "garbage".to_owned(),
        format!("{good} "),
        format!("{}{good}", ""),
    ]);
    // Correctly signed messages whose segments are not three: jwtd's own header followed
    // by more dots.
    let sign = sign_message;
    let header = b64(HEADER.as_bytes());
    let payload = b64(access_payload("").as_bytes());
    tokens.extend([
        sign(format!("{header}.{payload}.{payload}")),
        sign(format!("{header}.{header}.{payload}")),
        sign(format!("{header}..{payload}")),
        sign(format!("{header}.{payload}.")),
        sign(format!("{header}.")),
        sign(header.clone()),
        sign(format!("{header}{payload}")),
    ]);
    tokens
}

fn codecs() -> Vec<TokenCodec> {
    vec![
        codec(|_| {}),
        codec(|settings| {
            settings.audience = Some("jwtd".to_owned());
            settings.issuer = Some("jwtd-issuer".to_owned());
        }),
        codec(|settings| {
            settings.user_id_claim = "sub".to_owned();
            settings.jti_claim = "id".to_owned();
            settings.token_type_claim = "typ".to_owned();
            settings.leeway = Duration::from_secs(5);
        }),
        codec(|settings| {
            settings.user_id_claim = "sid".to_owned();
            settings.jti_claim = "sid".to_owned();
            settings.token_type_claim = "exp".to_owned();
        }),
    ]
}

/// An answer as `corpus.expected` writes it.
fn answer(codec: &TokenCodec, token: &str, expected: Option<TokenKind>, now: i64) -> String {
    let verified = codec.verify(token, expected, now);
    let checked = codec.check(token, expected, now);
    assert_eq!(
        format!(
            "{:?}",
            checked
                .as_ref()
                .map(|c| (c.kind, &c.jti, c.exp, &c.user, &c.family))
        ),
        format!(
            "{:?}",
            verified
                .as_ref()
                .map(|v| (v.kind, &v.jti, v.exp, &v.user, &v.family))
        ),
        "check and verify differ on {token:?}"
    );
    match verified {
        Err(error) => format!("{error:?}"),
        Ok(verified) => {
            // The claims are the payload's, in its order.
            let payload = token.split('.').nth(1).unwrap();
            let decoded: Map<String, Value> =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            assert_eq!(
                serde_json::to_string(&verified.claims).unwrap(),
                serde_json::to_string(&decoded).unwrap()
            );
            format!(
                "Ok {:?} {} {} {:?} {:?}",
                verified.kind,
                verified.jti.as_str(),
                verified.exp,
                verified.user,
                verified.family.as_ref().map(FamilyId::as_str),
            )
        }
    }
}

/// Whether the token's header (when it has one jwtd can read) contains `text`.
fn header_names(token: &str, text: &str) -> bool {
    token
        .split('.')
        .next()
        .and_then(|header| URL_SAFE_NO_PAD.decode(header).ok())
        .is_some_and(|header| String::from_utf8_lossy(&header).contains(text))
}

/// Whether the token's header names `crit`.
fn names_crit(token: &str) -> bool {
    header_names(token, "\"crit\"")
}

/// Whether the token's header names the `kid` `k1`, which no codec of the corpus has.
fn names_unknown_kid(token: &str) -> bool {
    header_names(token, "\"kid\":\"k1\"")
}

#[test]
fn every_crafted_token_gets_its_recorded_answer() {
    let tokens = tokens();
    let codecs = codecs();
    let mut lines = EXPECTED.lines().filter(|line| !line.starts_with('#'));
    let mut accepted = 0;
    let mut crit = 0;
    let mut unknown_kid = 0;
    for (c, codec) in codecs.iter().enumerate() {
        for (t, token) in tokens.iter().enumerate() {
            let line = lines.next().unwrap();
            let (case, recorded) = line.split_once(": ").unwrap();
            assert_eq!(case, format!("{c} {t}"), "corpus.expected is out of step");
            let mut recorded: Vec<&str> = recorded.split(" | ").collect();
            if names_crit(token) {
                // Accepted before; refused now, whatever else the token says.
                crit += recorded
                    .iter()
                    .filter(|answer| answer.starts_with("Ok"))
                    .count();
                recorded = vec!["Invalid"; 6];
            } else if names_unknown_kid(token) {
                // Accepted before, when jwtd's one key had no `kid`; refused now.
                unknown_kid += recorded
                    .iter()
                    .filter(|answer| answer.starts_with("Ok"))
                    .count();
                recorded = vec!["Invalid"; 6];
            }
            let mut answers = Vec::new();
            for expected in [None, Some(TokenKind::Access), Some(TokenKind::Refresh)] {
                for now in [NOW, NOW + 400] {
                    answers.push(answer(codec, token, expected, now));
                }
            }
            accepted += answers
                .iter()
                .filter(|answer| answer.starts_with("Ok"))
                .count();
            assert_eq!(
                answers,
                recorded,
                "codec {c} ({:?}), token {t}: {token:?}",
                codec.settings()
            );
        }
    }
    assert_eq!(
        lines.next(),
        None,
        "corpus.expected has answers for more tokens"
    );
    assert!(
        accepted > 50,
        "the corpus must exercise accepted tokens too"
    );
    assert!(
        crit > 0,
        "the corpus holds a crit header jwtd accepted before"
    );
    assert!(
        unknown_kid > 0,
        "the corpus holds an unknown kid jwtd accepted before"
    );
}

/// The own-token path of `check` (`own.rs`) gives the library's answer for every token,
/// under every codec, expected type and instant, including payloads the library refuses
/// for naming a claim it checks twice.
#[test]
fn the_own_token_path_differs_from_the_library_nowhere() {
    let mut tokens = tokens();
    for payload in [
        access_payload(r#","exp":1"#),
        access_payload(r#","nbf":1,"nbf":2"#),
        access_payload(r#","sub":"1","s\u0075b":"2""#),
        access_payload(r#","aud":"jwtd","aud":"jwtd""#),
        access_payload(r#","iss":"jwtd-issuer","iss":"x""#),
    ] {
        tokens.push(signed(HEADER, &payload, false));
    }
    // Each token with simplejwt's header again under the header jwtd writes (its `kid`
    // added), signed anew: the ones the own path takes.
    let codecs = codecs();
    let own_header = codecs[0]
        .mint_access(&Map::new(), &crate::Jti::new("j"), NOW)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let plain = format!("{}.", b64(HEADER.as_bytes()));
    let renamed: Vec<String> = tokens
        .iter()
        .filter_map(|token| token.strip_prefix(&plain))
        .map(|rest| {
            sign_message(match rest.rsplit_once('.') {
                Some((message, _)) => format!("{own_header}.{message}"),
                None => format!("{own_header}.{rest}"),
            })
        })
        .collect();
    tokens.extend(renamed);
    let on_own_path = tokens
        .iter()
        .filter(|token| token.starts_with(&format!("{own_header}.")))
        .count();
    assert!(
        on_own_path > 20,
        "only {on_own_path} tokens reach the own path"
    );
    assert!(
        codecs[0].has_own_path(),
        "the default settings take the own path"
    );
    for codec in codecs {
        let library = codec.clone().without_own_path();
        for token in &tokens {
            for expected in [None, Some(TokenKind::Access), Some(TokenKind::Refresh)] {
                for now in [NOW, NOW + 3_600] {
                    let answer = |codec: &TokenCodec| {
                        format!(
                            "{:?}",
                            codec
                                .check(token, expected, now)
                                .map(|c| (c.kind, c.jti, c.exp, c.user, c.family))
                        )
                    };
                    assert_eq!(answer(&codec), answer(&library), "{token}");
                }
            }
        }
    }
}
