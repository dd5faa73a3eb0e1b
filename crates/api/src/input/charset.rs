//! The `charset` of a JSON body, as Django and DRF honour it: a charset Python knows decodes
//! the body before it is parsed; one it does not know is ignored (Django drops it) and the
//! body is read as UTF-8; a body that does not decode is DRF's `JSON parse error`, with
//! Python's words for the byte that failed.
//!
//! Python's names are matched first for the charsets whose meaning differs between Python and
//! the WHATWG labels `encoding_rs` knows (`latin-1` and `ascii` are windows-1252 to a
//! browser, not to Python); every other name is looked up as a WHATWG label. A charset only
//! Python knows (`cp037`, `utf-32`) is read as UTF-8.

use axum::body::Bytes;
use encoding_rs::{DecoderResult, Encoding, UTF_8};

use crate::error::ApiError;

/// How a body in one charset becomes UTF-8.
#[derive(Debug, PartialEq, Eq)]
enum Decoding {
    /// Already UTF-8 (or the charset is unknown): checked by the JSON parser.
    Utf8,
    /// UTF-8 after a byte-order mark, if there is one (Python's `utf-8-sig`).
    Utf8Sig,
    /// Each byte is the code point of its value (Python's `latin-1`).
    Latin1,
    /// Bytes below 0x80 only (Python's `ascii`).
    Ascii,
    /// UTF-16, its byte order taken from a byte-order mark, little-endian without one.
    Utf16,
    /// Any other encoding, without byte-order-mark handling.
    Other(&'static Encoding),
}

/// Python's `encodings.normalize_encoding`, lower-cased: runs of characters other than
/// ASCII letters, digits and `.` become one `_`.
fn python_name(charset: &str) -> String {
    let mut name = String::with_capacity(charset.len());
    let mut separated = false;
    for c in charset.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            if separated && !name.is_empty() {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
            separated = false;
        } else {
            separated = true;
        }
    }
    name
}

fn decoding(charset: Option<&str>) -> Decoding {
    let Some(charset) = charset else {
        return Decoding::Utf8;
    };
    match python_name(charset).as_str() {
        "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => Decoding::Utf8,
        "utf_8_sig" => Decoding::Utf8Sig,
        "latin_1" | "latin1" | "latin" | "l1" | "iso8859_1" | "iso_8859_1" | "iso8859" | "8859"
        | "cp819" | "ibm819" | "csisolatin1" | "iso_8859_1_1987" | "iso_ir_100" => Decoding::Latin1,
        "ascii" | "us_ascii" | "us" | "646" | "cp367" | "ibm367" | "csascii" | "iso646_us"
        | "iso_ir_6" | "ansi_x3.4_1968" | "ansi_x3_4_1968" | "ansi_x3.4_1986"
        | "iso_646.irv_1991" => Decoding::Ascii,
        "utf_16" | "utf16" | "u16" => Decoding::Utf16,
        _ => match Encoding::for_label(charset.as_bytes()) {
            Some(encoding) if encoding != UTF_8 => Decoding::Other(encoding),
            _ => Decoding::Utf8,
        },
    }
}

/// `body` as UTF-8, decoded from `charset`; unchanged when it already is UTF-8 (or the
/// charset is unknown), for the JSON parser to check.
///
/// # Errors
/// `ApiError::JsonParse` naming the first byte that does not decode.
pub(super) fn to_utf8(body: Bytes, charset: Option<&str>) -> Result<Bytes, ApiError> {
    let text = match decoding(charset) {
        Decoding::Utf8 => return Ok(body),
        Decoding::Utf8Sig => {
            let without_bom = body.strip_prefix(b"\xef\xbb\xbf").map(<[u8]>::len);
            return Ok(match without_bom {
                Some(rest) => body.slice(body.len() - rest..),
                None => body,
            });
        }
        Decoding::Latin1 => body.iter().map(|byte| char::from(*byte)).collect(),
        Decoding::Ascii => match body.iter().position(|byte| !byte.is_ascii()) {
            None => return Ok(body),
            Some(position) => {
                return Err(undecodable(
                    "ascii",
                    body[position],
                    position,
                    "ordinal not in range(128)",
                ));
            }
        },
        Decoding::Utf16 => decode(&body, encoding_rs::UTF_16LE.new_decoder(), "utf-16")?,
        Decoding::Other(encoding) => decode(
            &body,
            encoding.new_decoder_without_bom_handling(),
            &encoding.name().to_ascii_lowercase(),
        )?,
    };
    Ok(Bytes::from(text.into_bytes()))
}

/// Decodes all of `body`, or names its first malformed sequence.
fn decode(body: &[u8], mut decoder: encoding_rs::Decoder, name: &str) -> Result<String, ApiError> {
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(body.len())
        .ok_or_else(|| undecodable(name, 0, 0, "the body is too long"))?;
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(body, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(bad, after) => {
            let position = read
                .saturating_sub(usize::from(after))
                .saturating_sub(usize::from(bad));
            let byte = body.get(position).copied().unwrap_or_default();
            Err(undecodable(
                name,
                byte,
                position,
                "illegal multibyte sequence",
            ))
        }
        DecoderResult::OutputFull => Err(undecodable(name, 0, read, "the body is too long")),
    }
}

/// Python's `UnicodeDecodeError` text.
fn undecodable(codec: &str, byte: u8, position: usize, reason: &str) -> ApiError {
    ApiError::JsonParse(format!(
        "'{codec}' codec can't decode byte 0x{byte:02x} in position {position}: {reason}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(body: &[u8], charset: &str) -> Result<String, String> {
        match to_utf8(Bytes::copy_from_slice(body), Some(charset)) {
            Ok(bytes) => Ok(String::from_utf8(bytes.to_vec()).unwrap()),
            Err(ApiError::JsonParse(message)) => Err(message),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn python_names_are_normalized_and_decide_before_web_labels() {
        assert_eq!(decoding(Some("ISO-8859-1")), Decoding::Latin1);
        assert_eq!(decoding(Some("Latin-1")), Decoding::Latin1);
        assert_eq!(decoding(Some(" us-ascii ")), Decoding::Ascii);
        assert_eq!(decoding(Some("UTF8")), Decoding::Utf8);
        assert_eq!(decoding(Some("utf-8-sig")), Decoding::Utf8Sig);
        assert_eq!(decoding(Some("UTF-16")), Decoding::Utf16);
        assert_eq!(
            decoding(Some("shift_jis")),
            Decoding::Other(encoding_rs::SHIFT_JIS)
        );
        assert_eq!(decoding(Some("no-such-charset")), Decoding::Utf8);
        assert_eq!(decoding(None), Decoding::Utf8);
    }

    #[test]
    fn bodies_decode_in_their_charset_or_name_the_byte_that_does_not() {
        assert_eq!(
            decoded(b"{\"a\": \"\xe9\x80\"}", "latin-1").unwrap(),
            "{\"a\": \"\u{e9}\u{80}\"}"
        );
        assert_eq!(decoded(b"{}", "ascii").unwrap(), "{}");
        assert_eq!(
            decoded(b"{\"a\": \"\xe9\"}", "ascii").unwrap_err(),
            "'ascii' codec can't decode byte 0xe9 in position 7: ordinal not in range(128)"
        );
        assert_eq!(decoded(b"\xef\xbb\xbf{}", "utf-8-sig").unwrap(), "{}");
        assert_eq!(decoded(b"\xff\xfe{\x00}\x00", "utf-16").unwrap(), "{}");
        assert_eq!(decoded(b"\xfe\xff\x00{\x00}", "utf-16").unwrap(), "{}");
        assert_eq!(decoded(b"{\x00}\x00", "utf-16").unwrap(), "{}");
        assert_eq!(decoded(b"\x00{\x00}", "utf-16be").unwrap(), "{}");
        assert_eq!(
            decoded(b"{\"a\": \"\x82\xa0\"}", "shift_jis").unwrap(),
            "{\"a\": \"\u{3042}\"}"
        );
        assert_eq!(
            decoded(b"{\"a\": \"\x82\"}", "shift_jis").unwrap_err(),
            "'shift_jis' codec can't decode byte 0x82 in position 7: illegal multibyte sequence"
        );
        // Left for the JSON parser, which names a bad UTF-8 byte itself.
        assert_eq!(
            to_utf8(Bytes::from_static(b"\xff"), Some("nonsense")).unwrap(),
            Bytes::from_static(b"\xff")
        );
    }
}
