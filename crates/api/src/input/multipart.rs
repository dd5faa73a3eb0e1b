//! `multipart/form-data` bodies: their text parts, in order.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};

use crate::error::ApiError;

/// Reads the text parts of a multipart body (already read whole) split at `boundary`.
///
/// A missing or bad boundary is refused as Django's parser refuses it (DRF answers 400
/// `Multipart form parse error - Invalid boundary in multipart: None`); a body that does not
/// parse at that boundary reads as no fields, as DRF reads it.
///
/// # Errors
/// `ApiError::MultipartParse` for a missing or bad boundary.
pub(super) async fn read_multipart(
    mut parts: Parts,
    boundary: Option<&str>,
    body: Bytes,
) -> Result<Vec<(String, String)>, ApiError> {
    let Some(boundary) = boundary.filter(|boundary| django_accepts(boundary)) else {
        let shown = boundary.unwrap_or("None");
        return Err(ApiError::MultipartParse(format!(
            "Invalid boundary in multipart: {shown}"
        )));
    };
    // The body is parsed under the plain media type, whatever wildcard or letter case the
    // request's header used; a boundary that cannot be written back unquoted or quoted
    // simply does not parse.
    if boundary.contains(['"', '\\']) {
        return Ok(Vec::new());
    }
    let Ok(content_type) =
        HeaderValue::from_str(&format!("multipart/form-data; boundary=\"{boundary}\""))
    else {
        return Ok(Vec::new());
    };
    parts.headers.insert(header::CONTENT_TYPE, content_type);
    let request = Request::from_parts(parts, Body::from(body));
    let mut fields = Vec::new();
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return Ok(fields);
    };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let Some(name) = field.name().map(str::to_owned) else {
                    continue;
                };
                match field.text().await {
                    Ok(text) => fields.push((name, text)),
                    Err(_) => return Ok(Vec::new()),
                }
            }
            Ok(None) => return Ok(fields),
            Err(_) => return Ok(Vec::new()),
        }
    }
}

/// Django's boundary check, `re.match(r"[ -~]{0,200}[!-~]", boundary)`: the boundary opens
/// with printable ASCII in which one of the first 201 characters is not a space.
fn django_accepts(boundary: &str) -> bool {
    boundary
        .bytes()
        .take(201)
        .take_while(|byte| (b' '..=b'~').contains(byte))
        .any(|byte| byte != b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_checked_as_django_checks_them() {
        assert!(django_accepts("XyZ"));
        assert!(django_accepts(" x"));
        assert!(django_accepts("x\u{e9}"));
        assert!(!django_accepts(""));
        assert!(!django_accepts("  "));
        assert!(!django_accepts("\u{e9}x"));
        assert!(!django_accepts(&format!("{}x", " ".repeat(201))));
        assert!(django_accepts(&format!("{}x", " ".repeat(200))));
    }
}
