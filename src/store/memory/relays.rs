//! Relay sheets (issue 23), in the conversation's record; a relay link is
//! found by scanning the records (they are all in memory).

use super::*;

#[async_trait]
impl RelayStore for MemoryStore {
    async fn save_relays(
        &self,
        conversation: ConversationId,
        expected: &[Relay],
        relays: Vec<Relay>,
        _link: Option<RelayLink>,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            if conv.rec.relays != expected || conv.rec.erased_at_ms.is_some() {
                return Err(StoreError::Conflict);
            }
            conv.rec.relays = relays;
            let rec = conv.rec.clone();
            (self.record(vec![Change::Conversation(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn relay_link(&self, hash: &[u8; 32]) -> StoreResult<Option<ConversationId>> {
        let s = self.state()?;
        Ok(s.conversations.values().find_map(|c| {
            c.rec
                .relays
                .iter()
                .flat_map(|r| &r.parts)
                .filter_map(|p| p.link)
                .any(|l| &l.hash == hash)
                .then_some(c.rec.id)
        }))
    }
}
