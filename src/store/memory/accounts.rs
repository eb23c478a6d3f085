//! Accounts and sessions.

use super::*;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_account(&self, account: Account, audit: Vec<AuditEntry>) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.usernames.contains_key(&account.username) {
                return Err(StoreError::UsernameTaken);
            }
            s.usernames.insert(account.username.clone(), account.id);
            s.accounts.insert(account.id, account.clone());
            // One commit with its audit lines (the embedded store's one
            // transaction).
            let mut changes = vec![Change::Account(account)];
            changes.extend(audited(&mut s, audit));
            self.record(changes)
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

    async fn replace_account(
        &self,
        old: &Account,
        new: Account,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            swap_account(&mut s, old, &new)?;
            let mut changes = vec![Change::Account(new)];
            changes.extend(audited(&mut s, audit));
            self.record(changes)
        };
        settle(commit).await
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

/// Compare-and-set of an account under the state lock: `NotFound` if
/// there is none, `Conflict` if it is not `old` any more or `new` changes
/// its id or username (nothing changed then).
pub(super) fn swap_account(s: &mut State, old: &Account, new: &Account) -> StoreResult<()> {
    let Some(current) = s.accounts.get_mut(&old.id) else {
        return Err(StoreError::NotFound);
    };
    if current != old || new.id != old.id || new.username != old.username {
        return Err(StoreError::Conflict);
    }
    *current = new.clone();
    Ok(())
}

/// Append audit lines under the state lock; their changes, for the same
/// commit as the step they record.
pub(super) fn audited(s: &mut State, audit: Vec<AuditEntry>) -> Vec<Change> {
    audit
        .into_iter()
        .map(|e| {
            s.audit.push(e.clone());
            Change::Audit(e)
        })
        .collect()
}
