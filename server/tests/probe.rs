//! The black-box probe of issue 10: each finding is a named test against the real server
//! (the binary over HTTP and raw TCP, or `app(state)` in process, or the CLI), written to
//! fail on the code before its fix.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;
#[path = "inprocess/mod.rs"]
mod inprocess;

#[path = "probe/cli_inputs.rs"]
mod cli_inputs;
#[path = "probe/connections.rs"]
mod connections;
#[path = "probe/login_throttle.rs"]
mod login_throttle;
#[path = "probe/tokens_and_cookies.rs"]
mod tokens_and_cookies;
