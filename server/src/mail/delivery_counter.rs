//! Mails counted by state, in `jwt_allauth_mails_total{state}`.

use crate::monitoring::MAILS_TOTAL;

/// Where a mail got to, as `jwt_allauth_mails_total` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// Written to the outbox (counted when written: a transaction that then rolls back
    /// is counted too).
    Queued,
    /// Accepted by the mail server.
    Delivered,
    /// Refused or unreachable for now: tried again later.
    Retried,
    /// Given up: refused for good, too old, or an invalid recipient.
    Failed,
}

impl MailState {
    /// The `state` label: `queued`, `delivered`, `retried` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Delivered => "delivered",
            MailState::Retried => "retried",
            MailState::Failed => "failed",
        }
    }
}

/// Counts one mail reaching `state` (nothing unless the metrics recorder is installed).
pub fn count_mail(state: MailState) {
    metrics::counter!(MAILS_TOTAL, "state" => state.as_str()).increment(1);
}
