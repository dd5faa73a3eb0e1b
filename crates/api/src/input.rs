//! Request bodies as DRF parses them: JSON, form-encoded or multipart, validated field by
//! field with DRF's `CharField` rules and messages.

use std::borrow::Cow;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderValue, header};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::ApiError;

/// A request body, read whole by the extractor and parsed by [`Fields::required_strings`],
/// which knows the names it wants: only those fields are kept, and a string field that needs
/// no unescaping is borrowed from the body instead of copied.
///
/// A body that is not well-formed JSON, or not a JSON object, is refused by
/// `required_strings` with the error DRF gives, before any field is looked at.
#[derive(Debug)]
pub struct Fields(Source);

/// Where the fields come from.
#[derive(Debug)]
enum Source {
    /// No body: DRF treats it as no data, whatever the media type says.
    Empty,
    /// A JSON body, not parsed yet.
    Json(Bytes),
    /// A form-encoded body, not decoded yet.
    Form(Bytes),
    /// The text parts of a multipart body, in order.
    Multipart(Vec<(String, String)>),
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let format = match Media::of(request.headers().get(header::CONTENT_TYPE)) {
            Media::Multipart => return Ok(Self(read_multipart(request, state).await)),
            Media::Body(format) => format,
        };
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::NonField("Could not read the request body.".to_owned()))?;
        if body.is_empty() {
            return Ok(Self(Source::Empty));
        }
        match format {
            Format::Json => Ok(Self(Source::Json(body))),
            Format::Form => Ok(Self(Source::Form(body))),
            Format::Unsupported(content_type) => Err(ApiError::UnsupportedMediaType(content_type)),
        }
    }
}

/// What a request's `Content-Type` says of its body: multipart, read part by part, or a
/// body read whole and then parsed as `Format` says.
#[derive(Debug, PartialEq, Eq)]
enum Media {
    Multipart,
    Body(Format),
}

/// How a body read whole is parsed.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    Json,
    Form,
    /// Any other type, or none, with the header as sent (lossily decoded; empty if absent).
    Unsupported(String),
}

impl Media {
    /// Classifies by the media type before any `;`, trimmed, in any letter case, without
    /// allocating unless the type is unsupported.
    fn of(content_type: Option<&HeaderValue>) -> Self {
        let Some(value) = content_type else {
            return Self::Body(Format::Unsupported(String::new()));
        };
        let text = String::from_utf8_lossy(value.as_bytes());
        let media_type = text.split(';').next().unwrap_or_default().trim();
        let is = |wanted: &str| media_type.eq_ignore_ascii_case(wanted);
        let json_suffix = media_type
            .len()
            .checked_sub(5)
            .and_then(|start| media_type.get(start..))
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"));
        if is("multipart/form-data") {
            Self::Multipart
        } else if is("application/json") || json_suffix {
            Self::Body(Format::Json)
        } else if is("application/x-www-form-urlencoded") {
            Self::Body(Format::Form)
        } else {
            Self::Body(Format::Unsupported(text.into_owned()))
        }
    }
}

/// A field's value as the body gave it, before DRF's `CharField` rules are applied.
#[derive(Debug, PartialEq, Eq)]
enum Raw<'a> {
    /// A string: borrowed from the body unless unescaping or decoding changed it.
    Text(Cow<'a, str>),
    /// A JSON number, written as `serde_json` writes it (`12`, `1.5`).
    Number(String),
    /// JSON `null`.
    Null,
    /// A JSON boolean, array or object.
    NotText,
}

/// The wanted fields' values, by the index of their name; the last of repeated names wins,
/// as with Python's `json.loads` and Django's `QueryDict`.
type Found<'a, const N: usize> = [Option<Raw<'a>>; N];

fn index_of(names: &[&str], name: &str) -> Option<usize> {
    names.iter().position(|wanted| *wanted == name)
}

/// Parses a JSON body that must be an object, keeping the fields named in `names`. Every
/// other value is checked as JSON and skipped.
fn parse_json<'a, const N: usize>(
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

/// Keeps the text values of the wanted names from `(name, value)` pairs in body order.
fn pick_text<'a, const N: usize, K: AsRef<str>>(
    pairs: impl IntoIterator<Item = (K, Cow<'a, str>)>,
    names: &[&str; N],
) -> Found<'a, N> {
    let mut found: Found<'a, N> = std::array::from_fn(|_| None);
    for (name, value) in pairs {
        if let Some(index) = index_of(names, name.as_ref()) {
            found[index] = Some(Raw::Text(value));
        }
    }
    found
}

/// Decodes `a=1&b=2`, keeping the wanted names; percent-decoding borrows when it can.
fn parse_form<'a, const N: usize>(body: &'a [u8], names: &[&str; N]) -> Found<'a, N> {
    pick_text(form_urlencoded::parse(body), names)
}

/// Reads text parts of a multipart body. A malformed body reads as no fields, as DRF does.
async fn read_multipart<S: Send + Sync>(request: Request, state: &S) -> Source {
    let mut parts = Vec::new();
    let Ok(mut multipart) = Multipart::from_request(request, state).await else {
        return Source::Multipart(parts);
    };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let Some(name) = field.name().map(str::to_owned) else {
                    continue;
                };
                match field.text().await {
                    Ok(text) => parts.push((name, text)),
                    Err(_) => return Source::Multipart(Vec::new()),
                }
            }
            Ok(None) => return Source::Multipart(parts),
            Err(_) => return Source::Multipart(Vec::new()),
        }
    }
}

impl Fields {
    /// Validates `names` as required DRF `CharField`s (trimmed, not blank, not null, a string
    /// or a number) and returns their values in order, or every field's error at once.
    ///
    /// # Errors
    /// `ApiError::JsonParse` or `ApiError::NonField` when a JSON body is malformed or not an
    /// object, as DRF refuses it before validating; else `ApiError::Fields` listing each
    /// failing field with DRF's message.
    pub fn required_strings<const N: usize>(
        &self,
        names: [&str; N],
    ) -> Result<[Cow<'_, str>; N], ApiError> {
        let mut found = match &self.0 {
            Source::Empty => std::array::from_fn(|_| None),
            Source::Json(body) => parse_json(body, &names)?,
            Source::Form(body) => parse_form(body, &names),
            Source::Multipart(parts) => pick_text(
                parts
                    .iter()
                    .map(|(name, value)| (name, Cow::Borrowed(value.as_str()))),
                &names,
            ),
        };
        let mut errors = Vec::new();
        let values = std::array::from_fn(|index| {
            char_field(found[index].take()).unwrap_or_else(|message| {
                errors.push((names[index].to_owned(), message));
                Cow::Borrowed("")
            })
        });
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::Fields(errors))
        }
    }
}

fn char_field(raw: Option<Raw<'_>>) -> Result<Cow<'_, str>, &'static str> {
    let text = match raw {
        None => return Err("This field is required."),
        Some(Raw::Null) => return Err("This field may not be null."),
        Some(Raw::NotText) => return Err("Not a valid string."),
        Some(Raw::Text(text)) => text,
        Some(Raw::Number(number)) => Cow::Owned(number),
    };
    let trimmed = match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    };
    if trimmed.is_empty() {
        return Err("This field may not be blank.");
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Option<Raw<'_>> {
        Some(Raw::Text(Cow::Borrowed(value)))
    }

    #[test]
    fn form_bodies_decode_percent_and_plus_and_keep_the_last_repeat() {
        let found = parse_form(b"a=x%20y+z&b=%zz&a=2&c=3", &["a", "b", "d"]);
        assert_eq!(found, [text("2"), text("%zz"), None]);
        let [decoded] = parse_form(b"a=x%20y+z", &["a"]);
        assert_eq!(decoded, Some(Raw::Text(Cow::Owned("x y z".to_owned()))));
    }

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

    #[test]
    fn media_types_are_read_before_parameters_in_any_case() {
        let media = |value: &[u8]| Media::of(Some(&HeaderValue::from_bytes(value).unwrap()));
        assert_eq!(media(b"application/json"), Media::Body(Format::Json));
        assert_eq!(
            media(b" Application/JSON ; charset=utf-8"),
            Media::Body(Format::Json)
        );
        assert_eq!(
            media(b"application/vnd.api+JSON"),
            Media::Body(Format::Json)
        );
        assert_eq!(media(b"+json"), Media::Body(Format::Json));
        assert_eq!(
            media(b"APPLICATION/X-WWW-FORM-URLENCODED"),
            Media::Body(Format::Form)
        );
        assert_eq!(media(b"Multipart/Form-Data; boundary=x"), Media::Multipart);
        assert_eq!(
            media(b"text/plain; charset=utf-8"),
            Media::Body(Format::Unsupported("text/plain; charset=utf-8".to_owned()))
        );
        assert_eq!(
            media(b"json"),
            Media::Body(Format::Unsupported("json".to_owned()))
        );
        assert_eq!(
            media(b"application/\xe9json"),
            Media::Body(Format::Unsupported("application/\u{fffd}json".to_owned()))
        );
        assert_eq!(
            Media::of(None),
            Media::Body(Format::Unsupported(String::new()))
        );
    }

    #[test]
    fn char_fields_follow_drf() {
        assert_eq!(char_field(None), Err("This field is required."));
        assert_eq!(
            char_field(Some(Raw::Null)),
            Err("This field may not be null.")
        );
        assert_eq!(char_field(text("  ")), Err("This field may not be blank."));
        assert_eq!(char_field(Some(Raw::NotText)), Err("Not a valid string."));
        assert_eq!(
            char_field(Some(Raw::Number("12".to_owned()))),
            Ok(Cow::Borrowed("12"))
        );
        assert_eq!(char_field(text(" pw ")), Ok(Cow::Borrowed("pw")));
        assert_eq!(
            char_field(Some(Raw::Text(Cow::Owned(" pw\n".to_owned())))),
            Ok(Cow::Borrowed("pw"))
        );
    }
}
