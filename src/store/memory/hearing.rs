//! Hearing sheets (issue 23), in the conversation's record.

use super::*;

#[async_trait]
impl HearingStore for MemoryStore {
    async fn save_hearing(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        sheet: HearingSheet,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            if conv.rec.counsellor != Some(counsellor) {
                return Err(StoreError::NotYours);
            }
            if conv.rec.erased_at_ms.is_some() {
                return Err(StoreError::Conflict);
            }
            conv.rec.hearing = Some(Box::new(sheet));
            let rec = conv.rec.clone();
            (self.record(vec![Change::Conversation(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }
}
