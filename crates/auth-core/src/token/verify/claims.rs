//! The claims a check reads, found by name: in the whole claim map (`verify`, which hands
//! every claim on), or, for `check` under simplejwt's default claim names, in the few claims
//! it reads, kept while the payload is parsed.
//!
//! Why the second form: `/me` and `/token/verify` are the hottest paths, and building the
//! whole map (a key and a value allocated per claim, and the map itself) was the largest
//! part of a check that jwtd controls, once jsonwebtoken had verified the JWS (issue 14's
//! `make bench`: verify at 0.72–0.73× of `/healthz` against the 0.75× target). Both forms
//! give every claim the same `serde_json::Value`, so the rules cannot tell them apart; the
//! crafted-token corpus runs through both.

use std::fmt;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::{Map, Value};

/// Looks a claim up by name.
pub(super) trait Claims {
    /// The claim called `name`, if the token has it.
    fn get(&self, name: &str) -> Option<&Value>;
}

impl Claims for Map<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        Map::get(self, name)
    }
}

/// The names `check` reads under simplejwt's default settings (`jti`, `token_type`,
/// `user_id`), with the registered claims it checks and the session claim.
const READ: [&str; 8] = [
    "exp",
    "iat",
    "nbf",
    "sub",
    "jti",
    "token_type",
    "user_id",
    "sid",
];

/// The claims jsonwebtoken's own checks read. Its `decode` refuses a payload naming one of
/// them twice, so reading claims by hand must too (see `own.rs`).
const UNIQUE: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];

/// The claims jsonwebtoken parses as a number (`exp`, `nbf`) or a string (`sub`).
const SCALAR: [&str; 3] = ["exp", "nbf", "sub"];

/// The claims of [`READ`] that a payload holds; every other claim is parsed and dropped. As
/// with a map, a claim given twice keeps its last value.
#[derive(Debug, Default)]
pub(super) struct ReadClaims([Option<Value>; READ.len()]);

impl Claims for ReadClaims {
    fn get(&self, name: &str) -> Option<&Value> {
        let slot = READ.iter().position(|read| *read == name)?;
        self.0[slot].as_ref()
    }
}

impl<'de> Deserialize<'de> for ReadClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ReadVisitor)
    }
}

struct ReadVisitor;

impl<'de> Visitor<'de> for ReadVisitor {
    type Value = ReadClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReadClaims, A::Error> {
        let mut claims = ReadClaims::default();
        let mut seen = [false; UNIQUE.len()];
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if let Some(unique) = UNIQUE.iter().position(|claim| *claim == name)
                && std::mem::replace(&mut seen[unique], true)
            {
                return Err(serde::de::Error::duplicate_field(UNIQUE[unique]));
            }
            match READ.iter().position(|read| *read == name) {
                // jsonwebtoken reads these as a number or a string; an array or object there
                // can leave its parser inside the value, which refuses the whole payload.
                Some(slot) if SCALAR.contains(&&*name) => {
                    let value: Value = map.next_value()?;
                    if stops_the_library(&name, &value) {
                        return Err(serde::de::Error::custom(format_args!(
                            "{name} is an array or an object"
                        )));
                    }
                    claims.0[slot] = Some(value);
                }
                Some(slot) => claims.0[slot] = Some(map.next_value()?),
                // Parsed as the map would parse it, then dropped: a claim the map refuses
                // (a number out of range, bytes that are not UTF-8) refuses the token here too.
                None => drop(map.next_value::<Value>()?),
            }
        }
        Ok(claims)
    }
}

/// Whether jsonwebtoken's claim parser stops inside `value` of claim `name` (one of
/// [`SCALAR`]). It reads `sub` as a string and gives up at an array's or object's first
/// byte; it reads `exp` and `nbf` as any value and, on an array or object, gives up after
/// its opening bracket, which it passes only when the closing one comes next.
fn stops_the_library(name: &str, value: &Value) -> bool {
    match value {
        Value::Array(items) => name == "sub" || !items.is_empty(),
        Value::Object(members) => name == "sub" || !members.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_claims_are_the_maps_values_and_the_others_are_absent() {
        let payload = r#"{"token_type":"access","exp":1.5e9,"user_id":"7","jti":"a","x":{"y":[1]},
            "jti":"b","sid":null,"sub":3,"iat":1,"nbf":"2","i\u0061t":9}"#;
        let map: Map<String, Value> = serde_json::from_str(payload).unwrap();
        let read: ReadClaims = serde_json::from_str(payload).unwrap();
        for name in READ.iter().chain(&["x", "aud", "missing"]) {
            let expected = if READ.contains(name) {
                map.get(*name)
            } else {
                None
            };
            assert_eq!(Claims::get(&read, name), expected, "{name}");
        }
    }

    #[test]
    fn a_claim_the_library_checks_given_twice_is_refused() {
        for payload in [
            r#"{"exp":1,"exp":2}"#,
            r#"{"sub":"a","x":1,"s\u0075b":"b"}"#,
            r#"{"aud":"a","aud":"b"}"#,
            r#"{"iss":1,"iss":1}"#,
            r#"{"nbf":1,"nbf":null}"#,
        ] {
            assert!(
                serde_json::from_str::<ReadClaims>(payload).is_err(),
                "{payload}"
            );
        }
        // Others keep their last value, as in a map.
        let read: ReadClaims = serde_json::from_str(r#"{"jti":"a","jti":"b"}"#).unwrap();
        assert_eq!(Claims::get(&read, "jti"), Some(&Value::from("b")));
    }

    #[test]
    fn payloads_that_are_not_objects_are_refused_by_both() {
        for payload in [
            "[1]",
            "\"text\"",
            "1",
            "{\"exp\":}",
            "{\"a\":1",
            "{\"a\":1e400}",
        ] {
            assert!(
                serde_json::from_str::<ReadClaims>(payload).is_err(),
                "{payload}"
            );
            assert!(
                serde_json::from_str::<Map<String, Value>>(payload).is_err(),
                "{payload}"
            );
        }
    }
}
