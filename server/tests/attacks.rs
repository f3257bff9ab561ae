//! The attack catalogue: each attack (or family of variants of one attack) is a named
//! test against the real `jwt-allauth` binary served on a free port, over real HTTP
//! (reqwest) or, where a client would normalize the attack away, over a raw TCP socket.
//!
//! Every test proves that each variant gets the documented 4xx status and JSON body of
//! contract.md (never a 5xx, never a success it must not get), and, for attacks aimed at
//! sessions, that no session row was created, rotated or deleted and that the victim's
//! legitimate refresh token still rotates afterwards. A family reports every failed
//! variant by name.
//!
//! SQLite serves the catalogue; the families where the backend matters (SQL text in
//! every input, NUL bytes) also run on PostgreSQL when `JWT_ALLAUTH_TEST_POSTGRES_URL`
//! is set.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

#[path = "attacks/forge.rs"]
mod forge;
#[path = "attacks/harness.rs"]
mod harness;
#[path = "attacks/raw_http.rs"]
mod raw_http;

#[path = "attacks/algorithms.rs"]
mod algorithms;
#[path = "attacks/bodies.rs"]
mod bodies;
#[path = "attacks/claims.rs"]
mod claims;
#[path = "attacks/deleted_user.rs"]
mod deleted_user;
#[path = "attacks/emails.rs"]
mod emails;
#[path = "attacks/headers.rs"]
mod headers;
#[path = "attacks/injection.rs"]
mod injection;
#[path = "attacks/token_shape.rs"]
mod token_shape;
