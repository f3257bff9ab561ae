//! The access-token verifier behind the extractors, without the store's type.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jwt_allauth::store::SessionStore;
use jwt_allauth::{AccessToken, ClaimsExtension, Error, SessionManager, UserStore};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::error_body::server_fault;
use crate::extract::AuthUser;
use crate::rejection::AuthRejection;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`SessionManager::authenticate`] behind a trait object.
pub(crate) trait VerifyAccess: Send + Sync {
    fn verify<'a>(
        &'a self,
        token: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<AccessToken, Error>>;
}

impl<S, U, E> VerifyAccess for SessionManager<S, U, E>
where
    S: SessionStore,
    U: UserStore,
    E: ClaimsExtension<U::User>,
{
    fn verify<'a>(
        &'a self,
        token: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(self.authenticate(token, now))
    }
}

/// Verifies the `Authorization: Bearer` access token of a request: what
/// [`AuthUser`], `Option<AuthUser>` and [`RequireRole`](crate::RequireRole) extract with.
///
/// It does not depend on the store's type, so these extractors work with any
/// [`AuthState`](crate::AuthState). Get one with
/// [`AuthState::authenticator`](crate::AuthState::authenticator); the extractors find it
/// through `FromRef`: `AuthState` itself provides it, and an application state that
/// embeds an `AuthState` implements `FromRef<AppState> for Authenticator` (see the crate
/// documentation). Cheap to clone.
///
/// Verification is stateless (no database) unless `ACCESS_TOKEN_SESSION_CHECK` is on.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Arc<dyn VerifyAccess>,
    clock: Clock,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// A verified request, cached in the request's extensions so that several extractors
/// of one handler verify the token once. Only this crate can insert it.
#[derive(Clone)]
struct Verified(AuthUser);

impl Authenticator {
    /// A verifier over `manager`, reading the time from `clock`.
    pub fn new<S, U, E>(manager: Arc<SessionManager<S, U, E>>, clock: Clock) -> Self
    where
        S: SessionStore + 'static,
        U: UserStore + 'static,
        E: ClaimsExtension<U::User> + 'static,
    {
        Self {
            verifier: manager,
            clock,
        }
    }

    /// The current time of this verifier's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Verifies an access token.
    pub async fn authenticate_token(&self, token: &str) -> Result<AuthUser, AuthRejection> {
        match self.verifier.verify(token, self.clock.now()).await {
            Ok(access) => Ok(AuthUser::new(access.claims().clone())),
            Err(Error::Token(error)) => Err(AuthRejection::InvalidToken(error)),
            Err(Error::SessionInactive) => Err(AuthRejection::SessionInactive),
            Err(error) => Err(server_fault(&error, "access token verification").into()),
        }
    }

    /// Verifies the Bearer token of `headers`; `Ok(None)` when there are no credentials
    /// (no `Authorization` header, an empty one, or another scheme).
    pub async fn authenticate_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<AuthUser>, AuthRejection> {
        match bearer_token(headers)? {
            None => Ok(None),
            Some(token) => {
                let token = std::str::from_utf8(token).map_err(|_| invalid_token_rejection())?;
                self.authenticate_token(token).await.map(Some)
            }
        }
    }

    /// Like [`authenticate_headers`](Self::authenticate_headers), remembering the result
    /// in the request's extensions so that other extractors of the same request reuse it.
    pub async fn authenticate_parts(
        &self,
        parts: &mut Parts,
    ) -> Result<Option<AuthUser>, AuthRejection> {
        if let Some(Verified(user)) = parts.extensions.get::<Verified>() {
            return Ok(Some(user.clone()));
        }
        let user = self.authenticate_headers(&parts.headers).await?;
        if let Some(user) = &user {
            parts.extensions.insert(Verified(user.clone()));
        }
        Ok(user)
    }
}

fn invalid_token_rejection() -> AuthRejection {
    AuthRejection::InvalidToken(jwt_allauth::TokenError::Invalid)
}

/// The token of an `Authorization: Bearer <token>` header, as Simple JWT reads it: the
/// value is split on whitespace; no header, an empty value or another scheme is no
/// credentials (`Ok(None)`); `Bearer` followed by anything but exactly one value, or
/// several `Authorization` headers, is [`AuthRejection::BadAuthorizationHeader`]. The
/// scheme is matched case-insensitively (RFC 9110).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&[u8]>, AuthRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthRejection::BadAuthorizationHeader);
    }
    let mut words = value
        .as_bytes()
        .split(u8::is_ascii_whitespace)
        .filter(|word| !word.is_empty());
    match words.next() {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"Bearer") => {}
        _ => return Ok(None),
    }
    match (words.next(), words.next()) {
        (Some(token), None) => Ok(Some(token)),
        _ => Err(AuthRejection::BadAuthorizationHeader),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn bearer_token_follows_simple_jwt() {
        assert_eq!(bearer_token(&headers(&[])), Ok(None));
        assert_eq!(bearer_token(&headers(&[""])), Ok(None));
        assert_eq!(bearer_token(&headers(&["Basic abc"])), Ok(None));
        assert_eq!(
            bearer_token(&headers(&["Bearer abc"])),
            Ok(Some(&b"abc"[..]))
        );
        assert_eq!(
            bearer_token(&headers(&["bearer  abc "])),
            Ok(Some(&b"abc"[..]))
        );
        let bad = Err(AuthRejection::BadAuthorizationHeader);
        assert_eq!(bearer_token(&headers(&["Bearer"])), bad);
        assert_eq!(bearer_token(&headers(&["Bearer a b"])), bad);
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer a"])), bad);
    }
}
