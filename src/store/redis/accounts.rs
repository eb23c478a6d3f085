//! Accounts and sessions.

use super::*;

/// Sessions are kept this long past their expiry (the HTTP layer refuses
/// them once expired; then Redis forgets them).
const SESSION_AFTERLIFE_MS: u64 = 60_000;

#[async_trait]
impl AccountStore for RedisStore {
    async fn create_account(&self, account: Account, audit: Vec<AuditEntry>) -> StoreResult<()> {
        let json = serde_json::to_string(&account).map_err(|_| codec::corrupt("account"))?;
        let keys = [
            self.keys.usernames(),
            self.keys.accounts(),
            self.keys.audit(),
        ];
        let mut argv = args![account.username, account.id, json].to_vec();
        argv.extend(audit_lines(&audit)?);
        // With its audit lines in one script; on the durable connection,
        // and on disk and on the replicas the settings ask for before
        // `Ok` (see `RedisStore::wait_durable`).
        self.run_audited(&SCRIPTS.create_account, &keys, &argv)
            .await
            .map(drop)
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.accounts())
                    .arg(id.to_string()),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("account")))
            .transpose()
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        let id: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.usernames())
                    .arg(username),
            )
            .await?;
        match id {
            Some(id) => self.account(AccountId(uuid_of(&id)?)).await,
            None => Ok(None),
        }
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let all: Vec<String> = self
            .query(::redis::cmd("HVALS").arg(self.keys.accounts()))
            .await?;
        let mut v = all
            .iter()
            .map(|j| serde_json::from_str::<Account>(j).map_err(|_| codec::corrupt("account")))
            .collect::<StoreResult<Vec<_>>>()?;
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn replace_account(
        &self,
        old: &Account,
        new: Account,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<()> {
        let (id, raw) = self.account_as_read(old, &new).await?;
        let json = serde_json::to_string(&new).map_err(|_| codec::corrupt("account"))?;
        let mut argv = args![id, raw, json].to_vec();
        argv.extend(audit_lines(&audit)?);
        // A revocation (a raised session epoch), a new password, a role:
        // with its audit lines in one script, confirmed only once on disk
        // and on the replicas the settings ask for.
        match self
            .run_audited(
                &SCRIPTS.replace_account,
                &[self.keys.accounts(), self.keys.audit()],
                &argv,
            )
            .await?
        {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("script reply")),
        }
    }

    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()> {
        let json = serde_json::to_string(&session).map_err(|_| codec::corrupt("session"))?;
        let ttl_ms = (session.expires_at_ms + SESSION_AFTERLIFE_MS)
            .saturating_sub(crate::clock::now_ms())
            .max(1_000);
        let _: () = self
            .query(
                ::redis::cmd("SET")
                    .arg(self.keys.session(&hex(&token)))
                    .arg(json)
                    .arg("PX")
                    .arg(ttl_ms),
            )
            .await?;
        Ok(())
    }

    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        let json: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.session(&hex(token))))
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("session")))
            .transpose()
    }

    /// A revocation (logout, a removed account's sessions): on the
    /// replicas the settings ask for before `Ok`, so a failover cannot
    /// bring the session back.
    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()> {
        let mut conn = self.durable_conn();
        let _: i64 = ::redis::cmd("DEL")
            .arg(self.keys.session(&hex(token)))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        self.wait_durable(&mut conn).await
    }
}

/// Audit entries as the scripts append them (JSON each, oldest first).
pub(super) fn audit_lines(audit: &[AuditEntry]) -> StoreResult<Vec<String>> {
    audit
        .iter()
        .map(|e| serde_json::to_string(e).map_err(|_| codec::corrupt("audit")))
        .collect()
}

impl RedisStore {
    /// For a compare-and-set of `old` to `new`: the id and the stored
    /// JSON the script compares against. Compared decoded here (a record
    /// written by an older version has fewer fields), then swapped by the
    /// script only if the stored text is unchanged. `Conflict` if `new`
    /// changes the id or username or the account is no longer `old`.
    pub(super) async fn account_as_read(
        &self,
        old: &Account,
        new: &Account,
    ) -> StoreResult<(String, String)> {
        if new.id != old.id || new.username != old.username {
            return Err(StoreError::Conflict);
        }
        let id = old.id.to_string();
        let raw: Option<String> = self
            .query(::redis::cmd("HGET").arg(self.keys.accounts()).arg(&id))
            .await?;
        let Some(raw) = raw else {
            return Err(StoreError::NotFound);
        };
        let current: Account = serde_json::from_str(&raw).map_err(|_| codec::corrupt("account"))?;
        if &current != old {
            return Err(StoreError::Conflict);
        }
        Ok((id, raw))
    }
}
