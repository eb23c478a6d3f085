//! Guard counters: how many times something guarded failed (wrong booking
//! PINs, wrong passwords), counted once for the whole deployment so that
//! every node sees the same count and a lockout holds whichever node
//! answers; and guard sets: places held under a cap (the conversations
//! one address has waiting), also one for the whole deployment.

use super::*;

/// Counters of failures, by key, shared by every node on the store.
///
/// Each method is one atomic step (on Redis one script or one command):
/// two nodes recording at once both count. A counter expires `ttl_ms`
/// after the failure that created it (later failures never shorten it).
///
/// Durability: on Redis like any other key (its AOF). On the memory and
/// embedded stores the counters are kept in memory only, not journaled: a
/// single node's restart forgets them (the lockout starts over; see
/// docs/ARCHITECTURE.md, "Decisions"). Keys are opaque strings chosen by
/// the service; a backend that stores them outside the process keeps only
/// their hash.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// Count one failure for `key`; the count after it. A counter that
    /// expired starts again at 1.
    async fn record_failure(&self, key: &str, now_ms: u64, ttl_ms: u64) -> StoreResult<u32>;
    /// The failures counted for `key` and not expired at `now_ms`.
    async fn failures(&self, key: &str, now_ms: u64) -> StoreResult<u32>;
    /// Forget `key`'s failures.
    async fn clear_failures(&self, key: &str) -> StoreResult<()>;

    /// Hold a place for `member` in `key`'s set of at most `cap` members,
    /// as one atomic step: true if `member` is in the set afterwards
    /// (added now or already there), false (and nothing changed) if the
    /// set was full. The set expires `ttl_ms` after the last hold.
    async fn hold(
        &self,
        key: &str,
        member: &str,
        cap: u32,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool>;
    /// The members holding a place under `key` (not expired at `now_ms`).
    async fn held(&self, key: &str, now_ms: u64) -> StoreResult<Vec<String>>;
    /// Give back `member`'s place under `key` (nothing if it has none).
    async fn release(&self, key: &str, member: &str) -> StoreResult<()>;
}
