//! An in-memory user store for the rule tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::{User, UserStore, UserStoreError};
use serde_json::{Value, json};

/// A user of the rule tests.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The id.
    pub id: String,
    /// Whether the user may log in and rotate.
    pub active: bool,
    /// Staff users get the staff role by default.
    pub staff: bool,
    /// Whether the e-mail address is verified.
    pub email_verified: bool,
    /// The role, when not the default of `staff`.
    pub role: Option<i64>,
    /// What `to_json` shows under `profile` (for configured user attributes).
    pub profile: Value,
}

impl TestUser {
    /// An active, verified, non-staff user with an empty profile.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            active: true,
            staff: false,
            email_verified: true,
            role: None,
            profile: json!({}),
        }
    }

    /// The user, as staff.
    pub fn staff(mut self) -> Self {
        self.staff = true;
        self
    }

    /// The user, with an unverified e-mail address.
    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }

    /// The user, with `profile`.
    pub fn profile(mut self, profile: Value) -> Self {
        self.profile = profile;
        self
    }
}

impl User for TestUser {
    fn id(&self) -> String {
        self.id.clone()
    }
    fn is_active(&self) -> bool {
        self.active
    }
    fn email_verified(&self) -> bool {
        self.email_verified
    }
    fn is_staff(&self) -> bool {
        self.staff
    }
    fn role(&self) -> i64 {
        self.role
            .unwrap_or_else(|| crate::claims::default_role(self.staff, false))
    }
    fn to_json(&self) -> Value {
        json!({"id": self.id, "profile": self.profile})
    }
}

/// The users of the rule tests, shared by clones, counting their loads.
#[derive(Debug, Clone, Default)]
pub struct TestUsers(Arc<Mutex<HashMap<String, TestUser>>>, Arc<AtomicUsize>);

impl TestUsers {
    /// Users holding `user` only.
    pub fn with(user: TestUser) -> Self {
        let users = Self::default();
        users.insert(user);
        users
    }

    /// How many times `load_user` was called.
    pub fn loads(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }

    /// Adds or replaces a user.
    pub fn insert(&self, user: TestUser) {
        self.0.lock().unwrap().insert(user.id.clone(), user);
    }

    /// Deletes a user.
    pub fn remove(&self, id: &str) {
        self.0.lock().unwrap().remove(id);
    }

    /// The user `id`.
    ///
    /// # Panics
    ///
    /// When there is no such user.
    pub fn get(&self, id: &str) -> TestUser {
        self.0.lock().unwrap()[id].clone()
    }

    /// Changes the user `id`.
    ///
    /// # Panics
    ///
    /// When there is no such user.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut TestUser)) {
        change(self.0.lock().unwrap().get_mut(id).unwrap());
    }
}

impl UserStore for TestUsers {
    type User = TestUser;

    async fn load_user(&self, user_id: &str) -> Result<Option<TestUser>, UserStoreError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Ok(self.0.lock().unwrap().get(user_id).cloned())
    }
}
