//! `application/x-www-form-urlencoded` bodies.

use super::raw::{Found, pick_text};

/// Decodes `a=1&b=2`, keeping the wanted names; percent-decoding borrows when it can.
pub(super) fn parse_form<'a, const N: usize>(body: &'a [u8], names: &[&str; N]) -> Found<'a, N> {
    pick_text(form_urlencoded::parse(body), names)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::input::raw::{Raw, text};

    #[test]
    fn form_bodies_decode_percent_and_plus_and_keep_the_last_repeat() {
        let found = parse_form(b"a=x%20y+z&b=%zz&a=2&c=3", &["a", "b", "d"]);
        assert_eq!(found, [text("2"), text("%zz"), None]);
        let [decoded] = parse_form(b"a=x%20y+z", &["a"]);
        assert_eq!(decoded, Some(Raw::Text(Cow::Owned("x y z".to_owned()))));
    }
}
