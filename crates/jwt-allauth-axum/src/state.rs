//! [`AuthState`]: everything the extractors and routers need, shared.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use jwt_allauth::settings::SettingsError;
use jwt_allauth::tokens::MAX_COOKIE_BYTES;
use jwt_allauth::{
    BoxError, ClientIpResolver, DeviceInfo, SessionManager, Settings, UserAgentParser, UserStore,
};
use time::OffsetDateTime;

use crate::account::AccountStore;
use crate::account_settings::AccountSettings;
use crate::authenticator::Authenticator;
use crate::client::ClientInfo;
use crate::clock::Clock;
use crate::cookie::RefreshCookie;
use crate::extract::UserLoader;
use crate::http_settings::HttpSettings;
use crate::password_permits::PasswordPermits;
use crate::password_rules::PasswordRules;
use crate::throttle::{LoginThrottle, RateLimiter};
use jwt_allauth::attempts::{AttemptCounters, MemoryAttemptCounters};

/// The rate limiters of the account flows, from the [`AccountSettings`].
#[derive(Debug)]
pub struct AccountLimits {
    /// `SIGNUPS_PER_IP`, per client.
    pub signups_per_ip: RateLimiter,
    /// `MAILS_PER_ADDRESS`, per e-mail key.
    pub mails_per_address: RateLimiter,
    /// `RESET_REQUESTS_PER_ADDRESS`, per e-mail key.
    pub reset_requests_per_address: RateLimiter,
    /// `RESET_REQUESTS_PER_IP`, per client.
    pub reset_requests_per_ip: RateLimiter,
}

impl AccountLimits {
    /// The limiters of `settings`, counting in this process's memory.
    pub fn new(settings: &AccountSettings) -> Self {
        Self::with_counters(settings, Arc::new(MemoryAttemptCounters::new()))
    }

    /// The limiters of `settings`, counting in `counters` (e.g. counters every instance
    /// shares), each under its own scope: `signups_per_ip`, `mails_per_address`,
    /// `reset_requests_per_address`, `reset_requests_per_ip`.
    pub fn with_counters(settings: &AccountSettings, counters: Arc<dyn AttemptCounters>) -> Self {
        let limiter = |scope, limit| RateLimiter::shared(scope, limit, Arc::clone(&counters));
        Self {
            signups_per_ip: limiter("signups_per_ip", settings.signups_per_ip),
            mails_per_address: limiter("mails_per_address", settings.mails_per_address),
            reset_requests_per_address: limiter(
                "reset_requests_per_address",
                settings.reset_requests_per_address,
            ),
            reset_requests_per_ip: limiter("reset_requests_per_ip", settings.reset_requests_per_ip),
        }
    }
}

/// The shared state of the authentication routes and extractors: the
/// [`SessionManager`], the User-Agent parser, the client-IP resolver, the login
/// throttle, the refresh cookie and the clock. Cheap to clone (one `Arc`).
///
/// Embed it in the application's state and implement `FromRef` for it, and for
/// [`Authenticator`] (and [`UserLoader`] when handlers use [`LoadUser`](crate::LoadUser)),
/// as the crate documentation shows. `AuthState` itself provides all of them, so it can
/// also be the whole state.
pub struct AuthState<A: UserStore> {
    inner: Arc<Inner<A>>,
}

struct Inner<A: UserStore> {
    manager: Arc<SessionManager<A>>,
    http: HttpSettings,
    accounts: AccountSettings,
    account_limits: Arc<AccountLimits>,
    user_agent_parser: Option<Arc<UserAgentParser>>,
    client_ip: ClientIpResolver,
    throttle: Arc<LoginThrottle>,
    /// The counters given to [`AuthState::with_attempt_counters`], if any.
    attempt_counters: Option<Arc<dyn AttemptCounters>>,
    password_permits: PasswordPermits,
    password_rules: PasswordRules,
    mailer: Option<Arc<dyn crate::mailer::Mailer>>,
    known_devices: Option<Arc<dyn crate::known_devices::KnownDevices>>,
    cookie: RefreshCookie,
    clock: Clock,
    /// Over `manager` and `clock`, built once: the extractors take it on every request.
    authenticator: Authenticator,
}

impl<A: UserStore> Clone for Inner<A> {
    fn clone(&self) -> Self {
        Self {
            manager: Arc::clone(&self.manager),
            http: self.http.clone(),
            accounts: self.accounts.clone(),
            account_limits: Arc::clone(&self.account_limits),
            user_agent_parser: self.user_agent_parser.clone(),
            client_ip: self.client_ip.clone(),
            throttle: Arc::clone(&self.throttle),
            attempt_counters: self.attempt_counters.clone(),
            password_permits: self.password_permits.clone(),
            password_rules: self.password_rules.clone(),
            mailer: self.mailer.clone(),
            known_devices: self.known_devices.clone(),
            cookie: self.cookie.clone(),
            clock: self.clock.clone(),
            authenticator: self.authenticator.clone(),
        }
    }
}

impl<A: UserStore> Clone for AuthState<A> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A> fmt::Debug for AuthState<A>
where
    A: UserStore,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthState")
            .field("settings", self.inner.manager.settings())
            .field("http_settings", &self.inner.http)
            .field("account_settings", &self.inner.accounts)
            .field("user_agent_parser", &self.inner.user_agent_parser.is_some())
            .field("client_ip", &self.inner.client_ip)
            .field("throttle", &self.inner.throttle)
            .field("password_permits", &self.inner.password_permits)
            .field("password_rules", &self.inner.password_rules)
            .field("mailer", &self.inner.mailer.is_some())
            .field("known_devices", &self.inner.known_devices.is_some())
            .field("cookie", &self.inner.cookie)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl<A> AuthState<A>
where
    A: UserStore + 'static,
{
    /// The state for `manager` and the HTTP settings `http`: a User-Agent parser when
    /// `COLLECT_USER_AGENT` is on (slow to build, so built once; it fails only if the
    /// vendored rules are broken), the client-IP resolver of `TRUSTED_PROXIES`, the
    /// login throttle of `LOGIN_FAILURES_PER_*`, the refresh cookie of `COOKIE_*`, and
    /// the system clock. Fails too when the settings do not hold together
    /// ([`HttpSettings::validate`]: a refresh cookie browsers would drop).
    pub fn new(manager: SessionManager<A>, http: HttpSettings) -> Result<Self, BoxError> {
        let parser = if http.collect_user_agent {
            Some(Arc::new(UserAgentParser::new()?))
        } else {
            None
        };
        Ok(Self::with_user_agent_parser(manager, http, parser)?)
    }

    /// Like [`new`](Self::new) with a User-Agent parser given (or none, which records no
    /// User-Agent fields whatever `COLLECT_USER_AGENT` says), so that several states can
    /// share one.
    ///
    /// In cookie mode (`REFRESH_TOKEN_AS_COOKIE`), the manager then mints no refresh
    /// token longer than what fits in a browser's cookie with its name
    /// ([`MAX_COOKIE_BYTES`] less the length of `COOKIE_NAME`).
    pub fn with_user_agent_parser(
        manager: SessionManager<A>,
        http: HttpSettings,
        parser: Option<Arc<UserAgentParser>>,
    ) -> Result<Self, SettingsError> {
        http.validate()?;
        let manager = if http.refresh_token_as_cookie {
            manager.with_max_refresh_token_bytes(
                MAX_COOKIE_BYTES.saturating_sub(http.cookie_name.len()),
            )
        } else {
            manager
        };
        let manager = Arc::new(manager);
        let clock = Clock::system();
        let inner = Inner {
            client_ip: ClientIpResolver::new(http.trusted_proxies.clone()),
            throttle: Arc::new(LoginThrottle::from_settings(&http)),
            attempt_counters: None,
            password_permits: PasswordPermits::per_core(),
            password_rules: PasswordRules::default(),
            mailer: None,
            known_devices: None,
            cookie: RefreshCookie::from_settings(&http),
            user_agent_parser: parser,
            authenticator: Authenticator::new(Arc::clone(&manager), clock.clone()),
            clock,
            manager,
            http,
            account_limits: Arc::new(AccountLimits::new(&AccountSettings::default())),
            accounts: AccountSettings::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The same state reading the time from `clock`. Defaults to the system clock.
    pub fn with_clock(self, clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        self.with_clock_source(Clock::new(clock))
    }

    /// The same state reading the time from `clock`.
    pub fn with_clock_source(self, clock: Clock) -> Self {
        self.map_inner(|inner| {
            inner.authenticator = Authenticator::new(Arc::clone(&inner.manager), clock.clone());
            inner.clock = clock;
        })
    }

    /// The same state with another login throttle. Defaults to
    /// [`LoginThrottle::from_settings`].
    pub fn with_throttle(self, throttle: LoginThrottle) -> Self {
        self.map_inner(|inner| inner.throttle = Arc::new(throttle))
    }

    /// The same state counting login attempts ([`LoginThrottle::with_counters`]) and the
    /// account flows' rate limits ([`AccountLimits::with_counters`]) in `counters`, e.g.
    /// `jwt_allauth_sqlx::PostgresAttemptCounters`, so that every instance sharing them
    /// applies the limits together. Replaces the throttle and the limiters with fresh
    /// ones of the current settings (later [`with_account_settings`](Self::with_account_settings)
    /// keeps these counters). Defaults to this process's memory.
    pub fn with_attempt_counters(self, counters: Arc<dyn AttemptCounters>) -> Self {
        self.map_inner(|inner| {
            inner.throttle = Arc::new(
                LoginThrottle::from_settings(&inner.http).with_counters(Arc::clone(&counters)),
            );
            inner.account_limits = Arc::new(AccountLimits::with_counters(
                &inner.accounts,
                Arc::clone(&counters),
            ));
            inner.attempt_counters = Some(counters);
        })
    }

    /// The same state with other password-check permits. Defaults to
    /// [`PasswordPermits::per_core`]; give the count of the user store's own limit on
    /// concurrent hashing.
    pub fn with_password_permits(self, permits: PasswordPermits) -> Self {
        self.map_inner(|inner| inner.password_permits = permits)
    }

    /// The same state with other rules for new passwords. Defaults to
    /// [`PasswordRules::default`], Django's default validators.
    pub fn with_password_rules(self, rules: PasswordRules) -> Self {
        self.map_inner(|inner| inner.password_rules = rules)
    }

    /// The same state with the settings of the account flows (and fresh rate limiters
    /// for them). Defaults to [`AccountSettings::default`], which has no `PUBLIC_URL`:
    /// the flows then send no mail (and log why).
    pub fn with_account_settings(self, settings: AccountSettings) -> Self {
        self.map_inner(|inner| {
            inner.account_limits = Arc::new(match &inner.attempt_counters {
                Some(counters) => AccountLimits::with_counters(&settings, Arc::clone(counters)),
                None => AccountLimits::new(&settings),
            });
            inner.accounts = settings;
        })
    }

    /// The same state writing the account flows' mails with `mailer`. Without one, the
    /// flows send no mail (and log why).
    pub fn with_mailer(self, mailer: impl crate::mailer::Mailer + 'static) -> Self {
        let mailer: Arc<dyn crate::mailer::Mailer> = Arc::new(mailer);
        self.map_inner(|inner| inner.mailer = Some(mailer))
    }

    /// The same state mailing sign-ins from new devices: `POST /login/` notes every
    /// session it opens in `known_devices`, with a "New sign-in to your account" mail for
    /// a device the account has not used lately (see [`crate::known_devices`]); the
    /// sign-up's session is recorded without a mail. Without one (the default), no such
    /// mail is sent.
    pub fn with_known_devices(
        self,
        known_devices: impl crate::known_devices::KnownDevices,
    ) -> Self {
        let known: Arc<dyn crate::known_devices::KnownDevices> = Arc::new(known_devices);
        self.map_inner(|inner| inner.known_devices = Some(known))
    }

    /// The record of known devices, if new sign-ins are mailed.
    pub fn known_devices(&self) -> Option<&dyn crate::known_devices::KnownDevices> {
        self.inner.known_devices.as_deref()
    }

    fn map_inner(mut self, change: impl FnOnce(&mut Inner<A>)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// The session manager.
    pub fn manager(&self) -> &SessionManager<A> {
        &self.inner.manager
    }

    /// The session manager, shared.
    pub fn manager_arc(&self) -> &Arc<SessionManager<A>> {
        &self.inner.manager
    }

    /// The token and session settings (the manager's).
    pub fn settings(&self) -> &Settings {
        self.inner.manager.settings()
    }

    /// The HTTP settings.
    pub fn http_settings(&self) -> &HttpSettings {
        &self.inner.http
    }

    /// The settings of the account flows.
    pub fn account_settings(&self) -> &AccountSettings {
        &self.inner.accounts
    }

    /// The rate limiters of the account flows.
    pub fn account_limits(&self) -> &AccountLimits {
        &self.inner.account_limits
    }

    /// The current time of the state's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The login throttle.
    pub fn throttle(&self) -> &LoginThrottle {
        &self.inner.throttle
    }

    /// The mail writer of the account flows, if one is set.
    pub fn mailer(&self) -> Option<&dyn crate::mailer::Mailer> {
        self.inner.mailer.as_deref()
    }

    /// The rules every new password must follow.
    pub fn password_rules(&self) -> &PasswordRules {
        &self.inner.password_rules
    }

    /// The turns at password checks, shared fairly between clients.
    pub fn password_permits(&self) -> &PasswordPermits {
        &self.inner.password_permits
    }

    /// The refresh cookie.
    pub fn cookie(&self) -> &RefreshCookie {
        &self.inner.cookie
    }

    /// The User-Agent parser, when User-Agents are collected.
    pub fn user_agent_parser(&self) -> Option<&UserAgentParser> {
        self.inner.user_agent_parser.as_deref()
    }

    /// The client-IP resolver of `TRUSTED_PROXIES`.
    pub fn client_ip_resolver(&self) -> &ClientIpResolver {
        &self.inner.client_ip
    }

    /// The client IP of a request.
    pub fn client_ip(&self, client: &ClientInfo) -> Option<IpAddr> {
        client.client_ip(&self.inner.client_ip)
    }

    /// The device metadata of a request, to record at login and rotation.
    pub fn device_info(&self, client: &ClientInfo) -> DeviceInfo {
        client.device_info(self.user_agent_parser(), &self.inner.client_ip)
    }

    /// The access-token verifier of the extractors.
    pub fn authenticator(&self) -> Authenticator {
        self.inner.authenticator.clone()
    }

    /// The user loader of [`LoadUser`](crate::LoadUser).
    pub fn user_loader(&self) -> UserLoader<A::User> {
        UserLoader::new(self.authenticator(), Arc::clone(&self.inner.manager))
    }
}

impl<A> AuthState<A>
where
    A: AccountStore + 'static,
{
    /// Every route of the wire contract ([`router`](crate::router())) with this state
    /// already given, ready to merge or nest into an application's router whatever its
    /// state: no type parameters to spell and no `FromRef` for the routes.
    ///
    /// ```no_run
    /// # use axum::Router;
    /// # fn app<A: jwt_allauth_axum::AccountStore + 'static>(
    /// #     auth: jwt_allauth_axum::AuthState<A>,
    /// # ) -> Router {
    /// Router::new().nest("/auth", auth.router())
    /// # }
    /// ```
    pub fn router<AppState>(&self) -> Router<AppState>
    where
        AppState: Clone + Send + Sync + 'static,
    {
        crate::routes::router::<A, Self>().with_state(self.clone())
    }
}

impl<A> AuthState<A>
where
    A: UserStore + 'static,
{
    /// The published keys of this state's session manager (its codec's ring, read at
    /// every request), with `ISSUER` and `PUBLIC_URL` from the settings: serve them with
    /// [`WellKnown::router`](crate::WellKnown::router).
    pub fn well_known(&self) -> crate::WellKnown {
        crate::WellKnown::new(self.manager().codec().clone())
            .with_issuer(self.settings().issuer.clone())
            .with_public_url(self.account_settings().public_url.clone())
    }
}

impl<A> AuthState<A>
where
    A: crate::AccountFlows + 'static,
{
    /// The routes of the account flows ([`account_flow_routes`](crate::account_flow_routes))
    /// with this state already given.
    pub fn account_flow_router<AppState>(&self) -> Router<AppState>
    where
        AppState: Clone + Send + Sync + 'static,
    {
        crate::routes::account_flow_routes::<A, Self>().with_state(self.clone())
    }
}

impl<A> FromRef<AuthState<A>> for Authenticator
where
    A: UserStore + 'static,
{
    fn from_ref(state: &AuthState<A>) -> Self {
        state.authenticator()
    }
}

impl<A> FromRef<AuthState<A>> for UserLoader<A::User>
where
    A: UserStore + 'static,
{
    fn from_ref(state: &AuthState<A>) -> Self {
        state.user_loader()
    }
}
