//! Anonymous cases (issue 22): the conversations one return code links.

use super::*;
use crate::core::case_retention::KeepLongerConsent;

/// Cases, found by their return code's keyed hash or by one of their
/// conversations.
///
/// Each method is one atomic step. A conversation belongs to at most one
/// case, a code hash names at most one case, and a case has one code in
/// force: taking a new code replaces the earlier one, which stops
/// working in the same step.
///
/// Lifetime: a case lives while at least one of its conversations is
/// stored; the purge (`RetentionStore::purge`) takes a purged conversation
/// out of its case and, with the last one, removes the case with its
/// code's index in the same step (`core::case_retention`).
///
/// Durability: a case is a record the product confirms (the visitor is
/// shown its code), so it is journaled on the embedded store (`cases`
/// table) and written by one script on Redis.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Take a return code in `conversation`: if it belongs to a case, that
    /// case's code becomes `code_hash` (the earlier code stops working);
    /// otherwise a new case `new_case` holds it. `counsellor` (the
    /// conversation's, if any) becomes the case's last counsellor. The case
    /// after. `NotFound` if there is no such conversation.
    async fn take_return_code(
        &self,
        conversation: ConversationId,
        new_case: CaseId,
        code_hash: TokenHash,
        counsellor: Option<AccountId>,
        now_ms: u64,
    ) -> StoreResult<CaseRecord>;

    /// The case whose code in force has this hash.
    async fn case_by_code(&self, code_hash: &TokenHash) -> StoreResult<Option<CaseRecord>>;

    /// The case `conversation` belongs to.
    async fn case_of(&self, conversation: ConversationId) -> StoreResult<Option<CaseRecord>>;

    /// Add `conversation` (a returning visitor's new one) to `case`, as
    /// its last contact. The case after; `NotFound` if it is gone.
    async fn join_case(
        &self,
        case: CaseId,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<CaseRecord>;

    /// Replace `case`'s keep-longer consents with `next` if they are still
    /// `expected` (compare-and-set; the service computes `next` with
    /// `core::case_retention`). The case after; `Conflict` if they changed
    /// (read again), `NotFound` if the case is gone.
    async fn set_keep_longer(
        &self,
        case: CaseId,
        expected: &[KeepLongerConsent],
        next: Vec<KeepLongerConsent>,
    ) -> StoreResult<CaseRecord>;

    /// Forget `case`: its record, its code (which stops working) and
    /// which conversations belonged to it, as one step. The caller erases
    /// the conversations first ("erase my case"). `NotFound` if unknown.
    async fn delete_case(&self, case: CaseId) -> StoreResult<()>;
}
