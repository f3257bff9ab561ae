//! The workload: concurrent clients, each tied to one user, drawing operations at
//! random from a fixed mix until the run's budget of operations is spent.
//!
//! Each client keeps its own session (logging in again whenever it is gone) and each
//! user has one *shared* session whose current token every client may refresh, often
//! several at once. Passwords stay consistent: logins hold a read lock on the user's
//! password, a password change the write lock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use futures::future::join_all;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::RwLock;

use super::admin::Admin;
use super::api::{Api, Credentials};
use super::checker::Mode;
use super::history::{Reply, SessionId, TokenRef, UserIx};

/// One operation of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Refresh the client's own session.
    RefreshOwn,
    /// Refresh a user's shared session (racing the other clients that do).
    RefreshShared,
    /// Present the current token of a shared session 2 to 4 times at once.
    RaceShared,
    /// Present an older token of the own session (strict: any older one; with a reuse
    /// interval: the predecessor, a retry, or an older one, a replay).
    ReplayOwn,
    /// Log out of the own session, with its current or an older token.
    LogoutOwn,
    /// Log out of the user's shared session.
    LogoutShared,
    /// `DELETE /sessions/{id}/` of another session of the user, found by listing.
    DeleteOtherSession,
    /// `GET /sessions/`.
    ListSessions,
    /// `POST /logout-all/`.
    LogoutAll,
    /// `POST /password/change/`.
    ChangePassword,
    /// An administrator ends a recently opened session (library).
    AdminRevoke,
    /// An administrator ends every session of a user (library).
    AdminRevokeAll,
    /// The same with the command line, while its budget lasts.
    CliRevoke,
    /// Read the sessions table.
    DbSnapshot,
}

/// The mix, in relative weights. Every ended session costs a login (an argon2
/// verification, the slowest request by far), so the operations that end sessions,
/// above all those that end all of a user's, are kept rarer than the rest.
const MIX: [(Op, u32); 14] = [
    (Op::RefreshOwn, 300),
    (Op::RefreshShared, 120),
    (Op::RaceShared, 40),
    (Op::ReplayOwn, 25),
    (Op::LogoutOwn, 25),
    (Op::LogoutShared, 12),
    (Op::DeleteOtherSession, 12),
    (Op::ListSessions, 50),
    (Op::LogoutAll, 2),
    (Op::ChangePassword, 2),
    (Op::AdminRevoke, 15),
    (Op::AdminRevokeAll, 1),
    (Op::CliRevoke, 4),
    (Op::DbSnapshot, 25),
];

/// Sessions remembered as targets for administrators (few, so that most are live).
const RECENT_SESSIONS: usize = 24;
/// Older tokens a client keeps of its own session, for replays and logouts.
const OLDER_TOKENS: usize = 4;

/// The size and shape of a run.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadConfig {
    /// Concurrent clients.
    pub clients: u32,
    /// Operations to perform in all (a login to replace a lost session is not one).
    pub ops: u64,
    /// How many administrator actions may run the binary.
    pub cli_revocations: u32,
    /// The seed of every client's generator.
    pub seed: u64,
    /// How the server treats replays of the predecessor.
    pub mode: Mode,
}

/// A user's shared session.
#[derive(Debug)]
enum Slot {
    /// None: the next client to use it logs in.
    Empty,
    /// A client is logging in for it.
    Opening,
    /// Its current tokens as far as the clients know.
    Live(Credentials),
}

/// One user of the run.
#[derive(Debug)]
pub struct UserState {
    /// Index in the run's users.
    pub index: UserIx,
    /// Login e-mail.
    pub email: String,
    /// The current password.
    password: RwLock<String>,
    /// Passwords made so far, to make new ones.
    passwords_made: AtomicU32,
    /// The shared session.
    shared: Mutex<Slot>,
    /// The newest access token received for this user (for the final listings).
    last_access: Mutex<Option<String>>,
}

impl UserState {
    /// A user whose password is `password`.
    pub fn new(index: UserIx, email: String, password: String) -> Self {
        Self {
            index,
            email,
            password: RwLock::new(password),
            passwords_made: AtomicU32::new(0),
            shared: Mutex::new(Slot::Empty),
            last_access: Mutex::new(None),
        }
    }

    /// The newest access token received for this user.
    pub fn last_access(&self) -> Option<String> {
        self.last_access.lock().unwrap().clone()
    }

    fn saw(&self, credentials: &Credentials) {
        *self.last_access.lock().unwrap() = Some(credentials.access.clone());
    }

    /// The shared session's credentials; `Err(true)` after claiming an empty slot (the
    /// caller then logs in for it), `Err(false)` while another client is opening it.
    fn shared_or_claim(&self) -> Result<Credentials, bool> {
        let mut slot = self.shared.lock().unwrap();
        match &*slot {
            Slot::Live(credentials) => Ok(credentials.clone()),
            Slot::Opening => Err(false),
            Slot::Empty => {
                *slot = Slot::Opening;
                Err(true)
            }
        }
    }

    /// Records what a refresh of the shared session presenting `presented` returned.
    fn after_shared_refresh(&self, presented: TokenRef, successor: Option<Credentials>) {
        let mut slot = self.shared.lock().unwrap();
        let Slot::Live(current) = &*slot else {
            return;
        };
        if current.token.session != presented.session {
            return;
        }
        match successor {
            Some(successor) if current.token.jti == presented.jti => {
                *slot = Slot::Live(successor);
            }
            Some(_) => {}
            None => *slot = Slot::Empty,
        }
    }

    /// Empties the shared slot if it still holds `session`.
    fn forget_shared(&self, session: SessionId) {
        let mut slot = self.shared.lock().unwrap();
        if matches!(&*slot, Slot::Live(current) if current.token.session == session) {
            *slot = Slot::Empty;
        }
    }
}

/// What all clients share.
#[derive(Debug)]
pub struct World {
    /// The users.
    pub users: Vec<UserState>,
    api: Api,
    admin: Admin,
    config: WorkloadConfig,
    ops_left: AtomicU64,
    cli_left: AtomicU32,
    recent_sessions: Mutex<VecDeque<SessionId>>,
}

impl World {
    /// The world of a run.
    pub fn new(users: Vec<UserState>, api: Api, admin: Admin, config: WorkloadConfig) -> Self {
        Self {
            users,
            api,
            admin,
            ops_left: AtomicU64::new(config.ops),
            cli_left: AtomicU32::new(config.cli_revocations),
            config,
            recent_sessions: Mutex::new(VecDeque::with_capacity(RECENT_SESSIONS)),
        }
    }

    /// The HTTP client.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The administrator.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Runs every client to the end of the budget.
    pub async fn run(&self) {
        let clients = (0..self.config.clients).map(|id| {
            let users = u32::try_from(self.users.len()).unwrap();
            let client = Client {
                id,
                user: id % users,
                rng: StdRng::seed_from_u64(self.config.seed ^ u64::from(id).rotate_left(32)),
                own: None,
            };
            client.run(self)
        });
        join_all(clients).await;
    }

    fn take_op(&self) -> bool {
        self.ops_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    fn take_cli(&self) -> bool {
        self.cli_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    fn opened(&self, user: &UserState, credentials: &Credentials) {
        user.saw(credentials);
        let mut recent = self.recent_sessions.lock().unwrap();
        if recent.len() == RECENT_SESSIONS {
            recent.pop_front();
        }
        recent.push_back(credentials.token.session);
    }

    /// A session for an administrator to end: half of the time a user's shared
    /// session (most likely live), otherwise one of the recently opened ones.
    fn revocation_target(&self, rng: &mut StdRng) -> Option<SessionId> {
        if rng.gen_bool(0.5) {
            let user = &self.users[rng.gen_range(0..self.users.len())];
            if let Slot::Live(shared) = &*user.shared.lock().unwrap() {
                return Some(shared.token.session);
            }
        }
        let recent = self.recent_sessions.lock().unwrap();
        (!recent.is_empty()).then(|| recent[rng.gen_range(0..recent.len())])
    }

    /// Logs in as `user` with the current password.
    async fn login(&self, client: u32, user: &UserState) -> Option<Credentials> {
        let password = user.password.read().await;
        let credentials = self
            .api
            .login(client, user.index, &user.email, &password)
            .await?;
        self.opened(user, &credentials);
        Some(credentials)
    }
}

/// A client's own session: its current tokens and a few older refresh tokens.
#[derive(Debug)]
struct Chain {
    current: Credentials,
    older: VecDeque<(String, TokenRef)>,
}

impl Chain {
    fn new(current: Credentials) -> Self {
        Self {
            current,
            older: VecDeque::with_capacity(OLDER_TOKENS),
        }
    }

    fn advance(&mut self, next: Credentials) {
        if next.token == self.current.token {
            return;
        }
        if self.older.len() == OLDER_TOKENS {
            self.older.pop_front();
        }
        let previous = std::mem::replace(&mut self.current, next);
        self.older.push_back((previous.refresh, previous.token));
    }
}

/// One workload client.
struct Client {
    id: u32,
    user: UserIx,
    rng: StdRng,
    own: Option<Chain>,
}

impl Client {
    async fn run(mut self, world: &World) {
        let mix = WeightedIndex::new(MIX.iter().map(|(_, weight)| weight)).unwrap();
        while world.take_op() {
            let user = &world.users[self.user as usize];
            if self.own.is_none() {
                self.own = world.login(self.id, user).await.map(Chain::new);
            }
            if self.own.is_none() {
                continue;
            }
            let op = MIX[mix.sample(&mut self.rng)].0;
            self.perform(world, op).await;
        }
    }

    fn own(&self) -> &Chain {
        self.own.as_ref().unwrap()
    }

    async fn perform(&mut self, world: &World, op: Op) {
        let user = &world.users[self.user as usize];
        let access = self.own().current.access.clone();
        match op {
            Op::RefreshOwn => self.refresh_own(world).await,
            Op::RefreshShared | Op::RaceShared => {
                let target = &world.users[self.rng.gen_range(0..world.users.len())];
                let copies = if op == Op::RaceShared {
                    self.rng.gen_range(2..=4)
                } else {
                    1
                };
                self.refresh_shared(world, target, copies).await;
            }
            Op::ReplayOwn => self.replay_own(world).await,
            Op::LogoutOwn => {
                let older = self.own().older.len();
                let pick =
                    (older > 0 && self.rng.gen_bool(0.3)).then(|| self.rng.gen_range(0..older));
                let chain = self.own();
                let (refresh, token) = match pick {
                    Some(pick) => chain.older[pick].clone(),
                    None => (chain.current.refresh.clone(), chain.current.token),
                };
                world
                    .api
                    .logout(self.id, self.user, &access, &refresh, token)
                    .await;
                self.own = None;
            }
            Op::LogoutShared => {
                let shared = match user.shared_or_claim() {
                    Ok(shared) => shared,
                    Err(claimed) => {
                        if claimed {
                            self.fill_shared(world, user).await;
                        }
                        return;
                    }
                };
                let closed = world
                    .api
                    .logout(self.id, self.user, &access, &shared.refresh, shared.token)
                    .await;
                if closed {
                    user.forget_shared(shared.token.session);
                }
            }
            Op::DeleteOtherSession => {
                let own_session = self.own().current.token.session;
                let listed = world
                    .api
                    .list_sessions(self.id, self.user, &access, false)
                    .await;
                let others: Vec<SessionId> = listed
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|session| *session != own_session)
                    .collect();
                if !others.is_empty() {
                    let session = others[self.rng.gen_range(0..others.len())];
                    world
                        .api
                        .delete_session(self.id, self.user, &access, session)
                        .await;
                }
            }
            Op::ListSessions => {
                world
                    .api
                    .list_sessions(self.id, self.user, &access, false)
                    .await;
            }
            Op::LogoutAll => {
                world.api.logout_all(self.id, self.user, &access).await;
                self.own = None;
            }
            Op::ChangePassword => self.change_password(world, user, &access).await,
            Op::AdminRevoke => {
                if let Some(session) = world.revocation_target(&mut self.rng) {
                    world.admin.revoke_session(self.id, session).await;
                }
            }
            Op::AdminRevokeAll => {
                let target = self.rng.gen_range(0..world.users.len());
                world
                    .admin
                    .revoke_all(self.id, UserIx::try_from(target).unwrap())
                    .await;
            }
            Op::CliRevoke => {
                if !world.take_cli() {
                    return;
                }
                if self.rng.gen_bool(0.5)
                    && let Some(session) = world.revocation_target(&mut self.rng)
                {
                    world.admin.cli_revoke_session(self.id, session).await;
                } else {
                    let target = &world.users[self.rng.gen_range(0..world.users.len())];
                    world
                        .admin
                        .cli_revoke_all(self.id, target.index, &target.email)
                        .await;
                }
            }
            Op::DbSnapshot => {
                world.admin.snapshot(self.id, false).await;
            }
        }
    }

    /// Refreshes the own session; a refused token means it is gone.
    async fn refresh_own(&mut self, world: &World) {
        let current = &self.own().current;
        let (refresh, token) = (current.refresh.clone(), current.token);
        self.present_own(world, &refresh, token).await;
    }

    /// Presents an older token of the own session.
    async fn replay_own(&mut self, world: &World) {
        let Some(newest_older) = self.own().older.len().checked_sub(1) else {
            return self.refresh_own(world).await;
        };
        // With a reuse interval the predecessor is a retry; strict, any older token is
        // a replay.
        let pick = match world.config.mode {
            Mode::ReuseInterval if self.rng.gen_bool(0.5) => newest_older,
            _ => self.rng.gen_range(0..=newest_older),
        };
        let (refresh, token) = self.own().older[pick].clone();
        self.present_own(world, &refresh, token).await;
    }

    async fn present_own(&mut self, world: &World, refresh: &str, token: TokenRef) {
        let (reply, successor) = world.api.refresh(self.id, refresh, token).await;
        match (reply, successor) {
            (Reply::Issued(_), Some(successor)) => {
                world.users[self.user as usize].saw(&successor);
                if let Some(chain) = &mut self.own {
                    chain.advance(successor);
                }
            }
            _ => self.own = None,
        }
    }

    /// Refreshes `target`'s shared session, presenting its current token `copies`
    /// times at once.
    async fn refresh_shared(&mut self, world: &World, target: &UserState, copies: u32) {
        let shared = match target.shared_or_claim() {
            Ok(shared) => shared,
            Err(claimed) => {
                if claimed {
                    self.fill_shared(world, target).await;
                }
                return;
            }
        };
        let attempts =
            (0..copies).map(|_| world.api.refresh(self.id, &shared.refresh, shared.token));
        for (_, successor) in join_all(attempts).await {
            if let Some(successor) = &successor {
                target.saw(successor);
            }
            target.after_shared_refresh(shared.token, successor);
        }
    }

    /// Logs in for `target`'s shared slot, which this client claimed.
    async fn fill_shared(&mut self, world: &World, target: &UserState) {
        let opened = world.login(self.id, target).await;
        let mut slot = target.shared.lock().unwrap();
        *slot = match opened {
            Some(credentials) => Slot::Live(credentials),
            None => Slot::Empty,
        };
    }

    /// Changes the user's password; the new session becomes the own one.
    async fn change_password(&mut self, world: &World, user: &UserState, access: &str) {
        let mut password = user.password.write().await;
        let made = user.passwords_made.fetch_add(1, Ordering::Relaxed) + 1;
        let new = format!("stress password {} #{made}", user.index);
        let changed = world
            .api
            .change_password(self.id, self.user, access, &password, &new)
            .await;
        match changed {
            Some(credentials) => {
                *password = new;
                drop(password);
                world.opened(user, &credentials);
                self.own = Some(Chain::new(credentials));
            }
            None => self.own = None,
        }
    }
}
