//! The media type of a request body, read from its `Content-Type` as DRF picks a parser:
//! the type (before any `;`, trimmed, in any letter case) is matched against JSON, form and
//! multipart in that order, `*` on either side of the `/` matching anything. So `*/*` is
//! JSON, and `application/vnd.api+json` is no parser's.

use axum::http::HeaderValue;

/// What a request's `Content-Type` says of its body, with the parameters its parser reads.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Media {
    /// JSON, decoded in `charset` (the parameter as sent, if any).
    Json { charset: Option<String> },
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`, split at `boundary` (the parameter as sent, if any).
    Multipart { boundary: Option<String> },
    /// Any other type, or none, with the header as sent (lossily decoded; empty if absent).
    Unsupported(String),
}

impl Media {
    /// Classifies a `Content-Type` header.
    pub(super) fn of(content_type: Option<&HeaderValue>) -> Self {
        let Some(value) = content_type else {
            return Self::Unsupported(String::new());
        };
        // What nearly every client sends, known without taking it apart.
        if value.as_bytes() == b"application/json" {
            return Self::Json { charset: None };
        }
        let text = String::from_utf8_lossy(value.as_bytes());
        let mut pieces = text.split(';');
        let media_type = pieces.next().unwrap_or_default().trim();
        let (main, sub) = media_type.split_once('/').unwrap_or((media_type, ""));
        let matches = |wanted_main: &str, wanted_sub: &str| {
            (sub == "*" || sub.eq_ignore_ascii_case(wanted_sub))
                && (main == "*" || main.eq_ignore_ascii_case(wanted_main))
        };
        let parameter = |wanted: &str| {
            pieces.clone().find_map(|piece| {
                let (name, value) = piece.split_once('=')?;
                name.trim().eq_ignore_ascii_case(wanted).then(|| {
                    let value = value.trim();
                    value
                        .strip_prefix('"')
                        .and_then(|quoted| quoted.strip_suffix('"'))
                        .unwrap_or(value)
                        .to_owned()
                })
            })
        };
        if matches("application", "json") {
            Self::Json {
                charset: parameter("charset"),
            }
        } else if matches("application", "x-www-form-urlencoded") {
            Self::Form
        } else if matches("multipart", "form-data") {
            Self::Multipart {
                boundary: parameter("boundary"),
            }
        } else {
            Self::Unsupported(text.into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(value: &[u8]) -> Media {
        Media::of(Some(&HeaderValue::from_bytes(value).unwrap()))
    }

    fn json(charset: Option<&str>) -> Media {
        Media::Json {
            charset: charset.map(str::to_owned),
        }
    }

    fn unsupported(text: &str) -> Media {
        Media::Unsupported(text.to_owned())
    }

    #[test]
    fn media_types_are_read_before_parameters_in_any_case() {
        assert_eq!(media(b"application/json"), json(None));
        assert_eq!(
            media(b" Application/JSON ; Charset=\"latin-1\""),
            json(Some("latin-1"))
        );
        assert_eq!(media(b"APPLICATION/X-WWW-FORM-URLENCODED"), Media::Form);
        assert_eq!(
            media(b"Multipart/Form-Data; boundary=x"),
            Media::Multipart {
                boundary: Some("x".to_owned())
            }
        );
        assert_eq!(
            media(b"multipart/form-data"),
            Media::Multipart { boundary: None }
        );
        assert_eq!(
            media(b"text/plain; charset=utf-8"),
            unsupported("text/plain; charset=utf-8")
        );
        assert_eq!(
            media(b"application/\xe9json"),
            unsupported("application/\u{fffd}json")
        );
        assert_eq!(Media::of(None), unsupported(""));
    }

    #[test]
    fn wildcards_match_as_drf_matches_them_and_suffixes_do_not() {
        assert_eq!(media(b"*/*"), json(None));
        assert_eq!(media(b"application/*"), json(None));
        assert_eq!(media(b"*/x-www-form-urlencoded"), Media::Form);
        assert_eq!(
            media(b"multipart/*; boundary=b"),
            Media::Multipart {
                boundary: Some("b".to_owned())
            }
        );
        for refused in [
            "application/vnd.api+json",
            "application/problem+json",
            "json",
            "*",
            "text/*",
        ] {
            assert_eq!(media(refused.as_bytes()), unsupported(refused), "{refused}");
        }
    }
}
