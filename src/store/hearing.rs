//! Hearing sheets (issue 23): the counsellor's answers to the deployment's
//! sheet, kept in the conversation's record.

use super::*;

/// The sheet lives in the conversation's record
/// (`ConversationRecord::hearing`): the purge removes it with the record,
/// "erase my chat" removes its free-text answers with the counsellor's
/// notes, and the record's facts count its statistics fields. Durability:
/// as the conversation's outcome (journaled on the embedded store; one
/// script on Redis).
#[async_trait]
pub trait HearingStore: Send + Sync {
    /// Save `sheet` as the conversation's hearing sheet (replacing any
    /// earlier save), in one step that checks `counsellor` holds or held
    /// it. `NotFound` if unknown; `NotYours` unless its counsellor is
    /// `counsellor` (a queued conversation has none); `Conflict` if the
    /// visitor erased it. The record after.
    async fn save_hearing(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        sheet: HearingSheet,
    ) -> StoreResult<ConversationRecord>;
}
