//! Fresh identifiers.

use auth_core::Jti;

/// A new token id: a UUIDv7 as 32 lowercase hex characters. Its first 48 bits are the Unix
/// time in milliseconds and the other 74 are random, so ids are unique like simplejwt's uuid4
/// hex, and refresh-token ids arrive in order: each rotation appends to the unique `jti`
/// index instead of dirtying a random page of it.
pub(crate) fn new_jti() -> Jti {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let random: [u8; 10] = rand::random();
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    Jti::new(id.simple().to_string())
}

#[cfg(test)]
mod tests {
    use super::new_jti;

    #[test]
    fn a_new_jti_is_a_uuid_v7_in_lowercase_hex() {
        let jti = new_jti();
        let text = jti.as_str();
        assert_eq!(text.len(), 32, "{text}");
        assert!(
            text.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{text}"
        );
        let id = uuid::Uuid::parse_str(text).expect("a UUID");
        assert_eq!(id.get_version_num(), 7, "{text}");
        assert_ne!(new_jti(), jti);
    }

    #[test]
    fn jtis_minted_a_millisecond_apart_sort_in_minting_order() {
        let mut previous = new_jti();
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            let next = new_jti();
            assert!(next.as_str() > previous.as_str(), "{previous} then {next}");
            previous = next;
        }
    }
}
