//! A session store and a user store with nothing in them, for the verifiers under test:
//! every future is ready at once, no session is active and no user exists.

use std::future::{Future, ready};

use jwt_allauth::store::{
    NewSession, RotateResult, Rotation, SessionEnd, SessionRecord, SessionStore,
};
use jwt_allauth::{StoreError, User, UserStore, UserStoreError};
use time::OffsetDateTime;

/// A whitelist holding no session, that refuses to open one.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyStore;

impl SessionStore for EmptyStore {
    fn open_session(&self, _: &NewSession) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(Err(StoreError::Backend(
            "the fuzz store is read-only".into(),
        )))
    }

    fn rotate_session(
        &self,
        _: &Rotation,
    ) -> impl Future<Output = Result<RotateResult, StoreError>> + Send {
        ready(Ok(RotateResult::NotFound))
    }

    fn revoke_session(
        &self,
        _: &str,
        _: SessionEnd,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(false))
    }

    fn revoke_user_session(
        &self,
        _: &str,
        _: &str,
        _: SessionEnd,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(false))
    }

    fn revoke_user_sessions(
        &self,
        _: &str,
        _: SessionEnd,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        ready(Ok(Vec::new()))
    }

    fn list_user_sessions(
        &self,
        _: &str,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send {
        ready(Ok(Vec::new()))
    }

    fn session_is_active(&self, _: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        ready(Ok(false))
    }

    fn count_expired_sessions(
        &self,
        _: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(Ok(0))
    }

    fn delete_expired_sessions(
        &self,
        _: OffsetDateTime,
        _: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(Ok(0))
    }
}

/// A user of [`NoUsers`]; none is ever loaded.
#[derive(Debug)]
pub struct NoUser;

impl User for NoUser {
    fn id(&self) -> String {
        String::new()
    }

    fn is_active(&self) -> bool {
        false
    }

    fn email_verified(&self) -> bool {
        false
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// A user store with no user.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUsers;

impl UserStore for NoUsers {
    type User = NoUser;

    fn load_user(
        &self,
        _: &str,
    ) -> impl Future<Output = Result<Option<NoUser>, UserStoreError>> + Send {
        ready(Ok(None))
    }
}
