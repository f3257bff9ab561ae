//! The session manager: login, rotation, revocation and purpose tokens over a store.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::claims::ExtraClaims;
use crate::device::DeviceInfo;
use crate::dyn_store::DynStore;
use crate::error::{Error, KeyError, TokenError};
use crate::events::{EventLog, Revocation, RevocationReason, RevocationSet};
use crate::keys::KeyRing;
use crate::random::hex_id;
use crate::rotation;
use crate::settings::Settings;
use crate::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore,
};
use crate::tokens::refresh::UserClaims;
use crate::tokens::{AccessToken, GenericToken, RefreshToken, TokenCodec, TokenPair};
use crate::user::{ClaimsExtension, NoClaimsExtension, User, UserStore};

/// How many rows one purge statement deletes at most, unless the store chooses otherwise
/// ([`SessionStore::expired_sessions_batch_size`],
/// [`PurposeTokenStore::expired_purpose_tokens_batch_size`]).
pub const PURGE_BATCH_SIZE: u32 = 1000;

/// What a rotation (`/refresh/`) did. Token-level rejections (garbage, bad signature,
/// expired, wrong type, no `session` claim) are [`Error::Token`] instead: they never touch
/// the database.
#[derive(Debug, Clone)]
pub enum RotationOutcome {
    /// The presented token was current: here are its successor and a new access token.
    Rotated(TokenPair),
    /// The presented token is the immediate predecessor, within the reuse interval: here
    /// are the byte-identical successor already issued and a new access token.
    Retried(TokenPair),
    /// The presented token was already rotated (outside the reuse interval): the whole
    /// session was deleted.
    Replayed,
    /// No such session (logged out, revoked, purged or never existed).
    NotFound,
    /// The session is disabled; nothing was changed. `email_verified` tells whether the
    /// user has confirmed the address since (401 `email_not_verified` if not).
    Disabled {
        /// Whether the user's e-mail address is now verified.
        email_verified: bool,
    },
    /// The session is past its absolute lifetime: it was deleted.
    SessionExpired,
    /// The user is inactive or no longer exists: all of their sessions were deleted.
    UserInactive,
}

impl RotationOutcome {
    /// The new tokens, for [`Rotated`](Self::Rotated) and [`Retried`](Self::Retried).
    pub fn tokens(&self) -> Option<&TokenPair> {
        match self {
            RotationOutcome::Rotated(pair) | RotationOutcome::Retried(pair) => Some(pair),
            _ => None,
        }
    }

    /// A short stable name for logs and metrics (`"rotated"`, `"replayed"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            RotationOutcome::Rotated(_) => "rotated",
            RotationOutcome::Retried(_) => "retried",
            RotationOutcome::Replayed => "replayed",
            RotationOutcome::NotFound => "not_found",
            RotationOutcome::Disabled { .. } => "disabled",
            RotationOutcome::SessionExpired => "session_expired",
            RotationOutcome::UserInactive => "user_inactive",
        }
    }
}

/// Counts from [`SessionManager::purge`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired sessions deleted (or, in a dry run, found).
    pub sessions: u64,
    /// Expired purpose tokens deleted (or, in a dry run, found).
    pub purpose_tokens: u64,
    /// Events older than the retention ([`SessionManager::event_retention_cutoff`])
    /// deleted (or, in a dry run, found); 0 for a store without an event log.
    pub events: u64,
}

/// Counts from [`SessionManager::revoke_credentials`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevokedCredentials {
    /// Sessions deleted.
    pub sessions: u64,
    /// Purpose tokens deleted.
    pub purpose_tokens: u64,
}

/// Mints, rotates and revokes sessions over a [`SessionStore`], reading users from a
/// [`UserStore`]. Build it once and share it (e.g. in an `Arc`).
///
/// The store (held as a [`DynStore`]) and the claims extension are erased: the manager's
/// type names only the user store, `SessionManager<U>`.
///
/// Every operation takes the current time, so that tests control the clock.
pub struct SessionManager<U: UserStore> {
    settings: Settings,
    codec: TokenCodec,
    store: DynStore,
    users: U,
    extension: Arc<dyn ClaimsExtension<U::User>>,
    /// Where the revocations this manager makes are recorded at once, besides the store.
    revocations: Option<Arc<RevocationSet>>,
}

impl<U: UserStore + fmt::Debug> fmt::Debug for SessionManager<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("settings", &self.settings)
            .field("codec", &self.codec)
            .field("store", &self.store)
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

impl<U: UserStore> SessionManager<U> {
    /// A manager with the key ring the settings describe (see
    /// [`KeyRing::from_settings`]); fails when the keys are missing or unusable.
    pub fn from_settings<S>(settings: Settings, store: S, users: U) -> Result<Self, KeyError>
    where
        S: SessionStore + PurposeTokenStore + 'static,
    {
        let keys = KeyRing::from_settings(&settings)?;
        Ok(Self::new(settings, keys, store, users))
    }

    /// A manager with an explicit key ring.
    pub fn new<S>(settings: Settings, keys: KeyRing, store: S, users: U) -> Self
    where
        S: SessionStore + PurposeTokenStore + 'static,
    {
        Self::with_dyn_store(settings, keys, DynStore::new(store), users)
    }

    /// A manager over a store already erased, for example one that keeps sessions only
    /// ([`DynStore::sessions_only`]; its purpose-token operations then fail).
    pub fn with_dyn_store(settings: Settings, keys: KeyRing, store: DynStore, users: U) -> Self {
        let codec = TokenCodec::new(keys, &settings);
        Self {
            settings,
            codec,
            store,
            users,
            extension: Arc::new(NoClaimsExtension),
            revocations: None,
        }
    }

    /// Records every revocation this manager makes in `revocations` as soon as the store
    /// has committed it, so that this process refuses the ended sessions' access tokens
    /// at once; the extractors of the axum crate consult the same set. A feed from the
    /// store's [`EventLog`](crate::events::EventLog) adds the revocations of other
    /// processes.
    pub fn with_revocations(mut self, revocations: Arc<RevocationSet>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// The revocation set, if any.
    pub fn revocations(&self) -> Option<&Arc<RevocationSet>> {
        self.revocations.as_ref()
    }

    /// Records sessions ended for `reason` in the revocation set.
    fn revoked<'a>(
        &self,
        sessions: impl IntoIterator<Item = &'a str>,
        reason: RevocationReason,
        at: OffsetDateTime,
    ) {
        if let Some(set) = &self.revocations {
            for session in sessions {
                set.session_ended(session, reason, at);
            }
        }
    }

    /// Ends every session of `user_id` for `reason`, and records them.
    async fn end_user_sessions(
        &self,
        user_id: &str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, Error> {
        let ended = self
            .store
            .revoke_user_sessions(user_id, SessionEnd::new(reason, now))
            .await?;
        self.revoked(ended.iter().map(String::as_str), reason, now);
        Ok(ended)
    }

    /// Ends one session of `user_id` for `reason`, and records it.
    async fn end_user_session(
        &self,
        user_id: &str,
        session: &str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let ended = self
            .store
            .revoke_user_session(user_id, session, SessionEnd::new(reason, now))
            .await?;
        if ended {
            self.revoked([session], reason, now);
        }
        Ok(ended)
    }

    /// Adds application claims to every refresh (and so access) token, at login and at
    /// every rotation. Defaults to [`NoClaimsExtension`].
    pub fn with_claims_extension(
        mut self,
        extension: impl ClaimsExtension<U::User> + 'static,
    ) -> Self {
        self.extension = Arc::new(extension);
        self
    }

    /// The same manager minting refresh tokens of at most `bytes` (see
    /// [`TokenCodec::with_max_refresh_token_bytes`]): the axum crate's state sets what
    /// fits in the refresh cookie.
    pub fn with_max_refresh_token_bytes(mut self, bytes: usize) -> Self {
        self.codec = self.codec.with_max_refresh_token_bytes(bytes);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The token codec, for stateless verification.
    pub fn codec(&self) -> &TokenCodec {
        &self.codec
    }

    /// The session store.
    pub fn store(&self) -> &DynStore {
        &self.store
    }

    /// The user store.
    pub fn users(&self) -> &U {
        &self.users
    }

    /// Logs `user` in on a device: opens a session and mints its first refresh token and
    /// an access token.
    pub async fn open_session(
        &self,
        user: &U::User,
        device: &DeviceInfo,
        now: OffsetDateTime,
    ) -> Result<TokenPair, Error> {
        self.open(user, device, true, now).await
    }

    /// Like [`open_session`](Self::open_session), for a user who must confirm the e-mail
    /// address first: the tokens work until they expire, but the session does not rotate
    /// (401 `email_not_verified`).
    pub async fn open_disabled_session(
        &self,
        user: &U::User,
        device: &DeviceInfo,
        now: OffsetDateTime,
    ) -> Result<TokenPair, Error> {
        self.open(user, device, false, now).await
    }

    async fn open(
        &self,
        user: &U::User,
        device: &DeviceInfo,
        enabled: bool,
        now: OffsetDateTime,
    ) -> Result<TokenPair, Error> {
        let session = hex_id();
        let session_iat = now.unix_timestamp();
        let (refresh, payload) = RefreshToken::mint(
            &self.codec,
            self.user_claims(user)?,
            session.clone(),
            session_iat,
            now,
        )?;
        self.store
            .open_session(&NewSession {
                session,
                user_id: refresh.claims().user_id.clone(),
                jti: refresh.claims().jti.clone(),
                refresh_claims: payload,
                enabled,
                created: now,
                expires_at: refresh.expires_at(),
                device: device.clone().truncated(),
            })
            .await?;
        let access = AccessToken::derive(&self.codec, refresh.claims(), now)?;
        Ok(TokenPair { access, refresh })
    }

    /// Exchanges a refresh token for a new pair, following the rules of sessions.md:
    /// atomic claim, replay detection, reuse interval, absolute session lifetime, claims
    /// re-read from the user store, disabled sessions.
    pub async fn rotate(
        &self,
        presented: &str,
        device: &DeviceInfo,
        now: OffsetDateTime,
    ) -> Result<RotationOutcome, Error> {
        self.rotate_with(presented, || device.clone(), now).await
    }

    /// [`rotate`](Self::rotate), with the device metadata made by `device` only when it
    /// is needed: after the token has verified and its user has loaded, active. A
    /// request with a garbage, foreign or expired token then costs no User-Agent parse.
    pub async fn rotate_with(
        &self,
        presented: &str,
        device: impl FnOnce() -> DeviceInfo + Send,
        now: OffsetDateTime,
    ) -> Result<RotationOutcome, Error> {
        let claims = self
            .codec
            .decode(presented, crate::TokenType::Refresh, now)?;
        let session = claims.session.clone().ok_or(TokenError::Invalid)?;
        let now_s = now.unix_timestamp();

        let deadline = claims
            .session_iat
            .and_then(|iat| self.codec.session_deadline(iat));
        if rotation::session_expired(deadline, now) {
            self.end_user_session(&claims.user_id, &session, RevocationReason::Expired, now)
                .await?;
            return Ok(RotationOutcome::SessionExpired);
        }

        let user = match self.users.load_user(&claims.user_id).await? {
            Some(user) if user.is_active() => user,
            found => {
                let reason = match found {
                    Some(_) => RevocationReason::Deactivated,
                    None => RevocationReason::Deleted,
                };
                self.end_user_sessions(&claims.user_id, reason, now).await?;
                return Ok(RotationOutcome::UserInactive);
            }
        };

        // A session whose token carries no `session_iat` is anchored now.
        let session_iat = claims.session_iat.unwrap_or(now_s);
        let (refresh, payload) = RefreshToken::mint(
            &self.codec,
            self.user_claims(&user)?,
            session.clone(),
            session_iat,
            now,
        )?;
        let rotation = Rotation {
            session,
            user_id: claims.user_id.clone(),
            presented_jti: claims.jti.clone(),
            new_jti: refresh.claims().jti.clone(),
            new_refresh_claims: payload,
            expires_at: refresh.expires_at(),
            device: device().truncated(),
            now,
            reuse_interval: reuse_interval(&self.settings),
        };
        Ok(match self.store.rotate_session(&rotation).await? {
            RotateResult::Rotated => {
                let access = AccessToken::derive(&self.codec, refresh.claims(), now)?;
                RotationOutcome::Rotated(TokenPair { access, refresh })
            }
            RotateResult::Retried { refresh_claims } => {
                let refresh = RefreshToken::resign(&self.codec, &refresh_claims)?;
                let access = AccessToken::derive(&self.codec, refresh.claims(), now)?;
                RotationOutcome::Retried(TokenPair { access, refresh })
            }
            RotateResult::Replayed => {
                let replay = RevocationReason::Replay;
                self.revoked([rotation.session.as_str()], replay, now);
                RotationOutcome::Replayed
            }
            RotateResult::NotFound => RotationOutcome::NotFound,
            RotateResult::Disabled => RotationOutcome::Disabled {
                email_verified: user.email_verified(),
            },
        })
    }

    /// Verifies an access token (stateless), then refuses it ([`Error::SessionInactive`])
    /// when the revocation set ([`with_revocations`](Self::with_revocations)) holds its
    /// session or its user. The store is asked whether its session still exists with
    /// `ACCESS_TOKEN_SESSION_CHECK` on, and when the revocation set cannot tell (its feed
    /// is behind, or it overflowed).
    pub async fn authenticate(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessToken, Error> {
        let access = AccessToken::decode(&self.codec, token, now)?;
        let revocation = self.revocations.as_ref().map(|set| {
            let claims = access.claims();
            set.check(access.session(), &claims.user_id, claims.iat, now)
        });
        if revocation == Some(Revocation::Revoked) {
            return Err(Error::SessionInactive);
        }
        if self.settings.access_token_session_check || revocation == Some(Revocation::Unknown) {
            let active = match access.session() {
                Some(session) => self.store.session_is_active(session).await?,
                None => false,
            };
            if !active {
                return Err(Error::SessionInactive);
            }
        }
        Ok(access)
    }

    /// Closes the session of `refresh_token` for the logged-in `user_id`. Any refresh
    /// token of one of the user's own sessions works, even an already rotated one. A token
    /// that does not verify or belongs to another user is [`TokenError::Invalid`] and
    /// nothing is deleted. Returns whether a session row was deleted (`false` when it was
    /// already gone).
    pub async fn logout(
        &self,
        user_id: &str,
        refresh_token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let claims = self
            .codec
            .decode(refresh_token, crate::TokenType::Refresh, now)?;
        let session = match claims.session {
            Some(session) if claims.user_id == user_id => session,
            _ => return Err(TokenError::Invalid.into()),
        };
        self.end_user_session(user_id, &session, RevocationReason::Logout, now)
            .await
    }

    /// Ends every session of the user (`logout_all`). How many were deleted.
    pub async fn logout_all(&self, user_id: &str, now: OffsetDateTime) -> Result<u64, Error> {
        let ended = self
            .end_user_sessions(user_id, RevocationReason::LogoutAll, now)
            .await?;
        Ok(ended.len() as u64)
    }

    /// Ends every session of the user except `keep` ("sign out of other devices"), each
    /// for `logout_all`. How many were ended. A session opened while this runs may stay
    /// open: it is the caller's own doing, from a device that knows the password.
    pub async fn revoke_other_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, Error> {
        let sessions = self.store.list_user_sessions(user_id).await?;
        let mut ended = 0;
        for record in sessions {
            if Some(record.session.as_str()) == keep {
                continue;
            }
            if self
                .end_user_session(user_id, &record.session, RevocationReason::LogoutAll, now)
                .await?
            {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Ends one of the user's sessions at their request (`logout`); `false` if it is not
    /// one of theirs.
    pub async fn revoke_user_session(
        &self,
        user_id: &str,
        session: &str,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.end_user_session(user_id, session, RevocationReason::Logout, now)
            .await
    }

    /// Ends a session whoever owns it (`admin`).
    pub async fn revoke_session(&self, session: &str, now: OffsetDateTime) -> Result<bool, Error> {
        let ended = self
            .store
            .revoke_session(session, SessionEnd::new(RevocationReason::Admin, now))
            .await?;
        if ended {
            self.revoked([session], RevocationReason::Admin, now);
        }
        Ok(ended)
    }

    /// The user's sessions, newest first.
    pub async fn list_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        Ok(self.store.list_user_sessions(user_id).await?)
    }

    fn user_claims(&self, user: &U::User) -> Result<UserClaims, Error> {
        let mut extra = ExtraClaims::new();
        if !self.settings.user_attributes.is_empty() {
            self.settings
                .user_attributes
                .apply(&user.to_json(), &mut extra)?;
        }
        self.extension.extend_claims(user, &mut extra)?;
        Ok(UserClaims {
            user_id: user.id(),
            role: user.role(),
            email_verified: user.email_verified(),
            extra,
        })
    }
}

impl<U: UserStore> SessionManager<U> {
    /// Makes a single-use token for `(user_id, purpose)`, replacing the user's older
    /// tokens for that purpose. Its lifetime is the purpose's (`PURPOSE_TOKEN_LIFETIMES`,
    /// else `PURPOSE_TOKEN_LIFETIME`).
    pub async fn make_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        device: &DeviceInfo,
        now: OffsetDateTime,
    ) -> Result<GenericToken, Error> {
        let (token, row) = self.new_purpose_token(user_id, purpose, device, now);
        self.store.replace_purpose_token(&row).await?;
        Ok(token)
    }

    /// A new single-use token for `(user_id, purpose)` with the purpose's lifetime, and
    /// the row to store for it, without storing it: for an application that stores the
    /// row in a transaction of its own, with the mail that carries the token (store it
    /// as [`PurposeTokenStore::replace_purpose_token`] does: replacing the user's older
    /// tokens for that purpose).
    pub fn new_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        device: &DeviceInfo,
        now: OffsetDateTime,
    ) -> (GenericToken, NewPurposeToken) {
        let lifetime = self.settings.purpose_token_lifetime_for(purpose);
        let expires_at = now
            .checked_add(time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX))
            .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
        GenericToken::generate(
            user_id,
            purpose,
            device.clone().truncated(),
            now,
            expires_at,
        )
    }

    /// Checks and consumes a purpose token: `Some` exactly once for a valid, unexpired
    /// token of this user and purpose, `None` otherwise.
    pub async fn consume_purpose_token(
        &self,
        user_id: &str,
        purpose: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<PurposeTokenRecord>, Error> {
        let hash = GenericToken::hash(token);
        Ok(self
            .store
            .consume_purpose_token(user_id, purpose, &hash, now)
            .await?)
    }

    /// Whether `token` is a valid, unexpired token of this user and purpose, without
    /// consuming it (see [`PurposeTokenStore::purpose_token_is_live`]).
    pub async fn purpose_token_is_live(
        &self,
        user_id: &str,
        purpose: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let hash = GenericToken::hash(token);
        Ok(self
            .store
            .purpose_token_is_live(user_id, purpose, &hash, now)
            .await?)
    }

    /// After a credential change (password set, changed or reset: `reason`), or when an
    /// account is deactivated or deleted: deletes all of the user's sessions and pending
    /// purpose tokens.
    pub async fn revoke_credentials(
        &self,
        user_id: &str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> Result<RevokedCredentials, Error> {
        let sessions = self.end_user_sessions(user_id, reason, now).await?.len() as u64;
        let purpose_tokens = self.store.revoke_user_purpose_tokens(user_id).await?;
        Ok(RevokedCredentials {
            sessions,
            purpose_tokens,
        })
    }

    /// Deletes expired sessions and purpose tokens in batches, each its own short
    /// statement, so rotations are never blocked for long. A batch has as many rows as the
    /// store asks for ([`SessionStore::expired_sessions_batch_size`],
    /// [`PurposeTokenStore::expired_purpose_tokens_batch_size`], [`PURGE_BATCH_SIZE`]
    /// unless it chooses otherwise), and the store may pause between batches (the SQLite
    /// store gives the writer back for as long as each batch held it). With `dry_run`,
    /// only counts.
    pub async fn purge(&self, now: OffsetDateTime, dry_run: bool) -> Result<PurgeReport, Error> {
        let cutoff = self.event_retention_cutoff(now);
        let with_events = self.store.has_event_log();
        if dry_run {
            return Ok(PurgeReport {
                sessions: self.store.count_expired_sessions(now).await?,
                purpose_tokens: self.store.count_expired_purpose_tokens(now).await?,
                events: match with_events {
                    true => self.store.count_events_before(cutoff).await?,
                    false => 0,
                },
            });
        }
        let mut report = PurgeReport::default();
        let batch_size = self.store.expired_sessions_batch_size().max(1);
        loop {
            let deleted = self.store.delete_expired_sessions(now, batch_size).await?;
            report.sessions += deleted;
            if deleted < u64::from(batch_size) {
                break;
            }
        }
        let batch_size = self.store.expired_purpose_tokens_batch_size().max(1);
        loop {
            let deleted = self
                .store
                .delete_expired_purpose_tokens(now, batch_size)
                .await?;
            report.purpose_tokens += deleted;
            if deleted < u64::from(batch_size) {
                break;
            }
        }
        if with_events {
            let batch_size = self.store.expired_sessions_batch_size().max(1);
            loop {
                let deleted = self.store.delete_events_before(cutoff, batch_size).await?;
                report.events += deleted;
                if deleted < u64::from(batch_size) {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// The time before which [`purge`](Self::purge) deletes events: `now` less
    /// `EVENT_RETENTION`, or less `REFRESH_TOKEN_LIFETIME` when that is longer.
    pub fn event_retention_cutoff(&self, now: OffsetDateTime) -> OffsetDateTime {
        let retention = self
            .settings
            .event_retention
            .max(self.settings.refresh_token_lifetime);
        let retention = time::Duration::try_from(retention).unwrap_or(time::Duration::MAX);
        now.checked_sub(retention)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

fn reuse_interval(settings: &Settings) -> time::Duration {
    time::Duration::try_from(settings.reuse_interval).unwrap_or(time::Duration::MAX)
}
