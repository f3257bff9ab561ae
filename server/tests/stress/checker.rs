//! The invariants of a stress run, checked on its recorded history alone.
//!
//! Time is only used as happens-before between two requests as the clients saw them: "A
//! ended before B started" means the server finished A before it began B. Requests that
//! overlap may be ordered either way, and the checker never guesses which.
//!
//! - [`Invariant::OneSuccessor`]: every refresh token presented is rotated into at most
//!   one successor: strict mode, at most one 200 per presented `jti`; with a reuse
//!   interval, every 200 carries byte-identical successors. No token is issued twice, a
//!   successor stays in its session, and a token whose successor had already been
//!   rotated is refused (a replay is detected).
//! - [`Invariant::RevokedRefusesTokens`]: once a session is known to be gone (a logout,
//!   `DELETE /sessions/{id}/`, an administrator's revocation, a refused refresh, or a
//!   logout-all, password change or revoke-all that started after the session was
//!   opened), no refresh that starts later is accepted.
//! - [`Invariant::LogoutHolds`]: a session known to be gone never shows up again, in the
//!   database or in `GET /sessions/`, and at the end its newest token is refused.
//! - [`Invariant::NoServerError`]: no 5xx, and nothing but the documented answers.
//! - [`Invariant::StateMatchesHistory`]: the database and the listings hold exactly what
//!   the history allows: no unknown session, no session of another user, no live session
//!   missing while nothing could have ended it, and at the end each session's current
//!   `jti` is the newest token of its chain.
//! - [`Invariant::UncontestedRefreshAccepted`]: the safety checks above would pass a
//!   server that refuses everything, so a refresh nothing competed with (its token
//!   already received, no other request on its session overlapping it or before it but
//!   the accepted rotations of the chain's older tokens, nothing that ends all of the
//!   user's sessions) must be accepted.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use super::history::{Call, Jti, Record, Reply, SessionId, SessionRow, TokenRef, UserIx};

/// How the server treats a replay of the immediate predecessor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `REUSE_INTERVAL=0`: every replay revokes the session.
    Strict,
    /// A reuse interval: a retry of the predecessor gets the successor again.
    ReuseInterval,
}

/// The invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// No session ever had two accepted successors.
    OneSuccessor,
    /// No revoked session accepts a token.
    RevokedRefusesTokens,
    /// Every logout reported as done holds.
    LogoutHolds,
    /// No 5xx; only documented answers.
    NoServerError,
    /// The database and the listings match the history.
    StateMatchesHistory,
    /// A refresh that nothing competed with is accepted.
    UncontestedRefreshAccepted,
}

/// One broken invariant, with the requests that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.invariant, self.detail)
    }
}

/// Checks every invariant on `records`; the violations, none when the run was correct.
pub fn check(records: &[Record], mode: Mode) -> Vec<Violation> {
    let mut checker = Checker {
        records,
        mode,
        violations: Vec::new(),
        creations: HashMap::new(),
        successors: HashMap::new(),
        absent_since: HashMap::new(),
        removal_from: HashMap::new(),
        user_wide_from: HashMap::new(),
        touches: HashMap::new(),
    };
    checker.check_answers();
    checker.index_creations();
    checker.check_successors();
    checker.index_endings();
    checker.check_refreshes_after_endings();
    checker.check_uncontested_refreshes();
    checker.check_observations();
    checker.check_final_state();
    checker.check_ended_sessions_probed();
    checker.violations
}

/// How a session began: a login or a password change that answered 200.
#[derive(Debug, Clone, Copy)]
struct Creation {
    user: UserIx,
    start: Duration,
    end: Duration,
    jti: Jti,
}

/// A request that ends every session of a user (logout-all, password change,
/// revoke-all).
#[derive(Debug, Clone, Copy)]
struct UserWide {
    start: Duration,
    end: Duration,
    record: usize,
    /// The session a password change opened (which it does not end).
    opened: Option<SessionId>,
}

struct Checker<'a> {
    records: &'a [Record],
    mode: Mode,
    violations: Vec<Violation>,
    creations: HashMap<SessionId, Creation>,
    /// Presented `jti` → the 200 refreshes that presented it.
    successors: HashMap<Jti, Vec<usize>>,
    /// When each session was first known to be gone (the end of the request that showed
    /// it), and by which request.
    absent_since: HashMap<SessionId, (Duration, usize)>,
    /// The earliest start of a request that may have ended each session.
    removal_from: HashMap<SessionId, Duration>,
    /// The same, counting only the requests that end all of a user's sessions.
    user_wide_from: HashMap<SessionId, Duration>,
    /// The requests on each session: refreshes, logouts, deletions, revocations.
    touches: HashMap<SessionId, Vec<usize>>,
}

impl Checker<'_> {
    fn violation(&mut self, invariant: Invariant, detail: String) {
        self.violations.push(Violation { invariant, detail });
    }

    fn describe(&self, index: usize) -> String {
        let record = &self.records[index];
        format!(
            "{} by client {} [{:?}, {:?}] ({})",
            record.call.kind(),
            client_name(record.client),
            record.start,
            record.end,
            record.reply.kind()
        )
    }

    /// Invariant 4: every answer was one the contract documents.
    fn check_answers(&mut self) {
        for (index, record) in self.records.iter().enumerate() {
            if let Reply::Unexpected(text) = &record.reply {
                let detail = format!("{}: {text}", self.describe(index));
                self.violation(Invariant::NoServerError, detail);
            }
        }
    }

    fn index_creations(&mut self) {
        for index in 0..self.records.len() {
            let record = &self.records[index];
            let user = match record.call {
                Call::Login { user } | Call::PasswordChange { user } => user,
                _ => continue,
            };
            let Reply::Issued(issued) = record.reply else {
                continue;
            };
            let creation = Creation {
                user,
                start: record.start,
                end: record.end,
                jti: issued.token.jti,
            };
            if self
                .creations
                .insert(issued.token.session, creation)
                .is_some()
            {
                let detail = format!(
                    "session {:032x} opened a second time by {}",
                    issued.token.session,
                    self.describe(index)
                );
                self.violation(Invariant::StateMatchesHistory, detail);
            }
        }
    }

    /// Invariant 1.
    fn check_successors(&mut self) {
        // Every issued jti comes from exactly one place: a session's opening or the
        // rotation of one presented token.
        let mut issued_by: HashMap<Jti, Option<Jti>> = self
            .creations
            .values()
            .map(|creation| (creation.jti, None))
            .collect();
        for index in 0..self.records.len() {
            let record = &self.records[index];
            let (Call::Refresh { presented }, Reply::Issued(issued)) =
                (&record.call, &record.reply)
            else {
                continue;
            };
            let (presented, issued) = (*presented, *issued);
            if issued.token.session != presented.session {
                let detail = format!(
                    "{} presented a token of session {:032x} and got one of session {:032x}",
                    self.describe(index),
                    presented.session,
                    issued.token.session
                );
                self.violation(Invariant::OneSuccessor, detail);
            }
            match issued_by.insert(issued.token.jti, Some(presented.jti)) {
                Some(previous) if previous != Some(presented.jti) => {
                    let detail = format!(
                        "token {:032x} issued again by {} for another predecessor",
                        issued.token.jti,
                        self.describe(index)
                    );
                    self.violation(Invariant::OneSuccessor, detail);
                }
                _ => {}
            }
            self.successors
                .entry(presented.jti)
                .or_default()
                .push(index);
        }

        let mut presented: Vec<(&Jti, &Vec<usize>)> = self.successors.iter().collect();
        presented.sort_by_key(|(_, indices)| indices[0]);
        let mut found = Vec::new();
        for (jti, indices) in presented {
            let first = self.issued_at(indices[0]);
            let forked = match self.mode {
                Mode::Strict => indices.len() > 1,
                Mode::ReuseInterval => indices
                    .iter()
                    .any(|&index| self.issued_at(index).digest != first.digest),
            };
            if forked {
                let answers: Vec<String> = indices
                    .iter()
                    .map(|&index| {
                        format!(
                            "{} -> {:032x}",
                            self.describe(index),
                            self.issued_at(index).token.jti
                        )
                    })
                    .collect();
                found.push(format!(
                    "token {jti:032x} accepted {} times with different outcomes: {}",
                    indices.len(),
                    answers.join("; ")
                ));
            }
        }
        for detail in found {
            self.violation(Invariant::OneSuccessor, detail);
        }

        // A token whose successor had already been rotated is a replay: refused.
        let first_rotation_end: HashMap<Jti, Duration> = self
            .successors
            .iter()
            .map(|(jti, indices)| {
                let end = indices.iter().map(|&index| self.records[index].end).min();
                (*jti, end.unwrap_or(Duration::MAX))
            })
            .collect();
        let mut found = Vec::new();
        for indices in self.successors.values() {
            let successor = self.issued_at(indices[0]).token.jti;
            let Some(&rotated) = first_rotation_end.get(&successor) else {
                continue;
            };
            for &index in indices {
                if self.records[index].start > rotated {
                    found.push(format!(
                        "{} accepted a token whose successor {successor:032x} had been \
                         rotated at {rotated:?} (a replay went undetected)",
                        self.describe(index)
                    ));
                }
            }
        }
        for detail in found {
            self.violation(Invariant::OneSuccessor, detail);
        }
    }

    fn issued_at(&self, index: usize) -> super::history::Issued {
        match self.records[index].reply {
            Reply::Issued(issued) => issued,
            _ => unreachable!("only 200 refreshes are indexed"),
        }
    }

    fn mark_absent(&mut self, session: SessionId, at: Duration, record: usize) {
        let entry = self.absent_since.entry(session).or_insert((at, record));
        if at < entry.0 {
            *entry = (at, record);
        }
    }

    fn mark_removal(&mut self, session: SessionId, from: Duration) {
        let entry = self.removal_from.entry(session).or_insert(from);
        *entry = (*entry).min(from);
    }

    /// When each session was known to be gone, and from when it may have been.
    fn index_endings(&mut self) {
        let mut done: HashMap<UserIx, Vec<UserWide>> = HashMap::new();
        let mut attempted: HashMap<UserIx, Vec<UserWide>> = HashMap::new();
        for index in 0..self.records.len() {
            let record = &self.records[index];
            let (start, end) = (record.start, record.end);
            let ended = match (&record.call, &record.reply) {
                (Call::Refresh { presented }, Reply::Refused)
                | (Call::Logout { presented, .. }, Reply::Done) => Some(presented.session),
                (Call::DeleteSession { session, .. }, Reply::Done | Reply::Absent)
                | (Call::AdminRevoke { session, .. }, Reply::Done | Reply::Absent) => {
                    Some(*session)
                }
                _ => None,
            };
            let touched = match &record.call {
                Call::Refresh { presented } | Call::Logout { presented, .. } => {
                    Some(presented.session)
                }
                Call::DeleteSession { session, .. } | Call::AdminRevoke { session, .. } => {
                    Some(*session)
                }
                _ => None,
            };
            // A refresh that was accepted ended nothing; any other outcome may have.
            let may_end = !matches!(
                (&record.call, &record.reply),
                (Call::Refresh { .. }, Reply::Issued(_))
            );
            if let Some(session) = touched {
                self.touches.entry(session).or_default().push(index);
            }
            if let Some(session) = ended {
                self.mark_absent(session, end, index);
            }
            if let Some(session) = touched.filter(|_| may_end) {
                self.mark_removal(session, start);
            }

            let user_wide = match (&record.call, &record.reply) {
                (Call::LogoutAll { user } | Call::AdminRevokeAll { user, .. }, reply) => {
                    Some((*user, *reply == Reply::Done, None))
                }
                (Call::PasswordChange { user }, Reply::Issued(issued)) => {
                    Some((*user, true, Some(issued.token.session)))
                }
                (Call::PasswordChange { user }, _) => Some((*user, false, None)),
                _ => None,
            };
            if let Some((user, succeeded, opened)) = user_wide {
                let wide = UserWide {
                    start,
                    end,
                    record: index,
                    opened,
                };
                if succeeded {
                    done.entry(user).or_default().push(wide);
                }
                attempted.entry(user).or_default().push(wide);
            }
        }

        let sessions: Vec<(SessionId, Creation)> = self
            .creations
            .iter()
            .map(|(session, creation)| (*session, *creation))
            .collect();
        for ends in done.values_mut().chain(attempted.values_mut()) {
            ends.sort_by_key(|wide| wide.start);
        }
        // Per user: the smallest end among the requests from position i on.
        let suffix_min_end: HashMap<UserIx, Vec<(Duration, usize)>> = done
            .iter()
            .map(|(user, ends)| {
                let mut minima = vec![(Duration::MAX, usize::MAX); ends.len() + 1];
                for i in (0..ends.len()).rev() {
                    minima[i] = minima[i + 1].min((ends[i].end, ends[i].record));
                }
                (*user, minima)
            })
            .collect();
        let longest: HashMap<UserIx, Duration> = attempted
            .iter()
            .map(|(user, ends)| {
                let longest = ends.iter().map(|wide| wide.end - wide.start).max();
                (*user, longest.unwrap_or_default())
            })
            .collect();

        for (session, creation) in sessions {
            // Known gone: a request ending all sessions that started after this one
            // was opened.
            if let (Some(ends), Some(minima)) =
                (done.get(&creation.user), suffix_min_end.get(&creation.user))
            {
                let first = ends.partition_point(|wide| wide.start <= creation.end);
                let (end, record) = minima[first];
                if record != usize::MAX {
                    self.mark_absent(session, end, record);
                }
            }
            // Maybe gone: any such request that had not ended before it was opened.
            if let Some(ends) = attempted.get(&creation.user) {
                let reaches =
                    |wide: &UserWide| wide.end >= creation.start && wide.opened != Some(session);
                let from = ends.partition_point(|wide| wide.start < creation.start);
                let mut earliest = ends[from..]
                    .iter()
                    .find(|wide| reaches(wide))
                    .map(|w| w.start);
                let horizon = creation.start.saturating_sub(longest[&creation.user]);
                for wide in ends[..from].iter().rev() {
                    if wide.start < horizon {
                        break;
                    }
                    if reaches(wide) {
                        earliest = Some(wide.start);
                    }
                }
                if let Some(start) = earliest {
                    self.mark_removal(session, start);
                    self.user_wide_from.insert(session, start);
                }
            }
        }
    }

    /// Invariant 2: no refresh accepted once its session was known to be gone.
    fn check_refreshes_after_endings(&mut self) {
        for index in 0..self.records.len() {
            let record = &self.records[index];
            let (Call::Refresh { presented }, Reply::Issued(_)) = (&record.call, &record.reply)
            else {
                continue;
            };
            let Some(&(gone, by)) = self.absent_since.get(&presented.session) else {
                continue;
            };
            if record.start > gone {
                let detail = format!(
                    "session {:032x} accepted token {:032x} in {}, after {} ended it",
                    presented.session,
                    presented.jti,
                    self.describe(index),
                    self.describe(by)
                );
                self.violation(Invariant::RevokedRefusesTokens, detail);
            }
        }
    }

    /// Invariant 6: a refresh that nothing competed with is accepted.
    fn check_uncontested_refreshes(&mut self) {
        // When each token was first received.
        let mut received: HashMap<Jti, Duration> = HashMap::new();
        for record in self.records {
            if let Reply::Issued(issued) = record.reply {
                let first = received.entry(issued.token.jti).or_insert(record.end);
                *first = (*first).min(record.end);
            }
        }
        let mut found = Vec::new();
        for (index, record) in self.records.iter().enumerate() {
            let (Call::Refresh { presented }, Reply::Refused) = (&record.call, &record.reply)
            else {
                continue;
            };
            let held = received
                .get(&presented.jti)
                .is_some_and(|&at| at < record.start);
            let user_wide = self
                .user_wide_from
                .get(&presented.session)
                .is_some_and(|&from| from < record.end);
            if !held || user_wide {
                continue;
            }
            let touches = self.touches.get(&presented.session).map(Vec::as_slice);
            let contested = touches.unwrap_or_default().iter().any(|&other| {
                let other_record = &self.records[other];
                let earlier_rotation = match (&other_record.call, &other_record.reply) {
                    (Call::Refresh { presented: older }, Reply::Issued(_)) => {
                        older.jti != presented.jti && other_record.end < record.start
                    }
                    _ => false,
                };
                other != index && other_record.start < record.end && !earlier_rotation
            });
            if !contested {
                found.push(format!(
                    "{} was refused although nothing competed with it (token {:032x} of \
                     session {:032x})",
                    self.describe(index),
                    presented.jti,
                    presented.session
                ));
            }
        }
        for detail in found {
            self.violation(Invariant::UncontestedRefreshAccepted, detail);
        }
    }

    /// Invariants 3 and 5 on every listing and database snapshot: nothing known gone is
    /// there, nothing unknown is there, nothing that nothing could have ended is missing.
    fn check_observations(&mut self) {
        let mut observations: Vec<usize> = (0..self.records.len())
            .filter(|&index| matches!(self.records[index].reply, Reply::Listed(_)))
            .collect();
        observations.sort_by_key(|&index| self.records[index].start);
        let mut opened: Vec<(SessionId, Creation)> = self
            .creations
            .iter()
            .map(|(session, creation)| (*session, *creation))
            .collect();
        opened.sort_by_key(|(_, creation)| creation.end);
        let mut next_opened = 0;
        // Sessions opened before the current observation that nothing had begun to end.
        let mut live: HashMap<SessionId, (UserIx, Duration)> = HashMap::new();

        for index in observations {
            let record = &self.records[index];
            let Reply::Listed(rows) = &record.reply else {
                continue;
            };
            let scope = match record.call {
                Call::ListSessions { user, .. } => Some(user),
                _ => None,
            };
            let mut found = Vec::new();
            for row in rows {
                match self.creations.get(&row.session) {
                    None => found.push((
                        Invariant::StateMatchesHistory,
                        format!("unknown session {:032x} listed", row.session),
                    )),
                    Some(creation) if creation.user != row.user => found.push((
                        Invariant::StateMatchesHistory,
                        format!(
                            "session {:032x} of user {} listed as user {}'s",
                            row.session, creation.user, row.user
                        ),
                    )),
                    Some(_) => {}
                }
                if let Some(&(gone, by)) = self.absent_since.get(&row.session)
                    && gone < record.start
                {
                    found.push((
                        Invariant::LogoutHolds,
                        format!(
                            "session {:032x} is listed although {} ended it",
                            row.session,
                            self.describe(by)
                        ),
                    ));
                }
            }

            while let Some(&(session, creation)) = opened.get(next_opened)
                && creation.end < record.start
            {
                let removal = self.removal_from.get(&session).copied();
                live.insert(session, (creation.user, removal.unwrap_or(Duration::MAX)));
                next_opened += 1;
            }
            live.retain(|_, (_, removal)| *removal > record.start);
            let listed: HashSet<SessionId> = rows.iter().map(|row| row.session).collect();
            for (session, (user, removal)) in &live {
                let in_scope = scope.is_none_or(|scope| scope == *user);
                if in_scope && *removal > record.end && !listed.contains(session) {
                    found.push((
                        Invariant::StateMatchesHistory,
                        format!(
                            "session {session:032x} of user {user} is missing although \
                             nothing could have ended it"
                        ),
                    ));
                }
            }
            let context = self.describe(index);
            for (invariant, detail) in found {
                self.violation(invariant, format!("{detail} (in {context})"));
            }
        }
    }

    /// The newest token of a session's chain: its opening token, followed through the
    /// accepted rotations.
    fn newest_jti(&self, session: SessionId) -> Option<Jti> {
        let mut jti = self.creations.get(&session)?.jti;
        for _ in 0..self.records.len() {
            let Some(&[first, ..]) = self.successors.get(&jti).map(Vec::as_slice) else {
                break;
            };
            let next = self.issued_at(first).token.jti;
            if next == jti {
                break;
            }
            jti = next;
        }
        Some(jti)
    }

    /// Invariant 5 at the end: one final database snapshot whose current tokens are the
    /// newest of their chains, and final listings equal to it.
    fn check_final_state(&mut self) {
        let finals: Vec<&Record> = self
            .records
            .iter()
            .filter(|record| matches!(record.call, Call::DbSnapshot { final_state: true }))
            .collect();
        let [final_db] = finals.as_slice() else {
            let detail = format!("{} final database snapshots, expected 1", finals.len());
            self.violation(Invariant::StateMatchesHistory, detail);
            return;
        };
        let Reply::Listed(rows) = &final_db.reply else {
            return;
        };
        let rows: Vec<SessionRow> = rows.clone();
        for row in &rows {
            let newest = self.newest_jti(row.session);
            if newest.is_some() && row.jti != newest {
                let detail = format!(
                    "session {:032x} ends with token {:032x} in the database, but its \
                     newest token is {:032x}",
                    row.session,
                    row.jti.unwrap_or_default(),
                    newest.unwrap_or_default()
                );
                self.violation(Invariant::StateMatchesHistory, detail);
            }
        }
        let mut found = Vec::new();
        for (index, record) in self.records.iter().enumerate() {
            let (
                Call::ListSessions {
                    user,
                    final_state: true,
                },
                Reply::Listed(listed),
            ) = (&record.call, &record.reply)
            else {
                continue;
            };
            let listed: HashSet<SessionId> = listed.iter().map(|row| row.session).collect();
            let stored: HashSet<SessionId> = rows
                .iter()
                .filter(|row| row.user == *user)
                .map(|row| row.session)
                .collect();
            if listed != stored {
                found.push(format!(
                    "{} lists {} sessions, the database holds {} of that user",
                    self.describe(index),
                    listed.len(),
                    stored.len()
                ));
            }
        }
        for detail in found {
            self.violation(Invariant::StateMatchesHistory, detail);
        }
    }

    /// Invariant 3 at the end: the newest token of every ended session was presented
    /// after the end and refused.
    fn check_ended_sessions_probed(&mut self) {
        let mut refused: HashMap<Jti, Duration> = HashMap::new();
        for record in self.records {
            if let (Call::Refresh { presented }, Reply::Refused) = (&record.call, &record.reply) {
                let latest = refused.entry(presented.jti).or_default();
                *latest = (*latest).max(record.start);
            }
        }
        let mut ended: Vec<(SessionId, Duration, usize)> = self
            .absent_since
            .iter()
            .filter(|(session, _)| self.creations.contains_key(session))
            .map(|(session, (gone, by))| (*session, *gone, *by))
            .collect();
        ended.sort_by_key(|(_, gone, _)| *gone);
        for (session, gone, by) in ended {
            let Some(newest) = self.newest_jti(session) else {
                continue;
            };
            // Either a refusal of the newest token began after the session was known
            // gone, or that refusal is itself what showed it gone (a session ended by a
            // request whose effect was uncertain, such as a logout-all overlapping its
            // login, is first known gone when the final probe is refused).
            let probed = refused.get(&newest).is_some_and(|&start| start > gone)
                || matches!(
                    (&self.records[by].call, &self.records[by].reply),
                    (Call::Refresh { presented }, Reply::Refused) if presented.jti == newest
                );
            if !probed {
                let detail = format!(
                    "the newest token {newest:032x} of session {session:032x}, ended by {}, \
                     was not refused afterwards",
                    self.describe(by)
                );
                self.violation(Invariant::LogoutHolds, detail);
            }
        }
    }
}

fn client_name(client: u32) -> String {
    if client == super::history::HARNESS {
        "harness".to_owned()
    } else {
        client.to_string()
    }
}

/// The session and jti of a token in a fabricated history.
#[cfg(test)]
fn token(session: SessionId, jti: Jti) -> TokenRef {
    TokenRef { session, jti }
}

#[cfg(test)]
mod tests {
    //! Fabricated histories: a correct one passes, and each kind of fault is caught.

    use super::super::history::{AdminVia, HARNESS, Issued};
    use super::*;

    const ALICE: UserIx = 0;
    const BOB: UserIx = 1;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn issued(session: SessionId, jti: Jti) -> Reply {
        Reply::Issued(Issued {
            token: token(session, jti),
            digest: [jti as u8; 32],
        })
    }

    fn record(start: u64, end: u64, call: Call, reply: Reply) -> Record {
        Record {
            client: 7,
            start: ms(start),
            end: ms(end),
            call,
            reply,
        }
    }

    fn refresh(start: u64, end: u64, session: SessionId, jti: Jti, reply: Reply) -> Record {
        let presented = token(session, jti);
        record(start, end, Call::Refresh { presented }, reply)
    }

    fn rows(user: UserIx, sessions: &[(SessionId, Jti)]) -> Reply {
        Reply::Listed(
            sessions
                .iter()
                .map(|&(session, jti)| SessionRow {
                    session,
                    user,
                    jti: Some(jti),
                })
                .collect(),
        )
    }

    fn final_db(start: u64, sessions: &[(SessionId, Jti)]) -> Record {
        let mut snapshot = record(
            start,
            start + 5,
            Call::DbSnapshot { final_state: true },
            rows(ALICE, sessions),
        );
        snapshot.client = HARNESS;
        snapshot
    }

    /// Alice opens session 1 (token 10), rotates it to 11 and 12, logs out of it, and
    /// opens session 2 (token 20), rotated to 21, which stays. Bob opens session 3,
    /// which an administrator ends. Then the harness probes the ended sessions and
    /// takes the final snapshot and listings.
    fn correct_history() -> Vec<Record> {
        vec![
            record(0, 10, Call::Login { user: ALICE }, issued(1, 10)),
            record(0, 12, Call::Login { user: BOB }, issued(3, 30)),
            refresh(20, 30, 1, 10, issued(1, 11)),
            refresh(31, 40, 1, 11, issued(1, 12)),
            record(41, 50, Call::Login { user: ALICE }, issued(2, 20)),
            refresh(45, 55, 1, 12, issued(1, 13)),
            record(
                60,
                70,
                Call::Logout {
                    user: ALICE,
                    presented: token(1, 12),
                },
                Reply::Done,
            ),
            refresh(61, 69, 2, 20, issued(2, 21)),
            record(
                62,
                75,
                Call::ListSessions {
                    user: ALICE,
                    final_state: false,
                },
                rows(ALICE, &[(2, 20)]),
            ),
            record(
                80,
                90,
                Call::AdminRevoke {
                    session: 3,
                    via: AdminVia::Library,
                },
                Reply::Done,
            ),
            refresh(100, 110, 1, 13, Reply::Refused),
            refresh(100, 110, 3, 30, Reply::Refused),
            final_db(120, &[(2, 21)]),
            record(
                130,
                135,
                Call::ListSessions {
                    user: ALICE,
                    final_state: true,
                },
                rows(ALICE, &[(2, 21)]),
            ),
            record(
                130,
                135,
                Call::ListSessions {
                    user: BOB,
                    final_state: true,
                },
                rows(BOB, &[]),
            ),
        ]
    }

    fn invariants(records: &[Record], mode: Mode) -> Vec<Invariant> {
        check(records, mode)
            .into_iter()
            .map(|violation| violation.invariant)
            .collect()
    }

    #[test]
    fn a_correct_history_passes_in_both_modes() {
        assert_eq!(check(&correct_history(), Mode::Strict), vec![]);
        assert_eq!(check(&correct_history(), Mode::ReuseInterval), vec![]);
    }

    #[test]
    fn two_successors_of_one_token_are_caught() {
        let mut history = correct_history();
        // Token 20 rotated twice, concurrently, into different tokens.
        history.push(refresh(62, 68, 2, 20, issued(2, 29)));
        let found = invariants(&history, Mode::Strict);
        assert!(found.contains(&Invariant::OneSuccessor), "{found:?}");
        let found = invariants(&history, Mode::ReuseInterval);
        assert!(found.contains(&Invariant::OneSuccessor), "{found:?}");
    }

    #[test]
    fn a_retry_is_allowed_only_with_a_reuse_interval() {
        let mut history = correct_history();
        // Token 20 presented twice at once, both answered with the same successor.
        history.push(refresh(62, 68, 2, 20, issued(2, 21)));
        assert_eq!(invariants(&history, Mode::ReuseInterval), vec![]);
        assert_eq!(
            invariants(&history, Mode::Strict),
            vec![Invariant::OneSuccessor]
        );
    }

    #[test]
    fn a_replay_accepted_after_its_successor_was_rotated_is_caught() {
        let mut history = correct_history();
        // Token 10's successor 11 was rotated at 40: a later 200 for 10 is a missed
        // replay even with a reuse interval.
        history.push(refresh(42, 44, 1, 10, issued(1, 11)));
        let found = invariants(&history, Mode::ReuseInterval);
        assert_eq!(found, vec![Invariant::OneSuccessor]);
    }

    #[test]
    fn a_refresh_accepted_after_a_logout_ended_is_caught() {
        let mut history = correct_history();
        // The logout of session 1 ended at 70; a refresh starting at 71 got 200.
        history.push(refresh(71, 80, 1, 13, issued(1, 14)));
        let found = invariants(&history, Mode::Strict);
        assert!(
            found.contains(&Invariant::RevokedRefusesTokens),
            "{found:?}"
        );
    }

    #[test]
    fn a_refresh_overlapping_the_logout_may_go_either_way() {
        let mut history = correct_history();
        // Started at 65, before the logout ended at 70: it may have come first. Its
        // successor 14 is then the newest token, which the probe presents.
        history.push(refresh(65, 72, 1, 13, issued(1, 14)));
        history.push(refresh(100, 110, 1, 14, Reply::Refused));
        assert_eq!(check(&history, Mode::Strict), vec![]);
    }

    #[test]
    fn a_logout_all_ends_only_sessions_opened_before_it_started() {
        let mut history = correct_history();
        history.push(record(56, 58, Call::LogoutAll { user: ALICE }, Reply::Done));
        // Session 2 was opened at 50, before the logout-all: the refresh at 61 that
        // got 200 is a fault.
        let found = invariants(&history, Mode::Strict);
        assert!(
            found.contains(&Invariant::RevokedRefusesTokens),
            "{found:?}"
        );

        let mut history = correct_history();
        history.push(record(45, 58, Call::LogoutAll { user: ALICE }, Reply::Done));
        // Overlapping the login of session 2 (41..50): it may have run first, so the
        // session may live; session 1, opened at 10, is gone from 58 on, which makes
        // its refresh at 45..55 fine (it overlaps) but its final state unchanged.
        assert_eq!(check(&history, Mode::Strict), vec![]);
    }

    #[test]
    fn a_logged_out_session_still_stored_is_caught() {
        let mut history = correct_history();
        let last = history.len() - 3;
        history[last] = final_db(120, &[(2, 21), (1, 13)]);
        let found = invariants(&history, Mode::Strict);
        assert!(found.contains(&Invariant::LogoutHolds), "{found:?}");
    }

    #[test]
    fn a_logged_out_session_listed_again_is_caught() {
        let mut history = correct_history();
        history.push(record(
            71,
            75,
            Call::ListSessions {
                user: ALICE,
                final_state: false,
            },
            rows(ALICE, &[(2, 21), (1, 13)]),
        ));
        assert_eq!(
            invariants(&history, Mode::Strict),
            vec![Invariant::LogoutHolds]
        );
    }

    #[test]
    fn an_ended_session_whose_newest_token_was_not_probed_is_caught() {
        let mut history = correct_history();
        history.retain(|record| {
            record.call
                != Call::Refresh {
                    presented: token(3, 30),
                }
        });
        assert_eq!(
            invariants(&history, Mode::Strict),
            vec![Invariant::LogoutHolds]
        );
    }

    #[test]
    fn a_session_first_known_gone_by_its_probe_passes() {
        // A logout-all overlapping the login may have run after it and ended the
        // session; only the final probe of its newest token shows it gone, and that
        // refusal is the probe.
        let history = vec![
            record(0, 10, Call::Login { user: ALICE }, issued(1, 10)),
            record(5, 20, Call::LogoutAll { user: ALICE }, Reply::Done),
            refresh(100, 110, 1, 10, Reply::Refused),
            final_db(120, &[]),
            record(
                130,
                135,
                Call::ListSessions {
                    user: ALICE,
                    final_state: true,
                },
                rows(ALICE, &[]),
            ),
        ];
        assert_eq!(check(&history, Mode::Strict), vec![]);
        assert_eq!(check(&history, Mode::ReuseInterval), vec![]);

        // The same history with a probe of an older token instead is still caught:
        // the newest token was never presented.
        let mut history = history;
        history.insert(1, refresh(11, 15, 1, 10, issued(1, 11)));
        assert_eq!(
            invariants(&history, Mode::Strict),
            vec![Invariant::LogoutHolds]
        );
    }

    #[test]
    fn an_uncontested_refresh_refused_is_caught() {
        let mut history = correct_history();
        // Session 2's token 21 (received at 69) refused at 76 with nothing around it.
        history.push(refresh(76, 78, 2, 21, Reply::Refused));
        let found = invariants(&history, Mode::Strict);
        assert!(
            found.contains(&Invariant::UncontestedRefreshAccepted),
            "{found:?}"
        );

        // The same refusal right after a replay of token 20 began is fine.
        // The replay deletes session 2, so the final state and the probe change too.
        let mut history = correct_history();
        let final_db_at = history.len() - 3;
        history[final_db_at] = final_db(120, &[]);
        history[final_db_at + 1] = record(
            130,
            135,
            Call::ListSessions {
                user: ALICE,
                final_state: true,
            },
            rows(ALICE, &[]),
        );
        history.extend([
            refresh(74, 77, 2, 20, Reply::Refused),
            refresh(76, 78, 2, 21, Reply::Refused),
            refresh(100, 110, 2, 21, Reply::Refused),
        ]);
        assert_eq!(check(&history, Mode::Strict), vec![]);
    }

    #[test]
    fn a_server_error_is_caught() {
        let mut history = correct_history();
        history.push(record(
            56,
            58,
            Call::ListSessions {
                user: BOB,
                final_state: false,
            },
            Reply::Unexpected("list sessions: 500 Internal Server Error".to_owned()),
        ));
        assert_eq!(
            invariants(&history, Mode::Strict),
            vec![Invariant::NoServerError]
        );
    }

    #[test]
    fn a_session_vanishing_without_a_cause_is_caught() {
        let mut history = correct_history();
        let last = history.len() - 3;
        history[last] = final_db(120, &[]);
        let found = invariants(&history, Mode::Strict);
        assert!(found.contains(&Invariant::StateMatchesHistory), "{found:?}");
    }

    #[test]
    fn a_stale_jti_in_the_database_is_caught() {
        let mut history = correct_history();
        let last = history.len() - 3;
        history[last] = final_db(120, &[(2, 20)]);
        assert_eq!(
            invariants(&history, Mode::Strict),
            vec![Invariant::StateMatchesHistory]
        );
    }

    #[test]
    fn an_unknown_session_in_the_database_is_caught() {
        let mut history = correct_history();
        let last = history.len() - 3;
        history[last] = final_db(120, &[(2, 21), (99, 990)]);
        let found = invariants(&history, Mode::Strict);
        assert!(found.contains(&Invariant::StateMatchesHistory), "{found:?}");
    }
}
