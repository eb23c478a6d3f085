//! Way-back codes: the short code a visitor asks for during a
//! conversation and redeems after a quick exit for a new resume token.

use super::*;

/// A conversation's way-back code, stored only as its keyed hash.
///
/// Each method is one atomic step. A conversation has at most one code: a
/// new one replaces the earlier one (which stops working at once).
/// Redeeming consumes the code and replaces the conversation's resume
/// token in the same step, so of two concurrent redeems of one code
/// exactly one succeeds.
///
/// Durability: on Redis like any other key (its AOF). On the memory and
/// embedded stores the codes are kept in memory only, not journaled (a
/// restart forgets them; the rotated resume token itself is journaled
/// with the conversation). See docs/ARCHITECTURE.md, "Decisions".
#[async_trait]
pub trait WayBackStore: Send + Sync {
    /// Set `conversation`'s way-back code (its hash), valid until
    /// `expires_at_ms`, replacing any earlier one. `NotFound`, or
    /// `Transition(AlreadyEnded)` for an ended conversation (nothing
    /// changes).
    async fn set_way_back(
        &self,
        conversation: ConversationId,
        code_hash: TokenHash,
        expires_at_ms: u64,
    ) -> StoreResult<()>;

    /// Redeem a code: if `code_hash` is a conversation's code in force
    /// (not replaced, not used, not expired at `now_ms`) and the
    /// conversation is not ended, forget the code and set the
    /// conversation's resume token hash to `new_token_hash`, as one step;
    /// the record after. Anything else is `NotFound` and changes nothing.
    async fn redeem_way_back(
        &self,
        code_hash: &TokenHash,
        new_token_hash: TokenHash,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
}
