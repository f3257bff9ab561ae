//! The summary a stress run prints (seen with `--nocapture`): requests by kind and
//! outcome with their mean duration, how many tokens were presented more than once (races, replays, retries),
//! and the pace.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::Duration;

use super::history::{Call, Jti, Record, Reply};

/// A table of the records by call kind and reply kind with their mean duration, the
/// tokens presented more than once, and the run time.
pub fn summarize(name: &str, records: &[Record], workload: Duration, total: Duration) -> String {
    let mut counts: BTreeMap<&str, (BTreeMap<&str, u64>, Duration)> = BTreeMap::new();
    for record in records {
        let (replies, time) = counts.entry(record.call.kind()).or_default();
        *replies.entry(record.reply.kind()).or_default() += 1;
        *time += record.end.saturating_sub(record.start);
    }
    let mut out = String::new();
    let _ = writeln!(out, "stress {name}: {} requests", records.len());
    for (call, (replies, time)) in &counts {
        let count: u64 = replies.values().sum();
        let mean = *time / u32::try_from(count).unwrap_or(u32::MAX).max(1);
        let replies: Vec<String> = replies
            .iter()
            .map(|(reply, count)| format!("{reply} {count}"))
            .collect();
        let _ = writeln!(
            out,
            "  {call:<28} {:<28} mean {mean:.1?}",
            replies.join(", ")
        );
    }
    let mut presented: HashMap<Jti, (u64, u64)> = HashMap::new();
    for record in records {
        if let Call::Refresh { presented: token } = record.call {
            let (times, accepted) = presented.entry(token.jti).or_default();
            *times += 1;
            *accepted += u64::from(matches!(record.reply, Reply::Issued(_)));
        }
    }
    let raced = presented.values().filter(|(times, _)| *times > 1).count();
    let retried = presented
        .values()
        .filter(|(_, accepted)| *accepted > 1)
        .count();
    let _ = writeln!(
        out,
        "  refresh tokens presented more than once: {raced}, accepted more than once \
         (retries in the reuse interval): {retried}"
    );
    let final_rows = records
        .iter()
        .find_map(|record| match (&record.call, &record.reply) {
            (Call::DbSnapshot { final_state: true }, Reply::Listed(rows)) => Some(rows.len()),
            _ => None,
        });
    if let Some(rows) = final_rows {
        let _ = writeln!(out, "  sessions left in the database: {rows}");
    }
    let per_second = records.len() as f64 / total.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "  workload {workload:.1?}, with the final checks {total:.1?} ({per_second:.0} requests/s)"
    );
    out
}
