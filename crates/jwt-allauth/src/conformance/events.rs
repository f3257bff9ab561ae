//! The event log's cases: exactly one event per committed change, in sequence order,
//! with no secret in it. Run with [`event_log_tests!`](crate::event_log_tests) on a store
//! that keeps an [`EventLog`].

use time::Duration;

use super::rules::{TestUser, TestUsers, keys};
use super::{Store, at, device, logout, open, rotate, session_id};
use crate::dyn_store::DynStore;
use crate::events::{Event, EventLog, EventType, RevocationReason};
use crate::manager::SessionManager;
use crate::settings::Settings;
use crate::store::{NewSession, RotateResult, SessionEnd};

/// Generates one `#[test]` per case of the event log's conformance suite
/// ([`conformance::events`](crate::conformance)), each running the case through `$run`
/// as [`conformance_tests!`](crate::conformance_tests) does.
#[macro_export]
macro_rules! event_log_tests {
    ($run:path) => {
        $crate::conformance_tests!(@cases $run;
            events_of_opening_and_revoking,
            events_of_replay_and_purge,
            events_page_in_sequence_order_and_purge,
            events_carry_no_secret,
            events_exactly_one_per_concurrent_revocation,
            events_purged_after_their_retention,
        );
    };
}

/// Every event of the log, in order.
pub async fn all_events<S: EventLog>(store: &S) -> Vec<Event> {
    store.events_after(0, 10_000).await.unwrap()
}

/// `(type, session, reason)` of each event, for comparisons.
fn kinds(events: &[Event]) -> Vec<(EventType, Option<String>, Option<RevocationReason>)> {
    events
        .iter()
        .map(|event| (event.event_type, event.session.clone(), event.reason))
        .collect()
}

/// Opening writes `session.created` with the login's device; each revocation one
/// `session.revoked` per session it deleted, with its reason, owner and device; a
/// revocation that deletes nothing writes nothing.
pub async fn events_of_opening_and_revoking<S: Store + EventLog>(store: S) {
    let (s1, s2, s3, s4) = (session_id(1), session_id(2), session_id(3), session_id(4));
    open(&store, &s1, "alice", "a1", at(0)).await;
    open(&store, &s2, "alice", "a2", at(1)).await;
    open(&store, &s3, "alice", "a3", at(2)).await;
    open(&store, &s4, "bob", "b1", at(3)).await;
    let opened = all_events(&store).await;
    assert_eq!(opened.len(), 4);
    let first = &opened[0];
    assert_eq!(first.event_type, EventType::SessionCreated);
    assert_eq!(
        (first.user_id.as_str(), first.session.as_deref()),
        ("alice", Some(s1.as_str()))
    );
    assert_eq!((first.time, first.reason), (at(0), None));
    assert_eq!(first.device, Some(device(1)));

    let admin = SessionEnd::new(RevocationReason::Admin, at(10));
    assert!(store.revoke_session(&s1, admin).await.unwrap());
    assert!(!store.revoke_session(&s1, admin).await.unwrap());
    assert!(
        !store
            .revoke_user_session("bob", &s2, logout())
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_user_session(
                "alice",
                &s2,
                SessionEnd::new(RevocationReason::Logout, at(11))
            )
            .await
            .unwrap()
    );
    let all = SessionEnd::new(RevocationReason::LogoutAll, at(12));
    assert_eq!(
        store.revoke_user_sessions("alice", all).await.unwrap(),
        std::slice::from_ref(&s3)
    );
    assert!(
        store
            .revoke_user_sessions("alice", all)
            .await
            .unwrap()
            .is_empty()
    );

    let events = all_events(&store).await;
    let revoked = &events[4..];
    assert_eq!(
        kinds(revoked),
        [
            (
                EventType::SessionRevoked,
                Some(s1.clone()),
                Some(RevocationReason::Admin)
            ),
            (
                EventType::SessionRevoked,
                Some(s2.clone()),
                Some(RevocationReason::Logout)
            ),
            (
                EventType::SessionRevoked,
                Some(s3.clone()),
                Some(RevocationReason::LogoutAll)
            ),
        ]
    );
    assert!(revoked.iter().all(|event| event.user_id == "alice"));
    assert_eq!(
        revoked.iter().map(|event| event.time).collect::<Vec<_>>(),
        [at(10), at(11), at(12)]
    );
    assert!(revoked.iter().all(|event| event.device == Some(device(1))));
}

/// A replay writes one `session.revoked` (`replay`); a rotation or a retry none; a
/// purge one `session.revoked` (`expired`) per session it deleted.
pub async fn events_of_replay_and_purge<S: Store + EventLog>(store: S) {
    let s = session_id(1);
    open(&store, &s, "alice", "a", at(0)).await;
    let reuse = Duration::seconds(10);
    assert_eq!(
        rotate(&store, &s, "alice", "a", "b", at(1), reuse).await,
        RotateResult::Rotated
    );
    assert!(matches!(
        rotate(&store, &s, "alice", "a", "b2", at(2), reuse).await,
        RotateResult::Retried { .. }
    ));
    assert_eq!(
        all_events(&store).await.len(),
        1,
        "rotations are not events"
    );
    assert_eq!(
        rotate(&store, &s, "alice", "a", "c", at(30), reuse).await,
        RotateResult::Replayed
    );
    assert_eq!(
        rotate(&store, &s, "alice", "b", "c", at(31), reuse).await,
        RotateResult::NotFound
    );
    let events = all_events(&store).await;
    assert_eq!(
        kinds(&events[1..]),
        [(
            EventType::SessionRevoked,
            Some(s.clone()),
            Some(RevocationReason::Replay)
        )]
    );
    assert_eq!(events[1].time, at(30));

    for n in 10..13u32 {
        let session = NewSession {
            expires_at: at(100),
            ..super::new_session(&session_id(n.into()), "bob", &format!("b{n}"), at(0))
        };
        store.open_session(&session).await.unwrap();
    }
    let before = all_events(&store).await.len();
    let mut deleted = 0;
    loop {
        let batch = store.delete_expired_sessions(at(200), 2).await.unwrap();
        deleted += batch;
        if batch < 2 {
            break;
        }
    }
    assert_eq!(deleted, 3);
    let purged = &all_events(&store).await[before..];
    assert_eq!(purged.len(), 3);
    assert!(purged.iter().all(|event| {
        event.reason == Some(RevocationReason::Expired) && event.user_id == "bob"
    }));
}

/// Sequence numbers increase; `events_after` pages from any of them; old events are
/// deleted in bounded batches.
pub async fn events_page_in_sequence_order_and_purge<S: Store + EventLog>(store: S) {
    for n in 0..5u32 {
        open(
            &store,
            &session_id(n.into()),
            "alice",
            &format!("a{n}"),
            at(n.into()),
        )
        .await;
    }
    let events = all_events(&store).await;
    assert_eq!(events.len(), 5);
    assert!(events.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    let ids: std::collections::HashSet<_> = events.iter().map(|event| &event.id).collect();
    assert_eq!(ids.len(), 5, "event ids are unique");

    let page = store.events_after(events[1].seq, 2).await.unwrap();
    assert_eq!(page, events[2..4]);
    assert!(
        store
            .events_after(events[4].seq, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.count_events_before(at(3)).await.unwrap(), 3);
    assert_eq!(store.count_events_before(at(0)).await.unwrap(), 0);
    assert_eq!(store.delete_events_before(at(3), 2).await.unwrap(), 2);
    assert_eq!(store.delete_events_before(at(3), 2).await.unwrap(), 1);
    assert_eq!(store.delete_events_before(at(3), 2).await.unwrap(), 0);
    assert_eq!(all_events(&store).await, events[3..]);
}

/// No event holds a `jti`, a refresh token's payload or a hash: only ids, times, reasons
/// and device metadata.
pub async fn events_carry_no_secret<S: Store + EventLog>(store: S) {
    let s = session_id(7);
    open(&store, &s, "alice", "secret-jti-1", at(0)).await;
    rotate(
        &store,
        &s,
        "alice",
        "secret-jti-1",
        "secret-jti-2",
        at(1),
        Duration::ZERO,
    )
    .await;
    rotate(
        &store,
        &s,
        "alice",
        "secret-jti-1",
        "secret-jti-3",
        at(2),
        Duration::ZERO,
    )
    .await;
    let json = serde_json::to_string(&all_events(&store).await).unwrap();
    assert!(!json.contains("secret-jti"), "{json}");
    assert!(!json.contains("refresh"), "{json}");
    assert!(!json.contains("hash"), "{json}");
    let event: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut names: Vec<_> = event[0].as_object().unwrap().keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "device", "id", "reason", "seq", "session", "time", "type", "user_id"
        ]
    );
}

/// Of concurrent revocations of one session, the one that deletes it writes the only
/// event; concurrent revocations of all of a user's sessions write one event per session.
pub async fn events_exactly_one_per_concurrent_revocation<S: Store + EventLog>(store: S) {
    for trial in 0..10u128 {
        let s = session_id(100 + trial);
        open(&store, &s, "alice", &format!("t{trial}"), at(0)).await;
        let racers: Vec<_> = (0..6)
            .map(|n| {
                let store = store.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    if n % 2 == 0 {
                        store
                            .revoke_user_session("alice", &s, logout())
                            .await
                            .unwrap()
                    } else {
                        !store
                            .revoke_user_sessions("alice", logout())
                            .await
                            .unwrap()
                            .is_empty()
                    }
                })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            winners += usize::from(racer.await.unwrap());
        }
        assert_eq!(winners, 1, "trial {trial}");
    }
    let events = all_events(&store).await;
    let revoked = events
        .iter()
        .filter(|event| event.event_type == EventType::SessionRevoked)
        .count();
    assert_eq!(revoked, 10);
}

/// [`SessionManager::purge`] deletes the events older than `EVENT_RETENTION`, and counts
/// them in a dry run; a retention shorter than a refresh-token lifetime is raised to it.
pub async fn events_purged_after_their_retention<S: Store + EventLog>(store: S) {
    const DAY: i64 = 24 * 60 * 60;
    for n in 0..5u32 {
        open(
            &store,
            &session_id(n.into()),
            "alice",
            &format!("j{n}"),
            at(0),
        )
        .await;
    }
    open(&store, &session_id(9), "alice", "j9", at(3 * DAY)).await;
    let manager = |retention_days: u64| {
        let mut settings = Settings::default();
        settings.refresh_token_lifetime = std::time::Duration::from_secs(DAY as u64);
        settings.event_retention = std::time::Duration::from_secs(retention_days * DAY as u64);
        SessionManager::with_dyn_store(
            settings,
            keys(),
            DynStore::with_events(store.clone()),
            TestUsers::with(TestUser::new("alice")),
        )
    };
    let now = at(3 * DAY);

    let m = manager(2);
    assert_eq!(m.event_retention_cutoff(now), at(DAY));
    assert_eq!(m.purge(now, true).await.unwrap().events, 5);
    assert_eq!(
        all_events(&store).await.len(),
        6,
        "a dry run deletes nothing"
    );
    assert_eq!(m.purge(now, false).await.unwrap().events, 5);
    let kept = all_events(&store).await;
    assert!(!kept.is_empty() && kept.iter().all(|event| event.time >= at(DAY)));
    assert_eq!(m.purge(now, false).await.unwrap().events, 0);

    // Zero days: raised to the refresh-token lifetime, one day.
    assert_eq!(manager(0).event_retention_cutoff(now), at(2 * DAY));
}
