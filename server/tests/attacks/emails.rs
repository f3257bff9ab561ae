//! Mixed-case and Unicode e-mail addresses.
//!
//! Decision (contract.md: "unique regardless of case"; `server/src/users`): an address
//! is trimmed and compared by the lower case of its Unicode compatibility form (NFKC),
//! like Django's `normalize_username`. So every case variant of an address, ASCII or
//! not, every spelling of the same characters (NFD instead of NFC) and every
//! compatibility form (fullwidth letters) logs into the one account and cannot be
//! registered twice, while a look-alike from another script (a Cyrillic `а`) or another
//! letter (a dotless `ı`) is another address: it logs into nothing, with the same answer
//! as an unknown address.

use serde_json::json;

use crate::common::failure;
use crate::harness::{PASSWORD, Target, Verdicts, incorrect_credentials};

/// Logs `email` in and returns the `user_id` claim, or `None` with the answer recorded
/// as a failure unless it is the expected refusal.
async fn user_id_of_login(target: &Target, email: &str) -> Option<String> {
    let answer = target
        .login_request(&json!({"email": email, "password": PASSWORD}))
        .await;
    if !answer.status.is_success() {
        return None;
    }
    let tokens = answer.tokens("login");
    let whoami = target.get_bearer("/whoami/", &tokens.access).await;
    whoami.body["user_id"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn mixed_case_emails_log_into_the_same_account() {
    let target = Target::sqlite(&[]).await;
    target.create_user("alice@example.com");
    let id = target.user_id("alice@example.com").await;
    let mut verdicts = Verdicts::new("mixed-case e-mails");
    for variant in [
        "alice@example.com",
        "Alice@Example.COM",
        "ALICE@EXAMPLE.COM",
        "  aLiCe@eXaMpLe.CoM  ",
    ] {
        verdicts.count();
        match user_id_of_login(&target, variant).await {
            Some(user) if user == id => {}
            other => verdicts.fail(format!("login as {variant:?}"), format!("user {other:?}")),
        }
    }
    verdicts.finish();
    // A case variant cannot be registered as a second account.
    let output = target.db.run(&[
        "user",
        "create",
        "--email",
        "ALICE@example.com",
        "--password",
        PASSWORD,
    ]);
    failure(&output, "already exists");
}

#[tokio::test]
async fn unicode_emails_compare_by_normalized_unicode_case() {
    let target = Target::sqlite(&[]).await;
    let nfc = "Ünïcødé@Exämple.com";
    target.create_user(nfc);
    target.create_user("alice@example.com");
    let id = target.user_id(&nfc.to_lowercase()).await;
    let mut verdicts = Verdicts::new("Unicode e-mails");
    let nfd = "U\u{308}ni\u{308}cødé@Exa\u{308}mple.com";
    for variant in [nfc, "ünïcødé@exämple.com", "ÜNÏCØDÉ@EXÄMPLE.COM", nfd] {
        verdicts.count();
        match user_id_of_login(&target, variant).await {
            Some(user) if user == id => {}
            other => verdicts.fail(format!("login as {variant:?}"), format!("user {other:?}")),
        }
    }
    // The address is kept as it was written, not as it was typed at login.
    let tokens = target.login("ÜNÏCØDÉ@EXÄMPLE.COM").await;
    let profile = target.get_bearer("/user/", &tokens.access).await;
    assert_eq!(profile.body["email"], nfc, "{profile:?}");
    // Fullwidth letters are a compatibility form of the same address.
    let alice = target.user_id("alice@example.com").await;
    let fullwidth = "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}@example.com";
    verdicts.count();
    match user_id_of_login(&target, fullwidth).await {
        Some(user) if user == alice => {}
        other => verdicts.fail(
            "login as fullwidth letters".to_owned(),
            format!("user {other:?}"),
        ),
    }
    // Look-alikes from other scripts and other letters are other addresses.
    for (name, variant) in [
        ("a Cyrillic а", "\u{430}lice@example.com"),
        ("a dotless ı", "al\u{131}ce@example.com"),
    ] {
        let answer = target
            .login_request(&json!({"email": variant, "password": PASSWORD}))
            .await;
        verdicts.check(
            format!("login as {name}"),
            &answer,
            &incorrect_credentials(),
        );
    }
    verdicts.finish();
    let output = target.db.run(&[
        "user",
        "create",
        "--email",
        "ünïcødé@EXÄMPLE.com",
        "--password",
        PASSWORD,
    ]);
    failure(&output, "already exists");
    // Nor can the decomposed spelling, which looks the same.
    let output = target
        .db
        .run(&["user", "create", "--email", nfd, "--password", PASSWORD]);
    failure(&output, "already exists");
}
