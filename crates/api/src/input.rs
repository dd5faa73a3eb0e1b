//! Request bodies as DRF parses them: JSON, form-encoded or multipart, validated field by
//! field with DRF's `CharField` rules and messages.

mod form;
mod json;
mod media;
mod multipart;
mod raw;

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

use self::media::{Format, Media};
use self::raw::{char_field, pick_text};
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
            Media::Multipart => {
                return Ok(Self(Source::Multipart(
                    multipart::read_multipart(request, state).await,
                )));
            }
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
