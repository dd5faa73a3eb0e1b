//! The media type of a request body, read from its `Content-Type` as DRF's parsers read it.

use axum::http::HeaderValue;

/// What a request's `Content-Type` says of its body: multipart, read part by part, or a
/// body read whole and then parsed as `Format` says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Media {
    Multipart,
    Body(Format),
}

/// How a body read whole is parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Form,
    /// Any other type, or none, with the header as sent (lossily decoded; empty if absent).
    Unsupported(String),
}

impl Media {
    /// Classifies by the media type before any `;`, trimmed, in any letter case, without
    /// allocating unless the type is unsupported.
    pub(super) fn of(content_type: Option<&HeaderValue>) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
