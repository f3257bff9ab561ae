//! [`WebhookClient`]: posts one signed message, HTTP/1.1 over rustls.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::{Request, StatusCode};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{SignedHeaders, WebhookMessage, WebhookUrl};

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The endpoint answered, with another status than 2xx (a redirect included: none
    /// is followed).
    #[error("the endpoint answered {0}")]
    Status(StatusCode),
    /// No answer within the attempt's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be built or sent (connection refused, TLS, reset).
    #[error("the request failed")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why the client cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client")]
pub struct ClientError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// The HTTP client of the webhooks: HTTP/1.1 over rustls (the `ring` provider, the
/// operating system's trust store), as the JWKS client of `jwt-allauth-axum`. It follows
/// no redirect, reads no proxy setting, keeps no cookie and installs nothing
/// process-wide.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl WebhookClient {
    /// A client whose attempts time out after `timeout` (connecting included).
    pub fn new(timeout: Duration) -> Result<Self, ClientError> {
        // `ring` rather than rustls' default aws-lc-rs, which builds a C library.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| ClientError(error.into()))?;
        let tls = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)
            .map_err(|error| ClientError(error.into()))?
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    /// Posts `message` to `url` with `headers`: the status when it is 2xx.
    pub async fn post(
        &self,
        url: &WebhookUrl,
        message: &WebhookMessage,
        headers: &SignedHeaders,
    ) -> Result<StatusCode, AttemptError> {
        let request = Request::post(url.uri().clone())
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("jwt-allauth/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", &headers.id)
            .header("webhook-timestamp", &headers.timestamp)
            .header("webhook-signature", &headers.signature)
            .body(Full::new(message.body.clone()))
            .map_err(|error| AttemptError::Request(error.into()))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| AttemptError::Timeout(self.timeout))?
            .map_err(|error| AttemptError::Request(error.into()))?;
        // The body is not read: the connection is then not reused, which a webhook
        // receiver answering with a large body would otherwise make us wait for.
        let status = response.status();
        if status.is_success() {
            Ok(status)
        } else {
            Err(AttemptError::Status(status))
        }
    }
}
