//! A field's value as the body gave it, the wanted fields found in a body, and DRF's
//! `CharField` rules that turn a value into the text a handler gets.

use std::borrow::Cow;

/// A field's value as the body gave it, before DRF's `CharField` rules are applied.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Raw<'a> {
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
pub(super) type Found<'a, const N: usize> = [Option<Raw<'a>>; N];

pub(super) fn index_of(names: &[&str], name: &str) -> Option<usize> {
    names.iter().position(|wanted| *wanted == name)
}

/// Keeps the text values of the wanted names from `(name, value)` pairs in body order.
pub(super) fn pick_text<'a, const N: usize, K: AsRef<str>>(
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

/// DRF's `CharField` rules for a required field: present, not null, a string or a number,
/// not blank once trimmed.
pub(super) fn char_field(raw: Option<Raw<'_>>) -> Result<Cow<'_, str>, &'static str> {
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

/// A field given as text the body holds as is (test helper).
#[cfg(test)]
pub(super) fn text(value: &str) -> Option<Raw<'_>> {
    Some(Raw::Text(Cow::Borrowed(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
