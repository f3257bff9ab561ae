//! Faults under the real `jwt-allauth serve`, and what a user sees:
//!
//! - `postgres_outage`: a PostgreSQL server this test owns stops under load. Requests
//!   needing the database answer 503 `{"detail":"Database unavailable.",
//!   "code":"service_unavailable"}` within 10 s (never a 500, never a hang), `/whoami/`
//!   and `/health/` keep answering 200, and when PostgreSQL is back the same process
//!   serves normally again (`/ready/`, login, refresh) without a restart.
//! - `sqlite_read_only`: a read-only database file in a read-only directory is refused
//!   at start-up with one clear error line; a read-only file in a writable directory is
//!   served, reads answer 200 and writes the documented 503.
//! - `sqlite_locked`: while another program holds the write lock, writes answer the
//!   documented 503 after the 5 s busy timeout, reads answer at once, and the server
//!   resumes when the lock is released.
//! - `kill_during_rotation`: `kill -9` during a rotation load, then a restart: every
//!   session is either rotated or not, none lost or duplicated, and every client can
//!   carry on.
//!
//! The PostgreSQL outage needs the PostgreSQL server programs (`initdb`, `pg_ctl`) and
//! is skipped with a notice without them (a failure with `JWT_ALLAUTH_REQUIRE_POSTGRES=1`);
//! `kill_during_rotation::postgres` runs on the server `JWT_ALLAUTH_TEST_POSTGRES_URL`
//! names.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

#[path = "faults/api.rs"]
mod api;
#[path = "faults/kill_during_rotation.rs"]
mod kill_during_rotation;
#[path = "faults/owned_postgres.rs"]
mod owned_postgres;
#[path = "faults/postgres_outage.rs"]
mod postgres_outage;
#[path = "faults/sqlite_locked.rs"]
mod sqlite_locked;
#[path = "faults/sqlite_read_only.rs"]
mod sqlite_read_only;
#[path = "faults/unprivileged.rs"]
mod unprivileged;
