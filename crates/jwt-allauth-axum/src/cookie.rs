//! The refresh cookie.

use axum::http::{HeaderMap, HeaderValue, header};
use axum_extra::extract::cookie::{Cookie, SameSite};
use jwt_allauth::RefreshToken;
use time::{Duration, OffsetDateTime};

use crate::http_settings::{HttpSettings, SameSite as SameSiteSetting};

/// The refresh cookie of cookie mode (`REFRESH_TOKEN_AS_COOKIE`, the default):
/// `refresh_token=<R>; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=<seconds until
/// the token's exp>; Expires=<exp>`.
///
/// Name, `Secure`, `SameSite`, `Path` and `Domain` come from the settings (`COOKIE_*`).
/// `Max-Age` counts down to the refresh token's own `exp`, which the core already caps at
/// the absolute session deadline, so the cookie never outlives the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshCookie {
    name: String,
    secure: bool,
    same_site: SameSite,
    path: String,
    domain: Option<String>,
}

impl RefreshCookie {
    /// The cookie the settings describe.
    pub fn from_settings(settings: &HttpSettings) -> Self {
        Self {
            name: settings.cookie_name.clone(),
            secure: settings.cookie_secure,
            same_site: match settings.cookie_samesite {
                SameSiteSetting::Strict => SameSite::Strict,
                SameSiteSetting::Lax => SameSite::Lax,
                SameSiteSetting::None => SameSite::None,
            },
            path: settings.cookie_path.clone(),
            domain: settings.cookie_domain.clone(),
        }
    }

    /// The cookie's name (`COOKIE_NAME`, `refresh_token` by default).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The refresh token a request carries in its `Cookie` headers.
    ///
    /// When the cookie is given several times (a browser sends one per matching path or
    /// domain, most specific first), the first one with a non-empty value is used.
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|cookie| cookie.name() == self.name && !cookie.value().is_empty())
            .map(|cookie| cookie.value().to_owned())
    }

    /// The cookie holding `token`, valid until the token's `exp` (`Max-Age` counted from
    /// `now`, never negative).
    pub fn set(&self, token: &RefreshToken, now: OffsetDateTime) -> Cookie<'static> {
        let exp = token.claims().exp;
        let max_age = exp.saturating_sub(now.unix_timestamp()).max(0);
        let mut cookie = self.build(token.as_str().to_owned());
        cookie.set_max_age(Duration::seconds(max_age));
        cookie.set_expires(token.expires_at());
        cookie
    }

    /// The cookie that clears it: same name, path and domain, empty value, `Max-Age=0`
    /// and an `Expires` in 1970.
    pub fn clear(&self) -> Cookie<'static> {
        let mut cookie = self.build(String::new());
        cookie.set_max_age(Duration::ZERO);
        cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
        cookie
    }

    fn build(&self, value: String) -> Cookie<'static> {
        let mut cookie = Cookie::build((self.name.clone(), value))
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .path(self.path.clone())
            .build();
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }
}

/// A `Set-Cookie` value for `cookie`; `None` only if a setting holds characters a header
/// cannot carry.
pub(crate) fn set_cookie_header(cookie: &Cookie<'_>) -> Option<HeaderValue> {
    HeaderValue::try_from(cookie.to_string()).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn reads_the_first_non_empty_cookie_of_its_name() {
        let cookie = RefreshCookie::from_settings(&HttpSettings::default());
        let mut headers = HeaderMap::new();
        assert_eq!(cookie.read(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; refresh_token="),
        );
        assert_eq!(cookie.read(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("refresh_token=first; refresh_token=second"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("refresh_token=third"),
        );
        assert_eq!(cookie.read(&headers).as_deref(), Some("first"));
    }

    #[test]
    fn clear_renders_max_age_zero_with_the_same_scope() {
        let settings = HttpSettings {
            cookie_domain: Some("example.com".into()),
            cookie_path: "/api/".into(),
            ..HttpSettings::default()
        };
        let text = RefreshCookie::from_settings(&settings).clear().to_string();
        assert_eq!(
            text,
            "refresh_token=; HttpOnly; SameSite=Lax; Secure; Path=/api/; Domain=example.com; \
             Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn same_site_none_and_insecure_development_cookies() {
        let mut settings = HttpSettings {
            cookie_samesite: SameSiteSetting::None,
            ..HttpSettings::default()
        };
        let text = RefreshCookie::from_settings(&settings).clear().to_string();
        assert!(text.contains("SameSite=None; Secure"), "{text}");
        // Browsers drop SameSite=None without Secure: the settings refuse the pair.
        settings.cookie_secure = false;
        assert!(settings.validate().is_err());
        settings.cookie_samesite = SameSiteSetting::Lax;
        let text = RefreshCookie::from_settings(&settings).clear().to_string();
        assert!(text.contains("SameSite=Lax"), "{text}");
        assert!(!text.contains("Secure"), "{text}");
    }
}
