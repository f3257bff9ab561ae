//! `user create | set-role | deactivate | activate | set-profile | delete`.

use jwt_allauth::events::RevocationReason;
use serde_json::{Map, Value};

use super::{Admin, now, out};
use crate::cli::{CreateUserArgs, GlobalArgs, SetProfileArgs, SetRoleArgs, UserCommand};
use crate::error::CommandError;
use crate::users::{NewUser, ServerUser, map_contains_nul};

pub(super) async fn run(global: &GlobalArgs, command: UserCommand) -> Result<(), CommandError> {
    // Checked before touching the database.
    let profile = match &command {
        UserCommand::Create(CreateUserArgs {
            profile: Some(profile),
            ..
        })
        | UserCommand::SetProfile(SetProfileArgs { profile, .. }) => Some(parse_profile(profile)?),
        _ => None,
    };
    let admin = Admin::open(global).await?;
    let result = match command {
        UserCommand::Create(args) => create(&admin, args, profile.unwrap_or_default()).await,
        UserCommand::SetRole(args) => set_role(&admin, &args).await,
        UserCommand::Deactivate(args) => deactivate(&admin, &args.email).await,
        UserCommand::Activate(args) => activate(&admin, &args.email).await,
        UserCommand::Verify(args) => verify(&admin, &args.email).await,
        UserCommand::Delete(args) => delete(&admin, &args.email).await,
        UserCommand::SetProfile(args) => {
            set_profile(&admin, &args.email, &profile.unwrap_or_default()).await
        }
    };
    admin.close().await;
    result
}

/// A `--profile` value: a JSON object without NUL characters.
fn parse_profile(text: &str) -> Result<Map<String, Value>, CommandError> {
    match serde_json::from_str(text).map_err(CommandError::ProfileJson)? {
        Value::Object(map) if map_contains_nul(&map) => Err(CommandError::ProfileNul),
        Value::Object(map) => Ok(map),
        _ => Err(CommandError::ProfileNotObject),
    }
}

async fn create(
    admin: &Admin,
    args: CreateUserArgs,
    profile: Map<String, Value>,
) -> Result<(), CommandError> {
    let new = NewUser {
        email: args.email,
        password: args.password,
        first_name: args.first_name,
        last_name: args.last_name,
        role: args.role,
        is_active: !args.inactive,
        is_staff: args.staff,
        is_superuser: args.superuser,
        email_verified: !args.unverified,
        profile,
    };
    let user = admin.users.create(&new, now()).await?;
    out(&format!("created user {} {}", user.id, user.email))
}

async fn set_role(admin: &Admin, args: &SetRoleArgs) -> Result<(), CommandError> {
    let user = admin.user(&args.email).await?;
    let user = admin
        .users
        .set_role(user.id, Some(args.role))
        .await?
        .ok_or_else(|| CommandError::NoUser(user.email))?;
    out(&format!("role of {} set to {}", user.email, args.role))
}

async fn deactivate(admin: &Admin, email: &str) -> Result<(), CommandError> {
    let user = admin.user(email).await?;
    // Inactive first: a rotation running concurrently either finds the user inactive
    // or its rotated row is deleted below.
    let user = admin
        .users
        .set_active(user.id, false, now())
        .await?
        .ok_or_else(|| CommandError::NoUser(user.email))?;
    end_credentials(admin, RevocationReason::Deactivated, &user).await
}

async fn delete(admin: &Admin, email: &str) -> Result<(), CommandError> {
    let user = admin.user(email).await?;
    // The row first: a rotation running concurrently either finds no user (and ends the
    // session itself) or its rotated row is deleted below.
    let user = admin
        .users
        .delete(user.id, now())
        .await?
        .ok_or_else(|| CommandError::NoUser(user.email))?;
    end_credentials(admin, RevocationReason::Deleted, &user).await
}

/// Ends every session and purpose token of `user`, then prints "`done` E; ended N
/// session(s) and M purpose token(s)".
async fn end_credentials(
    admin: &Admin,
    reason: RevocationReason,
    user: &ServerUser,
) -> Result<(), CommandError> {
    let revoked = admin
        .manager
        .revoke_credentials(&user.id.to_string(), reason, now())
        .await?;
    let done = reason.as_str();
    out(&format!(
        "{done} {}; ended {} session(s) and {} purpose token(s)",
        user.email, revoked.sessions, revoked.purpose_tokens
    ))
}

async fn activate(admin: &Admin, email: &str) -> Result<(), CommandError> {
    let user = admin.user(email).await?;
    let user = admin
        .users
        .set_active(user.id, true, now())
        .await?
        .ok_or_else(|| CommandError::NoUser(user.email))?;
    out(&format!("activated {}", user.email))
}

async fn verify(admin: &Admin, email: &str) -> Result<(), CommandError> {
    let user = admin.user(email).await?;
    let user = admin
        .users
        .set_email_verified(user.id, true, now())
        .await?
        .ok_or_else(|| CommandError::NoUser(user.email))?;
    out(&format!("verified {}", user.email))
}

async fn set_profile(
    admin: &Admin,
    email: &str,
    profile: &Map<String, Value>,
) -> Result<(), CommandError> {
    let user = admin.user(email).await?;
    let user = admin
        .users
        .set_profile(user.id, profile)
        .await?
        .ok_or_else(|| CommandError::NoUser(user.email))?;
    out(&format!("profile of {} set", user.email))
}
