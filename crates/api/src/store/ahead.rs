//! Successors minted ahead: by the request's own task, before its rotation reaches the
//! database, so that the one task or thread that commits does as little as it can.

use auth_core::{ClientMark, FamilyId, Jti, Presented, RefreshSpec, TokenCodec, TokenHash, UserId};
use tokio::sync::mpsc;

use super::StoreError;

/// A successor refresh token, minted before its rotation is committed.
#[derive(Clone, Debug)]
pub struct Minted {
    /// Its id.
    pub jti: Jti,
    /// Its family.
    pub family: FamilyId,
    /// Its `exp`.
    pub exp: i64,
    /// The token.
    pub token: String,
    /// Its digest, as stored.
    pub hash: TokenHash,
}

impl Minted {
    /// The successor a rotation of `presented` at `now` issues when the session does not cap
    /// it: a full refresh lifetime. `None` for a token that names no family (the engine
    /// mints one once it knows the family).
    ///
    /// # Errors
    /// A signing error.
    pub fn ahead(
        codec: &TokenCodec,
        presented: &Presented<'_>,
        now: i64,
    ) -> Result<Option<Self>, StoreError> {
        let exp = now.saturating_add(auth_core::seconds(codec.settings().refresh_token_lifetime));
        presented
            .family
            .map(|family| mint_successor(codec, presented.user, family, now, exp))
            .transpose()
    }
}

/// The successor that a rotation at `now` issues, expiring at `exp`.
pub(super) fn mint_successor(
    codec: &TokenCodec,
    user: UserId,
    family: &FamilyId,
    now: i64,
    exp: i64,
) -> Result<Minted, StoreError> {
    let jti = crate::ids::new_jti();
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

/// A rotation on its way to a group commit: what the committer needs of the request.
pub(super) struct Pending {
    pub jti: Jti,
    pub hash: TokenHash,
    pub user: UserId,
    pub family: Option<FamilyId>,
    pub client: ClientMark,
    pub now: i64,
    pub successor: Option<Minted>,
}

impl Pending {
    /// The rotation of `presented` at `now`, with its successor minted ahead.
    pub fn new(presented: &Presented<'_>, successor: Option<Minted>, now: i64) -> Self {
        Self {
            jti: presented.jti.clone(),
            hash: presented.hash,
            user: presented.user,
            family: presented.family.cloned(),
            client: presented.client,
            now,
            successor,
        }
    }

    /// The presented token, as the rules see it.
    pub fn presented(&self) -> Presented<'_> {
        Presented {
            jti: &self.jti,
            hash: self.hash,
            user: self.user,
            family: self.family.as_ref(),
            client: self.client,
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
