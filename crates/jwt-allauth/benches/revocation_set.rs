//! The revocation set every access-token check consults (events.md), full: 10^5 revoked
//! sessions, the most a server instance keeps (`REVOCATION_SET_CAPACITY`).
//!
//! - `revocation_set/check_not_revoked`: a token whose session and user are not in the
//!   set (every live token's check);
//! - `revocation_set/check_revoked`: a token whose session is;
//! - under `cargo bench`, the memory the 10^5 revocations take is printed, from the
//!   process's resident set before and after filling the set.
//!
//! Run with `cargo bench -p jwt-allauth --bench revocation_set`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_allauth::events::{Revocation, RevocationSet};
use time::OffsetDateTime;

const REVOCATIONS: usize = 100_000;

fn session(n: usize) -> String {
    format!("{n:032x}")
}

/// The resident set of this process, in bytes (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn revocation_set(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let before = resident_bytes();
    let set = RevocationSet::in_process(Duration::from_secs(30 * 60), REVOCATIONS);
    for n in 0..REVOCATIONS {
        set.revoke_session(&session(n), now);
    }
    let after = resident_bytes();
    assert_eq!(set.len(), REVOCATIONS);
    if std::env::args().any(|arg| arg == "--bench")
        && let (Some(before), Some(after)) = (before, after)
    {
        println!(
            "memory: {REVOCATIONS} revoked sessions take {:.1} MiB of resident memory ({} bytes each)",
            (after.saturating_sub(before)) as f64 / (1024.0 * 1024.0),
            after.saturating_sub(before) / REVOCATIONS as u64,
        );
    }

    let live = session(REVOCATIONS + 7);
    let revoked = session(REVOCATIONS / 2);
    let iat = now.unix_timestamp() - 60;
    assert_eq!(
        set.check(Some(&live), "7", iat, now),
        Revocation::NotRevoked
    );
    assert_eq!(
        set.check(Some(&revoked), "7", iat, now),
        Revocation::Revoked
    );

    let mut group = c.benchmark_group("revocation_set");
    group.bench_function("check_not_revoked", |b| {
        b.iter(|| set.check(Some(black_box(&live)), black_box("7"), iat, now))
    });
    group.bench_function("check_revoked", |b| {
        b.iter(|| set.check(Some(black_box(&revoked)), black_box("7"), iat, now))
    });
    group.finish();
}

criterion_group!(benches, revocation_set);
criterion_main!(benches);
