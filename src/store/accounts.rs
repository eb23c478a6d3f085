//! Staff accounts and their login sessions.

use super::*;

/// Accounts (unique usernames) and sessions (by token hash).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Refused with `UsernameTaken` if the username exists. `audit` (the
    /// change's audit lines, oldest first; empty for the bootstrap from
    /// the TOML file) is appended in the same atomic step: a crash never
    /// keeps the account without its audit line, or the line without the
    /// account.
    async fn create_account(&self, account: Account, audit: Vec<AuditEntry>) -> StoreResult<()>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>>;
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Replace an account by a changed copy, atomically, if it is still
    /// exactly `old` (compare-and-set): `NotFound` if there is none,
    /// `Conflict` if it changed since it was read (read it again and
    /// retry). The username never changes (`new.username` must equal
    /// `old.username`, else `Conflict`). `audit` is appended in the same
    /// step (as `create_account`); a refused step appends nothing.
    async fn replace_account(
        &self,
        old: &Account,
        new: Account,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<()>;
    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()>;
    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()>;
}
