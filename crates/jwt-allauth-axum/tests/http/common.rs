//! The test harness: an in-memory account store, an app on in-memory SQLite with an
//! adjustable clock, and a request helper that checks the invariants every response must
//! keep (401s carry `WWW-Authenticate`, no password or presented token is echoed).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_allauth::{
    Secret, SessionManager, Settings, StoreError, User, UserAgentParser, UserStore, UserStoreError,
};
use jwt_allauth_axum::{
    AccountStore, AuthState, HttpSettings, PasswordChange, Profile, ProfileUpdate, WWW_AUTHENTICATE,
};
use jwt_allauth_sqlx::SqliteStore;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

pub const SECRET: &str = "a test secret that is long enough for HS256";
/// The clock's start: 2027-01-15T08:00:00Z.
pub const T0: i64 = 1_800_000_000;

pub const ALICE: &str = "alice@example.com";
pub const ALICE_PASSWORD: &str = "alice-Pa55word-xyzzy";
pub const BOB: &str = "bob@example.com";
pub const BOB_PASSWORD: &str = "bob-Pa55word-plugh";
pub const CAROL: &str = "carol@example.com";
pub const CAROL_PASSWORD: &str = "carol-Pa55word-inactive";
pub const NEW_PASSWORD: &str = "brand-New-pa55word-frotz";
pub const WRONG_PASSWORD: &str = "wrong-Pa55word-gnusto";

/// Every password a test uses: no response body may contain one.
const PASSWORDS: [&str; 5] = [
    ALICE_PASSWORD,
    BOB_PASSWORD,
    CAROL_PASSWORD,
    NEW_PASSWORD,
    WRONG_PASSWORD,
];

pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

// ----------------------------------------------------------------------------------------
// Accounts

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: u64,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub role: i64,
    pub active: bool,
    pub email_verified: bool,
}

impl User for TestUser {
    fn id(&self) -> String {
        self.id.to_string()
    }

    fn is_active(&self) -> bool {
        self.active
    }

    fn email_verified(&self) -> bool {
        self.email_verified
    }

    fn role(&self) -> i64 {
        self.role
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role,
            "is_active": self.active,
            "email_verified": self.email_verified,
        })
    }
}

/// How the account store fails, when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    None,
    Unavailable,
    Broken,
}

/// An in-memory account store with plaintext passwords.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    users: Arc<Mutex<BTreeMap<u64, TestUser>>>,
    logins: Arc<Mutex<Vec<(String, OffsetDateTime)>>>,
    unavailable: Arc<AtomicBool>,
    broken: Arc<AtomicBool>,
}

impl Accounts {
    pub fn seeded() -> Self {
        let accounts = Self::default();
        for (id, email, password, role, active) in [
            (1, ALICE, ALICE_PASSWORD, 0, true),
            (2, BOB, BOB_PASSWORD, 1000, true),
            (3, CAROL, CAROL_PASSWORD, 0, false),
        ] {
            accounts.insert(TestUser {
                id,
                email: email.to_owned(),
                password: password.to_owned(),
                first_name: String::new(),
                last_name: String::new(),
                role,
                active,
                email_verified: true,
            });
        }
        accounts
    }

    pub fn insert(&self, user: TestUser) {
        self.users.lock().unwrap().insert(user.id, user);
    }

    pub fn get(&self, id: u64) -> TestUser {
        self.users.lock().unwrap()[&id].clone()
    }

    pub fn update(&self, id: u64, change: impl FnOnce(&mut TestUser)) {
        change(self.users.lock().unwrap().get_mut(&id).unwrap());
    }

    pub fn remove(&self, id: u64) {
        self.users.lock().unwrap().remove(&id);
    }

    pub fn logins(&self) -> Vec<(String, OffsetDateTime)> {
        self.logins.lock().unwrap().clone()
    }

    pub fn fail(&self, failure: Failure) {
        self.unavailable
            .store(failure == Failure::Unavailable, Ordering::SeqCst);
        self.broken
            .store(failure == Failure::Broken, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), UserStoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            let cause = std::io::Error::other("connection refused");
            return Err(UserStoreError(Box::new(StoreError::Unavailable(Box::new(
                cause,
            )))));
        }
        if self.broken.load(Ordering::SeqCst) {
            return Err(UserStoreError(Box::new(std::io::Error::other("broken"))));
        }
        Ok(())
    }
}

impl UserStore for Accounts {
    type User = TestUser;

    async fn load_user(&self, user_id: &str) -> Result<Option<TestUser>, UserStoreError> {
        self.check()?;
        let Ok(id) = user_id.parse::<u64>() else {
            return Ok(None);
        };
        Ok(self.users.lock().unwrap().get(&id).cloned())
    }
}

impl AccountStore for Accounts {
    async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<TestUser>, UserStoreError> {
        self.check()?;
        let users = self.users.lock().unwrap();
        Ok(users
            .values()
            .find(|user| user.email.eq_ignore_ascii_case(email))
            .filter(|user| user.password == password && user.active)
            .cloned())
    }

    fn profile(&self, user: &TestUser) -> Profile {
        Profile {
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
        }
    }

    async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
    ) -> Result<Option<Profile>, UserStoreError> {
        self.check()?;
        let mut users = self.users.lock().unwrap();
        let Some(user) = user_id
            .parse::<u64>()
            .ok()
            .and_then(|id| users.get_mut(&id))
        else {
            return Ok(None);
        };
        if let Some(first_name) = update.first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = update.last_name {
            user.last_name = last_name;
        }
        Ok(Some(self.profile(user)))
    }

    async fn change_password(
        &self,
        user_id: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<PasswordChange, UserStoreError> {
        self.check()?;
        let mut users = self.users.lock().unwrap();
        let Some(user) = user_id
            .parse::<u64>()
            .ok()
            .and_then(|id| users.get_mut(&id))
        else {
            return Ok(PasswordChange::UserNotFound);
        };
        if user.password != old_password {
            return Ok(PasswordChange::WrongOldPassword);
        }
        user.password = new_password.to_owned();
        Ok(PasswordChange::Changed)
    }

    async fn record_login(&self, user_id: &str, now: OffsetDateTime) -> Result<(), UserStoreError> {
        self.logins.lock().unwrap().push((user_id.to_owned(), now));
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------
// App

pub type State = AuthState<Accounts>;

pub fn parser() -> Arc<UserAgentParser> {
    static PARSER: OnceLock<Arc<UserAgentParser>> = OnceLock::new();
    PARSER
        .get_or_init(|| Arc::new(UserAgentParser::new().unwrap()))
        .clone()
}

pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

/// The settings of a [`TestApp`]: the core's and the HTTP layer's.
pub struct TestSettings {
    pub tokens: Settings,
    pub http: HttpSettings,
}

pub fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.secret_key = Some(Secret::new(SECRET));
    settings
}

pub struct TestApp {
    pub router: Router,
    pub state: State,
    pub store: SqliteStore,
    pub accounts: Accounts,
    pub clock: Arc<AtomicI64>,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// Body mode: the refresh token travels in the bodies.
    pub async fn body_mode() -> Self {
        Self::with(|settings| settings.http.refresh_token_as_cookie = false).await
    }

    pub async fn with(change: impl FnOnce(&mut TestSettings)) -> Self {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        Self::on(store, Accounts::seeded(), change)
    }

    /// An app over an existing store and accounts (another server of the same cluster).
    pub fn on(
        store: SqliteStore,
        accounts: Accounts,
        change: impl FnOnce(&mut TestSettings),
    ) -> Self {
        let mut settings = TestSettings {
            tokens: settings(),
            http: HttpSettings::default(),
        };
        change(&mut settings);
        let parser = settings.http.collect_user_agent.then(parser);
        let manager =
            SessionManager::from_settings(settings.tokens, store.clone(), accounts.clone())
                .unwrap();
        let clock = Arc::new(AtomicI64::new(T0));
        let time = Arc::clone(&clock);
        let state = AuthState::with_user_agent_parser(manager, settings.http, parser)
            .unwrap()
            .with_clock(move || at(time.load(Ordering::SeqCst)));
        let router = jwt_allauth_axum::router::<Accounts, State>().with_state(state.clone());
        Self {
            router,
            state,
            store,
            accounts,
            clock,
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    pub async fn send(&self, request: Req) -> Resp {
        send(&self.router, request).await
    }

    /// Logs in and returns the tokens (from the cookie or the body).
    pub async fn login(&self, email: &str, password: &str) -> Tokens {
        self.login_with(Req::post("/login/").json(json!({"email": email, "password": password})))
            .await
    }

    pub async fn login_with(&self, request: Req) -> Tokens {
        let response = self.send(request).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        Tokens::from_response(&response)
    }

    /// `POST /refresh/` with `refresh` (cookie or body, as the app's mode wants).
    pub async fn refresh(&self, refresh: &str) -> Resp {
        self.send(self.with_refresh(Req::post("/refresh/"), refresh))
            .await
    }

    pub fn with_refresh(&self, request: Req, refresh: &str) -> Req {
        if self.state.http_settings().refresh_token_as_cookie {
            request.cookie(&format!("refresh_token={refresh}"))
        } else {
            request.json(json!({ "refresh": refresh }))
        }
    }

    pub async fn whoami(&self, access: &str) -> Resp {
        self.send(Req::get("/whoami/").bearer(access)).await
    }

    pub async fn session_count(&self, user_id: &str) -> usize {
        self.state
            .manager()
            .list_sessions(user_id)
            .await
            .unwrap()
            .len()
    }
}

/// The tokens of a login or rotation.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_response(response: &Resp) -> Self {
        let body = response.json();
        let access = body["access"].as_str().unwrap().to_owned();
        let refresh = match response.cookie("refresh_token") {
            Some(cookie) => cookie.value,
            None => body["refresh"].as_str().unwrap().to_owned(),
        };
        Self { access, refresh }
    }

    pub fn session(&self) -> String {
        claims(&self.access)["session"].as_str().unwrap().to_owned()
    }
}

/// The payload of a JWT, unverified.
pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

// ----------------------------------------------------------------------------------------
// Requests and responses

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    peer: Option<SocketAddr>,
    /// Values the response must not echo.
    secrets: Vec<String>,
}

impl Req {
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: None,
            secrets: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn patch(path: &str) -> Self {
        Self::new(Method::PATCH, path)
    }

    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        let request = self.header("authorization", &format!("Bearer {token}"));
        request.secret(token)
    }

    /// A `Cookie` header, e.g. `refresh_token=...`.
    pub fn cookie(self, cookie: &str) -> Self {
        let value = cookie
            .split_once('=')
            .map_or("", |(_, value)| value)
            .to_owned();
        self.header("cookie", cookie).secret(&value)
    }

    pub fn json(mut self, body: Value) -> Self {
        if let Some(object) = body.as_object() {
            for name in ["refresh", "password", "old_password"] {
                if let Some(value) = object.get(name).and_then(Value::as_str) {
                    self.secrets.push(value.to_owned());
                }
            }
        }
        self.body = serde_json::to_vec(&body).unwrap();
        self.header("content-type", "application/json")
    }

    pub fn form(mut self, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    pub fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self.header("content-type", content_type)
    }

    pub fn user_agent(self, user_agent: &str) -> Self {
        self.header("user-agent", user_agent)
    }

    /// The TCP peer, as `into_make_service_with_connect_info` would give it.
    pub fn peer(mut self, ip: &str) -> Self {
        let ip: IpAddr = ip.parse().unwrap();
        self.peer = Some(SocketAddr::new(ip, 40_000));
        self
    }

    fn secret(mut self, value: &str) -> Self {
        if !value.is_empty() {
            self.secrets.push(value.to_owned());
        }
        self
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A parsed `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Attributes as written (`HttpOnly`, `Max-Age=60`, ...).
    pub attributes: Vec<String>,
}

impl SetCookie {
    pub fn attribute(&self, name: &str) -> Option<String> {
        self.attributes.iter().find_map(|attribute| {
            let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
            key.eq_ignore_ascii_case(name).then(|| value.to_owned())
        })
    }

    pub fn max_age(&self) -> i64 {
        self.attribute("Max-Age").unwrap().parse().unwrap()
    }
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    pub fn set_cookies(&self) -> Vec<SetCookie> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| {
                let text = value.to_str().unwrap();
                let mut parts = text.split("; ");
                let (name, value) = parts.next().unwrap().split_once('=').unwrap();
                SetCookie {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    attributes: parts.map(str::to_owned).collect(),
                }
            })
            .collect()
    }

    pub fn cookie(&self, name: &str) -> Option<SetCookie> {
        self.set_cookies()
            .into_iter()
            .find(|cookie| cookie.name == name)
    }

    /// Asserts status and JSON body.
    #[track_caller]
    pub fn assert(&self, status: StatusCode, body: Value) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.json(), body);
    }
}

/// Sends a request through the router and checks the universal invariants.
pub async fn send(router: &Router, request: Req) -> Resp {
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(&request.path);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let mut http = builder.body(Body::from(request.body.clone())).unwrap();
    if let Some(peer) = request.peer {
        http.extensions_mut().insert(ConnectInfo(peer));
    }
    let response = router.clone().oneshot(http).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    let resp = Resp {
        status,
        headers,
        body,
    };
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(
            resp.header("www-authenticate"),
            Some(WWW_AUTHENTICATE),
            "a 401 without WWW-Authenticate: {}",
            resp.text()
        );
    }
    let text = resp.text();
    for password in PASSWORDS {
        assert!(
            !text.contains(password),
            "a response echoes a password: {text}"
        );
    }
    for secret in &request.secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a response echoes a presented secret: {text}"
        );
        for cookie in resp.set_cookies() {
            assert_ne!(
                &cookie.value, secret,
                "a response sets the presented token again"
            );
        }
    }
    resp
}
