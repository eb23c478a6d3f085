//! Hearing sheets (issue 23): `save_hearing.lua` writes the sheet into the
//! conversation's meta hash, its free text in a field of its own (`hst`,
//! deleted by `erase.lua` with the notes) and the rest in `hs`.

use super::*;

#[async_trait]
impl HearingStore for RedisStore {
    async fn save_hearing(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        sheet: HearingSheet,
    ) -> StoreResult<ConversationRecord> {
        let (rest, texts) = codec::hearing_fields(sheet);
        self.run_record(
            &SCRIPTS.save_hearing,
            &[self.keys.meta(conversation)],
            &args![counsellor.to_string(), rest, texts],
        )
        .await
    }
}
