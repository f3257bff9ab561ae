//! Request headers through the axum crate's credential readers: the `Authorization:
//! Bearer` reader behind the extractors (`Authenticator::authenticate_headers`) and the
//! refresh cookie reader (`RefreshCookie::read`).
//!
//! The input is a list of `name:value` lines (see `src/header_map.rs`): any number of
//! `Authorization` and `Cookie` headers, values with any bytes a header value may hold.
//!
//! Checks, besides the absence of panics:
//! - `authenticate_headers` answers what its documentation says (Simple JWT's reading):
//!   no `Authorization` header, or a value whose first whitespace-separated word is not
//!   `Bearer` in any case, is no credentials; several headers, or `Bearer` followed by
//!   anything but one word, is `BadAuthorizationHeader`; a token that is not UTF-8 is
//!   `InvalidToken`; otherwise the token's verification (the reference model of
//!   `src/reference.rs`) decides, and with `ACCESS_TOKEN_SESSION_CHECK` on, a valid token
//!   of a session the (empty) store does not hold is `SessionInactive`.
//! - `RefreshCookie::read` (default name and a `__Host-` name) returns only a non-empty
//!   value written verbatim in one of the `Cookie` headers, after the cookie's name.
#![no_main]

use std::sync::{Arc, LazyLock};

use http::{HeaderMap, header};
use jwt_allauth::{Claims, DynStore, SessionManager, TokenError, TokenType};
use jwt_allauth_axum::{AuthRejection, Authenticator, Clock, HttpSettings, RefreshCookie};
use jwt_allauth_fuzz::empty_store::{EmptyStore, NoUsers};
use jwt_allauth_fuzz::header_map;
use jwt_allauth_fuzz::ready::now_or_panic;
use jwt_allauth_fuzz::reference::expected_decode;
use jwt_allauth_fuzz::rings::{self, Ring};
use libfuzzer_sys::fuzz_target;

/// A verifier over a ring, and the ring for the reference model.
struct Verifier {
    ring: Ring,
    authenticator: Authenticator,
}

impl Verifier {
    fn new(mut ring: Ring, session_check: bool) -> Self {
        ring.settings.access_token_session_check = session_check;
        let manager = SessionManager::with_dyn_store(
            ring.settings.clone(),
            ring.keys.clone(),
            DynStore::sessions_only(EmptyStore),
            NoUsers,
        );
        let authenticator = Authenticator::new(Arc::new(manager), Clock::fixed(rings::now()));
        Self {
            ring,
            authenticator,
        }
    }

    /// What `authenticate_headers` must answer, from its documentation.
    fn expected(&self, headers: &HeaderMap) -> Result<Option<Claims>, AuthRejection> {
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
        if !words
            .next()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer"))
        {
            return Ok(None);
        }
        let (Some(token), None) = (words.next(), words.next()) else {
            return Err(AuthRejection::BadAuthorizationHeader);
        };
        let token = std::str::from_utf8(token)
            .map_err(|_| AuthRejection::InvalidToken(TokenError::Invalid))?;
        let claims = expected_decode(&self.ring, token, TokenType::Access, rings::now())
            .map_err(AuthRejection::InvalidToken)?;
        if self.ring.settings.access_token_session_check {
            return Err(AuthRejection::SessionInactive);
        }
        Ok(Some(claims))
    }
}

static VERIFIERS: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    vec![
        Verifier::new(rings::hs256(), false),
        Verifier::new(rings::hs256(), true),
        Verifier::new(rings::eddsa(), false),
    ]
});

static COOKIES: LazyLock<Vec<RefreshCookie>> = LazyLock::new(|| {
    let mut host_only = HttpSettings::default();
    host_only.cookie_name = "__Host-rt".to_owned();
    vec![
        RefreshCookie::from_settings(&HttpSettings::default()),
        RefreshCookie::from_settings(&host_only),
    ]
});

fuzz_target!(|data: &[u8]| {
    let headers = header_map::from_lines(data);

    for verifier in VERIFIERS.iter() {
        let answer = now_or_panic(verifier.authenticator.authenticate_headers(&headers))
            .map(|user| user.map(|user| user.into_claims()));
        assert_eq!(
            answer,
            verifier.expected(&headers),
            "Authorization reading with the {} ring",
            verifier.ring.name
        );
    }

    let cookie_texts: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    for cookie in COOKIES.iter() {
        let Some(value) = cookie.read(&headers) else {
            continue;
        };
        assert!(!value.is_empty(), "an empty cookie value was returned");
        let written = cookie_texts.iter().any(|text| {
            text.match_indices(cookie.name())
                .any(|(at, _)| text[at + cookie.name().len()..].contains(value.as_str()))
        });
        assert!(
            written,
            "{value:?} is not written after `{}` in {cookie_texts:?}",
            cookie.name()
        );
    }
});
