//! [`WebhookMessage`]: the body of one event's delivery and its signed headers.

use axum::body::Bytes;
use jwt_allauth::events::{Event, EventType};
use serde::Serialize;
use time::OffsetDateTime;

use super::WebhookSecret;

/// The body of an event's delivery: `{"type": <event type>, "timestamp": <event time,
/// RFC 3339>, "data": <the event as `events list` prints it>}`. The same bytes at every
/// attempt.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    event_type: EventType,
    #[serde(with = "time::serde::rfc3339")]
    timestamp: OffsetDateTime,
    data: &'a Event,
}

/// One event, ready to be posted: its id (`webhook-id`) and its body.
#[derive(Debug, Clone)]
pub struct WebhookMessage {
    /// The event's id: the `webhook-id` header, the same at every attempt, for the
    /// receiver's deduplication.
    pub id: String,
    /// The JSON body.
    pub body: Bytes,
}

/// The headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`: the attempt's time, unix seconds.
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64 HMAC-SHA256>`.
    pub signature: String,
}

impl WebhookMessage {
    /// The message of `event`.
    pub fn of(event: &Event) -> Result<Self, serde_json::Error> {
        let body = serde_json::to_vec(&Payload {
            event_type: event.event_type,
            timestamp: event.time,
            data: event,
        })?;
        Ok(Self {
            id: event.id.clone(),
            body: Bytes::from(body),
        })
    }

    /// The headers of an attempt made at `now`, signed with `secret`.
    pub fn sign(&self, secret: &WebhookSecret, now: OffsetDateTime) -> SignedHeaders {
        let timestamp = now.unix_timestamp();
        SignedHeaders {
            id: self.id.clone(),
            timestamp: timestamp.to_string(),
            signature: secret.sign(&self.id, timestamp, &self.body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_allauth::events::RevocationReason;
    use serde_json::{Value, json};

    #[test]
    fn the_body_wraps_the_event_as_the_cli_prints_it() {
        let event = Event {
            id: "evt_0123".into(),
            seq: 42,
            event_type: EventType::SessionRevoked,
            time: OffsetDateTime::from_unix_timestamp(1_764_936_000).expect("a time"),
            user_id: "7".into(),
            session: Some("ab".repeat(16)),
            reason: Some(RevocationReason::Logout),
            device: None,
        };
        let message = WebhookMessage::of(&event).expect("serialized");
        let body: Value = serde_json::from_slice(&message.body).expect("JSON");
        assert_eq!(
            body,
            json!({
                "type": "session.revoked",
                "timestamp": "2025-12-05T12:00:00Z",
                "data": serde_json::to_value(&event).expect("event JSON"),
            })
        );
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        let headers = message.sign(&secret, event.time);
        assert_eq!(headers.id, "evt_0123");
        assert_eq!(headers.timestamp, "1764936000");
        assert_eq!(
            headers.signature,
            secret.sign("evt_0123", 1_764_936_000, &message.body)
        );
    }
}
