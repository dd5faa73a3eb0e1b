//! Security events: logged as structured `tracing` events and kept in `auth_events`.

use auth_core::{FamilyId, UserId};
use entity::auth_events;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

/// Who is asking: what a session and a security event record about the client.
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// The peer address (or the first hop of a trusted proxy header).
    pub ip: Option<String>,
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
}

/// The kinds of security event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed (unknown user, wrong password, inactive user).
    LoginFailed,
    /// An already-rotated refresh token was presented: its family was revoked.
    ReuseDetected,
    /// `POST /logout`.
    Logout,
    /// `POST /logout/all`.
    LogoutAll,
    /// A session was ended by id.
    SessionRevoked,
    /// A password was changed.
    PasswordChanged,
    /// A user was deactivated.
    UserDeactivated,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::ReuseDetected => "reuse_detected",
            EventKind::Logout => "logout",
            EventKind::LogoutAll => "logout_all",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::PasswordChanged => "password_changed",
            EventKind::UserDeactivated => "user_deactivated",
        }
    }
}

/// One security event. Never carries a token or a password.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// To whom, when known.
    pub user: Option<UserId>,
    /// The username given, for failed logins.
    pub username: Option<&'a str>,
    /// The session concerned.
    pub family: Option<&'a FamilyId>,
    /// The client.
    pub client: &'a Client,
    /// When, Unix seconds.
    pub at: i64,
}

/// Writes the event to the log (target `jwtd::security`): warnings for reuse and failed
/// logins, information otherwise.
pub fn log(event: &Event<'_>) {
    let user_id = event.user.map(|user| user.0);
    let family_id = event.family.map(FamilyId::as_str);
    if event.kind == EventKind::ReuseDetected || event.kind == EventKind::LoginFailed {
        tracing::warn!(
            target: "jwtd::security",
            event = event.kind.as_str(),
            user_id,
            family_id,
            ip = event.client.ip.as_deref(),
            user_agent = event.client.user_agent.as_deref(),
            "security event"
        );
    } else {
        tracing::info!(
            target: "jwtd::security",
            event = event.kind.as_str(),
            user_id,
            family_id,
            ip = event.client.ip.as_deref(),
            user_agent = event.client.user_agent.as_deref(),
            "security event"
        );
    }
}

/// Logs the event and stores it.
///
/// # Errors
/// The database error.
pub async fn record(db: &impl ConnectionTrait, event: Event<'_>) -> Result<(), DbErr> {
    log(&event);
    let user_id = event.user.map(|user| user.0);
    let family_id = event.family.map(FamilyId::as_str);
    auth_events::ActiveModel {
        at: Set(event.at),
        kind: Set(event.kind.as_str().to_owned()),
        user_id: Set(user_id),
        username: Set(event.username.map(|name| name.chars().take(150).collect())),
        family_id: Set(family_id.map(str::to_owned)),
        ip: Set(event.client.ip.clone()),
        user_agent: Set(event.client.user_agent.clone()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
