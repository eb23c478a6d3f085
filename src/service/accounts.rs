//! Staff accounts and their sessions: logging in and out, the account
//! behind a session cookie, and the admin's accounts page (issue 21):
//! create, rename, change role, deactivate and reactivate, password set-up
//! codes, revoking sessions; and a person's own password and "log out
//! everywhere". The HTTP edge keeps the cookie and the rate limits; the
//! password check, the session record, the account rules and who may do
//! what are here. Every change by an admin or an owner is in the audit log.
//!
//! Revoking sessions is raising the account's `session_epoch` (one
//! compare-and-set of the account): a session is live only while its
//! epoch is the account's, so it ends on every node and store at once;
//! the sockets opened with it are closed by an event.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{refuse, Refusal, Service};
use crate::auth;
use crate::core::handoff::{AuditAction, AuditEntry};
use crate::core::ids::AccountId;
use crate::model::{
    Account, AccountChange, Availability, Event, Role, SessionRecord, SetupTicket, Swept, TokenHash,
};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// A password set-up code as shown, once, to the admin: the code and when
/// it stops working. The page it opens is `/setup/#<account id>.<code>`
/// (a fragment: the code never reaches a server log).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SetupCode {
    pub account: AccountId,
    pub code: String,
    pub expires_at_ms: u64,
}

/// What an admin changes about an account (`None`: unchanged).
#[derive(Clone, Debug, Default)]
pub struct AccountEdit {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `false` deactivates, `true` reactivates.
    pub active: Option<bool>,
}

fn not_found() -> Refusal {
    refuse(ErrorCode::NotFound, "no such account")
}

fn setup_failed() -> Refusal {
    refuse(
        ErrorCode::SetupFailed,
        "this set-up link does not work (wrong, used, replaced by a newer one, or expired); ask an admin for a new one",
    )
}

fn weak(e: auth::PasswordError) -> Refusal {
    match e {
        auth::PasswordError::TooShort(_) | auth::PasswordError::Common => {
            refuse(ErrorCode::WeakPassword, e.to_string())
        }
        auth::PasswordError::Hash(_) => refuse(ErrorCode::Internal, "hashing failed"),
    }
}

fn only_admins(by: &Account) -> Result<(), Refusal> {
    if by.role == Role::Admin && !by.deactivated {
        Ok(())
    } else {
        Err(refuse(ErrorCode::Forbidden, "only for the admin role"))
    }
}

impl Service {
    /// Check a username and password from `address` (the client's address
    /// key, if known); on success store a new session and return the
    /// account and the session token (for the cookie; the store keeps
    /// only its hash), or, for an account with a second factor, a
    /// pending login that needs a code (`second_factor`). A wrong username costs as much time as a wrong
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
    ) -> Result<super::second_factor::LoginStep, Refusal> {
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
        // A deactivated account gets the answer (and took the time) of a
        // wrong password: the hash above ran all the same.
        let account = match (ok, account) {
            (true, Some(a)) if !a.deactivated => a,
            _ => {
                tracing::info!("login refused");
                self.login_failure(&keys).await?;
                return Err(failed());
            }
        };
        self.login_success(&keys).await;
        // With a second factor, no session yet: a code is needed first.
        self.after_password(account).await
    }

    /// Store a new session for `account`; its token (for the cookie; the
    /// store keeps only its hash).
    pub(super) async fn start_session(&self, account: &Account) -> Result<String, Refusal> {
        let (token, hash) = auth::new_token();
        let ttl = self.settings.session_ttl_secs;
        let at = self.now_ms();
        // The last login is shown on the accounts page; the epoch read here
        // is the one the session belongs to.
        let account = match self
            .modify_account(
                account.id,
                |a| {
                    if a.deactivated {
                        return Err(refuse(ErrorCode::LoginFailed, "wrong username or password"));
                    }
                    a.last_login_ms = Some(at);
                    Ok(())
                },
                |_, _| Vec::new(),
            )
            .await
        {
            Ok((_, a)) => a,
            Err(e) if e.code == ErrorCode::LoginFailed => {
                return Err(refuse(ErrorCode::LoginFailed, "wrong username or password"))
            }
            Err(e) => return Err(e),
        };
        self.store
            .put_session(
                hash,
                SessionRecord {
                    account: account.id,
                    expires_at_ms: at + ttl * 1000,
                    epoch: account.session_epoch,
                },
            )
            .await?;
        tracing::info!(account = %account.id, "logged in");
        Ok(token)
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
        if record.expires_at_ms <= self.now_ms() {
            let _ = self.store.delete_session(session).await;
            return Ok(None);
        }
        match self.store.account(record.account).await? {
            Some(a) if !a.deactivated && a.session_epoch == record.epoch => Ok(Some(a)),
            // Revoked (an older epoch) or deactivated: gone for good.
            _ => {
                let _ = self.store.delete_session(session).await;
                Ok(None)
            }
        }
    }

    /// May a socket opened with this session stay open? No once the
    /// session is gone, expired or revoked, or its account deactivated;
    /// yes while the store cannot answer (the socket can do nothing the
    /// store would not refuse anyway).
    pub async fn session_alive(&self, session: &TokenHash) -> bool {
        match self.session_account(session).await {
            Ok(a) => a.is_some(),
            Err(e) => e.code == ErrorCode::Unavailable,
        }
    }

    /// Every staff account (the admin's list), by username.
    pub async fn accounts(&self) -> Result<Vec<Account>, Refusal> {
        Ok(self.store.accounts().await?)
    }

    /// Create a staff account. Only an admin may (`by`). With a password
    /// (at least 12 characters, not a common one) the account can log in
    /// at once; without one it gets a set-up code (returned, shown once)
    /// and its owner sets the password through the set-up page.
    pub async fn create_account(
        &self,
        by: &Account,
        username: String,
        display_name: String,
        role: Role,
        password: Option<String>,
    ) -> Result<(Account, Option<SetupCode>), Refusal> {
        only_admins(by)?;
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
        let (password, setup) = match password {
            Some(p) => {
                auth::check_password(&p).map_err(weak)?;
                (p, None)
            }
            // Nobody knows this password: the account logs in only once
            // its owner has set one with the code.
            None => (auth::new_token().0, Some(self.new_setup(self.now_ms()))),
        };
        let password_hash = self.hash_new_password(password).await?;
        let mut account = Account::new(
            AccountId::new_random(),
            username,
            display_name,
            role,
            password_hash,
        );
        account.setup = setup.as_ref().map(|(_, ticket)| *ticket);
        let line = self.account_audit(
            by.id,
            AuditAction::AccountCreated,
            account.id,
            Some(role_name(role)),
        );
        self.store
            .create_account(account.clone(), vec![line])
            .await?;
        tracing::info!(by = %by.id, account = %account.id, role = ?account.role, "account created");
        let code = setup.map(|(code, ticket)| SetupCode {
            account: account.id,
            code,
            expires_at_ms: ticket.expires_at_ms,
        });
        Ok((account, code))
    }

    /// Change an account's display name, role or state (an admin only).
    /// Deactivating or changing the role takes effect at once on every
    /// node: the account's sessions end, its sockets close (1008,
    /// `account_deactivated` or `role_changed`), its active conversations
    /// go back to the front of the queue as at the end of the counsellor
    /// grace period, and its status becomes away. An admin cannot
    /// deactivate themselves or change their own role.
    pub async fn edit_account(
        &self,
        by: &Account,
        id: AccountId,
        edit: AccountEdit,
    ) -> Result<Account, Refusal> {
        only_admins(by)?;
        let display_name = match edit.display_name {
            Some(n) => {
                let n = n.trim().to_owned();
                if !crate::model::valid_display_name(&n) {
                    return Err(refuse(
                        ErrorCode::BadRequest,
                        "display_name: 1-40 characters, no line breaks or other control characters",
                    ));
                }
                Some(n)
            }
            None => None,
        };
        if id == by.id && (edit.role.is_some_and(|r| r != by.role) || edit.active == Some(false)) {
            return Err(refuse(
                ErrorCode::BadRequest,
                "you cannot deactivate your own account or change your own role; ask another admin",
            ));
        }
        let (old, new) = self
            .modify_account(
                id,
                |a| {
                    let (role_before, was_deactivated) = (a.role, a.deactivated);
                    if let Some(n) = &display_name {
                        a.display_name = n.clone();
                    }
                    if let Some(r) = edit.role {
                        a.role = r;
                    }
                    if let Some(active) = edit.active {
                        a.deactivated = !active;
                        if !active {
                            a.setup = None;
                        }
                    }
                    // Sessions end in the same step.
                    if a.role != role_before || (a.deactivated && !was_deactivated) {
                        a.session_epoch = a.session_epoch.wrapping_add(1);
                    }
                    Ok(())
                },
                |old, new| {
                    // Written with the change, in its one step.
                    let mut lines = Vec::new();
                    if old.display_name != new.display_name {
                        lines.push(self.account_audit(
                            by.id,
                            AuditAction::AccountRenamed,
                            id,
                            None,
                        ));
                    }
                    if old.role != new.role {
                        lines.push(self.account_audit(
                            by.id,
                            AuditAction::AccountRoleChanged,
                            id,
                            Some(format!("{}→{}", role_name(old.role), role_name(new.role))),
                        ));
                    }
                    if old.deactivated != new.deactivated {
                        let action = if new.deactivated {
                            AuditAction::AccountDeactivated
                        } else {
                            AuditAction::AccountReactivated
                        };
                        lines.push(self.account_audit(by.id, action, id, None));
                    }
                    lines
                },
            )
            .await?;
        let role_changed = old.role != new.role;
        let deactivated = !old.deactivated && new.deactivated;
        if deactivated || role_changed {
            let change = if deactivated {
                AccountChange::AccountDeactivated
            } else {
                AccountChange::RoleChanged
            };
            tracing::info!(by = %by.id, account = %id, change = change.as_str(), "account access changed");
            self.withdraw_account(id, change, old.role == Role::Supervisor)
                .await?;
        } else {
            tracing::info!(by = %by.id, account = %id, "account changed");
        }
        Ok(self.store.account(id).await?.unwrap_or(new))
    }

    /// The account's sockets close on every node, it stops taking chats
    /// and its conversations go back to the front of the queue.
    /// A supervisor's observing and joining end too.
    async fn withdraw_account(
        &self,
        id: AccountId,
        change: AccountChange,
        was_supervisor: bool,
    ) -> Result<(), Refusal> {
        self.publish(Event::AccountChanged {
            account: id,
            change,
        })
        .await;
        if was_supervisor {
            for (rec, _) in self.store.supervised_by(id).await? {
                // Audited as the end of access by disconnect: their
                // sockets close with the account's change.
                match self
                    .store
                    .supervise(rec.id, id, None, true, self.now_ms())
                    .await
                {
                    Ok((_, previous)) => {
                        self.publish(Event::Supervision {
                            conversation: rec.id,
                            supervisor: id,
                            mode: None,
                            previous,
                        })
                        .await
                    }
                    Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if self.store.counsellor(id).await?.is_some() {
            match self.store.set_status(id, Availability::Away).await {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            self.publish(Event::CounsellorChanged { counsellor: id })
                .await;
        }
        let swept = self.store.requeue_held(id, self.now_ms()).await?;
        for s in &swept {
            if let Swept::Requeued {
                conversation,
                counsellor,
            } = *s
            {
                tracing::info!(%conversation, %counsellor, "account withdrawn; conversation back to the front of the queue");
                self.publish(Event::Requeued {
                    conversation,
                    counsellor,
                    by_transfer: false,
                })
                .await;
            }
        }
        if !swept.is_empty() {
            self.publish(Event::CounsellorChanged { counsellor: id })
                .await;
            self.publish(Event::QueueChanged).await;
            self.wake_matcher();
        }
        Ok(())
    }

    /// A new password set-up code for an account (an admin's reset): the
    /// old password stops working and every session of the account ends
    /// at once; an earlier code is replaced. Refused for a deactivated
    /// account (`conflict`: reactivate it first).
    pub async fn issue_setup(&self, by: &Account, id: AccountId) -> Result<SetupCode, Refusal> {
        only_admins(by)?;
        let (code, ticket) = self.new_setup(self.now_ms());
        let unusable = self.hash_new_password(auth::new_token().0).await?;
        let (_, account) = self
            .modify_account(
                id,
                |a| {
                    if a.deactivated {
                        return Err(refuse(
                            ErrorCode::Conflict,
                            "the account is deactivated; reactivate it first",
                        ));
                    }
                    a.setup = Some(ticket);
                    a.password_hash = unusable.clone();
                    a.session_epoch = a.session_epoch.wrapping_add(1);
                    Ok(())
                },
                |_, _| vec![self.account_audit(by.id, AuditAction::AccountSetupIssued, id, None)],
            )
            .await?;
        self.publish(Event::SessionsRevoked {
            account: id,
            keep: None,
        })
        .await;
        tracing::info!(by = %by.id, account = %account.id, "password set-up code issued");
        Ok(SetupCode {
            account: id,
            code,
            expires_at_ms: ticket.expires_at_ms,
        })
    }

    /// Set a password with a set-up code (the set-up page; no session).
    /// The code works once, until it expires, for an active account; every
    /// failure is the one answer `setup_failed`. The password must pass
    /// the policy (`weak_password`, and the code stays usable).
    pub async fn redeem_setup(
        &self,
        id: &str,
        code: &str,
        password: String,
    ) -> Result<(), Refusal> {
        let id: AccountId = id.parse().map_err(|_| setup_failed())?;
        auth::check_password(&password).map_err(weak)?;
        let hash = self.setup_hash(code);
        let at = self.now_ms();
        let valid = |a: &Account| {
            !a.deactivated
                && a.setup
                    .is_some_and(|t| t.expires_at_ms > at && auth::same_hash(&t.hash, &hash))
        };
        match self.store.account(id).await? {
            Some(a) if valid(&a) => {}
            _ => return Err(setup_failed()),
        }
        let password_hash = self.hash_new_password(password).await?;
        // The code is spent in the same compare-and-set that sets the
        // password: of two uses at once, one wins.
        self.modify_account(
            id,
            |a| {
                if !valid(a) {
                    return Err(setup_failed());
                }
                a.setup = None;
                a.password_hash = password_hash.clone();
                a.session_epoch = a.session_epoch.wrapping_add(1);
                Ok(())
            },
            |_, _| vec![self.account_audit(id, AuditAction::AccountPasswordSet, id, None)],
        )
        .await?;
        tracing::info!(account = %id, "password set with a set-up code");
        Ok(())
    }

    /// Change one's own password (the current one required, checked as at
    /// login, wrong ones counted the same way). Every other session of the
    /// account ends; `keep` (this request's session) stays.
    pub async fn change_password(
        &self,
        me: &Account,
        keep: TokenHash,
        current: String,
        new: String,
        address: Option<IpAddr>,
    ) -> Result<(), Refusal> {
        auth::check_password(&new).map_err(weak)?;
        let keys = self.login_keys(&me.username, address);
        self.login_admitted(&keys).await?;
        let permit = self.hash_permit().await?;
        let phc = me.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || auth::verify_password(&current, &phc))
            .await
            .unwrap_or(false);
        drop(permit);
        if !ok {
            self.login_failure(&keys).await?;
            return Err(refuse(
                ErrorCode::LoginFailed,
                "the current password is wrong",
            ));
        }
        let password_hash = self.hash_new_password(new).await?;
        let expected = me.password_hash.clone();
        let (_, account) = self
            .modify_account(
                me.id,
                |a| {
                    if a.password_hash != expected {
                        return Err(refuse(
                            ErrorCode::Conflict,
                            "the password changed meanwhile; log in again",
                        ));
                    }
                    a.password_hash = password_hash.clone();
                    a.session_epoch = a.session_epoch.wrapping_add(1);
                    Ok(())
                },
                |_, _| {
                    vec![self.account_audit(
                        me.id,
                        AuditAction::AccountPasswordChanged,
                        me.id,
                        None,
                    )]
                },
            )
            .await?;
        self.keep_session(&account, keep).await?;
        tracing::info!(account = %me.id, "password changed; other sessions ended");
        Ok(())
    }

    /// End every session of an account: its owner's "log out everywhere"
    /// (`by` is `id`) or an admin's revocation.
    pub async fn revoke_sessions(&self, by: &Account, id: AccountId) -> Result<(), Refusal> {
        if by.id != id {
            only_admins(by)?;
        }
        self.modify_account(
            id,
            |a| {
                a.session_epoch = a.session_epoch.wrapping_add(1);
                Ok(())
            },
            |_, _| vec![self.account_audit(by.id, AuditAction::AccountSessionsRevoked, id, None)],
        )
        .await?;
        self.publish(Event::SessionsRevoked {
            account: id,
            keep: None,
        })
        .await;
        tracing::info!(by = %by.id, account = %id, "sessions revoked");
        Ok(())
    }

    /// After the epoch was raised: this session moves to the new epoch
    /// (it stays), the others' sockets close.
    async fn keep_session(&self, account: &Account, keep: TokenHash) -> Result<(), Refusal> {
        if let Some(mut record) = self.store.session(&keep).await? {
            record.epoch = account.session_epoch;
            self.store.put_session(keep, record).await?;
        }
        self.publish(Event::SessionsRevoked {
            account: account.id,
            keep: Some(keep),
        })
        .await;
        Ok(())
    }

    /// Read, change and compare-and-set an account, again if another change
    /// came first. `f` may refuse (nothing is written). `audit` gives the
    /// change's audit lines from the account before and after; they are
    /// written in the same atomic step as the change.
    pub(super) async fn modify_account(
        &self,
        id: AccountId,
        f: impl FnMut(&mut Account) -> Result<(), Refusal>,
        audit: impl Fn(&Account, &Account) -> Vec<AuditEntry>,
    ) -> Result<(Account, Account), Refusal> {
        self.write_account(id, AccountWrite::Replace, f, audit)
            .await
            .map(|(old, new, _)| (old, new))
    }

    /// `modify_account`, with the way the change is written: a plain
    /// compare-and-set, or with the second factor forgotten in the same
    /// step (whether there was one is the third value).
    pub(super) async fn write_account(
        &self,
        id: AccountId,
        how: AccountWrite,
        mut f: impl FnMut(&mut Account) -> Result<(), Refusal>,
        audit: impl Fn(&Account, &Account) -> Vec<AuditEntry>,
    ) -> Result<(Account, Account, bool), Refusal> {
        for _ in 0..8 {
            let Some(old) = self.store.account(id).await? else {
                return Err(not_found());
            };
            let mut new = old.clone();
            f(&mut new)?;
            let lines = audit(&old, &new);
            if new == old && lines.is_empty() && how == AccountWrite::Replace {
                return Ok((old, new, false));
            }
            let written = match how {
                AccountWrite::Replace => self
                    .store
                    .replace_account(&old, new.clone(), lines)
                    .await
                    .map(|()| false),
                AccountWrite::ResetSecondFactor => {
                    self.store
                        .reset_second_factor(&old, new.clone(), lines)
                        .await
                }
            };
            match written {
                Ok(had) => return Ok((old, new, had)),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(refuse(
            ErrorCode::Conflict,
            "changed at the same moment by someone else; read it again and retry",
        ))
    }

    async fn hash_new_password(&self, password: String) -> Result<String, Refusal> {
        let permit = self.hash_permit().await?;
        let hashed = tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|_| refuse(ErrorCode::Internal, "hashing failed"))?
            .map_err(weak);
        drop(permit);
        hashed
    }

    /// A new code (43 characters) and its ticket (keyed hash, expiry).
    fn new_setup(&self, now: u64) -> (String, SetupTicket) {
        let (code, _) = auth::new_token();
        let ticket = SetupTicket {
            hash: self.setup_hash(&code),
            expires_at_ms: now + self.settings.timing.account_setup_secs * 1000,
        };
        (code, ticket)
    }

    /// The code's hash: HMAC-SHA256 keyed with `handoff.pin_key` (a copy
    /// of the database alone reveals no code).
    fn setup_hash(&self, code: &str) -> TokenHash {
        let key: &[u8] = match &self.settings.handoff.pin_key {
            Some(k) => k.expose().as_bytes(),
            None => &super::bookings::PROCESS_PIN_KEY[..],
        };
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
            unreachable!("HMAC accepts every key length")
        };
        mac.update(b"tsunagu account set-up code v1\0");
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// An audit line about an account, now.
    pub(super) fn account_audit(
        &self,
        by: AccountId,
        action: AuditAction,
        target: AccountId,
        detail: Option<String>,
    ) -> AuditEntry {
        AuditEntry::about_account(self.now_ms(), by, action, target, detail)
    }
}

/// How `write_account` writes an account's change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AccountWrite {
    /// Compare-and-set of the account (with its audit lines).
    Replace,
    /// The same, and the account's second factor forgotten in the step.
    ResetSecondFactor,
}

fn role_name(r: Role) -> String {
    match r {
        Role::Counsellor => "counsellor",
        Role::Supervisor => "supervisor",
        Role::Intake => "intake",
        Role::Admin => "admin",
    }
    .to_owned()
}
