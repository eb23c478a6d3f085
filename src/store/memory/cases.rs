//! Anonymous cases (issue 22), under the state's one lock; every change
//! is journaled (`Change::Case`).

use super::*;
use crate::core::case_retention::{self, CaseRetention, KeepLongerConsent};

impl State {
    /// Put `case` in, replacing its earlier version and its indexes (the
    /// earlier code hash stops finding it).
    pub(super) fn put_case(&mut self, case: CaseRecord) {
        if let Some(old) = self.cases.get(&case.id) {
            if old.code_hash != case.code_hash {
                self.case_codes.remove(&old.code_hash);
            }
        }
        self.case_codes.insert(case.code_hash, case.id);
        for c in &case.conversations {
            self.case_of.insert(*c, case.id);
        }
        self.cases.insert(case.id, case);
    }
}

impl State {
    /// When ended conversation `id` may be purged, its case's keep-longer
    /// consent counted (`core::case_retention::purge_at`).
    pub(super) fn purge_at(&self, id: ConversationId, ended_at_ms: u64, r: &Retention) -> u64 {
        let case = self
            .case_of
            .get(&id)
            .and_then(|c| self.cases.get(c))
            .map_or(CaseRetention::Normal, |c| c.retention());
        case_retention::purge_at(ended_at_ms, r.conversation_ms, case)
    }

    /// Take purged conversation `id` out of its case (see `Store::purge`):
    /// the case without it (and without those no longer stored), or the
    /// case gone with its indexes when none is left.
    pub(super) fn purge_from_case(&mut self, id: ConversationId) -> Option<Change> {
        let case_id = self.case_of.remove(&id)?;
        let case = self.cases.get(&case_id)?.clone();
        match case.after_purge(id, |c| self.conversations.contains_key(&c)) {
            Some(next) => {
                for gone in case
                    .conversations
                    .iter()
                    .filter(|c| !next.conversations.contains(c))
                {
                    self.case_of.remove(gone);
                }
                self.put_case(next.clone());
                Some(Change::Case(next))
            }
            None => {
                self.cases.remove(&case_id);
                self.case_codes.remove(&case.code_hash);
                for c in &case.conversations {
                    self.case_of.remove(c);
                }
                Some(Change::CaseDeleted(case_id))
            }
        }
    }
}

#[async_trait]
impl CaseStore for MemoryStore {
    async fn take_return_code(
        &self,
        conversation: ConversationId,
        new_case: CaseId,
        code_hash: TokenHash,
        counsellor: Option<AccountId>,
        now_ms: u64,
    ) -> StoreResult<CaseRecord> {
        let (commit, case) = {
            let mut s = self.state()?;
            s.conv(conversation)?;
            let case = match s.case_of.get(&conversation).and_then(|id| s.cases.get(id)) {
                Some(c) => c.with_code(code_hash, counsellor, now_ms),
                None => CaseRecord::new(new_case, conversation, code_hash, counsellor, now_ms),
            };
            s.put_case(case.clone());
            (self.record(vec![Change::Case(case.clone())]), case)
        };
        settle(commit).await?;
        Ok(case)
    }

    async fn case_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<CaseRecord>> {
        let s = self.state()?;
        Ok(s.case_codes
            .get(code_hash)
            .and_then(|id| s.cases.get(id))
            .cloned())
    }

    async fn case_of(&self, conversation: ConversationId) -> StoreResult<Option<CaseRecord>> {
        let s = self.state()?;
        Ok(s.case_of
            .get(&conversation)
            .and_then(|id| s.cases.get(id))
            .cloned())
    }

    async fn join_case(
        &self,
        case: CaseId,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<CaseRecord> {
        let (commit, case) = {
            let mut s = self.state()?;
            let next = s
                .cases
                .get(&case)
                .ok_or(StoreError::NotFound)?
                .joined(conversation, now_ms);
            s.put_case(next.clone());
            (self.record(vec![Change::Case(next.clone())]), next)
        };
        settle(commit).await?;
        Ok(case)
    }

    async fn set_keep_longer(
        &self,
        case: CaseId,
        expected: &[KeepLongerConsent],
        next: Vec<KeepLongerConsent>,
    ) -> StoreResult<CaseRecord> {
        let (commit, case) = {
            let mut s = self.state()?;
            let cur = s.cases.get(&case).ok_or(StoreError::NotFound)?;
            if cur.keep_longer != expected {
                return Err(StoreError::Conflict);
            }
            let mut after = cur.clone();
            after.keep_longer = next;
            s.put_case(after.clone());
            (self.record(vec![Change::Case(after.clone())]), after)
        };
        settle(commit).await?;
        Ok(case)
    }

    async fn delete_case(&self, case: CaseId) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let old = s.cases.remove(&case).ok_or(StoreError::NotFound)?;
            s.case_codes.remove(&old.code_hash);
            for c in &old.conversations {
                s.case_of.remove(c);
            }
            self.record(vec![Change::CaseDeleted(case)])
        };
        settle(commit).await
    }
}
