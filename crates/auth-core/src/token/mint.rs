//! Minting tokens with simplejwt's claims, through `jsonwebtoken::encode`.
//!
//! The claims are written in simplejwt's order from a short list of borrowed names and
//! values, not a map of owned strings. Minting is deterministic: the same claims under the
//! same key give the same token, byte for byte, which is what lets a rotation retried within
//! the grace window hand back the very successor whose hash the store holds.

use jsonwebtoken::Header;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::TokenCodec;
use super::keys::KeyError;
use super::kinds::{RefreshSpec, SESSION_CLAIM, TokenKind};
use crate::settings::seconds;
use crate::types::{Jti, UserId};

/// A claim's value in a token being minted.
#[derive(Clone, Copy, Debug)]
enum Minted<'a> {
    Text(&'a str),
    Number(i64),
    /// A user id, written as a string, as simplejwt writes it.
    User(UserId),
    /// A claim copied from another token.
    Json(&'a Value),
}

impl<'a> Minted<'a> {
    /// The value as a JSON string: a user id or text as is, a number written out; `None` for
    /// anything else.
    fn as_text(self) -> Option<Self> {
        match self {
            Self::Text(_) | Self::User(_) => Some(self),
            Self::Number(number) => Some(Self::User(UserId(number))),
            Self::Json(Value::String(text)) => Some(Self::Text(text)),
            Self::Json(Value::Number(number)) => number.as_i64().map(|id| Self::User(UserId(id))),
            Self::Json(_) => None,
        }
    }
}

impl Serialize for Minted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Number(number) => serializer.serialize_i64(*number),
            Self::User(user) => serializer.collect_str(&user.0),
            Self::Json(value) => value.serialize(serializer),
        }
    }
}

/// The claims of a token being minted, in the order they were first set. Setting a name
/// again replaces its value in place, as inserting into a JSON object map does, so a
/// configured claim name that collides with another gives the token the map gave it.
struct Claims<'a> {
    list: Vec<(&'a str, Minted<'a>)>,
}

impl<'a> Claims<'a> {
    /// Room for the registered claims, two more for `aud` and `iss`, and `extra`.
    fn with_room_for(extra: usize) -> Self {
        Self {
            list: Vec::with_capacity(8 + extra),
        }
    }

    fn get(&self, name: &str) -> Option<Minted<'a>> {
        self.list
            .iter()
            .find(|(set, _)| *set == name)
            .map(|(_, value)| *value)
    }

    fn set(&mut self, name: &'a str, value: Minted<'a>) {
        match self.list.iter_mut().find(|(set, _)| *set == name) {
            Some((_, slot)) => *slot = value,
            None => self.list.push((name, value)),
        }
    }
}

impl Serialize for Claims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.list.len()))?;
        for (name, value) in &self.list {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl TokenCodec {
    /// Mints a refresh token: `token_type`, `exp`, `iat`, `jti`, the user id (as a string),
    /// `sid`, then `aud`/`iss` when configured.
    ///
    /// Deterministic: the same spec always gives the same token, which is what lets a
    /// rotation retried within the grace window get back the very same successor.
    ///
    /// # Errors
    /// `KeyError::Encode` if the library cannot sign with the key.
    pub fn mint_refresh(&self, spec: &RefreshSpec<'_>) -> Result<String, KeyError> {
        let settings = self.settings();
        let mut claims = Claims::with_room_for(0);
        claims.set(
            &settings.token_type_claim,
            Minted::Text(TokenKind::Refresh.as_str()),
        );
        claims.set("exp", Minted::Number(spec.exp));
        claims.set("iat", Minted::Number(spec.iat));
        claims.set(&settings.jti_claim, Minted::Text(spec.jti.as_str()));
        claims.set(&settings.user_id_claim, Minted::User(spec.user));
        claims.set(SESSION_CLAIM, Minted::Text(spec.family.as_str()));
        self.encode(claims, &self.keys().signing().header)
    }

    /// Mints an access token from a refresh token's claims, as simplejwt does: a fresh type,
    /// `exp`, `iat` and `jti`, then every other claim of the refresh token copied over; under
    /// RFC 9068, `sub` and `client_id` after them and `typ: at+jwt` in the header.
    ///
    /// # Errors
    /// `KeyError::Encode` if the library cannot sign with the key.
    pub fn mint_access(
        &self,
        refresh_claims: &Map<String, Value>,
        jti: &Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        let copied = refresh_claims
            .iter()
            .map(|(name, value)| (name.as_str(), Minted::Json(value)));
        self.mint_access_copying(copied, jti, now)
    }

    /// The access token [`Self::mint_access`] derives from the refresh token `spec`
    /// describes, without that token's claims decoded: what a login issues with it.
    ///
    /// # Errors
    /// `KeyError::Encode` if the library cannot sign with the key.
    pub fn mint_access_for(
        &self,
        spec: &RefreshSpec<'_>,
        jti: &Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        // The claims of the refresh token that `mint_access` does not replace.
        let copied = [
            (
                self.settings().user_id_claim.as_str(),
                Minted::User(spec.user),
            ),
            (SESSION_CLAIM, Minted::Text(spec.family.as_str())),
        ];
        self.mint_access_copying(copied.into_iter(), jti, now)
    }

    fn mint_access_copying<'a>(
        &'a self,
        copied: impl ExactSizeIterator<Item = (&'a str, Minted<'a>)>,
        jti: &'a Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        let settings = self.settings();
        let mut claims = Claims::with_room_for(copied.len());
        claims.set(
            &settings.token_type_claim,
            Minted::Text(TokenKind::Access.as_str()),
        );
        let exp = now.saturating_add(seconds(settings.access_token_lifetime));
        claims.set("exp", Minted::Number(exp));
        claims.set("iat", Minted::Number(now));
        claims.set(&settings.jti_claim, Minted::Text(jti.as_str()));
        for (name, value) in copied {
            let replaced = name == settings.token_type_claim
                || name == "exp"
                || name == "iat"
                || name == "jti"
                || name == settings.jti_claim;
            if !replaced {
                claims.set(name, value);
            }
        }
        if let Some(client_id) = settings.access_token_profile.client_id() {
            // RFC 9068's `sub` is the user id claim's value, as a string.
            let subject = claims
                .get(&settings.user_id_claim)
                .and_then(Minted::as_text);
            if let Some(subject) = subject {
                claims.set("sub", subject);
            }
            claims.set("client_id", Minted::Text(client_id));
        }
        self.encode(claims, &self.access_header)
    }

    /// `header.payload.signature`, with `aud`/`iss` added when configured.
    fn encode<'a>(&'a self, mut claims: Claims<'a>, header: &Header) -> Result<String, KeyError> {
        let settings = self.settings();
        if let Some(audience) = &settings.audience {
            claims.set("aud", Minted::Text(audience));
        }
        if let Some(issuer) = &settings.issuer {
            claims.set("iss", Minted::Text(issuer));
        }
        let signing = self.keys().signing();
        jsonwebtoken::encode(header, &claims, &signing.key).map_err(KeyError::Encode)
    }
}

#[cfg(test)]
mod tests;
