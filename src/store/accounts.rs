//! Staff accounts and their login sessions.

use super::*;

/// Accounts (unique usernames) and sessions (by token hash).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Refused with `UsernameTaken` if the username exists.
    async fn create_account(&self, account: Account) -> StoreResult<()>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>>;
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()>;
    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()>;
}
