//! The server's user type and the data of a new user.

use std::fmt;

use jwt_allauth::User;
use jwt_allauth::claims::default_role;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// A user of the server's built-in users table.
///
/// Its `Debug` output leaves out the password hash.
#[derive(Clone, PartialEq)]
pub struct ServerUser {
    /// Primary key; the `user_id` claim is its decimal form.
    pub id: i64,
    /// The e-mail address as given (unique regardless of case).
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The user's own role, or `None` to derive it from `is_staff` and `is_superuser`
    /// (1000 staff, 900 superuser, else 0).
    pub role: Option<i64>,
    /// Whether the user may log in and keep sessions.
    pub is_active: bool,
    /// Django's `is_staff`.
    pub is_staff: bool,
    /// Django's `is_superuser`.
    pub is_superuser: bool,
    /// Whether the e-mail address is confirmed.
    pub email_verified: bool,
    /// Free-form application data, always a JSON object.
    pub profile: Map<String, Value>,
    /// When the user was created.
    pub date_joined: OffsetDateTime,
    /// The last successful login, if any.
    pub last_login: Option<OffsetDateTime>,
    /// The argon2id PHC string of the password.
    pub(crate) password_hash: String,
}

impl fmt::Debug for ServerUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("role", &self.role)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field("email_verified", &self.email_verified)
            .field("profile", &self.profile)
            .field("date_joined", &self.date_joined)
            .field("last_login", &self.last_login)
            .finish_non_exhaustive()
    }
}

impl User for ServerUser {
    fn id(&self) -> String {
        self.id.to_string()
    }

    fn is_active(&self) -> bool {
        self.is_active
    }

    fn email_verified(&self) -> bool {
        self.email_verified
    }

    fn is_staff(&self) -> bool {
        self.is_staff
    }

    fn is_superuser(&self) -> bool {
        self.is_superuser
    }

    /// The user's own role when set, else the contract's staff/superuser rule.
    fn role(&self) -> i64 {
        self.role
            .unwrap_or_else(|| default_role(self.is_staff, self.is_superuser))
    }

    /// `{"id", "email", "first_name", "last_name", "role", "is_active", "is_staff",
    /// "is_superuser", "email_verified", "profile"}`, with `id` as a decimal string and
    /// `role` the effective role (an integer).
    fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role(),
            "is_active": self.is_active,
            "is_staff": self.is_staff,
            "is_superuser": self.is_superuser,
            "email_verified": self.email_verified,
            "profile": self.profile,
        })
    }
}

/// A user to create with [`Users::create`](super::Users::create).
///
/// Its `Debug` output leaves out the password.
#[derive(Clone)]
pub struct NewUser {
    /// E-mail address (trimmed; must contain `@`).
    pub email: String,
    /// The password in clear; it is hashed with argon2id and never stored.
    pub password: String,
    /// Given name. Defaults to empty.
    pub first_name: String,
    /// Family name. Defaults to empty.
    pub last_name: String,
    /// Explicit role. Defaults to none (derived from staff/superuser).
    pub role: Option<i64>,
    /// Defaults to true.
    pub is_active: bool,
    /// Defaults to false.
    pub is_staff: bool,
    /// Defaults to false.
    pub is_superuser: bool,
    /// Defaults to true.
    pub email_verified: bool,
    /// Defaults to `{}`.
    pub profile: Map<String, Value>,
}

impl NewUser {
    /// An active user with a verified address and the other fields at their defaults.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            first_name: String::new(),
            last_name: String::new(),
            role: None,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            email_verified: true,
            profile: Map::new(),
        }
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("role", &self.role)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field("email_verified", &self.email_verified)
            .field("profile", &self.profile)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> ServerUser {
        ServerUser {
            id: 7,
            email: "Ada@Example.com".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            role: None,
            is_active: true,
            is_staff: false,
            is_superuser: true,
            email_verified: false,
            profile: json!({"organization": {"id": 3}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            date_joined: OffsetDateTime::UNIX_EPOCH,
            last_login: None,
            password_hash: "$argon2id$secret".into(),
        }
    }

    #[test]
    fn json_form_and_roles() {
        let mut user = user();
        assert_eq!(User::id(&user), "7");
        assert_eq!(User::role(&user), 900);
        assert_eq!(
            user.to_json(),
            json!({
                "id": "7", "email": "Ada@Example.com", "first_name": "Ada",
                "last_name": "Lovelace", "role": 900, "is_active": true, "is_staff": false,
                "is_superuser": true, "email_verified": false,
                "profile": {"organization": {"id": 3}},
            })
        );
        user.role = Some(42);
        assert_eq!(User::role(&user), 42);
        user.role = None;
        user.is_staff = true;
        assert_eq!(User::role(&user), 1000);
    }

    #[test]
    fn debug_hides_secrets() {
        assert!(!format!("{:?}", user()).contains("argon2id"));
        let new = NewUser::new("a@b.c", "hunter2");
        assert!(!format!("{new:?}").contains("hunter2"));
    }
}
