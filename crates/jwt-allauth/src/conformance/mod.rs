//! The conformance suite of [`SessionStore`] + [`PurposeTokenStore`]: every rule of
//! sessions.md and the guarantees of the [`store`](crate::store) module, written once and
//! run against every store (feature `test-util`).
//!
//! A store's test file invokes [`conformance_tests!`](crate::conformance_tests) with a
//! runner, and gets one `#[test]` per case:
//!
//! ```
//! use std::future::Future;
//!
//! use jwt_allauth::memory::MemoryStore;
//!
//! /// A fresh store per case (a store on a database would also drop it afterwards).
//! async fn with_store<F, Fut>(test: F)
//! where
//!     F: FnOnce(MemoryStore) -> Fut,
//!     Fut: Future<Output = ()>,
//! {
//!     test(MemoryStore::new()).await;
//! }
//!
//! jwt_allauth::conformance_tests!(with_store);
//! # fn main() {}
//! ```
//!
//! The runner gives each case a fresh, empty store and may clean up after it. Each test
//! runs on its own multi-threaded tokio runtime (4 workers), so the concurrency cases
//! race for real; a store must be cheap to clone (the [`Store`] bound).
//!
//! Each case is also a public `async fn case<S: Store>(store: S)` here, for a store that
//! wants to run one alone. To add a case: write the `pub async fn` here (or in
//! [`rules`], for the cases that go through the [`SessionManager`](crate::SessionManager))
//! and add its name to the list in [`conformance_tests!`](crate::conformance_tests).

// Assertions of a test suite: a failed `unwrap` is a failed case, with its message.
#![allow(clippy::unwrap_used)]
// The cases set up `Settings` as a store's own tests must, outside this crate, where the
// struct is `#[non_exhaustive]` and cannot be built with `..Default::default()`.
#![allow(clippy::field_reassign_with_default)]

use std::future::Future;
use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::DeviceInfo;
use crate::StoreError;
use crate::events::RevocationReason;
use crate::store::{
    NewPurposeToken, NewSession, PurposeTokenRecord, PurposeTokenStore, RotateResult, Rotation,
    SessionEnd, SessionRecord, SessionStore,
};

pub mod attempts;
pub mod events;
pub mod rules;
pub use attempts::*;
pub use events::*;
pub use rules::*;

/// Generates one `#[test]` per case of the [`conformance`](crate::conformance) suite, each
/// running the case through `$run` (see the module documentation) on a multi-threaded
/// tokio runtime with 4 workers.
#[macro_export]
macro_rules! conformance_tests {
    ($run:path) => {
        $crate::conformance_tests!(@cases $run;
            // Sessions.
            open_and_list_round_trip,
            duplicate_session_is_conflict,
            rotate_current_rotates,
            replay_deletes_the_session,
            replay_keeps_other_sessions,
            other_user_is_not_found,
            reuse_interval_retries_predecessor,
            reuse_interval_predecessor_after_interval_replays,
            reuse_interval_older_token_replays,
            reuse_zero_replays_predecessor,
            disabled_session_does_not_rotate,
            revoke_session_by_id,
            revoke_user_session_checks_owner,
            revoke_user_sessions_counts,
            session_is_active_tracks_row,
            expired_sessions_count_and_batched_delete,
            list_sessions_newest_first,
            session_record_hides_secrets,
            // Purpose tokens.
            purpose_replace_deletes_older_same_purpose,
            purpose_consume_once,
            purpose_consume_mismatches,
            purpose_token_is_live_without_consuming_it,
            purpose_revoke_user_tokens,
            purpose_expired_count_and_batched_delete,
            purpose_record_carries_no_hash,
            // Concurrency.
            concurrent_rotation_strict,
            concurrent_rotation_with_reuse_interval,
            logout_races_rotation,
            concurrent_consume_once,
            concurrent_replace_leaves_one_token,
            // The rules through the SessionManager.
            manager_login_opens_a_session_with_claims,
            manager_rotation_and_replay,
            manager_reuse_interval,
            manager_absolute_session_lifetime,
            manager_session_without_session_iat_is_anchored_at_first_rotation,
            manager_claims_are_reread_and_inactive_users_are_cut_off,
            manager_disabled_sessions_do_not_rotate,
            manager_cheap_rejections_touch_nothing,
            manager_access_token_session_check,
            manager_logout_rules,
            manager_revoke_other_sessions,
            manager_purge,
            manager_purge_uses_the_store_batch_size,
            manager_purpose_tokens_and_credential_change,
            manager_concurrent_rotation_strict,
            manager_concurrent_rotation_with_reuse_interval,
            manager_revocation_beats_rotation,
            finding_10_manager_refuses_tokens_over_the_size_limit,
        );
    };
    (@cases $run:path; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::block_on(async {
                    $run($crate::conformance::$case).await;
                });
            }
        )*
    };
}

/// Runs `test` to completion on a new multi-threaded tokio runtime with 4 workers (what
/// [`conformance_tests!`](crate::conformance_tests) runs each case on).
///
/// # Panics
///
/// When the runtime cannot be built, or when `test` panics.
pub fn block_on<F: Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance test")
        .block_on(test)
}

/// What the suite needs of a store: both traits, cheap clones for concurrent tasks.
pub trait Store: SessionStore + PurposeTokenStore + Clone + 'static {}
impl<S: SessionStore + PurposeTokenStore + Clone + 'static> Store for S {}

// ---------------------------------------------------------------------------------------
// Fixtures (public: manager-level cases reuse them).
// ---------------------------------------------------------------------------------------

/// Sessions ended by an administrator at [`t0`].
pub fn admin() -> SessionEnd {
    SessionEnd::new(RevocationReason::Admin, t0())
}

/// Sessions ended by a logout at [`t0`].
pub fn logout() -> SessionEnd {
    SessionEnd::new(RevocationReason::Logout, t0())
}

/// A fixed "now" for the suite; every other time is relative to it.
pub fn t0() -> OffsetDateTime {
    datetime!(2030-01-01 12:00:00 UTC)
}

/// `t0()` plus whole seconds.
pub fn at(seconds: i64) -> OffsetDateTime {
    t0() + Duration::seconds(seconds)
}

/// A session id (32 lowercase hex) from a number.
pub fn session_id(n: u128) -> String {
    format!("{n:032x}")
}

/// Device metadata with every field set, varied by `n`.
pub fn device(n: u32) -> DeviceInfo {
    DeviceInfo {
        ip: Some(format!("192.0.2.{n}")),
        browser: Some("Firefox".into()),
        browser_version: Some(format!("{n}.0")),
        os: Some("Linux".into()),
        os_version: Some(format!("6.{n}")),
        device: Some("Other".into()),
        device_brand: Some("Brand".into()),
        device_model: Some(format!("Model {n}")),
        is_mobile: Some(n.is_multiple_of(2)),
        is_tablet: Some(false),
        is_pc: Some(!n.is_multiple_of(2)),
        is_bot: Some(false),
    }
}

/// A refresh-token payload for `jti`.
pub fn claims(session: &str, jti: &str) -> String {
    format!(r#"{{"token_type":"refresh","session":"{session}","jti":"{jti}"}}"#)
}

/// An enabled session of `user_id` created at `created`, expiring a day later.
pub fn new_session(session: &str, user_id: &str, jti: &str, created: OffsetDateTime) -> NewSession {
    NewSession {
        session: session.to_owned(),
        user_id: user_id.to_owned(),
        jti: jti.to_owned(),
        refresh_claims: claims(session, jti),
        enabled: true,
        created,
        expires_at: created + Duration::days(1),
        device: device(1),
    }
}

/// A rotation of `session` (owned by `user_id`) from `presented` to `new_jti` at `now`.
pub fn rotation(
    session: &str,
    user_id: &str,
    presented: &str,
    new_jti: &str,
    now: OffsetDateTime,
    reuse_interval: Duration,
) -> Rotation {
    Rotation {
        session: session.to_owned(),
        user_id: user_id.to_owned(),
        presented_jti: presented.to_owned(),
        new_jti: new_jti.to_owned(),
        new_refresh_claims: claims(session, new_jti),
        expires_at: now + Duration::days(1),
        device: device(2),
        now,
        reuse_interval,
    }
}

/// A token hash from a byte.
pub fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

/// A purpose token created at `created`, expiring an hour later.
pub fn purpose_token(
    user_id: &str,
    purpose: &str,
    token_hash: [u8; 32],
    created: OffsetDateTime,
) -> NewPurposeToken {
    NewPurposeToken {
        token_hash,
        purpose: purpose.to_owned(),
        user_id: user_id.to_owned(),
        created,
        expires_at: created + Duration::hours(1),
        device: device(3),
    }
}

/// Opens a session and returns its `NewSession`.
pub async fn open<S: SessionStore>(
    store: &S,
    session: &str,
    user_id: &str,
    jti: &str,
    created: OffsetDateTime,
) -> NewSession {
    let new = new_session(session, user_id, jti, created);
    store.open_session(&new).await.unwrap();
    new
}

/// Rotates and returns the result, panicking on a store error.
pub async fn rotate<S: SessionStore>(
    store: &S,
    session: &str,
    user_id: &str,
    presented: &str,
    new_jti: &str,
    now: OffsetDateTime,
    reuse_interval: Duration,
) -> RotateResult {
    store
        .rotate_session(&rotation(
            session,
            user_id,
            presented,
            new_jti,
            now,
            reuse_interval,
        ))
        .await
        .unwrap()
}

/// The one session of `user_id` with id `session`, if listed.
pub async fn find_session<S: SessionStore>(
    store: &S,
    user_id: &str,
    session: &str,
) -> Option<SessionRecord> {
    store
        .list_user_sessions(user_id)
        .await
        .unwrap()
        .into_iter()
        .find(|record| record.session == session)
}

// ---------------------------------------------------------------------------------------
// Sessions.
// ---------------------------------------------------------------------------------------

/// Every field of a session round-trips, device metadata included; timestamps at second
/// precision.
pub async fn open_and_list_round_trip<S: Store>(store: S) {
    let s1 = session_id(1);
    let mut first = new_session(&s1, "alice", "jti-1", at(0));
    first.expires_at = at(3600);
    store.open_session(&first).await.unwrap();

    // All-empty device metadata, disabled, sub-second timestamps.
    let s2 = session_id(2);
    let second = NewSession {
        enabled: false,
        device: DeviceInfo::default(),
        created: at(10) + Duration::milliseconds(750),
        expires_at: at(7200) + Duration::milliseconds(250),
        ..new_session(&s2, "alice", "jti-2", at(10))
    };
    store.open_session(&second).await.unwrap();

    let listed = store.list_user_sessions("alice").await.unwrap();
    assert_eq!(listed.len(), 2);
    let newest = &listed[0];
    assert_eq!(newest.session, s2);
    assert_eq!(newest.user_id, "alice");
    assert!(!newest.enabled);
    assert_eq!(newest.device, DeviceInfo::default());
    assert_eq!(newest.created.unix_timestamp(), at(10).unix_timestamp());
    assert_eq!(newest.last_used.unix_timestamp(), at(10).unix_timestamp());
    assert_eq!(
        newest.expires_at.unix_timestamp(),
        at(7200).unix_timestamp()
    );

    let oldest = &listed[1];
    assert_eq!(
        oldest,
        &SessionRecord {
            session: s1.clone(),
            user_id: "alice".into(),
            enabled: true,
            created: at(0),
            last_used: at(0),
            expires_at: at(3600),
            device: device(1),
        }
    );
    assert_eq!(oldest.created.offset(), time::UtcOffset::UTC);

    assert!(store.list_user_sessions("bob").await.unwrap().is_empty());
}

/// A duplicate session id, or a duplicate `jti`, is a `Conflict`; the first row stays.
pub async fn duplicate_session_is_conflict<S: Store>(store: S) {
    let s1 = session_id(1);
    open(&store, &s1, "alice", "jti-1", at(0)).await;

    let same_id = new_session(&s1, "bob", "jti-other", at(5));
    let err = store.open_session(&same_id).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let same_jti = new_session(&session_id(2), "bob", "jti-1", at(5));
    let err = store.open_session(&same_jti).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());

    assert!(store.list_user_sessions("bob").await.unwrap().is_empty());
    let alice = store.list_user_sessions("alice").await.unwrap();
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].created, at(0));
}

/// The current token rotates, updating the row in place; the old one no longer rotates.
pub async fn rotate_current_rotates<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "a", at(0)).await;

    let result = rotate(&store, &s, "alice", "a", "b", at(60), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Rotated);

    let record = find_session(&store, "alice", &s).await.unwrap();
    assert_eq!(record.created, at(0));
    assert_eq!(record.last_used, at(60));
    assert_eq!(record.expires_at, at(60) + Duration::days(1));
    assert_eq!(record.device, device(2));

    // The successor rotates in turn.
    let result = rotate(&store, &s, "alice", "b", "c", at(120), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Rotated);

    // The old token does not.
    let result = rotate(&store, &s, "alice", "a", "x", at(130), Duration::ZERO).await;
    assert_ne!(result, RotateResult::Rotated);
}

/// Replaying an old token deletes the session, successor included, and commits that.
pub async fn replay_deletes_the_session<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "a", at(0)).await;
    assert_eq!(
        rotate(&store, &s, "alice", "a", "b", at(60), Duration::ZERO).await,
        RotateResult::Rotated
    );

    let result = rotate(&store, &s, "alice", "a", "x", at(61), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Replayed);

    assert!(!store.session_is_active(&s).await.unwrap());
    assert!(store.list_user_sessions("alice").await.unwrap().is_empty());
    let result = rotate(&store, &s, "alice", "b", "c", at(62), Duration::ZERO).await;
    assert_eq!(result, RotateResult::NotFound);
}

/// A replay deletes only its own session.
pub async fn replay_keeps_other_sessions<S: Store>(store: S) {
    let (s1, s2, s3) = (session_id(1), session_id(2), session_id(3));
    open(&store, &s1, "alice", "a1", at(0)).await;
    open(&store, &s2, "alice", "a2", at(1)).await;
    open(&store, &s3, "bob", "b1", at(2)).await;
    assert_eq!(
        rotate(&store, &s1, "alice", "a1", "a1'", at(60), Duration::ZERO).await,
        RotateResult::Rotated
    );

    let result = rotate(&store, &s1, "alice", "a1", "x", at(61), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Replayed);

    assert!(!store.session_is_active(&s1).await.unwrap());
    assert!(store.session_is_active(&s2).await.unwrap());
    assert!(store.session_is_active(&s3).await.unwrap());
    assert_eq!(
        rotate(&store, &s2, "alice", "a2", "a2'", at(62), Duration::ZERO).await,
        RotateResult::Rotated
    );
}

/// A session of another user is `NotFound` and untouched, whatever jti is presented.
pub async fn other_user_is_not_found<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "a", at(0)).await;

    let result = rotate(&store, &s, "mallory", "a", "m", at(10), Duration::ZERO).await;
    assert_eq!(result, RotateResult::NotFound);
    let result = rotate(&store, &s, "mallory", "old", "m", at(10), Duration::ZERO).await;
    assert_eq!(result, RotateResult::NotFound);

    let record = find_session(&store, "alice", &s).await.unwrap();
    assert_eq!(record.last_used, at(0));
    assert_eq!(record.device, device(1));
    assert_eq!(
        rotate(&store, &s, "alice", "a", "b", at(20), Duration::ZERO).await,
        RotateResult::Rotated
    );

    // An unknown session id is NotFound too.
    let result = rotate(
        &store,
        &session_id(9),
        "alice",
        "b",
        "c",
        at(30),
        Duration::ZERO,
    )
    .await;
    assert_eq!(result, RotateResult::NotFound);
}

/// Within the reuse interval the immediate predecessor is a retry: nothing changes and the
/// current token's payload is returned byte for byte.
pub async fn reuse_interval_retries_predecessor<S: Store>(store: S) {
    let s = session_id(1);
    let reuse = Duration::seconds(10);
    open(&store, &s, "alice", "a", at(0)).await;
    let to_b = rotation(&s, "alice", "a", "b", at(100), reuse);
    assert_eq!(
        store.rotate_session(&to_b).await.unwrap(),
        RotateResult::Rotated
    );

    let result = rotate(&store, &s, "alice", "a", "b2", at(105), reuse).await;
    assert_eq!(
        result,
        RotateResult::Retried {
            refresh_claims: to_b.new_refresh_claims.clone()
        }
    );
    // Just before the end of the interval.
    let result = rotate(&store, &s, "alice", "a", "b3", at(109), reuse).await;
    assert_eq!(
        result,
        RotateResult::Retried {
            refresh_claims: to_b.new_refresh_claims.clone()
        }
    );

    // Nothing changed: b is still current, the row still shows the rotation at 100.
    let record = find_session(&store, "alice", &s).await.unwrap();
    assert_eq!(record.last_used, at(100));
    assert_eq!(
        rotate(&store, &s, "alice", "b", "c", at(110), reuse).await,
        RotateResult::Rotated
    );
}

/// The predecessor once the interval is over (`now >= rotated_at + interval`) is a replay.
pub async fn reuse_interval_predecessor_after_interval_replays<S: Store>(store: S) {
    let s = session_id(1);
    let reuse = Duration::seconds(10);
    open(&store, &s, "alice", "a", at(0)).await;
    assert_eq!(
        rotate(&store, &s, "alice", "a", "b", at(100), reuse).await,
        RotateResult::Rotated
    );

    let result = rotate(&store, &s, "alice", "a", "b2", at(110), reuse).await;
    assert_eq!(result, RotateResult::Replayed);
    assert!(!store.session_is_active(&s).await.unwrap());
}

/// A token older than the predecessor is a replay even within the interval.
pub async fn reuse_interval_older_token_replays<S: Store>(store: S) {
    let s = session_id(1);
    let reuse = Duration::seconds(10);
    open(&store, &s, "alice", "a", at(0)).await;
    assert_eq!(
        rotate(&store, &s, "alice", "a", "b", at(100), reuse).await,
        RotateResult::Rotated
    );
    assert_eq!(
        rotate(&store, &s, "alice", "b", "c", at(101), reuse).await,
        RotateResult::Rotated
    );

    let result = rotate(&store, &s, "alice", "a", "x", at(102), reuse).await;
    assert_eq!(result, RotateResult::Replayed);
    assert!(!store.session_is_active(&s).await.unwrap());
}

/// With a zero interval the predecessor, even at once, is a replay.
pub async fn reuse_zero_replays_predecessor<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "a", at(0)).await;
    assert_eq!(
        rotate(&store, &s, "alice", "a", "b", at(100), Duration::ZERO).await,
        RotateResult::Rotated
    );

    let result = rotate(&store, &s, "alice", "a", "b2", at(100), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Replayed);
    assert!(!store.session_is_active(&s).await.unwrap());
}

/// A disabled session neither rotates nor is deleted, whatever jti is presented.
pub async fn disabled_session_does_not_rotate<S: Store>(store: S) {
    let s = session_id(1);
    let new = NewSession {
        enabled: false,
        ..new_session(&s, "alice", "a", at(0))
    };
    store.open_session(&new).await.unwrap();

    let result = rotate(&store, &s, "alice", "a", "b", at(10), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Disabled);
    let result = rotate(&store, &s, "alice", "old", "b", at(10), Duration::ZERO).await;
    assert_eq!(result, RotateResult::Disabled);
    let result = rotate(&store, &s, "alice", "a", "b", at(10), Duration::seconds(10)).await;
    assert_eq!(result, RotateResult::Disabled);

    assert!(store.session_is_active(&s).await.unwrap());
    let record = find_session(&store, "alice", &s).await.unwrap();
    assert!(!record.enabled);
    assert_eq!(record.last_used, at(0));
    assert_eq!(record.device, device(1));
}

/// `revoke_session` deletes whoever owns the session; reports whether it existed.
pub async fn revoke_session_by_id<S: Store>(store: S) {
    let (s1, s2) = (session_id(1), session_id(2));
    open(&store, &s1, "alice", "a1", at(0)).await;
    open(&store, &s2, "bob", "b1", at(0)).await;

    assert!(store.revoke_session(&s1, admin()).await.unwrap());
    assert!(!store.revoke_session(&s1, admin()).await.unwrap());
    assert!(!store.session_is_active(&s1).await.unwrap());
    assert!(store.session_is_active(&s2).await.unwrap());
    assert_eq!(
        rotate(&store, &s1, "alice", "a1", "a2", at(1), Duration::ZERO).await,
        RotateResult::NotFound
    );
}

/// `revoke_user_session` deletes only a session the user owns.
pub async fn revoke_user_session_checks_owner<S: Store>(store: S) {
    let (s1, s2) = (session_id(1), session_id(2));
    open(&store, &s1, "alice", "a1", at(0)).await;
    open(&store, &s2, "bob", "b1", at(0)).await;

    assert!(
        !store
            .revoke_user_session("alice", &s2, logout())
            .await
            .unwrap()
    );
    assert!(store.session_is_active(&s2).await.unwrap());
    assert_eq!(store.list_user_sessions("bob").await.unwrap().len(), 1);

    assert!(
        store
            .revoke_user_session("alice", &s1, logout())
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_user_session("alice", &s1, logout())
            .await
            .unwrap()
    );
    assert!(!store.session_is_active(&s1).await.unwrap());
}

/// `revoke_user_sessions` deletes all of a user's sessions and counts them.
pub async fn revoke_user_sessions_counts<S: Store>(store: S) {
    for n in 0..3 {
        open(
            &store,
            &session_id(n),
            "alice",
            &format!("a{n}"),
            at(n as i64),
        )
        .await;
    }
    open(&store, &session_id(10), "bob", "b", at(0)).await;

    assert_eq!(
        store
            .revoke_user_sessions("alice", logout())
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .revoke_user_sessions("alice", logout())
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .revoke_user_sessions("nobody", logout())
            .await
            .unwrap()
            .len(),
        0
    );
    assert!(store.list_user_sessions("alice").await.unwrap().is_empty());
    assert!(store.session_is_active(&session_id(10)).await.unwrap());
}

/// `session_is_active` is "the row exists", across rotations.
pub async fn session_is_active_tracks_row<S: Store>(store: S) {
    let s = session_id(1);
    assert!(!store.session_is_active(&s).await.unwrap());
    open(&store, &s, "alice", "a", at(0)).await;
    assert!(store.session_is_active(&s).await.unwrap());
    rotate(&store, &s, "alice", "a", "b", at(1), Duration::ZERO).await;
    assert!(store.session_is_active(&s).await.unwrap());
    assert!(store.revoke_session(&s, admin()).await.unwrap());
    assert!(!store.session_is_active(&s).await.unwrap());
}

/// Expired sessions (`expires_at <= now`) are counted and deleted in bounded batches;
/// live ones stay.
pub async fn expired_sessions_count_and_batched_delete<S: Store>(store: S) {
    let now = at(1000);
    for n in 0..25u32 {
        let s = NewSession {
            // The last one expires exactly now.
            expires_at: at(976 + i64::from(n)),
            ..new_session(&session_id(n.into()), "alice", &format!("old-{n}"), at(0))
        };
        store.open_session(&s).await.unwrap();
    }
    for n in 100..105u32 {
        let s = NewSession {
            expires_at: now + Duration::seconds(1),
            ..new_session(&session_id(n.into()), "alice", &format!("live-{n}"), at(0))
        };
        store.open_session(&s).await.unwrap();
    }

    assert_eq!(store.count_expired_sessions(now).await.unwrap(), 25);
    assert_eq!(store.count_expired_sessions(at(0)).await.unwrap(), 0);
    let mut batches = Vec::new();
    for _ in 0..4 {
        batches.push(store.delete_expired_sessions(now, 10).await.unwrap());
    }
    assert_eq!(batches, [10, 10, 5, 0]);
    assert_eq!(store.count_expired_sessions(now).await.unwrap(), 0);

    let live = store.list_user_sessions("alice").await.unwrap();
    assert_eq!(live.len(), 5);
    assert!(live.iter().all(|record| record.expires_at > now));
}

/// Sessions are listed newest first; equal creation times by session id, descending.
pub async fn list_sessions_newest_first<S: Store>(store: S) {
    open(&store, &session_id(5), "alice", "j5", at(1)).await;
    open(&store, &session_id(7), "alice", "j7", at(3)).await;
    // Two logins in the same second: the later one is listed first.
    open(&store, &session_id(8), "alice", "j8", at(2)).await;
    open(&store, &session_id(6), "alice", "j6", at(2)).await;

    let order: Vec<String> = store
        .list_user_sessions("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.session)
        .collect();
    assert_eq!(
        order,
        [session_id(7), session_id(6), session_id(8), session_id(5)]
    );
}

/// A listed session exposes neither its jti nor its stored payload.
pub async fn session_record_hides_secrets<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "secret-jti", at(0)).await;
    let record = find_session(&store, "alice", &s).await.unwrap();
    let json = serde_json::to_string(&record).unwrap();
    assert!(!json.contains("secret-jti"), "{json}");
    assert!(!json.contains("refresh"), "{json}");
    assert!(json.contains(&s), "{json}");
    assert!(json.contains("Firefox"), "{json}");
}

// ---------------------------------------------------------------------------------------
// Purpose tokens.
// ---------------------------------------------------------------------------------------

/// Replacing deletes the user's older token of the same purpose only.
pub async fn purpose_replace_deletes_older_same_purpose<S: Store>(store: S) {
    let first = purpose_token("alice", "password_reset", hash(1), at(0));
    store.replace_purpose_token(&first).await.unwrap();
    let confirm = purpose_token("alice", "email_confirmation", hash(2), at(1));
    store.replace_purpose_token(&confirm).await.unwrap();
    let bobs = purpose_token("bob", "password_reset", hash(3), at(2));
    store.replace_purpose_token(&bobs).await.unwrap();
    let second = purpose_token("alice", "password_reset", hash(4), at(3));
    store.replace_purpose_token(&second).await.unwrap();

    let alice = store.list_user_purpose_tokens("alice").await.unwrap();
    let listed: Vec<(&str, OffsetDateTime)> = alice
        .iter()
        .map(|record| (record.purpose.as_str(), record.created))
        .collect();
    assert_eq!(
        listed,
        [("password_reset", at(3)), ("email_confirmation", at(1))]
    );
    assert_eq!(
        store.list_user_purpose_tokens("bob").await.unwrap().len(),
        1
    );

    let consumed = store
        .consume_purpose_token("alice", "password_reset", &hash(1), at(4))
        .await
        .unwrap();
    assert_eq!(consumed, None, "the replaced token must be gone");
    for (user, purpose, h) in [
        ("alice", "password_reset", hash(4)),
        ("alice", "email_confirmation", hash(2)),
        ("bob", "password_reset", hash(3)),
    ] {
        let consumed = store
            .consume_purpose_token(user, purpose, &h, at(4))
            .await
            .unwrap();
        assert!(consumed.is_some(), "{user} {purpose}");
    }
}

/// The right hash consumes the token once, returning its record.
pub async fn purpose_consume_once<S: Store>(store: S) {
    let token = purpose_token("alice", "password_reset", hash(7), at(0));
    store.replace_purpose_token(&token).await.unwrap();

    let consumed = store
        .consume_purpose_token("alice", "password_reset", &hash(7), at(10))
        .await
        .unwrap();
    assert_eq!(
        consumed,
        Some(PurposeTokenRecord {
            purpose: "password_reset".into(),
            user_id: "alice".into(),
            created: at(0),
            expires_at: at(3600),
            device: device(3),
        })
    );
    let again = store
        .consume_purpose_token("alice", "password_reset", &hash(7), at(11))
        .await
        .unwrap();
    assert_eq!(again, None);
    assert!(
        store
            .list_user_purpose_tokens("alice")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Wrong hash, purpose, user, or an expired token: `None`, and the token survives.
pub async fn purpose_consume_mismatches<S: Store>(store: S) {
    let token = purpose_token("alice", "password_reset", hash(7), at(0));
    store.replace_purpose_token(&token).await.unwrap();
    let mut almost = hash(7);
    almost[31] = 8;

    for (user, purpose, h, now) in [
        ("alice", "password_reset", hash(8), at(10)),
        ("alice", "password_reset", almost, at(10)),
        ("alice", "email_confirmation", hash(7), at(10)),
        ("bob", "password_reset", hash(7), at(10)),
        // Expired: at and after `expires_at`.
        ("alice", "password_reset", hash(7), at(3600)),
        ("alice", "password_reset", hash(7), at(7200)),
    ] {
        let consumed = store
            .consume_purpose_token(user, purpose, &h, now)
            .await
            .unwrap();
        assert_eq!(consumed, None, "{user} {purpose} {now}");
    }

    assert_eq!(
        store.list_user_purpose_tokens("alice").await.unwrap().len(),
        1
    );
    let consumed = store
        .consume_purpose_token("alice", "password_reset", &hash(7), at(3599))
        .await
        .unwrap();
    assert!(consumed.is_some());
}

/// `purpose_token_is_live` answers what `consume_purpose_token` would, without consuming:
/// true for the token until it is consumed, replaced or expired; false for a wrong hash,
/// purpose or user.
pub async fn purpose_token_is_live_without_consuming_it<S: Store>(store: S) {
    let token = purpose_token("alice", "password_reset", hash(7), at(0));
    store.replace_purpose_token(&token).await.unwrap();
    let mut almost = hash(7);
    almost[31] = 8;
    for (user, purpose, h, now) in [
        ("alice", "password_reset", hash(8), at(10)),
        ("alice", "password_reset", almost, at(10)),
        ("alice", "email_confirmation", hash(7), at(10)),
        ("bob", "password_reset", hash(7), at(10)),
        ("alice", "password_reset", hash(7), at(3600)),
    ] {
        let live = store
            .purpose_token_is_live(user, purpose, &h, now)
            .await
            .unwrap();
        assert!(!live, "{user} {purpose} {now}");
    }
    // Checked twice: still there, and still consumable once.
    for _ in 0..2 {
        assert!(
            store
                .purpose_token_is_live("alice", "password_reset", &hash(7), at(3599))
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .consume_purpose_token("alice", "password_reset", &hash(7), at(10))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !store
            .purpose_token_is_live("alice", "password_reset", &hash(7), at(10))
            .await
            .unwrap()
    );
    // A replacement kills the older token.
    store.replace_purpose_token(&token).await.unwrap();
    let newer = purpose_token("alice", "password_reset", hash(9), at(20));
    store.replace_purpose_token(&newer).await.unwrap();
    assert!(
        !store
            .purpose_token_is_live("alice", "password_reset", &hash(7), at(30))
            .await
            .unwrap()
    );
    assert!(
        store
            .purpose_token_is_live("alice", "password_reset", &hash(9), at(30))
            .await
            .unwrap()
    );
}

/// `revoke_user_purpose_tokens` deletes all of a user's tokens and counts them.
pub async fn purpose_revoke_user_tokens<S: Store>(store: S) {
    for (n, purpose) in ["password_reset", "email_confirmation", "invitation"]
        .into_iter()
        .enumerate()
    {
        let token = purpose_token("alice", purpose, hash(n as u8), at(n as i64));
        store.replace_purpose_token(&token).await.unwrap();
    }
    let bobs = purpose_token("bob", "password_reset", hash(9), at(0));
    store.replace_purpose_token(&bobs).await.unwrap();

    assert_eq!(store.revoke_user_purpose_tokens("alice").await.unwrap(), 3);
    assert_eq!(store.revoke_user_purpose_tokens("alice").await.unwrap(), 0);
    assert!(
        store
            .list_user_purpose_tokens("alice")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_user_purpose_tokens("bob").await.unwrap().len(),
        1
    );
}

/// Expired purpose tokens are counted and deleted in bounded batches; live ones stay.
pub async fn purpose_expired_count_and_batched_delete<S: Store>(store: S) {
    let now = at(10_000);
    for n in 0..25u8 {
        let token = NewPurposeToken {
            expires_at: now - Duration::seconds(i64::from(n)),
            ..purpose_token(&format!("user-{n}"), "password_reset", hash(n), at(0))
        };
        store.replace_purpose_token(&token).await.unwrap();
    }
    for n in 100..105u8 {
        let token = NewPurposeToken {
            expires_at: now + Duration::seconds(1),
            ..purpose_token(&format!("user-{n}"), "password_reset", hash(n), at(0))
        };
        store.replace_purpose_token(&token).await.unwrap();
    }

    assert_eq!(store.count_expired_purpose_tokens(now).await.unwrap(), 25);
    let mut batches = Vec::new();
    for _ in 0..4 {
        batches.push(store.delete_expired_purpose_tokens(now, 10).await.unwrap());
    }
    assert_eq!(batches, [10, 10, 5, 0]);
    assert_eq!(store.count_expired_purpose_tokens(now).await.unwrap(), 0);
    for n in 100..105u8 {
        let listed = store
            .list_user_purpose_tokens(&format!("user-{n}"))
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
    }
}

/// Records (and their JSON) carry no hash.
pub async fn purpose_record_carries_no_hash<S: Store>(store: S) {
    let token = purpose_token("alice", "password_reset", hash(0xab), at(0));
    store.replace_purpose_token(&token).await.unwrap();
    let listed = store.list_user_purpose_tokens("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    let json = serde_json::to_value(&listed[0]).unwrap();
    let object = json.as_object().unwrap();
    assert!(object.keys().all(|key| !key.contains("hash")), "{json}");
    assert_eq!(object["purpose"], "password_reset");
    assert_eq!(object["ip"], "192.0.2.3");
    let text = json.to_string();
    assert!(!text.to_lowercase().contains("abab"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Concurrency.
// ---------------------------------------------------------------------------------------

/// How many tasks race in the concurrency cases.
pub const RACERS: usize = 32;

/// Runs `RACERS` rotations of the same token at once, each with its own new jti, and
/// returns each racer's result (index i rotated to `new-{i}`).
async fn race_rotations<S: Store>(store: &S, session: &str, reuse: Duration) -> Vec<RotateResult> {
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        let rotation = rotation(
            session,
            "alice",
            "start",
            &format!("new-{i}"),
            at(100),
            reuse,
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.rotate_session(&rotation).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    results
}

/// Strict mode: exactly one racer rotates, the others see a replay (or the deleted
/// session), and no jti of the race is accepted afterwards.
pub async fn concurrent_rotation_strict<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "start", at(0)).await;

    let results = race_rotations(&store, &s, Duration::ZERO).await;
    let rotated = results
        .iter()
        .filter(|r| **r == RotateResult::Rotated)
        .count();
    let replayed = results
        .iter()
        .filter(|r| **r == RotateResult::Replayed)
        .count();
    let not_found = results
        .iter()
        .filter(|r| **r == RotateResult::NotFound)
        .count();
    assert_eq!(rotated, 1, "{results:?}");
    assert!(replayed >= 1, "{results:?}");
    assert_eq!(rotated + replayed + not_found, RACERS, "{results:?}");

    assert!(!store.session_is_active(&s).await.unwrap());
    let mut jtis: Vec<String> = (0..RACERS).map(|i| format!("new-{i}")).collect();
    jtis.push("start".into());
    for jti in jtis {
        let result = rotate(&store, &s, "alice", &jti, "after", at(101), Duration::ZERO).await;
        assert_eq!(result, RotateResult::NotFound, "{jti}");
    }
}

/// With a reuse interval: exactly one racer rotates and every other one is a retry
/// answered with the winner's payload, byte for byte.
pub async fn concurrent_rotation_with_reuse_interval<S: Store>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "start", at(0)).await;

    let results = race_rotations(&store, &s, Duration::seconds(10)).await;
    let winners: Vec<usize> = (0..RACERS)
        .filter(|i| results[*i] == RotateResult::Rotated)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner_claims = claims(&s, &format!("new-{}", winners[0]));
    for (i, result) in results.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(
                result,
                &RotateResult::Retried {
                    refresh_claims: winner_claims.clone()
                },
                "racer {i}"
            );
        }
    }

    // One chain: the losers' tokens never became valid (each is a replay, which deletes
    // the session, so it is reopened with the winner's token before the next check)...
    let winner_jti = format!("new-{}", winners[0]);
    for i in (0..RACERS).filter(|i| *i != winners[0]) {
        let loser_jti = format!("new-{i}");
        let result = rotate(
            &store,
            &s,
            "alice",
            &loser_jti,
            "x",
            at(101),
            Duration::ZERO,
        )
        .await;
        assert_eq!(result, RotateResult::Replayed, "racer {i}");
        open(&store, &s, "alice", &winner_jti, at(0)).await;
    }
    // ... and the winner's token is the current one.
    let result = rotate(
        &store,
        &s,
        "alice",
        &winner_jti,
        "next",
        at(102),
        Duration::ZERO,
    )
    .await;
    assert_eq!(result, RotateResult::Rotated);
}

/// Logout racing a rotation never leaves the session alive.
pub async fn logout_races_rotation<S: Store>(store: S) {
    const TRIALS: u32 = 200;
    let mut rotated_first = 0;
    for trial in 0..TRIALS {
        let user = format!("user-{trial}");
        let s = session_id(u128::from(trial));
        open(&store, &s, &user, "a", at(0)).await;

        let rotating = {
            let store = store.clone();
            let rotation = rotation(&s, &user, "a", &format!("b-{trial}"), at(1), Duration::ZERO);
            tokio::spawn(async move { store.rotate_session(&rotation).await })
        };
        let revoking = {
            let store = store.clone();
            let user = user.clone();
            tokio::spawn(async move { store.revoke_user_sessions(&user, logout()).await })
        };
        let rotated = rotating.await.unwrap().unwrap();
        let revoked = revoking.await.unwrap().unwrap();

        assert_eq!(revoked.len(), 1, "trial {trial}");
        match rotated {
            RotateResult::Rotated => rotated_first += 1,
            RotateResult::NotFound => {}
            other => panic!("trial {trial}: unexpected {other:?}"),
        }
        assert!(
            store.list_user_sessions(&user).await.unwrap().is_empty(),
            "trial {trial}: a session survived"
        );
        assert!(!store.session_is_active(&s).await.unwrap(), "trial {trial}");
    }
    // Not asserted (scheduling decides), but useful when reading test output.
    eprintln!("logout_races_rotation: rotation committed first in {rotated_first}/{TRIALS} trials");
}

/// Of concurrent consumes of one token, exactly one succeeds.
pub async fn concurrent_consume_once<S: Store>(store: S) {
    let token = purpose_token("alice", "password_reset", hash(42), at(0));
    store.replace_purpose_token(&token).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .consume_purpose_token("alice", "password_reset", &hash(42), at(10))
                .await
        }));
    }
    let mut successes = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            successes += 1;
        }
    }
    assert_eq!(successes, 1);
    assert!(
        store
            .list_user_purpose_tokens("alice")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Of concurrent replacements for one (user, purpose), exactly one token stays pending,
/// and it is one of those that were made.
pub async fn concurrent_replace_leaves_one_token<S: Store>(store: S) {
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let seed = u8::try_from(i).unwrap();
            store
                .replace_purpose_token(&purpose_token("alice", "password_reset", hash(seed), at(0)))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        store.list_user_purpose_tokens("alice").await.unwrap().len(),
        1
    );
    let mut consumed = 0;
    for i in 0..RACERS {
        let seed = u8::try_from(i).unwrap();
        if store
            .consume_purpose_token("alice", "password_reset", &hash(seed), at(1))
            .await
            .unwrap()
            .is_some()
        {
            consumed += 1;
        }
    }
    assert_eq!(consumed, 1, "exactly one of the racing tokens is valid");
}
