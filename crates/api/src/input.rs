//! Request bodies as DRF parses them: JSON, form-encoded or multipart, validated field by
//! field with DRF's `CharField` rules and messages.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderValue, header};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The fields of a request body, whatever its media type.
#[derive(Debug, Default)]
pub struct Fields(Map<String, Value>);

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
        // DRF treats an empty body as no data, whatever the media type says.
        if body.is_empty() {
            return Ok(Self::default());
        }
        match format {
            Format::Json => parse_json(&body).map(Self),
            Format::Form => Ok(Self(
                form_urlencoded_pairs(&body)
                    .map(|(name, value)| (name, Value::String(value)))
                    .collect(),
            )),
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

fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| ApiError::JsonParse(error.to_string()))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err(ApiError::NonField("No data provided".to_owned())),
        other => Err(ApiError::NonField(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            python_type_name(&other)
        ))),
    }
}

fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "str",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    }
}

/// Decodes `a=1&b=2`; the last of repeated names wins, as with Django's `QueryDict`.
fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(body).map(|(name, value)| (name.into_owned(), value.into_owned()))
}

/// Reads text fields of a multipart body. A malformed body reads as no fields, as DRF does.
async fn read_multipart<S: Send + Sync>(request: Request, state: &S) -> Map<String, Value> {
    let mut fields = Map::new();
    let Ok(mut multipart) = Multipart::from_request(request, state).await else {
        return fields;
    };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let Some(name) = field.name().map(str::to_owned) else {
                    continue;
                };
                match field.text().await {
                    Ok(text) => {
                        fields.insert(name, Value::String(text));
                    }
                    Err(_) => return Map::new(),
                }
            }
            Ok(None) => return fields,
            Err(_) => return Map::new(),
        }
    }
}

impl Fields {
    /// Validates `names` as required DRF `CharField`s (trimmed, not blank, not null, a string
    /// or a number) and returns their values in order, or every field's error at once.
    ///
    /// # Errors
    /// `ApiError::Fields` listing each failing field with DRF's message.
    pub fn required_strings<const N: usize>(
        &self,
        names: [&str; N],
    ) -> Result<[String; N], ApiError> {
        let mut errors = Vec::new();
        let values = names.map(|name| match char_field(self.0.get(name)) {
            Ok(value) => value,
            Err(message) => {
                errors.push((name.to_owned(), message));
                String::new()
            }
        });
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(ApiError::Fields(errors))
        }
    }
}

fn char_field(value: Option<&Value>) -> Result<String, &'static str> {
    let number;
    let text = match value {
        None => return Err("This field is required."),
        Some(Value::Null) => return Err("This field may not be null."),
        Some(Value::String(text)) => text.as_str(),
        Some(Value::Number(value)) => {
            number = value.to_string();
            number.as_str()
        }
        Some(_) => return Err("Not a valid string."),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("This field may not be blank.");
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_percent_and_plus_and_keep_the_last_repeat() {
        let pairs: Vec<_> = form_urlencoded_pairs(b"a=x%20y+z&b=%zz&a=2").collect();
        assert_eq!(
            pairs,
            vec![
                ("a".to_owned(), "x y z".to_owned()),
                ("b".to_owned(), "%zz".to_owned()),
                ("a".to_owned(), "2".to_owned()),
            ]
        );
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
            char_field(Some(&Value::Null)),
            Err("This field may not be null.")
        );
        assert_eq!(
            char_field(Some(&"  ".into())),
            Err("This field may not be blank.")
        );
        assert_eq!(char_field(Some(&true.into())), Err("Not a valid string."));
        assert_eq!(
            char_field(Some(&serde_json::json!([1]))),
            Err("Not a valid string.")
        );
        assert_eq!(char_field(Some(&12.into())), Ok("12".to_owned()));
        assert_eq!(char_field(Some(&" pw ".into())), Ok("pw".to_owned()));
    }
}
