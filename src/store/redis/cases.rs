//! Anonymous cases (issue 22). A case is one JSON string (`case:<id>`)
//! with two indexes (`case_code:<code hash>`, `case_of:<conversation>`),
//! all tagged `{prefix}`. Rust computes the next version with the
//! model's rules (`CaseRecord::with_code`, `joined`, shared with the
//! memory store) and `put_case.lua` writes it with its indexes only if
//! the case is still the version read (else read again), so each step is
//! one script. Written on the durable connection, like consents.

use super::*;
use crate::core::case_retention::KeepLongerConsent;

/// Attempts of a compare-and-set before giving up as `Conflict`.
const CASE_ATTEMPTS: usize = 8;

impl RedisStore {
    /// A case and its JSON as stored (the compare-and-set's expectation).
    pub(super) async fn read_case(&self, id: CaseId) -> StoreResult<Option<(String, CaseRecord)>> {
        let raw: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.case(id)))
            .await?;
        match raw {
            None => Ok(None),
            Some(s) => {
                let c = serde_json::from_str(&s).map_err(|_| codec::corrupt("case"))?;
                Ok(Some((s, c)))
            }
        }
    }

    /// Write `next` if the case is still `read` (`None`: must be new).
    async fn put_case(
        &self,
        read: Option<&(String, CaseRecord)>,
        next: &CaseRecord,
    ) -> StoreResult<()> {
        let new_code = self.keys.case_code(&hex(&next.code_hash));
        let old_code = match read {
            Some((_, old)) if old.code_hash != next.code_hash => {
                self.keys.case_code(&hex(&old.code_hash))
            }
            _ => new_code.clone(),
        };
        let mut keys = vec![self.keys.case(next.id), new_code, old_code];
        keys.extend(next.conversations.iter().map(|c| self.keys.case_of(*c)));
        let json = serde_json::to_string(next).map_err(|_| codec::corrupt("case"))?;
        let expected = read.map(|(s, _)| s.as_str()).unwrap_or("");
        self.run_durable(&SCRIPTS.put_case, &keys, &args![expected, json, next.id])
            .await?;
        Ok(())
    }

    pub(super) async fn case_id_at(&self, key: String) -> StoreResult<Option<CaseId>> {
        let id: Option<String> = self.query(::redis::cmd("GET").arg(key)).await?;
        id.map(|s| uuid_of(&s).map(CaseId)).transpose()
    }
}

#[async_trait]
impl CaseStore for RedisStore {
    async fn take_return_code(
        &self,
        conversation: ConversationId,
        new_case: CaseId,
        code_hash: TokenHash,
        counsellor: Option<AccountId>,
        now_ms: u64,
    ) -> StoreResult<CaseRecord> {
        if ConversationStore::conversation(self, conversation)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        for _ in 0..CASE_ATTEMPTS {
            let read = match self.case_id_at(self.keys.case_of(conversation)).await? {
                Some(id) => self.read_case(id).await?,
                None => None,
            };
            let next = match &read {
                Some((_, c)) => c.with_code(code_hash, counsellor, now_ms),
                None => CaseRecord::new(new_case, conversation, code_hash, counsellor, now_ms),
            };
            match self.put_case(read.as_ref(), &next).await {
                Ok(()) => return Ok(next),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn case_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<CaseRecord>> {
        let Some(id) = self
            .case_id_at(self.keys.case_code(&hex(code_hash)))
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .read_case(id)
            .await?
            .map(|(_, c)| c)
            .filter(|c| &c.code_hash == code_hash))
    }

    async fn case_of(&self, conversation: ConversationId) -> StoreResult<Option<CaseRecord>> {
        let Some(id) = self.case_id_at(self.keys.case_of(conversation)).await? else {
            return Ok(None);
        };
        Ok(self.read_case(id).await?.map(|(_, c)| c))
    }

    async fn join_case(
        &self,
        case: CaseId,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<CaseRecord> {
        for _ in 0..CASE_ATTEMPTS {
            let read = self.read_case(case).await?.ok_or(StoreError::NotFound)?;
            let next = read.1.joined(conversation, now_ms);
            match self.put_case(Some(&read), &next).await {
                Ok(()) => return Ok(next),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn set_keep_longer(
        &self,
        case: CaseId,
        expected: &[KeepLongerConsent],
        next: Vec<KeepLongerConsent>,
    ) -> StoreResult<CaseRecord> {
        for _ in 0..CASE_ATTEMPTS {
            let read = self.read_case(case).await?.ok_or(StoreError::NotFound)?;
            if read.1.keep_longer != expected {
                return Err(StoreError::Conflict);
            }
            let mut after = read.1.clone();
            after.keep_longer = next.clone();
            match self.put_case(Some(&read), &after).await {
                Ok(()) => return Ok(after),
                // Another step changed the case (a join): read again; the
                // consents are compared once more.
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn delete_case(&self, case: CaseId) -> StoreResult<()> {
        for _ in 0..CASE_ATTEMPTS {
            let (json, rec) = self.read_case(case).await?.ok_or(StoreError::NotFound)?;
            let mut keys = vec![
                self.keys.case(case),
                self.keys.case_code(&hex(&rec.code_hash)),
            ];
            keys.extend(rec.conversations.iter().map(|c| self.keys.case_of(*c)));
            match self
                .run_durable(&SCRIPTS.delete_case, &keys, &args![json])
                .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }
}
