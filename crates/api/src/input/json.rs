//! `application/json` bodies: one pass over the body that keeps the wanted fields, borrows
//! strings that need no unescaping, and names a refusal as DRF (and Python) do.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::raw::{Found, Raw, index_of};
use crate::error::ApiError;

/// Parses a JSON body that must be an object, keeping the fields named in `names`. Every
/// other value is checked as JSON and skipped.
pub(super) fn parse_json<'a, const N: usize>(
    body: &'a [u8],
    names: &[&str; N],
) -> Result<Found<'a, N>, ApiError> {
    // The whole body must be UTF-8, as DRF decodes it before parsing; checked once here, so
    // that the parser reads strings without checking them again.
    let text = std::str::from_utf8(body)
        .map_err(|error| ApiError::JsonParse(python_utf8_message(body, error)))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let top = WantedFields(names)
        .deserialize(&mut deserializer)
        .and_then(|top| deserializer.end().map(|()| top))
        .map_err(|error| ApiError::JsonParse(error.to_string()))?;
    match top {
        Top::Object(found) => Ok(found),
        Top::Null => Err(ApiError::NonField("No data provided".to_owned())),
        Top::Other(python_type) => Err(ApiError::NonField(format!(
            "Invalid data. Expected a dictionary, but got {python_type}."
        ))),
    }
}

/// Python's words for a body that is not UTF-8: the first byte it cannot decode, where it
/// stands, and why.
fn python_utf8_message(body: &[u8], error: std::str::Utf8Error) -> String {
    let position = error.valid_up_to();
    let byte = body.get(position).copied().unwrap_or_default();
    let reason = match error.error_len() {
        None => "unexpected end of data",
        // A continuation byte, or one that can never start a sequence.
        Some(_) if matches!(byte, 0x80..=0xC1 | 0xF5..=0xFF) => "invalid start byte",
        Some(_) => "invalid continuation byte",
    };
    format!("'utf-8' codec can't decode byte 0x{byte:02x} in position {position}: {reason}")
}

/// What a JSON body is: an object (with the wanted fields), `null`, or another value named
/// by its Python type, as DRF names it in its error.
enum Top<'a, const N: usize> {
    Object(Found<'a, N>),
    Null,
    Other(&'static str),
}

/// Reads a whole JSON body as [`Top`].
struct WantedFields<'n, const N: usize>(&'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for WantedFields<'_, N> {
    type Value = Top<'de, N>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for WantedFields<'_, N> {
    type Value = Top<'de, N>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Found<'de, N> = std::array::from_fn(|_| None);
        while let Some(index) = map.next_key_seed(NameIndex(self.0))? {
            match index {
                Some(index) => found[index] = Some(map.next_value_seed(RawValue)?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Object(found))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Top::Null)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Top::Other("str"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Top::Other("int"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Top::Other("int"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Top::Other("float"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Top::Other("bool"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::Other("list"))
    }
}

/// A key of the body's object, as the index of the wanted name it equals.
struct NameIndex<'n>(&'n [&'n str]);

impl<'de> DeserializeSeed<'de> for NameIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(index_of(self.0, name))
    }
}

/// A wanted field's JSON value as a [`Raw`].
struct RawValue;

impl<'de> DeserializeSeed<'de> for RawValue {
    type Value = Raw<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RawValue {
    type Value = Raw<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Raw::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Raw::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Raw::Text(Cow::Owned(text)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Raw::Number(number.to_string()))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Raw::Number(number.to_string()))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        // As `serde_json::Value` holds it: a float it cannot hold would be null.
        Ok(serde_json::Number::from_f64(number)
            .map_or(Raw::Null, |number| Raw::Number(number.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Raw::NotText)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::NotText)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::raw::text;

    #[test]
    fn json_bodies_keep_the_wanted_fields_and_borrow_plain_strings() {
        let body = br#"{"a": "plain", "skip": [1, {"x": null}], "b": "esc\u0041ped", "c": 1.5, "d": null, "e": {}, "a2": true}"#;
        let found = parse_json(body, &["a", "b", "c", "d", "e", "a2", "f"]).unwrap();
        assert_eq!(
            found,
            [
                text("plain"),
                Some(Raw::Text(Cow::Owned("escAped".to_owned()))),
                Some(Raw::Number("1.5".to_owned())),
                Some(Raw::Null),
                Some(Raw::NotText),
                Some(Raw::NotText),
                None,
            ]
        );
        assert!(matches!(found[0], Some(Raw::Text(Cow::Borrowed(_)))));
        let [last] = parse_json(br#"{"a": "1", "a": 2}"#, &["a"]).unwrap();
        assert_eq!(last, Some(Raw::Number("2".to_owned())));
    }

    #[test]
    fn json_bodies_that_are_not_objects_are_named_by_their_python_type() {
        let refusal = |body: &[u8]| match parse_json(body, &["a"]) {
            Err(ApiError::NonField(message)) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(refusal(b"null"), "No data provided");
        for (body, python_type) in [
            (&b"\"x\""[..], "str"),
            (b"12", "int"),
            (b"-1", "int"),
            (b"1.5", "float"),
            (b"true", "bool"),
            (b"[1, [2]]", "list"),
        ] {
            assert_eq!(
                refusal(body),
                format!("Invalid data. Expected a dictionary, but got {python_type}.")
            );
        }
        for (body, message) in [
            (
                &b"{\"a\": \"\xff\"}"[..],
                "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte",
            ),
            (
                b"{\"b\": \"\xe9t\xc3\xa9\"}",
                "'utf-8' codec can't decode byte 0xe9 in position 7: invalid continuation byte",
            ),
            (
                b"{\"a\": 1}\xe2\x82",
                "'utf-8' codec can't decode byte 0xe2 in position 8: unexpected end of data",
            ),
        ] {
            match parse_json(body, &["a"]) {
                Err(ApiError::JsonParse(got)) => assert_eq!(got, message),
                other => panic!("{other:?}"),
            }
        }
        for malformed in [&b"{"[..], b"{\"a\": }", b"{} x", b"[1,", b"\"a"] {
            assert!(
                matches!(parse_json(malformed, &["a"]), Err(ApiError::JsonParse(_))),
                "{}",
                String::from_utf8_lossy(malformed)
            );
        }
    }
}
