//! An in-memory user store for the rule tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jwt_allauth::{User, UserStore, UserStoreError};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub active: bool,
    pub staff: bool,
    pub email_verified: bool,
    pub role: Option<i64>,
    pub profile: Value,
}

impl TestUser {
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

    pub fn staff(mut self) -> Self {
        self.staff = true;
        self
    }

    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }

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
            .unwrap_or_else(|| jwt_allauth::claims::default_role(self.staff, false))
    }
    fn to_json(&self) -> Value {
        json!({"id": self.id, "profile": self.profile})
    }
}

#[derive(Debug, Clone, Default)]
pub struct TestUsers(Arc<Mutex<HashMap<String, TestUser>>>, Arc<AtomicUsize>);

impl TestUsers {
    pub fn with(user: TestUser) -> Self {
        let users = Self::default();
        users.insert(user);
        users
    }

    /// How many times `load_user` was called.
    pub fn loads(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }

    pub fn insert(&self, user: TestUser) {
        self.0.lock().unwrap().insert(user.id.clone(), user);
    }

    pub fn remove(&self, id: &str) {
        self.0.lock().unwrap().remove(id);
    }

    pub fn get(&self, id: &str) -> TestUser {
        self.0.lock().unwrap()[id].clone()
    }

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
