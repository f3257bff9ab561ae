//! [`WebhookUrl`]: one endpoint of `WEBHOOK_URLS`.

use std::fmt;

use axum::http::Uri;
use url::Url;

/// An `http` or `https` URL events are posted to. Its `Display` and `Debug` leave out
/// the user information and the query, which may hold credentials: logs show only
/// `scheme://host:port/path`.
#[derive(Clone, PartialEq)]
pub struct WebhookUrl {
    url: Url,
    uri: Uri,
}

/// Why an entry of `WEBHOOK_URLS` is refused. The messages never quote the URL (it may
/// hold credentials), only its position in the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// Not a URL, or not one an HTTP client can post to.
    #[error("entry {0} is not a valid URL")]
    Invalid(usize),
    /// Another scheme than `http` or `https`.
    #[error("entry {0} is not an http or https URL")]
    Scheme(usize),
    /// The same endpoint twice.
    #[error("entry {0} repeats an earlier URL")]
    Duplicate(usize),
}

impl WebhookUrl {
    /// Reads the `position`-th entry (counting from 1) of the list.
    pub fn parse(text: &str, position: usize) -> Result<Self, WebhookUrlError> {
        let url = Url::parse(text.trim()).map_err(|_| WebhookUrlError::Invalid(position))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookUrlError::Scheme(position));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookUrlError::Invalid(position));
        }
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|_| WebhookUrlError::Invalid(position))?;
        Ok(Self { url, uri })
    }

    /// Reads a comma-separated list; empty entries are skipped.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, WebhookUrlError> {
        let mut urls: Vec<Self> = Vec::new();
        for (index, entry) in text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let url = Self::parse(entry, index + 1)?;
            if urls.contains(&url) {
                return Err(WebhookUrlError::Duplicate(index + 1));
            }
            urls.push(url);
        }
        Ok(urls)
    }

    /// The URL as configured, with its credentials: what the delivery state is keyed by
    /// and what requests go to. Never logged.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The URL for the HTTP client.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.url.scheme())?;
        if let Some(host) = self.url.host_str() {
            f.write_str(host)?;
        }
        if let Some(port) = self.url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(self.url.path())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_http_and_https_urls() {
        let urls =
            WebhookUrl::parse_list(" https://a.example/hook , ,http://127.0.0.1:9000/x?token=1")
                .expect("valid");
        assert_eq!(urls.len(), 2);
        assert_eq!(urls[0].as_str(), "https://a.example/hook");
        assert_eq!(urls[1].uri().port_u16(), Some(9000));
        assert!(WebhookUrl::parse_list("").expect("empty").is_empty());
    }

    #[test]
    fn logs_never_show_credentials() {
        let url = WebhookUrl::parse("https://user:pass@a.example:8443/hook?key=secret", 1)
            .expect("valid");
        assert_eq!(url.to_string(), "https://a.example:8443/hook");
        assert!(!format!("{url:?}").contains("pass"));
        assert!(!format!("{url:?}").contains("secret"));
    }

    #[test]
    fn refuses_other_schemes_and_garbage_by_position() {
        assert_eq!(
            WebhookUrl::parse_list("https://a.example/,ftp://b.example/").err(),
            Some(WebhookUrlError::Scheme(2))
        );
        assert_eq!(
            WebhookUrl::parse_list("not a url").err(),
            Some(WebhookUrlError::Invalid(1))
        );
        assert_eq!(
            WebhookUrl::parse_list("https://a.example/,https://a.example/").err(),
            Some(WebhookUrlError::Duplicate(2))
        );
    }
}
