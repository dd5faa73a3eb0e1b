//! `jwtd config check`: the effective settings, each with where it came from (default, file
//! or environment), secrets redacted; a bad value stops it naming the setting.

use std::path::Path;
use std::process::ExitCode;

use figment::Figment;
use figment::Source;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::{Config, env_name, known_keys};
use crate::signing_key::{self, Missing};
use crate::state::redact_url;

/// Where a setting's value came from.
fn origin(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        None => "default".to_owned(),
        Some(metadata) => match &metadata.source {
            Some(Source::File(path)) => format!("file {}", path.display()),
            Some(Source::Code(_)) => "default".to_owned(),
            _ if metadata.name.contains("environment") => "environment".to_owned(),
            _ => metadata.name.to_string(),
        },
    }
}

/// A value as it is shown: text bare, lists comma-separated, unset as `(unset)`.
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "(unset)".to_owned(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The settings of `config` as `(key, shown value)`, in the order of [`known_keys`], with
/// secrets redacted.
fn rows(config: &Config) -> Vec<(String, String)> {
    let values = serde_json::to_value(config).unwrap_or_default();
    known_keys()
        .into_iter()
        .map(|key| {
            let value = match key.as_str() {
                "signing_key" => match &config.tokens.signing_key {
                    Some(_) => "(set, redacted)".to_owned(),
                    None => format!(
                        "(unset: generated once and kept in {})",
                        config.key_file().display()
                    ),
                },
                "redis_url" => match &config.revocation.redis_url {
                    Some(url) => redact_url(url.expose_secret()),
                    None => "(unset)".to_owned(),
                },
                "introspect_client_secret" => {
                    match &config.resource_servers.introspect_client_secret {
                        Some(_) => "(set, redacted)".to_owned(),
                        None => "(unset)".to_owned(),
                    }
                }
                "database_url" => redact_url(&config.database.url),
                _ => shown(&values[key.as_str()]),
            };
            (key, value)
        })
        .collect()
}

/// Runs `jwtd config check` on `file` and the environment: prints each setting as
/// `JWTD_NAME=value` with its origin, warns on standard error about unknown `JWTD_*`
/// variables, and exits 2 naming the first bad setting.
pub fn check(file: Option<&Path>) -> ExitCode {
    let (figment, warnings) = match Config::sources(file) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("jwtd: {error:#}");
            return ExitCode::from(2);
        }
    };
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let config = match Config::from_sources(&figment) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("jwtd: {error:#}");
            return ExitCode::from(2);
        }
    };
    // The key files are read and checked as `serve` would, but a missing HMAC key file is
    // not generated.
    let keys = match signing_key::keys(&config, Missing::Skip) {
        Ok(keys) => keys,
        Err(error) => {
            eprintln!("jwtd: {error:#}");
            return ExitCode::from(2);
        }
    };
    let rows = rows(&config);
    let width = rows
        .iter()
        .map(|(key, value)| env_name(key).len() + value.len() + 1)
        .max()
        .unwrap_or(0);
    for (key, value) in rows {
        let setting = format!("{}={value}", env_name(&key));
        println!("{setting:<width$}  # {}", origin(&figment, &key));
    }
    match keys {
        Some(keys) => println!(
            "# keys: {}, signing kid {}, verifying kids {}",
            keys.algorithm(),
            keys.kid(),
            keys.kids().join(",")
        ),
        None => println!(
            "# keys: {}, the secret is generated on first start",
            config.tokens.algorithm
        ),
    }
    println!("# configuration is valid");
    ExitCode::SUCCESS
}
