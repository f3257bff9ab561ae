//! The users store on SQLite and (when `JWT_ALLAUTH_TEST_POSTGRES_URL` is set)
//! PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestDb;
use jwt_allauth::{User, UserStore};
use jwt_allauth_axum::{AccountStore, PasswordChange, ProfileUpdate};
use jwt_allauth_server::db::Database;
use jwt_allauth_server::passwords::Passwords;
use jwt_allauth_server::users::{NewUser, Users, UsersError};
use serde_json::json;
use time::OffsetDateTime;

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

async fn store_suite(db: &Database) {
    let users = Users::new(db.clone(), Passwords::with_permits(2));

    // create, and the JSON form.
    let mut new = NewUser::new("  Ada@Example.com ", "correct horse");
    new.first_name = "Ada".into();
    new.profile = json!({"organization": {"id": 3}})
        .as_object()
        .cloned()
        .unwrap();
    let ada = users.create(&new, at(1_700_000_000)).await.unwrap();
    assert_eq!(ada.email, "Ada@Example.com");
    assert_eq!(ada.date_joined, at(1_700_000_000));
    assert_eq!(ada.last_login, None);
    assert_eq!(
        ada.to_json(),
        json!({
            "id": ada.id.to_string(), "email": "Ada@Example.com", "first_name": "Ada",
            "last_name": "", "role": 0, "is_active": true, "is_staff": false,
            "is_superuser": false, "email_verified": true,
            "profile": {"organization": {"id": 3}},
        })
    );

    // Unique regardless of case.
    let err = users
        .create(&NewUser::new("ADA@example.COM", "other"), at(1_700_000_001))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UsersError::DuplicateEmail(email) if email == "ADA@example.COM"),
        "{err:?}"
    );
    assert!(matches!(
        users.create(&NewUser::new("nope", "pw"), at(0)).await,
        Err(UsersError::InvalidEmail(_))
    ));

    // Look-ups.
    assert_eq!(
        users
            .find_by_email("ada@EXAMPLE.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        ada.id
    );
    assert!(
        users
            .find_by_email("bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .find_by_email("not an address")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        users.load_user(&ada.id.to_string()).await.unwrap().unwrap(),
        ada
    );
    for id in ["abc", "", "-1", "0", "01", "1.0", "999999"] {
        assert!(users.load_user(id).await.unwrap().is_none(), "{id:?}");
    }

    // authenticate: one answer for unknown, wrong and inactive.
    let ok = AccountStore::authenticate(&users, "ADA@example.com", "correct horse")
        .await
        .unwrap();
    assert_eq!(ok.unwrap().id, ada.id);
    assert!(
        users
            .authenticate("ada@example.com", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .authenticate("nobody@example.com", "correct horse")
            .await
            .unwrap()
            .is_none()
    );
    let mut inactive = NewUser::new("ina@example.com", "pw");
    inactive.is_active = false;
    let ina = users.create(&inactive, at(0)).await.unwrap();
    assert!(
        users
            .authenticate("ina@example.com", "pw")
            .await
            .unwrap()
            .is_none()
    );
    // Every attempt costs exactly one verification: success, wrong password, unknown
    // e-mail (against a dummy hash) and inactive account alike.
    for (email, password) in [
        ("ada@example.com", "correct horse"),
        ("ada@example.com", "wrong"),
        ("nobody@example.com", "correct horse"),
        ("someone-else@example.com", "x"),
        ("ina@example.com", "pw"),
    ] {
        let before = users.passwords().verifications();
        let _ = users.authenticate(email, password).await.unwrap();
        assert_eq!(users.passwords().verifications(), before + 1, "{email}");
    }
    users
        .set_active(ina.id, true, OffsetDateTime::now_utc())
        .await
        .unwrap()
        .unwrap();
    assert!(
        users
            .authenticate("ina@example.com", "pw")
            .await
            .unwrap()
            .is_some()
    );

    // change_password.
    let id = ada.id.to_string();
    assert_eq!(
        users.change_password(&id, "wrong", "new pw").await.unwrap(),
        PasswordChange::WrongOldPassword
    );
    assert_eq!(
        AccountStore::change_password(&users, &id, "correct horse", "new pw")
            .await
            .unwrap(),
        PasswordChange::Changed
    );
    assert!(
        users
            .authenticate("ada@example.com", "correct horse")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .authenticate("ada@example.com", "new pw")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        users
            .change_password("999999", "new pw", "x")
            .await
            .unwrap(),
        PasswordChange::UserNotFound
    );
    assert_eq!(
        users.change_password("abc", "new pw", "x").await.unwrap(),
        PasswordChange::UserNotFound
    );
    assert!(
        users
            .set_password(ada.id, "reset pw", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    assert!(
        users
            .authenticate("ada@example.com", "reset pw")
            .await
            .unwrap()
            .is_some()
    );

    // role, profile, names, last login.
    let updated = users.set_role(ada.id, Some(55)).await.unwrap().unwrap();
    assert_eq!(User::role(&updated), 55);
    let updated = users.set_role(ada.id, None).await.unwrap().unwrap();
    assert_eq!(User::role(&updated), 0);
    let profile = json!({"tier": "gold", "n": [1, 2]})
        .as_object()
        .cloned()
        .unwrap();
    assert_eq!(
        users
            .set_profile(ada.id, &profile)
            .await
            .unwrap()
            .unwrap()
            .profile,
        profile
    );
    let updated = users
        .set_email_verified(ada.id, false, OffsetDateTime::now_utc())
        .await
        .unwrap()
        .unwrap();
    assert!(!updated.email_verified);
    let changed = AccountStore::update_profile(
        &users,
        &id,
        ProfileUpdate {
            first_name: None,
            last_name: Some("Lovelace".into()),
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (changed.first_name.as_str(), changed.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert!(
        AccountStore::update_profile(&users, "abc", ProfileUpdate::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .update_names(999_999, Some("x"), None)
            .await
            .unwrap()
            .is_none()
    );
    AccountStore::record_login(&users, &id, at(1_800_000_000))
        .await
        .unwrap();
    let loaded = users.find_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(loaded.last_login, Some(at(1_800_000_000)));
    assert_eq!(users.profile(&loaded).email, "Ada@Example.com");
    assert!(users.set_role(999_999, Some(1)).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_users_store() {
    let db = TestDb::sqlite();
    let pool = db.connect().await;
    store_suite(&pool).await;
    pool.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_users_store() {
    let pool = Database::connect("sqlite::memory:").await.unwrap();
    pool.migrate().await.unwrap();
    store_suite(&pool).await;
}

#[tokio::test]
async fn postgres_users_store() {
    if let Some(db) = TestDb::postgres("postgres_users_store").await {
        let pool = db.connect().await;
        store_suite(&pool).await;
        pool.close().await;
    }
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let pool = Database::connect("sqlite::memory:").await.unwrap();
    pool.migrate().await.unwrap();
    let users = Users::new(pool.clone(), Passwords::with_permits(1));
    pool.close().await;
    let err = users.find_by_id(1).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // Through the UserStore trait, the chain carries StoreError::Unavailable (→ 503).
    let err = users.load_user("1").await.unwrap_err();
    let source = std::error::Error::source(&err).unwrap();
    assert!(matches!(
        source.downcast_ref::<jwt_allauth::StoreError>(),
        Some(jwt_allauth::StoreError::Unavailable(_))
    ));
}
