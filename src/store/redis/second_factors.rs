//! Second factors: one hash per account (`second_factor:<account id>`,
//! tag `{prefix}`): `secret` (sealed), `created`, `enrolled`, `step` (the
//! last used time step) and a field `rc:<hash hex>` per unused recovery
//! code, so that using a step or a code is one script.

use super::*;

/// The record from the hash's fields; `None` for an empty hash.
fn decode(account: AccountId, h: &HashMap<String, String>) -> StoreResult<Option<SecondFactor>> {
    let Some(secret) = h.get("secret") else {
        return Ok(None);
    };
    let num = |f: &str| -> StoreResult<Option<u64>> {
        h.get(f)
            .map(|v| v.parse().map_err(|_| codec::corrupt("second factor")))
            .transpose()
    };
    let mut recovery_code_hashes = h
        .keys()
        .filter_map(|k| k.strip_prefix("rc:"))
        .map(|x| codec::unhex32(x).ok_or_else(|| codec::corrupt("recovery code hash")))
        .collect::<StoreResult<Vec<_>>>()?;
    recovery_code_hashes.sort();
    Ok(Some(SecondFactor {
        account,
        sealed_secret: secret.clone(),
        created_at_ms: num("created")?.unwrap_or(0),
        enrolled_at_ms: num("enrolled")?,
        last_used_step: num("step")?,
        recovery_code_hashes,
    }))
}

#[async_trait]
impl SecondFactorStore for RedisStore {
    async fn second_factor(&self, account: AccountId) -> StoreResult<Option<SecondFactor>> {
        let h: HashMap<String, String> = self
            .query(::redis::cmd("HGETALL").arg(self.keys.second_factor(account)))
            .await?;
        decode(account, &h)
    }

    async fn begin_second_factor(&self, record: SecondFactor) -> StoreResult<()> {
        self.run_audited(
            &SCRIPTS.begin_second_factor,
            &[self.keys.second_factor(record.account)],
            &args![record.sealed_secret, record.created_at_ms],
        )
        .await?;
        Ok(())
    }

    async fn confirm_second_factor(
        &self,
        account: AccountId,
        sealed_secret: &str,
        step: u64,
        recovery_code_hashes: Vec<TokenHash>,
        now_ms: u64,
    ) -> StoreResult<SecondFactor> {
        let mut argv = vec![
            sealed_secret.to_owned(),
            step.to_string(),
            now_ms.to_string(),
        ];
        argv.extend(recovery_code_hashes.iter().map(|h| hex(h)));
        match self
            .run_audited(
                &SCRIPTS.confirm_second_factor,
                &[self.keys.second_factor(account)],
                &argv,
            )
            .await?
        {
            Reply::Ok(v) => decode(
                account,
                &codec::hash(v.first().ok_or_else(|| codec::corrupt("script reply"))?)?,
            )?
            .ok_or_else(|| codec::corrupt("second factor")),
            _ => Err(codec::corrupt("script reply")),
        }
    }

    async fn use_second_factor_step(&self, account: AccountId, step: u64) -> StoreResult<()> {
        // Waits like the other account writes: a used step lost in a
        // failover would let its code be replayed.
        self.run_audited(
            &SCRIPTS.use_second_factor_step,
            &[self.keys.second_factor(account)],
            &args![step],
        )
        .await?;
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        account: AccountId,
        code_hash: &TokenHash,
    ) -> StoreResult<usize> {
        match self
            .run_audited(
                &SCRIPTS.use_recovery_code,
                &[self.keys.second_factor(account)],
                &args![hex(code_hash)],
            )
            .await?
        {
            Reply::Ok(v) => Ok(codec::int(v.first())? as usize),
            _ => Err(codec::corrupt("script reply")),
        }
    }

    async fn delete_second_factor(&self, account: AccountId) -> StoreResult<bool> {
        let mut conn = self.durable_conn();
        let n: i64 = {
            let _admitted = self.gate.admit().await?;
            ::redis::cmd("DEL")
                .arg(self.keys.second_factor(account))
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?
        };
        self.wait_durable(&mut conn).await?;
        Ok(n > 0)
    }

    async fn reset_second_factor(
        &self,
        old: &Account,
        new: Account,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<bool> {
        let (id, raw) = self.account_as_read(old, &new).await?;
        let json = serde_json::to_string(&new).map_err(|_| codec::corrupt("account"))?;
        let mut argv = args![id, raw, json].to_vec();
        argv.extend(super::accounts::audit_lines(&audit)?);
        let keys = [
            self.keys.accounts(),
            self.keys.second_factor(old.id),
            self.keys.audit(),
        ];
        match self
            .run_audited(&SCRIPTS.reset_second_factor, &keys, &argv)
            .await?
        {
            Reply::Ok(v) => Ok(codec::int(v.first())? > 0),
            _ => Err(codec::corrupt("script reply")),
        }
    }
}
