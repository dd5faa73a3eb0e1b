//! Successors minted ahead: by the request's own task, before its rotation is queued for a
//! group commit, so that the one task or thread that commits does as little as it can.

use auth_core::{FamilyId, Jti, RefreshSpec, TokenCodec, TokenHash, UserId};

use tokio::sync::mpsc;

use super::Presented;
use crate::error::ApiError;

/// A successor minted before its rotation is committed.
pub(super) struct Minted {
    pub jti: Jti,
    pub family: FamilyId,
    pub exp: i64,
    pub token: String,
    pub hash: TokenHash,
}

/// The successor that a rotation at `now` issues, expiring at `exp`.
pub(super) fn mint_successor(
    codec: &TokenCodec,
    user: UserId,
    family: &FamilyId,
    now: i64,
    exp: i64,
) -> Result<Minted, ApiError> {
    let jti = crate::tokens::new_jti();
    let token = codec.mint_refresh(&RefreshSpec {
        jti: &jti,
        user,
        family,
        iat: now,
        exp,
    })?;
    Ok(Minted {
        hash: TokenHash::of(&token),
        jti,
        family: family.clone(),
        exp,
        token,
    })
}

/// A rotation on its way to a group commit.
pub(super) struct Pending {
    pub jti: Jti,
    pub hash: TokenHash,
    pub user: UserId,
    pub now: i64,
    /// Minted ahead for a full refresh lifetime from `now`; `None` for a token that names
    /// no family (the committer mints one once it knows the family).
    pub successor: Option<Minted>,
}

impl Pending {
    /// The rotation of `presented` at `now`, its successor minted.
    pub fn mint(codec: &TokenCodec, presented: &Presented<'_>, now: i64) -> Result<Self, ApiError> {
        let lifetime = codec.settings().refresh_token_lifetime.as_secs();
        let exp = now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
        let successor = presented
            .family
            .map(|family| mint_successor(codec, presented.user, family, now, exp))
            .transpose()?;
        Ok(Self {
            jti: presented.jti.clone(),
            hash: presented.hash,
            user: presented.user,
            now,
            successor,
        })
    }

    /// The successor to issue when the rotation is committed in `family` with an expiry of
    /// `exp`: the one minted ahead if it fits, else one minted now (the session ends before
    /// a full refresh lifetime, or nothing was minted ahead).
    pub fn successor(
        &mut self,
        codec: &TokenCodec,
        family: &FamilyId,
        exp: i64,
    ) -> Result<Minted, ApiError> {
        match self.successor.take() {
            Some(minted) if minted.exp == exp && &minted.family == family => Ok(minted),
            _ => mint_successor(codec, self.user, family, self.now, exp),
        }
    }
}

/// Moves into `batch` the jobs already waiting in `queue`, up to `max` in all.
pub(super) fn take_waiting<T>(queue: &mut mpsc::Receiver<T>, batch: &mut Vec<T>, max: usize) {
    while batch.len() < max {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}
