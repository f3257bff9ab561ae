//! Issue 15 point 3: the new sign-in mail, through the real binary and a real SMTP
//! server, on SQLite and PostgreSQL: one mail per new device, none for the account's
//! first device, a known device or a refresh, at most 3 an hour; its "This wasn't me"
//! link (GET shows, POST acts, once) ends exactly that session.
//!
//! "No mail" is proven by order: the outbox delivers in the order mails were queued, so
//! a mail the server should not have sent would arrive before the next expected one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::common::{self, Server, TestDb};
use super::smtp_server::{Received, SmtpServer};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";

/// Five devices of different browser, OS or device families.
const FIREFOX_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/128.0.0.0 Mobile Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";
const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36";
/// A sixth, only ever presented on a refresh (a rotation is never a sign-in).
const FIREFOX_UBUNTU: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0";

/// A session: its tokens and id.
struct Session {
    access: String,
    refresh: String,
    session: String,
}

async fn tokens(response: reqwest::Response) -> Session {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let access = body["access"].as_str().unwrap().to_owned();
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    Session {
        session: claims["session"].as_str().unwrap().to_owned(),
        refresh: body["refresh"].as_str().unwrap().to_owned(),
        access,
    }
}

async fn login(client: &Client, server: &Server, user_agent: &str) -> Session {
    let response = client
        .post(server.url("/login/"))
        .header("User-Agent", user_agent)
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    tokens(response).await
}

async fn refresh(client: &Client, server: &Server, user_agent: &str, token: &str) -> StatusCode {
    client
        .post(server.url("/refresh/"))
        .header("User-Agent", user_agent)
        .json(&json!({ "refresh": token }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn user_status(client: &Client, server: &Server, access: &str) -> StatusCode {
    client
        .get(server.url("/user/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

/// How the mail names the device of `session`: from the session list's families.
async fn device_of(client: &Client, server: &Server, session: &Session) -> String {
    let listed: Value = client
        .get(server.url("/sessions/"))
        .bearer_auth(&session.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["session"] == session.session.as_str())
        .unwrap()
        .clone();
    let family = |key: &str| row[key].as_str().unwrap_or("Unknown").to_owned();
    format!(
        "{} on {} ({})",
        family("browser"),
        family("os"),
        family("device")
    )
}

/// Waits until `count` mails arrived, then 300 ms more: exactly `count`, or the test
/// fails (a mail too many would have been queued before the last one expected).
async fn exactly(smtp: &SmtpServer, count: usize) -> Vec<Received> {
    smtp.wait_for(count).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let received = smtp.received();
    let subjects: Vec<_> = received.iter().map(|m| m.header("Subject")).collect();
    assert_eq!(received.len(), count, "{subjects:?}");
    received
}

/// The path of the "This wasn't me" link in a mail's text.
fn not_me_path(mail: &Received) -> String {
    let parts = mail.parts();
    let text = &parts[0].1;
    let start = text
        .find("https://auth.example.com/sessions/not-me/")
        .unwrap_or_else(|| panic!("no link in {text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let path = link.strip_prefix("https://auth.example.com").unwrap();
    assert!(
        parts[1].1.contains(&format!("href=\"{link}\"")),
        "{}",
        parts[1].1
    );
    path.to_owned()
}

/// Asserts `mail` is the new sign-in mail for `device`, from 127.0.0.1, today.
fn assert_new_sign_in(mail: &Received, device: &str) {
    assert_eq!(mail.to, [EMAIL]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("New sign-in to your account")
    );
    let today = time::OffsetDateTime::now_utc().date().to_string();
    for (_, body) in mail.parts() {
        assert!(body.contains(device), "{device}: {body}");
        assert!(body.contains("127.0.0.1"), "{body}");
        assert!(body.contains(&today) && body.contains(" UTC"), "{body}");
        assert!(
            body.contains("This wasn't me") || body.contains("This wasn&#39;t me"),
            "{body}"
        );
    }
}

async fn new_device_mail_round_trip(db: &TestDb) {
    let smtp = SmtpServer::start();
    let created = db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]);
    assert!(created.status.success(), "{created:?}");
    let email_url = smtp.url("?tls=none");
    let server = common::Server::start_with_env(
        db,
        &[],
        &[
            ("JWT_ALLAUTH_EMAIL_URL", email_url.as_str()),
            ("JWT_ALLAUTH_PUBLIC_URL", "https://auth.example.com"),
            ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
            ("JWT_ALLAUTH_COOKIE_SECURE", "false"),
        ],
    )
    .await;
    let client = Client::new();

    // The account's first device: no mail. A second device: one mail.
    let laptop = login(&client, &server, FIREFOX_WINDOWS).await;
    let phone = login(&client, &server, CHROME_ANDROID).await;
    let received = exactly(&smtp, 1).await;
    let phone_device = device_of(&client, &server, &phone).await;
    assert_new_sign_in(&received[0], &phone_device);
    let phone_link = not_me_path(&received[0]);
    assert!(
        phone_link.contains(&format!(".{}.", phone.session)),
        "{phone_link}"
    );

    // The same device again, and a refresh (even from a device never seen): no mail. A
    // third device: one more, and it is the second mail, so the two before sent none.
    let phone_again = login(&client, &server, CHROME_ANDROID).await;
    assert_eq!(
        refresh(&client, &server, FIREFOX_UBUNTU, &phone_again.refresh).await,
        StatusCode::OK
    );
    let tablet = login(&client, &server, SAFARI_IPHONE).await;
    let received = exactly(&smtp, 2).await;
    assert_new_sign_in(&received[1], &device_of(&client, &server, &tablet).await);

    // A fourth device, logging in twice at once: one mail, the third this hour. A
    // fifth: none (3 an hour); a reset mail queued after it arrives fourth.
    let (mac, _) = tokio::join!(
        login(&client, &server, SAFARI_MAC),
        login(&client, &server, SAFARI_MAC)
    );
    let _linux = login(&client, &server, CHROME_LINUX).await;
    let reset = client
        .post(server.url("/password/reset/"))
        .json(&json!({ "email": EMAIL }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let received = exactly(&smtp, 4).await;
    assert_new_sign_in(&received[2], &device_of(&client, &server, &mac).await);
    assert_eq!(
        received[3].header("Subject").as_deref(),
        Some("Password reset")
    );

    // GET shows a page and ends nothing.
    let page = client.get(server.url(&phone_link)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\">"), "{html}");
    assert_eq!(
        user_status(&client, &server, &phone.access).await,
        StatusCode::OK
    );

    // POST ends exactly that session: its refresh token 401, its access token refused
    // (the revocation feed); the other sessions go on. The page offers a reset.
    let done = client.post(server.url(&phone_link)).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let html = done.text().await.unwrap();
    assert!(html.contains("That device is signed out."), "{html}");
    let reset_prefix = format!(
        "https://auth.example.com/password/reset/confirm/{}/",
        URL_SAFE_NO_PAD.encode("1")
    );
    assert!(html.contains(&reset_prefix), "{html}");
    assert_eq!(
        refresh(&client, &server, CHROME_ANDROID, &phone.refresh).await,
        StatusCode::UNAUTHORIZED
    );
    let refused = client
        .get(server.url("/user/"))
        .bearer_auth(&phone.access)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({"detail": "Session is no longer active.", "code": "token_not_valid"})
    );
    // The phone's second session and the laptop's are other sessions.
    assert_eq!(
        user_status(&client, &server, &laptop.access).await,
        StatusCode::OK
    );
    assert_eq!(
        refresh(&client, &server, FIREFOX_WINDOWS, &laptop.refresh).await,
        StatusCode::OK
    );
    assert_eq!(
        user_status(&client, &server, &tablet.access).await,
        StatusCode::OK
    );

    // The reset link of the page works.
    let start = html.find(&reset_prefix).unwrap();
    let reset_path: String = html[start + "https://auth.example.com".len()..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let no_redirects = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = no_redirects
        .get(server.url(&reset_path))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::FOUND, "{reset_path}");

    // A second use: refused with a page, not an error; nothing else ended.
    let again = client.post(server.url(&phone_link)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let html = again.text().await.unwrap();
    assert!(html.contains("already used"), "{html}");
    assert_eq!(
        user_status(&client, &server, &tablet.access).await,
        StatusCode::OK
    );
    // A forged key: the same page.
    let forged = phone_link.replacen(&phone.session, &tablet.session, 1);
    let forged = client.post(server.url(&forged)).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let as_json = client
        .post(server.url(&phone_link))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        as_json.json::<Value>().await.unwrap(),
        json!({"detail": "Not found."})
    );
    assert_eq!(
        user_status(&client, &server, &tablet.access).await,
        StatusCode::OK
    );

    // The request log shows the route, never the link's token.
    let token = phone_link.trim_end_matches('/').rsplit('.').next().unwrap();
    let log = server.log_text();
    assert!(log.contains("/sessions/not-me/{key}/"), "{log}");
    assert!(!log.contains(token), "{log}");
}

#[tokio::test]
async fn a_new_device_is_mailed_once_and_its_link_ends_that_session() {
    new_device_mail_round_trip(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn a_new_device_is_mailed_once_and_its_link_ends_that_session_on_postgres() {
    if let Some(db) = TestDb::postgres("new_device_mail").await {
        new_device_mail_round_trip(&db).await;
    }
}

/// `NEW_DEVICE_EMAIL=false` turns the mail off, even with `EMAIL_URL` set.
#[tokio::test]
async fn new_device_email_off_sends_nothing() {
    let db = TestDb::sqlite();
    let smtp = SmtpServer::start();
    let created = db.run(&["user", "create", "--email", EMAIL, "--password", PASSWORD]);
    assert!(created.status.success(), "{created:?}");
    let email_url = smtp.url("?tls=none");
    let server = common::Server::start_with_env(
        &db,
        &[],
        &[
            ("JWT_ALLAUTH_EMAIL_URL", email_url.as_str()),
            ("JWT_ALLAUTH_NEW_DEVICE_EMAIL", "false"),
            ("JWT_ALLAUTH_REFRESH_TOKEN_AS_COOKIE", "false"),
        ],
    )
    .await;
    let client = Client::new();
    login(&client, &server, FIREFOX_WINDOWS).await;
    login(&client, &server, CHROME_ANDROID).await;
    let reset = client
        .post(server.url("/password/reset/"))
        .json(&json!({ "email": EMAIL }))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let received = exactly(&smtp, 1).await;
    assert_eq!(
        received[0].header("Subject").as_deref(),
        Some("Password reset")
    );
}

/// The record itself, many sign-ins from each new device at once (the server's
/// `KnownDevices`, straight): exactly one is mailed, one mail and one token stored; the
/// account's first device is recorded without one.
async fn concurrent_sign_ins(db: &TestDb) {
    use jwt_allauth::store::NewPurposeToken;
    use jwt_allauth_axum::ComposedMail;
    use jwt_allauth_axum::known_devices::{
        DeviceFingerprint, KnownDevices, NewSignInMail, SignIn, SignInNotice,
    };
    use jwt_allauth_server::mail::Outbox;
    use jwt_allauth_server::passwords::Passwords;
    use jwt_allauth_server::users::{NewUser, Users};

    let database = db.connect().await;
    let outbox = Outbox::new(database.clone());
    let users =
        Users::new(database.clone(), Passwords::with_permits(2)).with_outbox(outbox.clone());
    let now = time::OffsetDateTime::now_utc();
    let user_id = users
        .create(&NewUser::new(EMAIL, PASSWORD), now)
        .await
        .unwrap()
        .id
        .to_string();
    let device = |browser: &str| DeviceFingerprint {
        browser: browser.to_owned(),
        os: "Linux".to_owned(),
        device: "Other".to_owned(),
    };
    let sign_in = |browser: &str, seed: u8| SignIn {
        user_id: user_id.clone(),
        device: device(browser),
        now,
        mail: Some(NewSignInMail {
            token: NewPurposeToken {
                token_hash: [seed; 32],
                purpose: format!("new_sign_in:{seed:032x}"),
                user_id: user_id.clone(),
                created: now,
                expires_at: now + time::Duration::days(1),
                device: jwt_allauth::DeviceInfo::default(),
            },
            mail: ComposedMail {
                to: EMAIL.to_owned(),
                subject: "New sign-in to your account".to_owned(),
                text: format!("mail {seed}"),
                html: format!("<p>mail {seed}</p>"),
            },
        }),
    };
    let first = users.note_sign_in(sign_in("Firefox", 0)).await.unwrap();
    assert_eq!(first, SignInNotice::FirstDevice);
    assert!(outbox.queued().await.unwrap().is_empty());

    // Three new devices (the hourly allowance), each signing in 16 times at once.
    for (round, browser) in ["Chrome", "Safari", "Opera"].into_iter().enumerate() {
        let seeds = (1..=16u8).map(|n| n + 16 * u8::try_from(round).unwrap());
        let at_once: Vec<_> = seeds
            .map(|seed| {
                let users = users.clone();
                let sign_in = sign_in(browser, seed);
                tokio::spawn(async move { users.note_sign_in(sign_in).await.unwrap() })
            })
            .collect();
        let mut notices = Vec::new();
        for task in at_once {
            notices.push(task.await.unwrap());
        }
        let count = |wanted: SignInNotice| notices.iter().filter(|n| **n == wanted).count();
        assert_eq!(count(SignInNotice::Mailed), 1, "{browser}: {notices:?}");
        assert_eq!(
            count(SignInNotice::KnownDevice),
            15,
            "{browser}: {notices:?}"
        );
        assert_eq!(outbox.queued().await.unwrap().len(), round + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ins_from_one_new_device_mail_once() {
    concurrent_sign_ins(&TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ins_from_one_new_device_mail_once_on_postgres() {
    if let Some(db) = TestDb::postgres("new_device_concurrent").await {
        concurrent_sign_ins(&db).await;
    }
}
