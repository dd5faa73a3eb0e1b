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
/// not blank once trimmed; then its validators, each of which may add a message: no longer
/// than `max` characters when the field is limited, and no null character.
pub(super) fn char_field<'a>(
    raw: Option<Raw<'a>>,
    max: Option<(usize, &'static str)>,
) -> Result<Cow<'a, str>, Vec<&'static str>> {
    let text = match raw {
        None => return Err(vec!["This field is required."]),
        Some(Raw::Null) => return Err(vec!["This field may not be null."]),
        Some(Raw::NotText) => return Err(vec!["Not a valid string."]),
        Some(Raw::Text(text)) => text,
        Some(Raw::Number(number)) => Cow::Owned(number),
    };
    let trimmed = match text {
        Cow::Borrowed(text) => Cow::Borrowed(python_strip(text)),
        Cow::Owned(text) if python_strip(&text).len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(python_strip(&text).to_owned()),
    };
    if trimmed.is_empty() {
        return Err(vec!["This field may not be blank."]);
    }
    let mut errors = Vec::new();
    if let Some((limit, message)) = max
        // Characters, as Python counts them; a text no longer in bytes is short enough.
        && trimmed.len() > limit
        && trimmed.chars().count() > limit
    {
        errors.push(message);
    }
    if trimmed.contains('\0') {
        errors.push("Null characters are not allowed.");
    }
    if errors.is_empty() {
        Ok(trimmed)
    } else {
        Err(errors)
    }
}

/// `text` without leading and trailing whitespace as Python's `str.strip()` sees it:
/// Unicode's `White_Space` (what Rust's `trim` removes) and the information separators
/// U+001C to U+001F, which Python counts as whitespace too.
pub(super) fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
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
        let field = |raw| char_field(raw, None);
        assert_eq!(field(None), Err(vec!["This field is required."]));
        assert_eq!(
            field(Some(Raw::Null)),
            Err(vec!["This field may not be null."])
        );
        assert_eq!(field(text("  ")), Err(vec!["This field may not be blank."]));
        assert_eq!(field(Some(Raw::NotText)), Err(vec!["Not a valid string."]));
        assert_eq!(
            field(Some(Raw::Number("12".to_owned()))),
            Ok(Cow::Borrowed("12"))
        );
        assert_eq!(field(text(" pw ")), Ok(Cow::Borrowed("pw")));
        assert_eq!(
            field(Some(Raw::Text(Cow::Owned(" pw\n".to_owned())))),
            Ok(Cow::Borrowed("pw"))
        );
        assert_eq!(
            field(text("a\0b")),
            Err(vec!["Null characters are not allowed."])
        );
    }

    #[test]
    fn values_are_stripped_of_what_python_calls_whitespace() {
        assert_eq!(
            python_strip("\n\u{1c}\u{1d}tok en\u{1e}\u{1f}\u{85}\u{a0}\u{3000} "),
            "tok en"
        );
        assert_eq!(python_strip("\u{1f}"), "");
        // Not whitespace to Python either: a zero-width space, a Mongolian vowel separator.
        assert_eq!(python_strip("\u{200b}x\u{180e}"), "\u{200b}x\u{180e}");
    }

    #[test]
    fn limited_fields_count_characters_after_trimming_and_list_every_failure() {
        let limit = Some((3, "too long"));
        assert_eq!(char_field(text(" abc "), limit), Ok(Cow::Borrowed("abc")));
        assert_eq!(char_field(text("ééé"), limit), Ok(Cow::Borrowed("ééé")));
        assert_eq!(char_field(text("abcd"), limit), Err(vec!["too long"]));
        assert_eq!(
            char_field(text("ab\0d"), limit),
            Err(vec!["too long", "Null characters are not allowed."])
        );
    }
}
