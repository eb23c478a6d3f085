//! Staff accounts and their sessions: logging in and out, the account
//! behind a session cookie, and the admin's list and creation of accounts.
//! The HTTP edge keeps the cookie and the rate limits; the password check,
//! the session record and the account rules are here.

use std::net::IpAddr;

use super::{refuse, Refusal, Service};
use crate::auth;
use crate::clock::now_ms;
use crate::core::ids::AccountId;
use crate::model::{Account, Role, SessionRecord, TokenHash};
use crate::protocol::ErrorCode;

impl Service {
    /// Check a username and password from `address` (the client's address
    /// key, if known); on success store a new session and return the
    /// account and the session token (for the cookie; the store keeps
    /// only its hash). A wrong username costs as much time as a wrong
    /// password. A username that could not exist is refused before any
    /// hashing and counts nowhere; wrong passwords are counted and
    /// refused as `login_guard` says; at most
    /// `limits.password_hash_concurrency` checks run at once (else
    /// `busy`).
    pub async fn login(
        &self,
        username: &str,
        password: String,
        address: Option<IpAddr>,
    ) -> Result<(Account, String), Refusal> {
        let failed = || refuse(ErrorCode::LoginFailed, "wrong username or password");
        if !crate::model::valid_username(username) {
            tracing::info!("login refused");
            return Err(failed());
        }
        let keys = self.login_keys(username, address);
        self.login_admitted(&keys).await?;
        let permit = self.hash_permit().await?;
        let account = self.store.account_by_username(username).await?;
        let phc = account
            .as_ref()
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| auth::dummy_hash().to_owned());
        // argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
            .await
            .unwrap_or(false);
        drop(permit);
        let account = match (ok, account) {
            (true, Some(a)) => a,
            _ => {
                tracing::info!("login refused");
                self.login_failure(&keys).await?;
                return Err(failed());
            }
        };
        self.login_success(&keys).await;
        let (token, hash) = auth::new_token();
        let ttl = self.settings.session_ttl_secs;
        self.store
            .put_session(
                hash,
                SessionRecord {
                    account: account.id,
                    expires_at_ms: now_ms() + ttl * 1000,
                },
            )
            .await?;
        tracing::info!(account = %account.id, "logged in");
        Ok((account, token))
    }

    /// End the session with this token hash (nothing if there is none),
    /// and close its sockets on every node at once.
    pub async fn logout(&self, session: &TokenHash) -> Result<(), Refusal> {
        self.store.delete_session(session).await?;
        self.publish(crate::model::Event::SessionEnded { session: *session })
            .await;
        Ok(())
    }

    /// The account behind a session, if the session exists, has not
    /// expired (an expired one is deleted) and its account exists.
    pub async fn session_account(&self, session: &TokenHash) -> Result<Option<Account>, Refusal> {
        let Some(record) = self.store.session(session).await? else {
            return Ok(None);
        };
        if record.expires_at_ms <= now_ms() {
            let _ = self.store.delete_session(session).await;
            return Ok(None);
        }
        Ok(self.store.account(record.account).await?)
    }

    /// May a socket opened with this session stay open? No once the
    /// session is gone or expired; yes while the store cannot answer (the
    /// socket can do nothing the store would not refuse anyway).
    pub async fn session_alive(&self, session: &TokenHash) -> bool {
        match self.store.session(session).await {
            Ok(Some(s)) => s.expires_at_ms > now_ms(),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Every staff account (the admin's list), by username.
    pub async fn accounts(&self) -> Result<Vec<Account>, Refusal> {
        Ok(self.store.accounts().await?)
    }

    /// Create a staff account (`by` is the admin, for the log). The
    /// username and display name are checked here; the password is hashed
    /// off the event loop.
    pub async fn create_account(
        &self,
        by: AccountId,
        username: String,
        display_name: String,
        role: Role,
        password: String,
    ) -> Result<Account, Refusal> {
        if !crate::model::valid_username(&username) {
            return Err(refuse(
                ErrorCode::BadRequest,
                "username: 3-32 characters of a-z, 0-9, '.', '_' or '-'",
            ));
        }
        let display_name = display_name.trim().to_owned();
        if !crate::model::valid_display_name(&display_name) {
            return Err(refuse(
                ErrorCode::BadRequest,
                "display_name: 1-40 characters, no line breaks or other control characters",
            ));
        }
        let permit = self.hash_permit().await?;
        let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|_| refuse(ErrorCode::Internal, "hashing failed"))?
            .map_err(|e| refuse(ErrorCode::BadRequest, e.to_string()))?;
        drop(permit);
        let account = Account {
            id: AccountId::new_random(),
            username,
            display_name,
            role,
            password_hash,
        };
        self.store.create_account(account.clone()).await?;
        tracing::info!(by = %by, account = %account.id, role = ?account.role, "account created");
        Ok(account)
    }
}
