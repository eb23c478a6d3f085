//! Accounts and sessions.

use super::*;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_account(&self, account: Account) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.usernames.contains_key(&account.username) {
                return Err(StoreError::UsernameTaken);
            }
            s.usernames.insert(account.username.clone(), account.id);
            s.accounts.insert(account.id, account.clone());
            self.record(vec![Change::Account(account)])
        };
        settle(commit).await
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.state()?.accounts.get(&id).cloned())
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        let s = self.state()?;
        Ok(s.usernames
            .get(username)
            .and_then(|id| s.accounts.get(id))
            .cloned())
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let mut v: Vec<_> = self.state()?.accounts.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            s.sessions.insert(token, session);
            self.record(vec![Change::Session { token, session }])
        };
        settle(commit).await
    }

    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        Ok(self.state()?.sessions.get(token).copied())
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            match s.sessions.remove(token) {
                Some(_) => self.record(vec![Change::SessionDeleted(*token)]),
                // Not (or no longer) there: still wait until an earlier
                // deletion of it, if any, is committed.
                None => self.record(Vec::new()),
            }
        };
        settle(commit).await
    }
}
