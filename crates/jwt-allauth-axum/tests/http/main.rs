//! Router-level tests of the wire contract, one or more per row, on in-memory SQLite.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

mod bearer;
mod body;
mod csrf;
mod extractors;
mod login;
mod logout;
mod password;
mod refresh;
mod sessions;
mod throttle;
mod user;
