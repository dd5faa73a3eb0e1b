//! The typed values settings are read into: durations in seconds or words, flags, lists,
//! header names, and text that arrives from the environment as another TOML scalar.

use std::time::Duration;

use anyhow::anyhow;
use serde::{Deserialize, Deserializer, Serialize};

/// A duration given as whole seconds (`300`) or in words (`"5m"`, `"1day"`, `"90s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "u64")]
pub struct Seconds(pub Duration);

impl From<Seconds> for u64 {
    fn from(value: Seconds) -> Self {
        value.0.as_secs()
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Whole(u64),
            Fraction(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Whole(seconds) => Ok(Seconds(Duration::from_secs(seconds))),
            Raw::Fraction(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                Ok(Seconds(Duration::from_secs_f64(seconds)))
            }
            Raw::Fraction(seconds) => Err(serde::de::Error::custom(format!(
                "{seconds} is not a duration"
            ))),
            Raw::Text(text) => {
                let text = text.trim();
                if let Ok(seconds) = text.parse::<u64>() {
                    return Ok(Seconds(Duration::from_secs(seconds)));
                }
                humantime::parse_duration(text)
                    .map(Seconds)
                    .map_err(|error| {
                        serde::de::Error::custom(format!(
                            "{text:?} is not a duration (use seconds, or e.g. \"5m\", \"1day\"): {error}"
                        ))
                    })
            }
        }
    }
}

/// A boolean given as `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "bool")]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(value: Flag) -> Self {
        value.0
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(value) => Ok(Flag(value)),
            Raw::Int(1) => Ok(Flag(true)),
            Raw::Int(0) => Ok(Flag(false)),
            Raw::Int(other) => Err(serde::de::Error::custom(format!(
                "{other} is not a boolean (use true or false)"
            ))),
            Raw::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Flag(true)),
                "false" | "0" | "no" | "off" => Ok(Flag(false)),
                _ => Err(serde::de::Error::custom(format!(
                    "{text:?} is not a boolean (use true or false)"
                ))),
            },
        }
    }
}

/// A list given as a TOML array or a comma-separated string (`"Bearer,JWT"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct List(pub Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let items = match Raw::deserialize(deserializer)? {
            Raw::One(text) => text.split(',').map(str::to_owned).collect(),
            Raw::Many(items) => items,
        };
        Ok(List(
            items
                .into_iter()
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect(),
        ))
    }
}

/// Settings arrive from the environment parsed as TOML values, so `JWTD_AUDIENCE=123` is a
/// number; text settings take any scalar as its text.
pub(super) mod lenient {
    use secrecy::SecretString;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }

    impl Scalar {
        fn into_text(self) -> String {
            match self {
                Scalar::Text(text) => text,
                Scalar::Int(value) => value.to_string(),
                Scalar::Float(value) => value.to_string(),
                Scalar::Bool(value) => value.to_string(),
            }
        }
    }

    pub(in crate::config) fn text<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<String, D::Error> {
        Scalar::deserialize(deserializer).map(Scalar::into_text)
    }

    pub(in crate::config) fn optional_text<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(Option::<Scalar>::deserialize(deserializer)?
            .map(Scalar::into_text)
            .filter(|text| !text.is_empty()))
    }

    pub(in crate::config) fn secret<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretString>, D::Error> {
        Ok(optional_text(deserializer)?.map(SecretString::from))
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `JWTD_ROTATION_GRACE_BINDING`: `client`, `user-agent` or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Binding(pub auth_core::GraceBinding);

impl From<Binding> for String {
    fn from(value: Binding) -> Self {
        value.0.as_str().to_owned()
    }
}

impl<'de> Deserialize<'de> for Binding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        auth_core::GraceBinding::parse(&text)
            .map(Binding)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("{text:?} is not client, user-agent or none"))
            })
    }
}

/// Parses a header name setting.
///
/// # Errors
/// When it is not a valid HTTP header name.
pub fn axum_header_name(name: &str) -> anyhow::Result<axum::http::HeaderName> {
    // simplejwt names it as a Django META key (`HTTP_AUTHORIZATION`); accept that too.
    let name = name.strip_prefix("HTTP_").unwrap_or(name).replace('_', "-");
    axum::http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
        anyhow!("invalid setting JWTD_AUTH_HEADER_NAME: {name:?} is not a header name")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_seconds_or_words() {
        let parse = |text: &str| -> Seconds { serde_json::from_str(text).unwrap() };
        assert_eq!(parse("300").0, Duration::from_secs(300));
        assert_eq!(parse("\"5m\"").0, Duration::from_secs(300));
        assert_eq!(parse("\"1day\"").0, Duration::from_secs(86_400));
        assert_eq!(parse("\"42\"").0, Duration::from_secs(42));
        assert!(serde_json::from_str::<Seconds>("\"soon\"").is_err());
    }

    #[test]
    fn header_names_accept_django_meta_spelling() {
        assert_eq!(
            axum_header_name("HTTP_X_ACCESS_TOKEN").unwrap().as_str(),
            "x-access-token"
        );
        assert_eq!(
            axum_header_name("Authorization").unwrap().as_str(),
            "authorization"
        );
    }
}
