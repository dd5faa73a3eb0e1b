//! `multipart/form-data` bodies: their text parts, in order.

use axum::extract::{FromRequest, Multipart, Request};

/// Reads text parts of a multipart body. A malformed body reads as no fields, as DRF does.
pub(super) async fn read_multipart<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let Ok(mut multipart) = Multipart::from_request(request, state).await else {
        return parts;
    };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let Some(name) = field.name().map(str::to_owned) else {
                    continue;
                };
                match field.text().await {
                    Ok(text) => parts.push((name, text)),
                    Err(_) => return Vec::new(),
                }
            }
            Ok(None) => return parts,
            Err(_) => return Vec::new(),
        }
    }
}
