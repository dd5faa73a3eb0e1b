//! Minting and verifying tokens with simplejwt's claims.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::keys::Keys;
use crate::settings::{TokenSettings, secs};
use crate::types::{FamilyId, Jti, UserId};

/// The claim that carries the token family (session) id.
pub const SESSION_CLAIM: &str = "sid";

/// The two token types jwtd issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived, stateless, sent as `Authorization: Bearer`.
    Access,
    /// Long-lived, stored by hash, rotated on use.
    Refresh,
}

impl TokenKind {
    /// The value of the type claim.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The user-id claim as found in a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserClaim {
    /// Absent, null or empty: simplejwt skips every user check then.
    Missing,
    /// A string or integer holding an id.
    Id(UserId),
    /// Present but not an id this server could have issued.
    Unrecognized,
}

/// A token whose signature, algorithm, audience, issuer, times and required claims have been
/// checked, with every claim. What the database knows about it (blacklist, family) is checked
/// by the caller. Derefs to the [`CheckedToken`] it extends (`verified.jti`, ...).
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// What the checks found.
    pub checked: CheckedToken,
    /// Every claim, in the token's order.
    pub claims: Map<String, Value>,
}

impl std::ops::Deref for VerifiedToken {
    type Target = CheckedToken;

    fn deref(&self) -> &CheckedToken {
        &self.checked
    }
}

/// What [`TokenCodec::check`] found in a valid token: everything verification reads.
#[derive(Clone, Debug)]
pub struct CheckedToken {
    /// The type claim, when it names a type jwtd knows.
    pub kind: Option<TokenKind>,
    /// The token id.
    pub jti: Jti,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The user-id claim.
    pub user: UserClaim,
    /// The family (session) id, when the token carries one.
    pub family: Option<FamilyId>,
}

/// What a new refresh token says.
#[derive(Clone, Debug)]
pub struct RefreshSpec<'a> {
    /// Its id.
    pub jti: &'a Jti,
    /// Its owner.
    pub user: UserId,
    /// Its family.
    pub family: &'a FamilyId,
    /// Issued-at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Mints and verifies tokens under one set of settings and keys.
#[derive(Clone, Debug)]
pub struct TokenCodec {
    settings: TokenSettings,
    keys: Keys,
    slots: ClaimSlots,
}

impl TokenCodec {
    /// Builds a codec; what verification needs (the keyed HMAC, the claim names it reads) is
    /// prepared once here.
    pub fn new(settings: TokenSettings, keys: Keys) -> Self {
        let slots = ClaimSlots::new(&settings);
        Self {
            settings,
            keys,
            slots,
        }
    }

    /// The settings this codec was built with.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The keys this codec was built with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Verifies a token, as simplejwt's `Token(raw)` does, in its order: signature, `alg`,
    /// `aud`/`iss`, expiry (with leeway), immature `iat`/`nbf`, then the `exp`, id and type
    /// claims. `expected` is the type required, or `None` for `/token/verify`, which accepts
    /// either type. Returns every claim too; [`Self::check`] is the same without them.
    ///
    /// # Errors
    /// The `TokenError` whose message simplejwt gives for the first failed check.
    pub fn verify(
        &self,
        token: &str,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<VerifiedToken, TokenError> {
        let payload = self.signed_payload(token.as_bytes())?;
        let checked = self.check_payload(&payload, expected, now)?;
        let claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        Ok(VerifiedToken { checked, claims })
    }

    /// [`Self::verify`] without collecting the claims: every check is the same, for callers
    /// that only need the token's type, id, expiry, user and session (`/me`, `/token/verify`).
    /// The token may be given as bytes (an `Authorization` header's value): bytes that are
    /// not UTF-8 are refused as `Invalid`, as they would be as text.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub fn check(
        &self,
        token: impl AsRef<[u8]>,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<CheckedToken, TokenError> {
        let payload = self.signed_payload(token.as_ref())?;
        self.check_payload(&payload, expected, now)
    }

    /// The decoded payload of a token whose header names the configured algorithm and whose
    /// signature is good; what jsonwebtoken's `decode` checks before it reads the claims,
    /// without building a key or parsing jwtd's own header on every call.
    fn signed_payload(&self, token: &[u8]) -> Result<Vec<u8>, TokenError> {
        // Split as jsonwebtoken does: the signature after the last dot, the payload after
        // the one before it, and everything else is the header.
        let (message, signature) = split_at_last_dot(token)?;
        let payload = match message
            .strip_prefix(self.keys.header_segment.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"."))
        {
            // The header jwtd writes, found without scanning the payload for its last dot:
            // a dot left in the payload is not base64url, so it is refused below just as a
            // header holding it would be.
            Some(payload) => payload,
            None => {
                // Not the header jwtd writes (another key order, more fields): parse it as
                // jsonwebtoken does, and require the configured algorithm.
                let (_, payload) = split_at_last_dot(message)?;
                let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
                if header.alg != self.keys.algorithm.to_jwt() {
                    return Err(TokenError::Invalid);
                }
                payload
            }
        };
        let mut decoded = [0u8; MAX_SIGNATURE_BASE64 / 4 * 3];
        let length = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut decoded)
            .map_err(|_| TokenError::Invalid)?;
        if !self.keys.signature_matches(message, &decoded[..length]) {
            return Err(TokenError::Invalid);
        }
        URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)
    }

    /// The claim checks of [`Self::verify`], on a payload whose signature is good.
    fn check_payload(
        &self,
        payload: &[u8],
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<CheckedToken, TokenError> {
        let found = {
            let mut deserializer = serde_json::Deserializer::from_slice(payload);
            let found = ClaimsSeed(&self.slots.names)
                .deserialize(&mut deserializer)
                .map_err(|_| TokenError::Invalid)?;
            deserializer.end().map_err(|_| TokenError::Invalid)?;
            found
        };
        if stops_jsonwebtokens_parser(&found) {
            return Err(TokenError::Invalid);
        }
        // jsonwebtoken's required `aud`/`iss`: a string, or an array of strings, naming ours.
        for (slot, wanted) in [(AUD, &self.settings.audience), (ISS, &self.settings.issuer)] {
            if let Some(wanted) = wanted
                && !names(found[slot].as_ref(), wanted)
            {
                return Err(TokenError::Invalid);
            }
        }
        let leeway = secs(self.settings.leeway);

        let exp = match &found[EXP] {
            None => None,
            Some(claim) => Some(
                claim
                    .json()
                    .and_then(unix_time)
                    .ok_or(TokenError::Invalid)?,
            ),
        };
        if let Some(exp) = exp
            && exp <= now.saturating_sub(leeway)
        {
            return Err(TokenError::Expired);
        }
        for slot in [IAT, NBF] {
            if let Some(claim) = &found[slot] {
                let at = claim
                    .json()
                    .and_then(unix_time)
                    .ok_or(TokenError::Invalid)?;
                if at > now.saturating_add(leeway) {
                    return Err(TokenError::Invalid);
                }
            }
        }
        for slot in [SUB, JTI] {
            if found[slot]
                .as_ref()
                .is_some_and(|claim| !matches!(claim, Claim::Text(_)))
            {
                return Err(TokenError::Invalid);
            }
        }
        let exp = exp.ok_or(TokenError::NoExp)?;
        let jti = match &found[self.slots.jti] {
            Some(Claim::Text(jti)) => Jti::new(jti.as_ref().to_owned()),
            Some(Claim::Json(Value::Null)) | None => return Err(TokenError::NoId),
            Some(Claim::Json(other)) => Jti::new(other.to_string()),
        };
        let kind_claim = &found[self.slots.kind];
        let kind = match kind_claim {
            None | Some(Claim::Json(Value::Null)) => None,
            Some(Claim::Text(kind)) if kind == "access" => Some(TokenKind::Access),
            Some(Claim::Text(kind)) if kind == "refresh" => Some(TokenKind::Refresh),
            Some(_) => None,
        };
        if let Some(expected) = expected {
            if kind_claim.is_none() {
                return Err(TokenError::NoType);
            }
            if kind != Some(expected) {
                return Err(TokenError::WrongType);
            }
        }
        let user = match &found[self.slots.user] {
            None | Some(Claim::Json(Value::Null)) => UserClaim::Missing,
            Some(Claim::Text(text)) if text.is_empty() => UserClaim::Missing,
            Some(Claim::Text(text)) => text
                .parse::<i64>()
                .map_or(UserClaim::Unrecognized, |id| UserClaim::Id(UserId(id))),
            Some(Claim::Json(Value::Number(number))) => number
                .as_i64()
                .map_or(UserClaim::Unrecognized, |id| UserClaim::Id(UserId(id))),
            Some(_) => UserClaim::Unrecognized,
        };
        let family = match &found[SID] {
            Some(Claim::Text(sid)) => Some(FamilyId::new(sid.as_ref().to_owned())),
            _ => None,
        };
        Ok(CheckedToken {
            kind,
            jti,
            exp,
            user,
            family,
        })
    }
}

/// The longest signature segment accepted: HS512's 64 bytes take 86 characters.
const MAX_SIGNATURE_BASE64: usize = 128;

fn split_at_last_dot(bytes: &[u8]) -> Result<(&[u8], &[u8]), TokenError> {
    let dot = bytes
        .iter()
        .rposition(|byte| *byte == b'.')
        .ok_or(TokenError::Invalid)?;
    Ok((&bytes[..dot], &bytes[dot + 1..]))
}

/// Whether jsonwebtoken's reading of the registered claims fails on this payload as a whole
/// (an `Invalid` before any time check): it reads `sub` as a string and `exp`/`nbf` as
/// numbers, and its parser is left inside an array or object given for `sub`, or a non-empty
/// one given for `exp`/`nbf`.
fn stops_jsonwebtokens_parser(found: &FoundClaims<'_>) -> bool {
    let nested =
        |claim: &Claim<'_>| matches!(claim, Claim::Json(Value::Array(_) | Value::Object(_)));
    let non_empty = |claim: &Claim<'_>| match claim {
        Claim::Json(Value::Array(items)) => !items.is_empty(),
        Claim::Json(Value::Object(members)) => !members.is_empty(),
        _ => false,
    };
    found[SUB].as_ref().is_some_and(nested)
        || [EXP, NBF]
            .iter()
            .any(|slot| found[*slot].as_ref().is_some_and(non_empty))
}

/// Whether a required `aud`/`iss` claim names `wanted`, as jsonwebtoken decides: a string
/// equal to it, or an array of strings containing it. Null, other types, or an array with
/// anything but strings do not count as present.
fn names(claim: Option<&Claim<'_>>, wanted: &str) -> bool {
    match claim {
        Some(Claim::Text(value)) => value == wanted,
        Some(Claim::Json(Value::Array(values))) => {
            values.iter().all(Value::is_string) && values.iter().any(|value| value == wanted)
        }
        _ => false,
    }
}

// The claims verification reads, as slots of `ClaimSlots::names`: these first, in this order,
// then the configured id, type and user claims (sharing a slot when they have one of these
// names).
const EXP: usize = 0;
const IAT: usize = 1;
const NBF: usize = 2;
const SUB: usize = 3;
const JTI: usize = 4;
const ISS: usize = 5;
const AUD: usize = 6;
const SID: usize = 7;
const FIXED: [&str; 8] = [
    "exp",
    "iat",
    "nbf",
    "sub",
    "jti",
    "iss",
    "aud",
    SESSION_CLAIM,
];
/// jsonwebtoken reads these claims into a struct, which refuses a payload naming one twice;
/// any other claim named twice keeps its last value, as in a JSON map.
const UNIQUE: [usize; 5] = [EXP, NBF, SUB, ISS, AUD];
const SLOTS: usize = FIXED.len() + 3;

/// The names of the claims verification reads, and which slots hold the configured ones.
#[derive(Clone, Debug)]
struct ClaimSlots {
    names: Vec<String>,
    jti: usize,
    kind: usize,
    user: usize,
}

impl ClaimSlots {
    fn new(settings: &TokenSettings) -> Self {
        let mut names: Vec<String> = FIXED.iter().map(|name| (*name).to_owned()).collect();
        let mut slot = |name: &str| match names.iter().position(|known| known == name) {
            Some(slot) => slot,
            None => {
                names.push(name.to_owned());
                names.len() - 1
            }
        };
        let jti = slot(&settings.jti_claim);
        let kind = slot(&settings.token_type_claim);
        let user = slot(&settings.user_id_claim);
        Self {
            names,
            jti,
            kind,
            user,
        }
    }
}

/// The values of the claims in `ClaimSlots::names`, by slot.
type FoundClaims<'a> = [Option<Claim<'a>>; SLOTS];

/// A claim's value: a string, borrowed from the payload unless unescaping changed it, or any
/// other JSON value exactly as `serde_json::Value` reads it.
#[derive(Debug)]
enum Claim<'a> {
    Text(Cow<'a, str>),
    Json(Value),
}

impl Claim<'_> {
    /// The value, unless it is a string.
    fn json(&self) -> Option<&Value> {
        match self {
            Claim::Text(_) => None,
            Claim::Json(value) => Some(value),
        }
    }
}

/// Reads a payload's claims: the ones named in the slots as values, every other one checked
/// as JSON exactly as a `serde_json::Value` would be, but not kept.
struct ClaimsSeed<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = FoundClaims<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = FoundClaims<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: FoundClaims<'de> = Default::default();
        while let Some(slot) = map.next_key_seed(SlotOf(self.0))? {
            match slot {
                Some(slot) => {
                    let value = map.next_value_seed(ClaimValue)?;
                    if UNIQUE.contains(&slot) && found[slot].is_some() {
                        return Err(de::Error::custom("a claim named twice"));
                    }
                    found[slot] = Some(value);
                }
                None => {
                    map.next_value::<AnyJson>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A claim name, as the index of its slot (`None` for a claim verification does not read).
struct SlotOf<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for SlotOf<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for SlotOf<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a claim name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|known| known == name))
    }
}

/// Reads one claim's value as a [`Claim`].
struct ClaimValue;

impl<'de> DeserializeSeed<'de> for ClaimValue {
    type Value = Claim<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ClaimValue {
    type Value = Claim<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Claim::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Claim::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Claim::Text(Cow::Owned(text)))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Claim::Json(Value::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Claim::Json(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Claim::Json(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        // As `serde_json::Value` holds it: a float it cannot hold is null.
        Ok(Claim::Json(
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Claim::Json(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Claim::Json)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Claim::Json)
    }
}

/// Any JSON value, parsed as `serde_json::Value` parses it (numbers converted, so the same
/// out-of-range numbers are refused) but kept nowhere.
struct AnyJson;

impl<'de> Deserialize<'de> for AnyJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyJson)
    }
}

impl<'de> Visitor<'de> for AnyJson {
    type Value = AnyJson;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnyJson, E> {
        Ok(AnyJson)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnyJson, E> {
        Ok(AnyJson)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnyJson, E> {
        Ok(AnyJson)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnyJson, E> {
        Ok(AnyJson)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyJson, E> {
        Ok(AnyJson)
    }

    fn visit_unit<E: de::Error>(self) -> Result<AnyJson, E> {
        Ok(AnyJson)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyJson, A::Error> {
        while seq.next_element::<AnyJson>()?.is_some() {}
        Ok(AnyJson)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyJson, A::Error> {
        while map.next_entry::<AnyJson, AnyJson>()?.is_some() {}
        Ok(AnyJson)
    }
}

/// A NumericDate claim as whole Unix seconds; fractions are truncated, as PyJWT does.
fn unix_time(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|seconds| seconds.is_finite())
                // Truncation towards zero is the intent; the value is finite.
                .map(|seconds| seconds.trunc() as i64)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use hmac::{Hmac, Mac};
    use sha2::{Sha256, Sha512};

    use super::*;
    use crate::Algorithm;

    const KEY: &[u8] = b"claims-test-key";
    const NOW: i64 = 1_800_000_000;

    fn codec(configure: impl FnOnce(&mut TokenSettings)) -> TokenCodec {
        let mut settings = TokenSettings::default();
        configure(&mut settings);
        TokenCodec::new(settings, Keys::hmac(Algorithm::HS256, KEY).unwrap())
    }

    /// jwtd's verification as it was, on jsonwebtoken's `decode`: the reference every answer
    /// of the new one must equal.
    fn reference_verify(
        codec: &TokenCodec,
        token: &str,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<VerifiedToken, TokenError> {
        let settings = &codec.settings;
        let algorithm = codec.keys.algorithm.to_jwt();
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let mut required = HashSet::new();
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.insert("iss".to_owned());
        }
        validation.required_spec_claims = required;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(KEY),
            &validation,
        )
        .map_err(|_| TokenError::Invalid)?
        .claims;
        let leeway = secs(settings.leeway);
        let exp = match claims.get("exp") {
            None => None,
            Some(value) => Some(unix_time(value).ok_or(TokenError::Invalid)?),
        };
        if let Some(exp) = exp
            && exp <= now.saturating_sub(leeway)
        {
            return Err(TokenError::Expired);
        }
        for name in ["iat", "nbf"] {
            if let Some(value) = claims.get(name) {
                let at = unix_time(value).ok_or(TokenError::Invalid)?;
                if at > now.saturating_add(leeway) {
                    return Err(TokenError::Invalid);
                }
            }
        }
        for name in ["sub", "jti"] {
            if claims.get(name).is_some_and(|value| !value.is_string()) {
                return Err(TokenError::Invalid);
            }
        }
        let exp = exp.ok_or(TokenError::NoExp)?;
        let jti = match claims.get(&settings.jti_claim) {
            Some(Value::String(jti)) => Jti::new(jti.clone()),
            Some(Value::Null) | None => return Err(TokenError::NoId),
            Some(other) => Jti::new(other.to_string()),
        };
        let kind = match claims.get(&settings.token_type_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(kind)) if kind == "access" => Some(TokenKind::Access),
            Some(Value::String(kind)) if kind == "refresh" => Some(TokenKind::Refresh),
            Some(_) => None,
        };
        if let Some(expected) = expected {
            if !claims.contains_key(&settings.token_type_claim) {
                return Err(TokenError::NoType);
            }
            if kind != Some(expected) {
                return Err(TokenError::WrongType);
            }
        }
        let user = match claims.get(&settings.user_id_claim) {
            None | Some(Value::Null) => UserClaim::Missing,
            Some(Value::String(text)) if text.is_empty() => UserClaim::Missing,
            Some(Value::String(text)) => text
                .parse::<i64>()
                .map_or(UserClaim::Unrecognized, |id| UserClaim::Id(UserId(id))),
            Some(Value::Number(number)) => number
                .as_i64()
                .map_or(UserClaim::Unrecognized, |id| UserClaim::Id(UserId(id))),
            Some(_) => UserClaim::Unrecognized,
        };
        let family = match claims.get(SESSION_CLAIM) {
            Some(Value::String(sid)) => Some(FamilyId::new(sid.clone())),
            _ => None,
        };
        Ok(VerifiedToken {
            checked: CheckedToken {
                kind,
                jti,
                exp,
                user,
                family,
            },
            claims,
        })
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token with exactly this header and payload text, signed with HS256 (or HS512).
    fn signed(header: &str, payload: &str, hs512: bool) -> String {
        let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let signature = if hs512 {
            let mut mac = Hmac::<Sha512>::new_from_slice(KEY).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        } else {
            let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        format!("{message}.{}", b64(&signature))
    }

    const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

    fn access_payload(extra: &str) -> String {
        let exp = NOW + 300;
        format!(
            r#"{{"token_type":"access","exp":{exp},"iat":{NOW},"jti":"abc","user_id":"1","sid":"fam"{extra}}}"#
        )
    }

    fn tokens() -> Vec<String> {
        let mut tokens = Vec::new();
        let headers = [
            HEADER,
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"k1","custom":"x"}"#,
            r#"{"alg":"HS256","kid":1}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"typ":"JWT"}"#,
            r#"{"typ":"JWT","alg":"HS256","alg":"HS256"}"#,
            r#"not json"#,
            r#"[]"#,
        ];
        for header in headers {
            tokens.push(signed(header, &access_payload(""), false));
        }
        tokens.push(signed(
            r#"{"alg":"HS512","typ":"JWT"}"#,
            &access_payload(""),
            true,
        ));
        let extras = [
            "",
            r#","exp":1"#,
            r#","exp":null"#,
            r#","nbf":1,"nbf":2"#,
            r#","sub":"a","sub":"b""#,
            r#","iss":"a","iss":"a""#,
            r#","aud":"a","aud":"a""#,
            r#","jti":"again""#,
            r#","token_type":"refresh""#,
            r#","user_id":"2""#,
            r#","sid":"other""#,
            r#","sub":"someone""#,
            r#","sub":5"#,
            r#","sub":[1]"#,
            r#","sub":{}"#,
            r#","sub":[]"#,
            r#","sub":true"#,
            r#","sub":null"#,
            r#","nbf":[]"#,
            r#","nbf":[1]"#,
            r#","nbf":{}"#,
            r#","nbf":{"a":1}"#,
            r#","iat":[1]"#,
            r#","iat":{}"#,
            r#","jti":[1]"#,
            r#","jti":{"a":1}"#,
            r#","aud":{"a":1}"#,
            r#","iss":[["x"]]"#,
            r#","nbf":1800000001"#,
            r#","nbf":"soon""#,
            r#","nbf":null"#,
            r#","unknown":1e400"#,
            r#","unknown":-1e400"#,
            r#","unknown":123456789012345678901234567890"#,
            r#","unknown":"\ud800""#,
            r#","unknown":"\u00e9\n""#,
            r#","unknown":[[[[{"a":[1,2,{"b":null}]}]]]]"#,
            r#","unknown":true,"other":false"#,
            r#","\u0065xp":1"#,
            r#","aud":"jwtd""#,
            r#","aud":["x","jwtd"]"#,
            r#","aud":["x"]"#,
            r#","aud":[]"#,
            r#","aud":["jwtd",1]"#,
            r#","aud":5"#,
            r#","aud":null"#,
            r#","aud":"other""#,
            r#","iss":"jwtd-issuer""#,
            r#","iss":["jwtd-issuer"]"#,
            r#","iss":"other""#,
            r#","iss":null"#,
            r#","aud":"jwtd","iss":"jwtd-issuer""#,
            r#","id":"custom-id","typ":"access""#,
            r#","id":7,"typ":"access""#,
        ];
        for extra in extras {
            tokens.push(signed(HEADER, &access_payload(extra), false));
        }
        let payloads = [
            r#"{}"#.to_owned(),
            r#"[]"#.to_owned(),
            r#""claims""#.to_owned(),
            r#"null"#.to_owned(),
            format!("{} trailing", access_payload("")),
            format!("{}  \n", access_payload("")),
            r#"{"token_type":"access","jti":"a","user_id":"1"}"#.to_owned(),
            format!(r#"{{"token_type":"access","exp":"{NOW}","jti":"a"}}"#),
            format!(r#"{{"token_type":"access","exp":{NOW},"jti":"a"}}"#),
            format!(r#"{{"token_type":"access","exp":{}.9,"jti":"a"}}"#, NOW + 1),
            r#"{"token_type":"access","exp":-5,"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":1e400,"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":[],"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":[1],"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":{},"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":{"a":[]},"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":true,"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"sub":"x","sub":5}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"iat":"x","jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"iat":1e300,"jti":"a"}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":null}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":5}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300}"#.to_owned(),
            r#"{"exp":1e300,"jti":"a"}"#.to_owned(),
            r#"{"token_type":null,"exp":1e300,"jti":"a"}"#.to_owned(),
            r#"{"token_type":5,"exp":1e300,"jti":"a"}"#.to_owned(),
            r#"{"token_type":"refresh","exp":1e300,"jti":"a","user_id":1}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":""}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":"x1"}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":1.5}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":true}"#.to_owned(),
            r#"{"token_type":"access","exp":1e300,"jti":"a","user_id":null,"sid":5}"#.to_owned(),
            format!("{}{}", "[".repeat(200), "]".repeat(200)),
            format!(
                r#"{{"token_type":"access","exp":1e300,"jti":"a","deep":{}{}}}"#,
                "[".repeat(130),
                "]".repeat(130)
            ),
        ];
        for payload in &payloads {
            tokens.push(signed(HEADER, payload, false));
        }
        // Tampered or malformed framing.
        let good = signed(HEADER, &access_payload(""), false);
        let (message, signature) = good.rsplit_once('.').unwrap();
        tokens.extend([
            format!("{message}.{}", &signature[1..]),
            format!("{message}.{signature}="),
            format!("{message}.A{}", &signature[1..]),
            format!("{message}."),
            format!("{message}.{signature}.{signature}"),
            format!("x.{good}"),
            message.to_owned(),
            String::new(),
            "..".to_owned(),
            "garbage".to_owned(),
            format!("{good} "),
            format!("{}{good}", ""),
        ]);
        // Correctly signed messages whose segments are not three: jwtd's own header followed
        // by more dots.
        let sign = |message: String| {
            let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
            mac.update(message.as_bytes());
            format!("{message}.{}", b64(&mac.finalize().into_bytes()))
        };
        let header = b64(HEADER.as_bytes());
        let payload = b64(access_payload("").as_bytes());
        tokens.extend([
            sign(format!("{header}.{payload}.{payload}")),
            sign(format!("{header}.{header}.{payload}")),
            sign(format!("{header}..{payload}")),
            sign(format!("{header}.{payload}.")),
            sign(format!("{header}.")),
            sign(header.clone()),
            sign(format!("{header}{payload}")),
        ]);
        tokens
    }

    fn codecs() -> Vec<TokenCodec> {
        vec![
            codec(|_| {}),
            codec(|settings| {
                settings.audience = Some("jwtd".to_owned());
                settings.issuer = Some("jwtd-issuer".to_owned());
            }),
            codec(|settings| {
                settings.user_id_claim = "sub".to_owned();
                settings.jti_claim = "id".to_owned();
                settings.token_type_claim = "typ".to_owned();
                settings.leeway = Duration::from_secs(5);
            }),
            codec(|settings| {
                settings.user_id_claim = "sid".to_owned();
                settings.jti_claim = "sid".to_owned();
                settings.token_type_claim = "exp".to_owned();
            }),
        ]
    }

    fn outcome(result: Result<VerifiedToken, TokenError>) -> String {
        format!("{result:?}")
    }

    #[test]
    fn verification_answers_exactly_as_jsonwebtokens_decode_did() {
        let tokens = tokens();
        let mut accepted = 0;
        for codec in codecs() {
            for token in &tokens {
                for expected in [None, Some(TokenKind::Access), Some(TokenKind::Refresh)] {
                    for now in [NOW, NOW + 400] {
                        let ours = codec.verify(token, expected, now);
                        let reference = reference_verify(&codec, token, expected, now);
                        accepted += usize::from(ours.is_ok());
                        let checked = codec.check(token, expected, now);
                        assert_eq!(
                            format!("{:?}", checked.as_ref().map(|c| (c.kind, &c.jti, c.exp))),
                            format!("{:?}", ours.as_ref().map(|v| (v.kind, &v.jti, v.exp))),
                        );
                        assert_eq!(
                            outcome(ours),
                            outcome(reference),
                            "token {token:?} expected {expected:?} now {now} settings {:?}",
                            codec.settings
                        );
                    }
                }
            }
        }
        assert!(accepted > 50, "the table must exercise accepted tokens too");
    }

    #[test]
    fn tokens_jwtd_mints_start_with_the_header_it_checks_without_parsing() {
        let codec = codec(|_| {});
        let jti = Jti::new("j".to_owned());
        let token = codec.mint_access(&Map::new(), &jti, NOW).unwrap();
        assert!(token.starts_with(&format!("{}.", codec.keys.header_segment)));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&codec.keys.header_segment).unwrap(),
            HEADER.as_bytes()
        );
    }

    #[test]
    fn a_token_of_another_algorithm_or_none_is_refused() {
        let codec = codec(|_| {});
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"HS384"}"#,
        ] {
            let token = signed(header, &access_payload(""), header.contains("HS512"));
            assert_eq!(
                codec.check(&token, None, NOW).map(|_| ()),
                Err(TokenError::Invalid),
                "{header}"
            );
        }
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(access_payload("").as_bytes())
        );
        assert_eq!(
            codec.check(&unsigned, None, NOW).map(|_| ()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_token_given_as_bytes_that_are_not_utf8_is_refused_as_invalid() {
        let codec = codec(|_| {});
        let good = signed(HEADER, &access_payload(""), false);
        assert!(codec.check(good.as_bytes(), None, NOW).is_ok());
        let (message, signature) = good.rsplit_once('.').unwrap();
        let (header, payload) = message.split_once('.').unwrap();
        let with_byte = |before: &str, after: &str| {
            let mut token = before.as_bytes().to_vec();
            token.push(0xe9);
            token.extend_from_slice(after.as_bytes());
            token
        };
        for token in [
            // In the payload, after jwtd's own header.
            with_byte(&format!("{header}.{payload}"), &format!(".{signature}")),
            // In the signature.
            with_byte(&format!("{message}."), signature),
            // In the header, which is then not jwtd's.
            with_byte(header, &format!(".{payload}.{signature}")),
        ] {
            assert_eq!(
                codec.check(&token, None, NOW).map(|_| ()),
                Err(TokenError::Invalid),
                "{}",
                String::from_utf8_lossy(&token)
            );
        }
    }
}
