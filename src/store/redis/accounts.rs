//! Accounts and sessions.

use super::*;

/// Sessions are kept this long past their expiry (the HTTP layer refuses
/// them once expired; then Redis forgets them).
const SESSION_AFTERLIFE_MS: u64 = 60_000;

#[async_trait]
impl AccountStore for RedisStore {
    async fn create_account(&self, account: Account) -> StoreResult<()> {
        let json = serde_json::to_string(&account).map_err(|_| codec::corrupt("account"))?;
        let keys = [self.keys.usernames(), self.keys.accounts()];
        let id = account.id.to_string();
        match reply(
            self.run(
                &SCRIPTS.create_account,
                &keys,
                &args![account.username, id, json],
            )
            .await?,
        )? {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("script reply")),
        }
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

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()> {
        let _: i64 = self
            .query(::redis::cmd("DEL").arg(self.keys.session(&hex(token))))
            .await?;
        Ok(())
    }
}
