//! The access-token verifier behind the extractors, without the store's type.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jwt_allauth::events::Revocation;
use jwt_allauth::{
    AccessToken, Claims, Error, SessionManager, TokenCodec, TokenError, TokenType, UserStore,
};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::error_response::server_fault;
use crate::extract::AuthUser;
use crate::rejection::AuthRejection;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How [`VerifyAccess::verify`] verifies a token.
pub(crate) enum Verification<'a> {
    /// Done without the store (`ACCESS_TOKEN_SESSION_CHECK` off): the token's claims.
    Stateless(Result<Claims, TokenError>),
    /// [`SessionManager::authenticate`], which reads the session store
    /// (`ACCESS_TOKEN_SESSION_CHECK` on); or, for a key set read from a JWKS URL, a token
    /// naming a key not known yet, verified again after the set is fetched (the result
    /// is remembered for the request all the same). The only paths that allocate.
    SessionChecked(BoxFuture<'a, Result<AccessToken, Error>>),
}

/// [`SessionManager::authenticate`] behind a trait object.
pub(crate) trait VerifyAccess: Send + Sync {
    /// Verifies `token` as [`SessionManager::authenticate`] does. The stateless case, the
    /// hot path of every protected route, is answered at once: no future to allocate and
    /// no copy of the token text or of the claims.
    fn verify<'a>(&'a self, token: &'a str, now: OffsetDateTime) -> Verification<'a>;
}

impl<U> VerifyAccess for SessionManager<U>
where
    U: UserStore,
{
    fn verify<'a>(&'a self, token: &'a str, now: OffsetDateTime) -> Verification<'a> {
        if self.settings().access_token_session_check {
            return Verification::SessionChecked(Box::pin(self.authenticate(token, now)));
        }
        // `authenticate` without the session check is `AccessToken::decode`, which is
        // this plus a copy of the token text (the unit tests hold them to the same
        // answers).
        let claims = self.codec().decode(token, TokenType::Access, now);
        let (Some(revocations), Ok(verified)) = (self.revocations(), &claims) else {
            return Verification::Stateless(claims);
        };
        // The revocation feed's set: no database query unless it cannot tell.
        let session = verified.session.as_deref();
        match revocations.check(session, &verified.user_id, verified.iat, now) {
            Revocation::NotRevoked => Verification::Stateless(claims),
            Revocation::Revoked => {
                Verification::SessionChecked(Box::pin(async { Err(Error::SessionInactive) }))
            }
            Revocation::Unknown => {
                Verification::SessionChecked(Box::pin(self.authenticate(token, now)))
            }
        }
    }
}

/// A service that only verifies access tokens: no store, so no session check.
impl VerifyAccess for TokenCodec {
    fn verify<'a>(&'a self, token: &'a str, now: OffsetDateTime) -> Verification<'a> {
        Verification::Stateless(self.decode(token, TokenType::Access, now))
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
    /// One `Arc`: the extractors clone their `Authenticator` out of the state on every
    /// request, which then touches one shared reference count.
    shared: Arc<Shared>,
}

/// What the clones of an [`Authenticator`] share.
struct Shared {
    verifier: Arc<dyn VerifyAccess>,
    clock: Clock,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("clock", &self.shared.clock)
            .finish_non_exhaustive()
    }
}

/// A request verified with the session check, remembered in the request's extensions so
/// that several extractors of one handler read the session store once. Only this crate
/// can insert it.
#[derive(Clone)]
struct Verified(AuthUser);

impl Authenticator {
    /// A verifier over `manager`, reading the time from `clock`.
    pub fn new<U>(manager: Arc<SessionManager<U>>, clock: Clock) -> Self
    where
        U: UserStore + 'static,
    {
        Self {
            shared: Arc::new(Shared {
                verifier: manager,
                clock,
            }),
        }
    }

    /// A verifier with no store, for a service that only checks the access tokens another
    /// service (the `jwt-allauth` server, say) issues: `codec` holds the verifying keys
    /// and the token settings (`LEEWAY`, `ISSUER`, `AUDIENCE`). There is no session
    /// check, whatever `ACCESS_TOKEN_SESSION_CHECK` says: a revoked session's access
    /// token is accepted until it expires.
    ///
    /// [`AuthUser`], `Option<AuthUser>` and [`RequireRole`](crate::RequireRole) work with
    /// it as the router's state (or through `FromRef`), with no store, no user type and
    /// no `AuthState`:
    ///
    /// ```
    /// use axum::Router;
    /// use axum::routing::get;
    /// use jwt_allauth::{Algorithm, KeyRing, Settings, TokenCodec};
    /// use jwt_allauth_axum::{AuthUser, Authenticator, Clock};
    ///
    /// async fn me(user: AuthUser) -> String {
    ///     format!("hello, user {}", user.user_id())
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"the secret the issuing server signs with, 32+ bytes";
    /// let keys = KeyRing::hmac(Algorithm::HS256, secret)?;
    /// let codec = TokenCodec::new(keys, &Settings::default());
    /// let app: Router = Router::new()
    ///     .route("/me", get(me))
    ///     .with_state(Authenticator::verify_only(codec, Clock::system()));
    /// # let _ = app;
    /// # Ok(())
    /// # }
    /// ```
    pub fn verify_only(codec: TokenCodec, clock: Clock) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier: Arc::new(codec),
                clock,
            }),
        }
    }

    /// A verifier with no store whose keys come from the issuer's JWKS URL, kept fresh
    /// by `keys` (see [`RemoteKeySet`](crate::jwks::RemoteKeySet)): the same extractors
    /// as [`verify_only`](Self::verify_only), and the same limits (no session check).
    /// A token naming a `kid` the set does not have makes the set fetched again, at most
    /// once per [`unknown_key_interval`](crate::jwks::RemoteKeySetBuilder::unknown_key_interval),
    /// before it is verified once more; any other token is verified at once, with no
    /// allocation, as with `verify_only`. Needs the `jwks` feature.
    #[cfg(feature = "jwks")]
    pub fn from_jwks(keys: crate::jwks::RemoteKeySet, clock: Clock) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier: keys.shared,
                clock,
            }),
        }
    }

    /// The current time of this verifier's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.shared.clock.now()
    }

    /// Verifies `token` at the clock's current time.
    fn verify<'a>(&'a self, token: &'a str) -> Verification<'a> {
        self.shared.verifier.verify(token, self.now())
    }

    /// Verifies an access token.
    pub async fn authenticate_token(&self, token: &str) -> Result<AuthUser, AuthRejection> {
        match self.verify(token) {
            Verification::Stateless(claims) => stateless_caller(claims),
            Verification::SessionChecked(verifying) => session_checked_caller(verifying.await),
        }
    }

    /// Verifies the Bearer token of `headers`; `Ok(None)` when there are no credentials
    /// (no `Authorization` header, an empty one, or another scheme).
    pub async fn authenticate_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<AuthUser>, AuthRejection> {
        match bearer_str(headers)? {
            None => Ok(None),
            Some(token) => self.authenticate_token(token).await.map(Some),
        }
    }

    /// Like [`authenticate_headers`](Self::authenticate_headers), for an extractor: when
    /// verifying reads the session store (`ACCESS_TOKEN_SESSION_CHECK` on), the result is
    /// remembered in the request's extensions so that other extractors of the same request
    /// reuse it rather than read the store again. A stateless verification costs less
    /// than remembering it, so it is not.
    pub async fn authenticate_parts(
        &self,
        parts: &mut Parts,
    ) -> Result<Option<AuthUser>, AuthRejection> {
        if let Some(Verified(user)) = parts.extensions.get::<Verified>() {
            return Ok(Some(user.clone()));
        }
        let Some(token) = bearer_str(&parts.headers)? else {
            return Ok(None);
        };
        match self.verify(token) {
            Verification::Stateless(claims) => stateless_caller(claims).map(Some),
            Verification::SessionChecked(verifying) => {
                let user = session_checked_caller(verifying.await)?;
                parts.extensions.insert(Verified(user.clone()));
                Ok(Some(user))
            }
        }
    }
}

/// The caller of a stateless verification.
fn stateless_caller(claims: Result<Claims, TokenError>) -> Result<AuthUser, AuthRejection> {
    claims
        .map(AuthUser::new)
        .map_err(AuthRejection::InvalidToken)
}

/// The caller of [`SessionManager::authenticate`].
fn session_checked_caller(access: Result<AccessToken, Error>) -> Result<AuthUser, AuthRejection> {
    match access {
        Ok(access) => Ok(AuthUser::new(access.claims().clone())),
        Err(Error::Token(error)) => Err(AuthRejection::InvalidToken(error)),
        Err(Error::SessionInactive) => Err(AuthRejection::SessionInactive),
        Err(error) => Err(server_fault(&error, "access token verification").into()),
    }
}

/// The Bearer token of `headers` as text (see [`bearer_token`]); a token that is not
/// UTF-8 is [`TokenError::Invalid`].
fn bearer_str(headers: &HeaderMap) -> Result<Option<&str>, AuthRejection> {
    bearer_token(headers)?
        .map(|token| {
            std::str::from_utf8(token).map_err(|_| AuthRejection::InvalidToken(TokenError::Invalid))
        })
        .transpose()
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
    // The words of the trimmed value: the scheme up to the first whitespace, then the
    // rest, which must be one word. One pass over the bytes, nothing collected.
    let value = value.as_bytes().trim_ascii();
    let (scheme, rest) = match value.iter().position(u8::is_ascii_whitespace) {
        Some(end) => value.split_at(end),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer") {
        return Ok(None);
    }
    let token = rest.trim_ascii_start();
    if token.is_empty() || contains_ascii_whitespace(token) {
        return Err(AuthRejection::BadAuthorizationHeader);
    }
    Ok(Some(token))
}

/// Whether `bytes` has an ASCII whitespace byte. Without an early exit the compiler
/// vectorizes the loop: a token has a few hundred bytes, and this runs on every request.
fn contains_ascii_whitespace(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |found, byte| found | byte.is_ascii_whitespace())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;
    use jwt_allauth::keys::{Algorithm, KeyRing};
    use jwt_allauth::{DeviceInfo, ExtraClaims, Settings, TokenCodec, User, UserStoreError};
    use jwt_allauth_sqlx::SqliteStore;

    use super::*;

    /// A user type for a store the verifier never calls.
    struct NoUser;

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

    /// A user store without users.
    struct NoUsers;

    impl UserStore for NoUsers {
        type User = NoUser;

        async fn load_user(&self, _user_id: &str) -> Result<Option<NoUser>, UserStoreError> {
            Ok(None)
        }
    }

    const SECRET: &[u8] = b"a unit-test secret that is long enough for HS256";

    fn claims(token_type: TokenType, exp: i64, iss: Option<&str>) -> Claims {
        Claims {
            token_type,
            exp,
            iat: exp - 300,
            jti: "0123456789abcdef0123456789abcdef".into(),
            user_id: "7".into(),
            session: Some("fedcba9876543210fedcba9876543210".into()),
            session_iat: Some(exp - 300),
            role: 0,
            email_verified: true,
            iss: iss.map(str::to_owned),
            aud: None,
            extra: ExtraClaims::new(),
        }
    }

    /// The stateless fast path accepts and rejects exactly what
    /// `SessionManager::authenticate` does with the session check off, with the same
    /// claims and the same errors.
    #[tokio::test]
    async fn stateless_verification_answers_as_authenticate() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut settings = Settings::default();
        settings.issuer = Some("https://api.example.com".into());
        let keys = KeyRing::hmac(Algorithm::HS256, SECRET).unwrap();
        let codec = TokenCodec::new(keys.clone(), &settings);
        let other_key =
            KeyRing::hmac(Algorithm::HS256, b"another secret, also long enough").unwrap();
        let forger = TokenCodec::new(other_key, &settings);
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let manager = SessionManager::new(settings, keys, store, NoUsers);

        let iss = Some("https://api.example.com");
        let live = now.unix_timestamp() + 300;
        let tokens = [
            codec.encode(&claims(TokenType::Access, live, iss)).unwrap(),
            codec
                .encode(&claims(TokenType::Access, now.unix_timestamp() - 60, iss))
                .unwrap(),
            codec
                .encode(&claims(TokenType::Refresh, live, iss))
                .unwrap(),
            codec
                .encode(&claims(TokenType::Access, live, None))
                .unwrap(),
            forger
                .encode(&claims(TokenType::Access, live, iss))
                .unwrap(),
            "garbage".to_owned(),
            String::new(),
        ];
        for token in &tokens {
            let Verification::Stateless(fast) = manager.verify(token, now) else {
                panic!("the session check is off: verification must be stateless");
            };
            let reference = match manager.authenticate(token, now).await {
                Ok(access) => Ok(access.claims().clone()),
                Err(Error::Token(error)) => Err(error),
                Err(error) => panic!("a stateless verification failed with {error}"),
            };
            assert_eq!(fast, reference);
        }
        assert!(
            matches!(
                manager.verify(&tokens[0], now),
                Verification::Stateless(Ok(_))
            ),
            "the live access token is accepted"
        );
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    /// A request's parts with `Authorization: Bearer <token>`.
    fn bearer_parts(token: &str) -> Parts {
        let request = axum::http::Request::get("/")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap();
        request.into_parts().0
    }

    /// A stateless verification leaves the request's extensions alone (nothing reads it
    /// back); one that read the session store is remembered, so that a second extractor of
    /// the same request does not read the store again.
    #[tokio::test]
    async fn authenticate_parts_remembers_only_session_checked_verifications() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        for session_check in [false, true] {
            let mut settings = Settings::default();
            settings.access_token_session_check = session_check;
            let keys = KeyRing::hmac(Algorithm::HS256, SECRET).unwrap();
            let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
            store.migrate().await.unwrap();
            let manager = Arc::new(SessionManager::new(settings, keys, store, NoUsers));
            let tokens = manager
                .open_session(&NoUser, &DeviceInfo::default(), now)
                .await
                .unwrap();
            let authenticator = Authenticator::new(Arc::clone(&manager), Clock::fixed(now));

            let mut parts = bearer_parts(tokens.access.as_str());
            let user = authenticator.authenticate_parts(&mut parts).await.unwrap();
            assert_eq!(user.unwrap().claims(), tokens.access.claims());
            assert_eq!(parts.extensions.is_empty(), !session_check);

            // Once the session is closed, only the remembered verification still passes.
            let session = tokens.access.session().unwrap();
            assert!(manager.revoke_session(session, now).await.unwrap());
            let again = authenticator.authenticate_parts(&mut parts).await;
            let fresh = authenticator
                .authenticate_parts(&mut bearer_parts(tokens.access.as_str()))
                .await;
            if session_check {
                assert_eq!(again.unwrap().unwrap().claims(), tokens.access.claims());
                assert_eq!(fresh, Err(AuthRejection::SessionInactive));
            } else {
                assert!(again.unwrap().is_some());
                assert!(fresh.unwrap().is_some());
            }
        }
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
        assert_eq!(
            bearer_token(&headers(&["\tBEARER\tabc\t"])),
            Ok(Some(&b"abc"[..]))
        );
        assert_eq!(bearer_token(&headers(&["   "])), Ok(None));
        assert_eq!(bearer_token(&headers(&["Bearerabc"])), Ok(None));
        assert_eq!(bearer_token(&headers(&["Token Bearer abc"])), Ok(None));
        let bad = Err(AuthRejection::BadAuthorizationHeader);
        assert_eq!(bearer_token(&headers(&["Bearer"])), bad);
        assert_eq!(bearer_token(&headers(&["  Bearer  "])), bad);
        assert_eq!(bearer_token(&headers(&["Bearer a b"])), bad);
        assert_eq!(bearer_token(&headers(&["Bearer a\tb "])), bad);
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer a"])), bad);
    }
}
