//! The rules of sessions.md through the public [`SessionManager`] API: the manager-level
//! half of the conformance suite (the store-level half is in the parent module), with the
//! users, keys and store wrappers it needs.

pub mod batch_recording;
pub mod counting;
pub mod users;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::events::RevocationReason;
use crate::keys::{Algorithm, KeyRing};
use crate::store::{PurposeTokenStore, SessionStore};
use crate::{
    AccessToken, Claims, DeviceInfo, DynStore, Error, RotationOutcome, SessionManager, Settings,
    TokenCodec, TokenError, TokenPair, UserAttributes,
};
use time::{Duration, OffsetDateTime};

pub use batch_recording::{Batch, BatchRecordingStore};
pub use counting::CountingStore;
use std::sync::atomic::Ordering;
pub use users::{TestUser, TestUsers};

/// The HMAC secret of [`keys`].
pub const SECRET: &[u8] = b"rules test secret, at least 32 bytes long";

/// The fixed "now" of the manager-level cases.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// An HS256 key ring on [`SECRET`].
pub fn keys() -> KeyRing {
    KeyRing::hmac(Algorithm::HS256, SECRET).unwrap()
}

/// Device metadata of a PC at one address, with `browser`.
pub fn device(browser: &str) -> DeviceInfo {
    DeviceInfo {
        ip: Some("203.0.113.9".into()),
        browser: Some(browser.into()),
        is_pc: Some(true),
        ..DeviceInfo::default()
    }
}

/// The manager the cases build on a store.
pub type Manager = SessionManager<TestUsers>;

/// A manager on `store` and `users` with [`keys`].
pub fn manager<S: SessionStore + 'static>(
    store: S,
    users: &TestUsers,
    settings: Settings,
) -> Manager {
    SessionManager::with_dyn_store(
        settings,
        keys(),
        DynStore::sessions_only(store),
        users.clone(),
    )
}

/// A manager over `store`, purpose tokens included.
pub fn full_manager<S: SessionStore + PurposeTokenStore + 'static>(
    store: S,
    users: &TestUsers,
    settings: Settings,
) -> Manager {
    SessionManager::new(settings, keys(), store, users.clone())
}

fn rotated(outcome: RotationOutcome) -> TokenPair {
    match outcome {
        RotationOutcome::Rotated(pair) => pair,
        other => panic!("expected Rotated, got {}", other.name()),
    }
}

async fn live_sessions(m: &Manager, user_id: &str) -> Vec<String> {
    m.list_sessions(user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session)
        .collect()
}

/// Login opens a whitelisted session whose tokens carry the contract's claims.
pub async fn manager_login_opens_a_session_with_claims<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(
        TestUser::new("1")
            .staff()
            .profile(serde_json::json!({"org": {"id": 42}})),
    );
    let mut settings = Settings::default();
    settings.user_attributes = UserAttributes::from_pairs([("org_id", "profile.org.id")]).unwrap();
    let m = manager(store, &users, settings);
    let pair = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let r = pair.refresh.claims();
    let session = r.session.clone().unwrap();
    assert_eq!(session.len(), 32);
    assert!(session.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    assert_eq!(r.session_iat, Some(t0().unix_timestamp()));
    assert_eq!(
        (r.user_id.as_str(), r.role, r.email_verified),
        ("1", 1000, true)
    );
    assert_eq!(r.exp, t0().unix_timestamp() + 14 * 24 * 3600);
    assert_eq!(r.extra.get("org_id"), Some(&serde_json::json!(42)));
    assert_eq!(pair.access.claims().session, r.session);
    assert_eq!(pair.access.claims().extra, r.extra);

    let listed = m.list_sessions("1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].session, session);
    assert_eq!(listed[0].device.browser.as_deref(), Some("Firefox"));
    assert_eq!(listed[0].created, t0());
    assert_eq!(listed[0].expires_at.unix_timestamp(), r.exp);
}

/// Rotation keeps `session` and `session_iat`, changes `jti`/`iat`/`exp`, records the
/// new device; rule 2: a replay deletes the whole session (the successor dies too) but
/// not the user's other sessions.
pub async fn manager_rotation_and_replay<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    let m = manager(store, &users, Settings::default());
    let first = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let other = m
        .open_session(&users.get("1"), &device("Safari"), t0())
        .await
        .unwrap();
    let later = t0() + Duration::minutes(5);
    let second = rotated(
        m.rotate(first.refresh.as_str(), &device("Chrome"), later)
            .await
            .unwrap(),
    );
    let (a, b) = (first.refresh.claims(), second.refresh.claims());
    assert_eq!((&a.session, a.session_iat), (&b.session, b.session_iat));
    assert_ne!(a.jti, b.jti);
    assert_eq!(b.iat, later.unix_timestamp());
    assert_eq!(b.exp, later.unix_timestamp() + 14 * 24 * 3600);
    let row = m
        .list_sessions("1")
        .await
        .unwrap()
        .into_iter()
        .find(|s| Some(&s.session) == a.session.as_ref())
        .unwrap();
    assert_eq!(row.device.browser.as_deref(), Some("Chrome"));
    assert_eq!(row.last_used, later);

    // Replay of the rotated token: the session is deleted, the error is committed.
    let replay = m
        .rotate(
            first.refresh.as_str(),
            &device("Evil"),
            later + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert!(
        matches!(replay, RotationOutcome::Replayed),
        "{}",
        replay.name()
    );
    let after = m
        .rotate(
            second.refresh.as_str(),
            &device("Chrome"),
            later + Duration::seconds(2),
        )
        .await
        .unwrap();
    assert!(
        matches!(after, RotationOutcome::NotFound),
        "successor dies too: {}",
        after.name()
    );
    assert_eq!(
        live_sessions(&m, "1").await,
        vec![other.refresh.claims().session.clone().unwrap()]
    );
    rotated(
        m.rotate(other.refresh.as_str(), &device("Safari"), later)
            .await
            .unwrap(),
    );
}

/// Rule 3: inside the reuse interval the predecessor gets the byte-identical successor;
/// after it, or for an older token, it is a replay.
pub async fn manager_reuse_interval<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.reuse_interval = StdDuration::from_secs(10);
    let m = manager(store, &users, settings);
    let r1 = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let r2 = rotated(
        m.rotate(r1.refresh.as_str(), &device("Firefox"), t0())
            .await
            .unwrap(),
    );
    let retry = m
        .rotate(
            r1.refresh.as_str(),
            &device("Firefox"),
            t0() + Duration::seconds(9),
        )
        .await
        .unwrap();
    let RotationOutcome::Retried(retried) = retry else {
        panic!("expected Retried, got {}", retry.name())
    };
    assert_eq!(
        retried.refresh.as_str(),
        r2.refresh.as_str(),
        "byte-identical successor"
    );
    assert_ne!(
        retried.access.claims().jti,
        r2.access.claims().jti,
        "a fresh access token"
    );
    // The chain is still single: R2 rotates normally.
    let r3 = rotated(
        m.rotate(
            r2.refresh.as_str(),
            &device("Firefox"),
            t0() + Duration::seconds(9),
        )
        .await
        .unwrap(),
    );
    // R1 is now older than the predecessor: replay, session gone.
    let replay = m
        .rotate(
            r1.refresh.as_str(),
            &device("Firefox"),
            t0() + Duration::seconds(9),
        )
        .await
        .unwrap();
    assert!(
        matches!(replay, RotationOutcome::Replayed),
        "{}",
        replay.name()
    );
    assert!(matches!(
        m.rotate(
            r3.refresh.as_str(),
            &device("Firefox"),
            t0() + Duration::seconds(10)
        )
        .await
        .unwrap(),
        RotationOutcome::NotFound
    ));

    // The predecessor after the interval is a replay.
    let s1 = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let _s2 = rotated(
        m.rotate(s1.refresh.as_str(), &device("Firefox"), t0())
            .await
            .unwrap(),
    );
    let late = m
        .rotate(
            s1.refresh.as_str(),
            &device("Firefox"),
            t0() + Duration::seconds(10),
        )
        .await
        .unwrap();
    assert!(matches!(late, RotationOutcome::Replayed), "{}", late.name());
    assert!(live_sessions(&m, "1").await.is_empty());
}

/// Rules 1 and 3 under concurrency through the manager: 32 tasks present the same token.
async fn manager_concurrent_rotation<S: SessionStore + Clone + 'static>(store: S, reuse: u64) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.reuse_interval = StdDuration::from_secs(reuse);
    let m = Arc::new(manager(store, &users, settings));
    let first = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let token = first.refresh.as_str().to_owned();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (m, token) = (m.clone(), token.clone());
            tokio::spawn(async move {
                m.rotate(&token, &device("Firefox"), t0() + Duration::seconds(1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners: Vec<&TokenPair> = outcomes
        .iter()
        .filter_map(|o| match o {
            RotationOutcome::Rotated(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one rotation: {:?}",
        outcomes.iter().map(|o| o.name()).collect::<Vec<_>>()
    );
    let successor = winners[0].refresh.as_str().to_owned();
    if reuse == 0 {
        for o in &outcomes {
            assert!(
                matches!(
                    o,
                    RotationOutcome::Rotated(_)
                        | RotationOutcome::Replayed
                        | RotationOutcome::NotFound
                ),
                "{}",
                o.name()
            );
        }
        // The replays revoked the session: no live token remains.
        assert!(live_sessions(&m, "1").await.is_empty());
        assert!(!matches!(
            m.rotate(&successor, &device("Firefox"), t0() + Duration::seconds(2))
                .await
                .unwrap(),
            RotationOutcome::Rotated(_)
        ));
    } else {
        for o in &outcomes {
            match o {
                RotationOutcome::Rotated(_) => {}
                RotationOutcome::Retried(pair) => {
                    assert_eq!(pair.refresh.as_str(), successor, "identical successor")
                }
                other => panic!("unexpected {}", other.name()),
            }
        }
        rotated(
            m.rotate(&successor, &device("Firefox"), t0() + Duration::seconds(2))
                .await
                .unwrap(),
        );
    }
}

/// Rule 5: absolute session lifetime.
pub async fn manager_absolute_session_lifetime<S: SessionStore + Clone + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.session_lifetime = Some(StdDuration::from_secs(3600));
    let m = manager(store.clone(), &users, settings);
    let deadline = t0().unix_timestamp() + 3600;
    let pair = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    assert_eq!(
        pair.refresh.claims().exp,
        deadline,
        "refresh exp capped at the deadline"
    );
    let later = t0() + Duration::minutes(50);
    let next = rotated(
        m.rotate(pair.refresh.as_str(), &device("Firefox"), later)
            .await
            .unwrap(),
    );
    assert_eq!(next.refresh.claims().exp, deadline);
    assert_eq!(
        next.access.claims().exp,
        deadline,
        "access exp capped too (50 + 30 min > 60)"
    );
    assert_eq!(
        next.refresh.claims().session_iat,
        Some(t0().unix_timestamp())
    );
    // At the deadline a genuine token is simply expired.
    let at_deadline = OffsetDateTime::from_unix_timestamp(deadline).unwrap();
    let err = m
        .rotate(next.refresh.as_str(), &device("Firefox"), at_deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Token(TokenError::Expired)), "{err:?}");

    // A token issued before the lifetime was configured: session expired, and deleted.
    let unlimited = manager(store.clone(), &users, Settings::default());
    let old = unlimited
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    assert_eq!(
        old.refresh.claims().exp,
        t0().unix_timestamp() + 14 * 24 * 3600
    );
    let session = old.refresh.claims().session.clone().unwrap();
    let outcome = m
        .rotate(
            old.refresh.as_str(),
            &device("Firefox"),
            t0() + Duration::hours(2),
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, RotationOutcome::SessionExpired),
        "{}",
        outcome.name()
    );
    assert!(!live_sessions(&m, "1").await.contains(&session));
}

/// Rule 5, last sentence: a token without `session_iat` is anchored at its first rotation.
pub async fn manager_session_without_session_iat_is_anchored_at_first_rotation<
    S: SessionStore + 'static,
>(
    store: S,
) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.session_lifetime = Some(StdDuration::from_secs(3600));
    let m = manager(store, &users, settings);
    let pair = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let mut legacy: Claims = pair.refresh.claims().clone();
    legacy.session_iat = None;
    let anchor = t0() + Duration::hours(5);
    // A token minted by a version that set no `session_iat` (and so no deadline).
    legacy.exp = anchor.unix_timestamp() + 3600;
    let legacy_token = m.codec().encode(&legacy).unwrap();
    let next = rotated(
        m.rotate(&legacy_token, &device("Firefox"), anchor)
            .await
            .unwrap(),
    );
    assert_eq!(
        next.refresh.claims().session_iat,
        Some(anchor.unix_timestamp())
    );
    assert_eq!(next.refresh.claims().exp, anchor.unix_timestamp() + 3600);
}

/// Rule 6: claims are re-read at every rotation; an inactive or deleted user loses every
/// session.
pub async fn manager_claims_are_reread_and_inactive_users_are_cut_off<S: SessionStore + 'static>(
    store: S,
) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.user_attributes = UserAttributes::from_paths(["profile.plan"]).unwrap();
    let m = manager(store, &users, settings);
    let a = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let b = m
        .open_session(&users.get("1"), &device("Safari"), t0())
        .await
        .unwrap();
    assert_eq!(a.refresh.claims().role, 0);
    assert_eq!(a.refresh.claims().extra.get("plan"), None);
    users.update("1", |u| {
        u.role = Some(900);
        u.email_verified = false;
        u.profile = serde_json::json!({"plan": "pro"});
    });
    let a2 = rotated(
        m.rotate(a.refresh.as_str(), &device("Firefox"), t0())
            .await
            .unwrap(),
    );
    assert_eq!(a2.refresh.claims().role, 900);
    assert!(!a2.refresh.claims().email_verified);
    assert_eq!(
        a2.access.claims().extra.get("plan"),
        Some(&serde_json::json!("pro"))
    );

    users.update("1", |u| u.active = false);
    let cut = m
        .rotate(a2.refresh.as_str(), &device("Firefox"), t0())
        .await
        .unwrap();
    assert!(
        matches!(cut, RotationOutcome::UserInactive),
        "{}",
        cut.name()
    );
    assert!(
        live_sessions(&m, "1").await.is_empty(),
        "all of the user's sessions are deleted"
    );
    assert!(matches!(
        m.rotate(b.refresh.as_str(), &device("Safari"), t0())
            .await
            .unwrap(),
        RotationOutcome::UserInactive | RotationOutcome::NotFound
    ));

    // A deleted user.
    users.insert(TestUser::new("2"));
    let c = m
        .open_session(&users.get("2"), &device("Firefox"), t0())
        .await
        .unwrap();
    users.remove("2");
    assert!(matches!(
        m.rotate(c.refresh.as_str(), &device("Firefox"), t0())
            .await
            .unwrap(),
        RotationOutcome::UserInactive
    ));
    assert!(live_sessions(&m, "2").await.is_empty());
}

/// Rule 7: disabled sessions do not rotate and nothing is deleted.
pub async fn manager_disabled_sessions_do_not_rotate<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1").unverified());
    let m = manager(store, &users, Settings::default());
    let pair = m
        .open_disabled_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let outcome = m
        .rotate(pair.refresh.as_str(), &device("Firefox"), t0())
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            RotationOutcome::Disabled {
                email_verified: false
            }
        ),
        "{}",
        outcome.name()
    );
    users.update("1", |u| u.email_verified = true);
    let outcome = m
        .rotate(pair.refresh.as_str(), &device("Firefox"), t0())
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            RotationOutcome::Disabled {
                email_verified: true
            }
        ),
        "{}",
        outcome.name()
    );
    assert_eq!(live_sessions(&m, "1").await.len(), 1, "nothing deleted");
    // Its access token works until it expires.
    assert!(m.authenticate(pair.access.as_str(), t0()).await.is_ok());
}

/// Rule 8: cheap rejections never reach the store and revoke nothing.
pub async fn manager_cheap_rejections_touch_nothing<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    let store = CountingStore::new(store);
    let calls = store.calls.clone();
    let m = manager(store, &users, Settings::default());
    let pair = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let other_key = TokenCodec::new(
        KeyRing::hmac(Algorithm::HS256, b"another secret that is long enough!!").unwrap(),
        &Settings::default(),
    );
    let foreign = other_key.encode(pair.refresh.claims()).unwrap();
    let mut no_session = pair.refresh.claims().clone();
    no_session.session = None;
    let no_session = m.codec().encode(&no_session).unwrap();
    let expired_at = t0() + Duration::days(15);
    let cases: Vec<(&str, String, OffsetDateTime, TokenError)> = vec![
        ("garbage", "not.a.token".into(), t0(), TokenError::Invalid),
        ("other key", foreign, t0(), TokenError::Invalid),
        (
            "access token",
            pair.access.as_str().into(),
            t0(),
            TokenError::WrongType,
        ),
        (
            "expired",
            pair.refresh.as_str().into(),
            expired_at,
            TokenError::Expired,
        ),
        ("no session claim", no_session, t0(), TokenError::Invalid),
    ];
    let before = calls.load(Ordering::SeqCst);
    for (name, token, now, expected) in cases {
        match m.rotate(&token, &device("Firefox"), now).await {
            Err(Error::Token(err)) => assert_eq!(err, expected, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "no store call for a cheap rejection"
    );
    assert_eq!(users.loads(), 0, "no user load either");
    // Nor any device metadata (a User-Agent parse in the HTTP layer) with `rotate_with`.
    let made = std::sync::atomic::AtomicUsize::new(0);
    let make_device = || {
        made.fetch_add(1, Ordering::SeqCst);
        device("Firefox")
    };
    match m.rotate_with("not.a.token", make_device, t0()).await {
        Err(Error::Token(err)) => assert_eq!(err, TokenError::Invalid),
        other => panic!("garbage with rotate_with: {other:?}"),
    }
    assert_eq!(made.load(Ordering::SeqCst), 0, "no device made for garbage");
    // Nothing was revoked: the genuine token still rotates.
    let make_device = || {
        made.fetch_add(1, Ordering::SeqCst);
        device("Firefox")
    };
    rotated(
        m.rotate_with(pair.refresh.as_str(), make_device, t0())
            .await
            .unwrap(),
    );
    assert_eq!(made.load(Ordering::SeqCst), 1, "one device for a rotation");
}

/// Rule 9: access tokens are stateless unless the session check is on.
pub async fn manager_access_token_session_check<S: SessionStore + Clone + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    let stateless = manager(store.clone(), &users, Settings::default());
    let mut settings = Settings::default();
    settings.access_token_session_check = true;
    let checked = manager(store, &users, settings);
    let pair = checked
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    assert!(
        checked
            .authenticate(pair.access.as_str(), t0())
            .await
            .is_ok()
    );
    checked.logout_all("1", t0()).await.unwrap();
    assert!(matches!(
        checked.authenticate(pair.access.as_str(), t0()).await,
        Err(Error::SessionInactive)
    ));
    assert!(
        stateless
            .authenticate(pair.access.as_str(), t0())
            .await
            .is_ok(),
        "stateless by default"
    );
    assert!(AccessToken::decode(stateless.codec(), pair.access.as_str(), t0()).is_ok());
}

/// Issue 10, finding 10: a token over its size limit (the verification limit; in cookie
/// mode, what fits a browser's cookie) is never minted: login fails naming the largest
/// claim and opens no session, and a rotation fails before the store is touched, so the
/// session keeps its current token, which still rotates and logs out.
pub async fn finding_10_manager_refuses_tokens_over_the_size_limit<S: SessionStore + 'static>(
    store: S,
) {
    use crate::keys::MAX_TOKEN_BYTES;
    use crate::tokens::MAX_COOKIE_BYTES;
    use crate::{TokenTooLarge, TokenType};

    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.user_attributes = UserAttributes::from_paths(["profile.bio"]).unwrap();
    // What the axum crate's state sets in cookie mode with the default cookie name.
    let refresh_limit = MAX_COOKIE_BYTES - "refresh_token".len();
    let m = manager(store, &users, settings).with_max_refresh_token_bytes(refresh_limit);
    assert_eq!(m.codec().max_token_bytes(TokenType::Refresh), refresh_limit);
    assert_eq!(
        m.codec().max_token_bytes(TokenType::Access),
        MAX_TOKEN_BYTES
    );
    let too_large = |result: Result<TokenPair, Error>| match result {
        Err(Error::TokenTooLarge(error)) => error,
        Err(other) => panic!("expected TokenTooLarge, got {other:?}"),
        Ok(pair) => panic!(
            "minted tokens of {} and {} bytes",
            pair.refresh.as_str().len(),
            pair.access.as_str().len()
        ),
    };

    users.update("1", |u| {
        u.profile = serde_json::json!({"bio": "x".repeat(9000)})
    });
    let error: TokenTooLarge = too_large(
        m.open_session(&users.get("1"), &device("Firefox"), t0())
            .await,
    );
    assert_eq!(error.token_type, TokenType::Refresh);
    assert_eq!(error.limit, refresh_limit);
    assert!(error.length > 12_000, "{error}");
    assert_eq!(error.largest_claim, Some(("bio".to_owned(), 9002)));
    let text = Error::from(error).to_string();
    assert!(text.contains("`bio`") && !text.contains("xxxx"), "{text}");
    assert!(live_sessions(&m, "1").await.is_empty(), "no session opened");

    // Under the limit: a session; then the attribute grows past it.
    users.update("1", |u| {
        u.profile = serde_json::json!({"bio": "x".repeat(2000)})
    });
    let pair = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    assert!(pair.refresh.as_str().len() <= refresh_limit);
    let before = live_sessions(&m, "1").await;
    users.update("1", |u| {
        u.profile = serde_json::json!({"bio": "x".repeat(3500)})
    });
    let outcome = m
        .rotate(pair.refresh.as_str(), &device("Firefox"), t0())
        .await
        .map(|outcome| outcome.name());
    assert!(
        matches!(outcome, Err(Error::TokenTooLarge(_))),
        "{outcome:?}"
    );
    assert_eq!(live_sessions(&m, "1").await, before);
    // The session's token is still current: it logs out (and would rotate).
    assert!(m.logout("1", pair.refresh.as_str(), t0()).await.unwrap());

    // Without a cookie limit (body mode), the refresh token may be as long as
    // verification accepts.
    let codec = TokenCodec::new(keys(), &Settings::default());
    assert_eq!(codec.max_token_bytes(TokenType::Refresh), MAX_TOKEN_BYTES);
    // `encode` refuses a token that would not verify.
    let mut claims = pair.access.claims().clone();
    claims
        .extra
        .insert("bio", "x".repeat(MAX_TOKEN_BYTES))
        .unwrap();
    assert!(matches!(
        codec.encode(&claims),
        Err(Error::TokenTooLarge(TokenTooLarge {
            limit: MAX_TOKEN_BYTES,
            ..
        }))
    ));
}

/// Logout closes the session of any of the caller's own refresh tokens (even a rotated
/// one); a token of another user or one that does not verify deletes nothing.
pub async fn manager_logout_rules<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    users.insert(TestUser::new("2"));
    let m = manager(store, &users, Settings::default());
    let mine = m
        .open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    let theirs = m
        .open_session(&users.get("2"), &device("Firefox"), t0())
        .await
        .unwrap();
    let _next = rotated(
        m.rotate(mine.refresh.as_str(), &device("Firefox"), t0())
            .await
            .unwrap(),
    );
    assert!(matches!(
        m.logout("1", theirs.refresh.as_str(), t0()).await,
        Err(Error::Token(TokenError::Invalid))
    ));
    assert!(matches!(
        m.logout("1", "garbage", t0()).await,
        Err(Error::Token(_))
    ));
    assert_eq!(live_sessions(&m, "2").await.len(), 1);
    assert!(
        m.logout("1", mine.refresh.as_str(), t0()).await.unwrap(),
        "a rotated own token closes its session"
    );
    assert!(live_sessions(&m, "1").await.is_empty());
    assert!(
        !m.logout("1", mine.refresh.as_str(), t0()).await.unwrap(),
        "already closed"
    );
    // Revoking one of another user's sessions by id fails.
    let theirs_id = theirs.refresh.claims().session.clone().unwrap();
    assert!(!m.revoke_user_session("1", &theirs_id, t0()).await.unwrap());
    assert!(m.revoke_user_session("2", &theirs_id, t0()).await.unwrap());
}

/// "Sign out of other devices": every session of the user but the one kept ends, in the
/// revocation set too; another user's sessions stay; a second call ends nothing.
pub async fn manager_revoke_other_sessions<S: SessionStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    users.insert(TestUser::new("2"));
    let revocations = Arc::new(crate::events::RevocationSet::in_process(
        StdDuration::from_secs(3600),
        1000,
    ));
    let m = manager(store, &users, Settings::default()).with_revocations(Arc::clone(&revocations));
    let mut mine = Vec::new();
    for _ in 0..3 {
        let pair = m
            .open_session(&users.get("1"), &device("Firefox"), t0())
            .await
            .unwrap();
        mine.push(pair.refresh.claims().session.clone().unwrap());
    }
    let theirs = m
        .open_session(&users.get("2"), &device("Firefox"), t0())
        .await
        .unwrap();
    let kept = mine[1].as_str();
    assert_eq!(
        m.revoke_other_sessions("1", Some(kept), t0())
            .await
            .unwrap(),
        2
    );
    assert_eq!(live_sessions(&m, "1").await, [kept.to_owned()]);
    assert_eq!(live_sessions(&m, "2").await.len(), 1);
    let revoked = |session: &str| {
        revocations.check(Some(session), "1", t0().unix_timestamp(), t0())
            == crate::events::Revocation::Revoked
    };
    assert!(revoked(&mine[0]) && revoked(&mine[2]));
    assert!(!revoked(kept));
    assert_eq!(
        m.revoke_other_sessions("1", Some(kept), t0())
            .await
            .unwrap(),
        0
    );
    let theirs = theirs.refresh.claims().session.clone().unwrap();
    assert!(!revoked(&theirs));
    // Without a session to keep, every session ends.
    assert_eq!(m.revoke_other_sessions("2", None, t0()).await.unwrap(), 1);
    assert!(live_sessions(&m, "2").await.is_empty());
}

/// Rule 10: purge deletes what can no longer be presented, in batches; dry run counts.
pub async fn manager_purge<S: SessionStore + PurposeTokenStore + 'static>(store: S) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.refresh_token_lifetime = StdDuration::from_secs(60);
    settings.purpose_token_lifetime = StdDuration::from_secs(60);
    settings.purpose_token_lifetimes.clear();
    let m = full_manager(store, &users, settings);
    for _ in 0..3 {
        m.open_session(&users.get("1"), &device("Firefox"), t0())
            .await
            .unwrap();
    }
    m.make_purpose_token("1", "password_reset", &device("Firefox"), t0())
        .await
        .unwrap();
    let live = m
        .open_session(
            &users.get("1"),
            &device("Firefox"),
            t0() + Duration::minutes(10),
        )
        .await
        .unwrap();
    let now = t0() + Duration::minutes(5);
    let counted = m.purge(now, true).await.unwrap();
    assert_eq!((counted.sessions, counted.purpose_tokens), (3, 1));
    assert_eq!(
        live_sessions(&m, "1").await.len(),
        4,
        "a dry run deletes nothing"
    );
    let purged = m.purge(now, false).await.unwrap();
    assert_eq!((purged.sessions, purged.purpose_tokens), (3, 1));
    assert_eq!(
        live_sessions(&m, "1").await,
        vec![live.refresh.claims().session.clone().unwrap()]
    );
    assert_eq!(m.purge(now, false).await.unwrap().sessions, 0);
}

/// Rule 10: the purge deletes in batches of the size the store asks for, until a batch
/// comes back short (an exact multiple ends with an empty one), and deletes every expired
/// row and no live one.
pub async fn manager_purge_uses_the_store_batch_size<
    S: SessionStore + PurposeTokenStore + Clone + 'static,
>(
    store: S,
) {
    let recording = BatchRecordingStore::new(store.clone(), 4);
    let session_batches = Arc::clone(&recording.session_batches);
    let purpose_token_batches = Arc::clone(&recording.purpose_token_batches);
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    settings.refresh_token_lifetime = StdDuration::from_secs(60);
    settings.purpose_token_lifetime = StdDuration::from_secs(60);
    let m = full_manager(recording, &users, settings);
    let later = t0() + Duration::minutes(10);
    for _ in 0..12 {
        m.open_session(&users.get("1"), &device("Firefox"), t0())
            .await
            .unwrap();
    }
    let mut live = Vec::new();
    for _ in 0..2 {
        let pair = m
            .open_session(&users.get("1"), &device("Firefox"), later)
            .await
            .unwrap();
        live.push(pair.refresh.claims().session.clone().unwrap());
    }
    for n in 0..9 {
        m.make_purpose_token("1", &format!("purpose-{n}"), &device("Firefox"), t0())
            .await
            .unwrap();
    }
    m.make_purpose_token("1", "live", &device("Firefox"), later)
        .await
        .unwrap();

    let purged = m.purge(t0() + Duration::minutes(5), false).await.unwrap();

    assert_eq!((purged.sessions, purged.purpose_tokens), (12, 9));
    let batch = |deleted| Batch { limit: 4, deleted };
    assert_eq!(
        *session_batches.lock().unwrap(),
        [batch(4), batch(4), batch(4), batch(0)]
    );
    assert_eq!(
        *purpose_token_batches.lock().unwrap(),
        [batch(4), batch(4), batch(1)]
    );
    let mut remaining = live_sessions(&m, "1").await;
    remaining.sort();
    live.sort();
    assert_eq!(remaining, live);
    let purposes: Vec<String> = store
        .list_user_purpose_tokens("1")
        .await
        .unwrap()
        .into_iter()
        .map(|token| token.purpose)
        .collect();
    assert_eq!(purposes, ["live"]);
}

/// Purpose tokens: single use, replaced per (user, purpose), hashed at rest, per-purpose
/// lifetimes; a credential change deletes sessions and purpose tokens.
pub async fn manager_purpose_tokens_and_credential_change<
    S: SessionStore + PurposeTokenStore + 'static,
>(
    store: S,
) {
    let users = TestUsers::with(TestUser::new("1"));
    let mut settings = Settings::default();
    // No lifetime of its own for `password_reset` here: it takes PURPOSE_TOKEN_LIFETIME.
    settings.purpose_token_lifetimes = [(
        "email_confirmation".to_owned(),
        StdDuration::from_secs(7200),
    )]
    .into();
    let m = full_manager(store, &users, settings);
    let reset = m
        .make_purpose_token("1", "password_reset", &device("Firefox"), t0())
        .await
        .unwrap();
    assert_eq!(reset.record().expires_at, t0() + Duration::days(1));
    assert!(reset.as_str().len() >= 43, "256 bits, URL-safe");
    assert!(
        reset
            .as_str()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let confirm = m
        .make_purpose_token("1", "email_confirmation", &device("Firefox"), t0())
        .await
        .unwrap();
    assert_eq!(confirm.record().expires_at, t0() + Duration::hours(2));
    let replacement = m
        .make_purpose_token("1", "password_reset", &device("Firefox"), t0())
        .await
        .unwrap();
    assert!(
        m.consume_purpose_token("1", "password_reset", reset.as_str(), t0())
            .await
            .unwrap()
            .is_none(),
        "replaced"
    );
    assert!(
        m.consume_purpose_token("1", "email_confirmation", replacement.as_str(), t0())
            .await
            .unwrap()
            .is_none(),
        "wrong purpose"
    );
    assert!(
        m.consume_purpose_token("2", "password_reset", replacement.as_str(), t0())
            .await
            .unwrap()
            .is_none(),
        "wrong user"
    );
    let used = m
        .consume_purpose_token("1", "password_reset", replacement.as_str(), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.purpose, "password_reset");
    let json = serde_json::to_string(&used).unwrap();
    assert!(
        !json.contains("hash") && !json.contains(replacement.as_str()),
        "{json}"
    );
    assert!(
        m.consume_purpose_token("1", "password_reset", replacement.as_str(), t0())
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
    assert!(
        m.consume_purpose_token(
            "1",
            "email_confirmation",
            confirm.as_str(),
            t0() + Duration::hours(2)
        )
        .await
        .unwrap()
        .is_none(),
        "expired"
    );

    let again = m
        .make_purpose_token("1", "password_reset", &device("Firefox"), t0())
        .await
        .unwrap();
    m.open_session(&users.get("1"), &device("Firefox"), t0())
        .await
        .unwrap();
    m.open_session(&users.get("1"), &device("Safari"), t0())
        .await
        .unwrap();
    let revoked = m
        .revoke_credentials("1", RevocationReason::PasswordChange, t0())
        .await
        .unwrap();
    assert_eq!(revoked.sessions, 2);
    assert!(revoked.purpose_tokens >= 1);
    assert!(live_sessions(&m, "1").await.is_empty());
    assert!(
        m.consume_purpose_token("1", "password_reset", again.as_str(), t0())
            .await
            .unwrap()
            .is_none()
    );
}

/// Rule 4 through the manager: logout-all racing a rotation never leaves a session alive.
async fn revocation_beats_rotation<S: SessionStore + Clone + 'static>(store: S, trials: usize) {
    let users = TestUsers::with(TestUser::new("1"));
    let m = Arc::new(manager(store, &users, Settings::default()));
    for trial in 0..trials {
        let pair = m
            .open_session(&users.get("1"), &device("Firefox"), t0())
            .await
            .unwrap();
        let token = pair.refresh.as_str().to_owned();
        let rotate = {
            let m = m.clone();
            tokio::spawn(async move { m.rotate(&token, &device("Firefox"), t0()).await.unwrap() })
        };
        let revoke = {
            let m = m.clone();
            tokio::spawn(async move { m.logout_all("1", t0()).await.unwrap() })
        };
        let outcome = rotate.await.unwrap();
        revoke.await.unwrap();
        assert!(
            live_sessions(&m, "1").await.is_empty(),
            "trial {trial}: a session survived ({})",
            outcome.name()
        );
        if let RotationOutcome::Rotated(next) = outcome {
            assert!(!matches!(
                m.rotate(next.refresh.as_str(), &device("Firefox"), t0())
                    .await
                    .unwrap(),
                RotationOutcome::Rotated(_)
            ));
        }
    }
}

/// Rule 1 through the manager, reuse interval 0: 32 tasks, one rotation, no live token.
pub async fn manager_concurrent_rotation_strict<S: SessionStore + Clone + 'static>(store: S) {
    manager_concurrent_rotation(store, 0).await;
}

/// Rules 1 and 3 through the manager, reuse interval 10 s: every task gets the identical
/// successor.
pub async fn manager_concurrent_rotation_with_reuse_interval<S: SessionStore + Clone + 'static>(
    store: S,
) {
    manager_concurrent_rotation(store, 10).await;
}

/// Rule 4 through the manager: 200 trials of logout-all racing a rotation.
pub async fn manager_revocation_beats_rotation<S: SessionStore + Clone + 'static>(store: S) {
    revocation_beats_rotation(store, 200).await;
}
