//! Session and account events: what changed, for the revocation feed, webhooks and the
//! audit log.
//!
//! A store writes one [`Event`] in the same transaction as each change it makes: a
//! session opened ([`EventType::SessionCreated`]), each session it ends
//! ([`EventType::SessionRevoked`], with its [`RevocationReason`]), and the account changes
//! the server makes through it. A rolled-back change leaves no event; a committed one
//! exactly one. Rotations are not events: they are the hot path, counted in metrics.
//!
//! Events carry ids, times and device metadata, never a token, a hash of one or a
//! password. [`EventLog`] reads them back in sequence order; [`RevocationSet`] is what an
//! instance keeps of them in memory so that every access-token check refuses a revoked
//! session without a database query.

mod event;
mod event_log;
mod revocation_set;

pub use event::{Event, EventType, NewEvent, RevocationReason, UnknownEventType};
pub use event_log::EventLog;
pub use revocation_set::{Revocation, RevocationSet, RevocationSetState};
