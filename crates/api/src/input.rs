//! Request bodies as DRF parses them: JSON, form-encoded or multipart, validated field by
//! field with DRF's `CharField` rules and messages.

mod charset;
mod form;
mod json;
mod media;
mod multipart;
mod raw;

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use self::media::Media;
use self::raw::{char_field, pick_text};
use crate::error::ApiError;
use crate::limits::{MAX_BODY_BYTES, max_chars};

/// A request body, read whole by the extractor and parsed by [`Fields::required_strings`],
/// which knows the names it wants: only those fields are kept, and a string field that needs
/// no unescaping is borrowed from the body instead of copied.
///
/// A body over [`MAX_BODY_BYTES`] is refused (413) before or while it is read. A body that
/// is not well-formed JSON, or not a JSON object, is refused by `required_strings` with the
/// error DRF gives, before any field is looked at.
#[derive(Debug)]
pub struct Fields(Source);

/// Where the fields come from.
#[derive(Debug)]
enum Source {
    /// No body: DRF treats it as no data, whatever the media type says.
    Empty,
    /// A JSON body in UTF-8 (decoded from its charset), not parsed yet.
    Json(Bytes),
    /// A form-encoded body, not decoded yet.
    Form(Bytes),
    /// The text parts of a multipart body, in order.
    Multipart(Vec<(String, String)>),
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        if declared_length(request.headers()).is_some_and(|length| length > MAX_BODY_BYTES) {
            return Err(ApiError::PayloadTooLarge);
        }
        let media = Media::of(request.headers().get(header::CONTENT_TYPE));
        let (parts, body) = request.into_parts();
        let body = read_body(body).await?;
        if body.is_empty() {
            return Ok(Self(Source::Empty));
        }
        match media {
            Media::Json { charset } => Ok(Self(Source::Json(charset::to_utf8(
                body,
                charset.as_deref(),
            )?))),
            Media::Form => Ok(Self(Source::Form(body))),
            Media::Multipart { boundary } => Ok(Self(Source::Multipart(
                multipart::read_multipart(parts, boundary.as_deref(), body).await?,
            ))),
            Media::Unsupported(content_type) => Err(ApiError::UnsupportedMediaType(content_type)),
        }
    }
}

/// The `Content-Length` a request declares, if it declares one that is a number.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads a body whole, at most [`MAX_BODY_BYTES`] of it, however it is framed.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::PayloadTooLarge),
        Err(_) => Err(ApiError::NonField(
            "Could not read the request body.".to_owned(),
        )),
    }
}

impl Fields {
    /// Validates `names` as required DRF `CharField`s (trimmed, not blank, not null, a string
    /// or a number, no null character, and no longer than [`max_chars`] allows for a token or
    /// password field) and returns their values in order, or every field's error at once.
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
            Source::Json(body) => json::parse_json(body, &names)?,
            Source::Form(body) => form::parse_form(body, &names),
            Source::Multipart(parts) => pick_text(
                parts
                    .iter()
                    .map(|(name, value)| (name, Cow::Borrowed(value.as_str()))),
                &names,
            ),
        };
        let mut errors = Vec::new();
        let values = std::array::from_fn(|index| {
            let name = names[index];
            char_field(found[index].take(), max_chars(name)).unwrap_or_else(|messages| {
                errors.extend(
                    messages
                        .into_iter()
                        .map(|message| (name.to_owned(), message)),
                );
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
