//! `jwtd user import FILE`: users from an export of Django's `auth_user`, with their
//! password hashes as Django stored them (they verify as they are, and become argon2id at
//! each user's first login).
//!
//! Idempotent: a user already there is updated when the file says otherwise (hash,
//! is_active) and left alone when it says the same. Bad rows are refused one by one, with
//! their place in the file, and never stop the others.
//!
//! Django's user ids are kept when the file has them (an `id` column, or dumpdata's `pk`):
//! tokens name users by id, so a token simplejwt issued for user 7 must name the same person
//! in jwtd. A row whose id belongs to another user, or whose user already has another id, is
//! refused rather than renumbered.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use api::db::Database;
use api::events::EventKind;
use api::users;
use auth_core::{Revocation, UserId, stored_hash_scheme};
use serde_json::Value;

use crate::config::Config;

/// What `jwtd user create` and the import say of a username that does not fit.
pub(super) const BAD_USERNAME: &str = "the username must be 1 to 150 characters";

/// One user as the file gives it; `at` is where ("line 3", "entry 2").
struct Row {
    at: String,
    /// Django's primary key, when the export has it.
    id: Option<String>,
    username: String,
    password: String,
    is_active: String,
}

/// A row that could not be read, and why.
struct Refused {
    at: String,
    reason: String,
}

#[derive(Default)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
    refused: Vec<Refused>,
}

/// Imports `file` into `db`; exits with failure when any row was refused (the others are
/// imported all the same).
///
/// # Errors
/// When the file cannot be read or has no usable header, or on a database error.
pub(super) async fn import(
    config: &Config,
    db: &Database,
    file: &Path,
    now: i64,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = if is_json(file, &bytes) {
        json_rows(&bytes)?
    } else {
        csv_rows(&bytes)?
    };
    let cache = users::UserCache::default();
    let mut counts = Counts::default();
    let mut seen: HashMap<String, String> = HashMap::new();
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err(refused) => {
                counts.refused.push(refused);
                continue;
            }
        };
        let refuse = |reason: String| Refused {
            at: row.at.clone(),
            reason,
        };
        let Some(username) = users::normalized_username(&row.username) else {
            counts.refused.push(refuse(BAD_USERNAME.to_owned()));
            continue;
        };
        if let Some(first) = seen.get(username) {
            counts
                .refused
                .push(refuse(format!("{username:?} is already on {first}")));
            continue;
        }
        seen.insert(username.to_owned(), row.at.clone());
        if let Err(unusable) = stored_hash_scheme(&row.password) {
            counts
                .refused
                .push(refuse(format!("password of {username:?}: {unusable}")));
            continue;
        }
        let Some(is_active) = flag(&row.is_active) else {
            counts.refused.push(refuse(format!(
                "is_active of {username:?} is neither true nor false"
            )));
            continue;
        };
        let id = match row.id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match text.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    counts.refused.push(refuse(format!(
                        "id of {username:?} is not a positive whole number"
                    )));
                    continue;
                }
            },
        };
        let existing = users::find_by_username(&db.read, username).await?;
        if let (Some(user), Some(id)) = (&existing, id)
            && user.id != id
        {
            counts.refused.push(refuse(format!(
                "{username:?} already has id {} here, not {id}",
                user.id
            )));
            continue;
        }
        match existing {
            None => {
                if let Some(id) = id
                    && let Some(other) = users::find_by_id(&db.read, UserId(id)).await?
                {
                    counts.refused.push(refuse(format!(
                        "id {id} of {username:?} already belongs to {:?}",
                        other.username
                    )));
                    continue;
                }
                users::create_with(&db.write, id, username, &row.password, is_active, now).await?;
                counts.created += 1;
            }
            Some(user) if user.password_hash == row.password && user.is_active == is_active => {
                counts.unchanged += 1;
            }
            Some(user) => {
                let id = UserId(user.id);
                if user.password_hash != row.password {
                    users::set_password_hash(&db.write, &cache, id, &row.password).await?;
                }
                if user.is_active != is_active {
                    users::set_active(&db.write, &cache, id, is_active).await?;
                    if !is_active {
                        // As `jwtd user deactivate`: the user's sessions end too.
                        super::revoke_all(
                            config,
                            db,
                            id,
                            Revocation::UserDeactivated,
                            EventKind::UserDeactivated,
                        )
                        .await?;
                    }
                }
                counts.updated += 1;
            }
        }
    }
    if counts.created > 0 {
        users::follow_explicit_ids(&db.write).await?;
    }
    for refused in &counts.refused {
        eprintln!("{}: refused: {}", refused.at, refused.reason);
    }
    println!(
        "{}: {} created, {} updated, {} unchanged, {} refused",
        file.display(),
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.refused.len()
    );
    Ok(if counts.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn is_json(file: &Path, bytes: &[u8]) -> bool {
    match file.extension().and_then(|extension| extension.to_str()) {
        Some(extension) if extension.eq_ignore_ascii_case("json") => true,
        Some(extension) if extension.eq_ignore_ascii_case("csv") => false,
        _ => bytes
            .iter()
            .find(|byte| !byte.is_ascii_whitespace())
            .is_some_and(|byte| *byte == b'['),
    }
}

/// Django booleans as exports spell them: Python's, PostgreSQL's, MySQL's.
fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Some(true),
        "false" | "f" | "0" | "no" => Some(false),
        _ => None,
    }
}

type Rows = Vec<Result<Row, Refused>>;

fn csv_rows(bytes: &[u8]) -> anyhow::Result<Rows> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .context("cannot read the CSV header")?
        .clone();
    let column = |name: &str| headers.iter().position(|header| header.trim() == name);
    let (Some(username), Some(password), Some(is_active)) =
        (column("username"), column("password"), column("is_active"))
    else {
        bail!("the CSV header must name the columns username, password and is_active");
    };
    let id = column("id");
    let mut rows = Vec::new();
    for record in reader.records() {
        let row = match record {
            Ok(record) => {
                let at = record.position().map_or_else(
                    || "a line".to_owned(),
                    |place| format!("line {}", place.line()),
                );
                match (
                    record.get(username),
                    record.get(password),
                    record.get(is_active),
                ) {
                    (Some(name), Some(hash), Some(active)) => Ok(Row {
                        at,
                        id: id.and_then(|id| record.get(id)).map(str::to_owned),
                        username: name.to_owned(),
                        password: hash.to_owned(),
                        is_active: active.to_owned(),
                    }),
                    _ => Err(Refused {
                        at,
                        reason: "fewer columns than the header".to_owned(),
                    }),
                }
            }
            Err(error) => Err(Refused {
                at: error.position().map_or_else(
                    || "a line".to_owned(),
                    |place| format!("line {}", place.line()),
                ),
                reason: "not CSV text (UTF-8)".to_owned(),
            }),
        };
        rows.push(row);
    }
    Ok(rows)
}

fn json_rows(bytes: &[u8]) -> anyhow::Result<Rows> {
    let entries: Vec<Value> =
        serde_json::from_slice(bytes).context("the JSON file must be an array of objects")?;
    Ok(entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let at = format!("entry {}", index + 1);
            // `manage.py dumpdata auth.user` nests the columns under "fields".
            let object = entry.get("fields").unwrap_or(entry);
            let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
            let id = match entry.get("pk").or_else(|| object.get("id")) {
                Some(Value::Number(number)) => Some(number.to_string()),
                Some(Value::String(text)) => Some(text.clone()),
                Some(other) => Some(other.to_string()),
                None => None,
            };
            let is_active = match object.get("is_active") {
                Some(Value::Bool(active)) => Some(active.to_string()),
                Some(Value::Number(number)) => Some(number.to_string()),
                Some(Value::String(text)) => Some(text.clone()),
                _ => None,
            };
            match (text("username"), text("password"), is_active) {
                (Some(username), Some(password), Some(is_active)) => Ok(Row {
                    at,
                    id,
                    username,
                    password,
                    is_active,
                }),
                _ => Err(Refused {
                    at,
                    reason: "needs the keys username, password (strings) and is_active".to_owned(),
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_read_as_django_exports_write_them() {
        for (text, expected) in [
            ("True", Some(true)),
            ("t", Some(true)),
            ("1", Some(true)),
            (" false ", Some(false)),
            ("f", Some(false)),
            ("0", Some(false)),
            ("", None),
            ("maybe", None),
        ] {
            assert_eq!(flag(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_format_is_told_by_the_extension_or_else_by_the_first_character() {
        assert!(is_json(Path::new("users.JSON"), b"username"));
        assert!(!is_json(Path::new("users.csv"), b"[1]"));
        assert!(is_json(Path::new("export"), b"  \n[{}]"));
        assert!(!is_json(
            Path::new("export"),
            b"username,password,is_active"
        ));
    }
}
