//! Second factors, under the state's one lock (so "is this step after the
//! last used one" and recording it are one step), journaled as one row
//! per account.

use super::*;

#[async_trait]
impl SecondFactorStore for MemoryStore {
    async fn second_factor(&self, account: AccountId) -> StoreResult<Option<SecondFactor>> {
        Ok(self.state()?.second_factors.get(&account).cloned())
    }

    async fn begin_second_factor(&self, record: SecondFactor) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.second_factors
                .get(&record.account)
                .is_some_and(SecondFactor::enrolled)
            {
                return Err(StoreError::Conflict);
            }
            s.second_factors.insert(record.account, record.clone());
            self.record(vec![Change::SecondFactor(record)])
        };
        settle(commit).await
    }

    async fn confirm_second_factor(
        &self,
        account: AccountId,
        sealed_secret: &str,
        step: u64,
        recovery_code_hashes: Vec<TokenHash>,
        now_ms: u64,
    ) -> StoreResult<SecondFactor> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let rec = match s.second_factors.get_mut(&account) {
                Some(r) if !r.enrolled() && r.sealed_secret == sealed_secret => r,
                _ => return Err(StoreError::NotFound),
            };
            rec.enrolled_at_ms = Some(now_ms);
            rec.last_used_step = Some(step);
            rec.recovery_code_hashes = recovery_code_hashes;
            let rec = rec.clone();
            (self.record(vec![Change::SecondFactor(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn use_second_factor_step(&self, account: AccountId, step: u64) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let rec = match s.second_factors.get_mut(&account) {
                Some(r) if r.enrolled() => r,
                _ => return Err(StoreError::NotFound),
            };
            if rec.last_used_step.is_some_and(|l| step <= l) {
                return Err(StoreError::Conflict);
            }
            rec.last_used_step = Some(step);
            let rec = rec.clone();
            self.record(vec![Change::SecondFactor(rec)])
        };
        settle(commit).await
    }

    async fn use_recovery_code(
        &self,
        account: AccountId,
        code_hash: &TokenHash,
    ) -> StoreResult<usize> {
        let (commit, left) = {
            let mut s = self.state()?;
            let rec = match s.second_factors.get_mut(&account) {
                Some(r) if r.enrolled() => r,
                _ => return Err(StoreError::NotFound),
            };
            let Some(i) = rec
                .recovery_code_hashes
                .iter()
                .position(|h| crate::auth::same_hash(h, code_hash))
            else {
                return Err(StoreError::NotFound);
            };
            rec.recovery_code_hashes.remove(i);
            let rec = rec.clone();
            let left = rec.recovery_code_hashes.len();
            (self.record(vec![Change::SecondFactor(rec)]), left)
        };
        settle(commit).await?;
        Ok(left)
    }

    async fn delete_second_factor(&self, account: AccountId) -> StoreResult<bool> {
        let (commit, had) = {
            let mut s = self.state()?;
            match s.second_factors.remove(&account) {
                Some(_) => (
                    self.record(vec![Change::SecondFactorDeleted(account)]),
                    true,
                ),
                None => (self.record(Vec::new()), false),
            }
        };
        settle(commit).await?;
        Ok(had)
    }

    async fn reset_second_factor(
        &self,
        old: &Account,
        new: Account,
        audit: Vec<AuditEntry>,
    ) -> StoreResult<bool> {
        let (commit, had) = {
            let mut s = self.state()?;
            super::accounts::swap_account(&mut s, old, &new)?;
            let had = s.second_factors.remove(&old.id).is_some();
            let mut changes = vec![Change::Account(new)];
            if had {
                changes.push(Change::SecondFactorDeleted(old.id));
            }
            changes.extend(super::accounts::audited(&mut s, audit));
            (self.record(changes), had)
        };
        settle(commit).await?;
        Ok(had)
    }
}
