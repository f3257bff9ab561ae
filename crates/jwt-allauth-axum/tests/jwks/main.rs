//! Verify-only services reading their keys from a JWKS URL (the `jwks` feature), against
//! a JWKS server on 127.0.0.1 that counts the fetches.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

mod background;
mod extractors;
mod failures;
mod flood;
mod forged;
mod new_key;
