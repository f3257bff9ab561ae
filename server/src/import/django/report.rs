//! What an import did, printed on stdout at the end.

use std::fmt;

/// One row not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What the row is (`user 8 <eve@example.com>`, `session row 9 of user 1`).
    pub row: String,
    /// Why it was not imported.
    pub reason: String,
}

/// Counts of one kind of row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Written by this run.
    pub imported: u64,
    /// Present already (imported by an earlier run): left as they are.
    pub present: u64,
    /// Not imported; the reasons are in [`Summary::skipped`].
    pub skipped: u64,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// A dry run: nothing was written.
    pub dry_run: bool,
    /// Users.
    pub users: Counts,
    /// Sessions (whitelist rows).
    pub sessions: Counts,
    /// Pending password reset links.
    pub purpose_tokens: Counts,
    /// Users imported with a verified address.
    pub verified: u64,
    /// Every row skipped, in the order met.
    pub skipped: Vec<Skipped>,
}

impl Summary {
    /// Records a skipped row.
    pub fn skip(&mut self, row: String, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            row,
            reason: reason.into(),
        });
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} imported, {} already present, {} skipped",
            self.imported, self.present, self.skipped
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "dry run: nothing was written; an import would give:")?;
        }
        writeln!(
            f,
            "users: {} ({} with a verified address)",
            self.users, self.verified
        )?;
        writeln!(f, "sessions: {}", self.sessions)?;
        writeln!(f, "password reset links: {}", self.purpose_tokens)?;
        for skipped in &self.skipped {
            writeln!(f, "skipped {}: {}", skipped.row, skipped.reason)?;
        }
        Ok(())
    }
}
