//! Safety and supervision: risk levels and the alerts they raise,
//! supervisors observing or joining, handing a conversation to another
//! counsellor or back to the queue, and marking silent visitors.

use super::*;

/// Risk, alerts, supervision, transfers and silence marks.
#[async_trait]
pub trait SupervisionStore: Send + Sync {
    /// Change a conversation's risk level, in one atomic step:
    /// - the conversation exists (`NotFound`) and has not ended
    ///   (`Transition(AlreadyEnded)`);
    /// - `Triage`: queued or active (a hit mid-chat counts as much as one
    ///   while waiting); the hits whose rule id is not yet in
    ///   `risk_reasons` are appended; the level becomes the highest of the
    ///   current level and those hits (never lower); if at least one reason
    ///   was appended, an alert with the given id is stored (level after the
    ///   step, the appended reasons);
    /// - `Staff`: queued or active; the level is set as given (up or down)
    ///   and a reason `Staff{by}` appended; an alert is stored if the level
    ///   rose;
    /// - `priority` becomes `risk.priority()`, and a queued conversation
    ///   whose priority changed moves to its new place in the queue (its
    ///   arrival time and requeued flag are kept).
    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate>;
    /// Alerts, oldest first; with `open_only`, those not yet acknowledged.
    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>>;
    /// Acknowledge an alert (`NotFound` if unknown). Acknowledging an
    /// acknowledged alert changes nothing and returns it (the first
    /// acknowledgement is kept).
    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert>;
    /// Hand an active conversation from `from` to `to`, in one atomic step:
    /// it is active with `from` (else `NotYours`, `Transition(NotActive)`
    /// when queued, `Transition(AlreadyEnded)`); `to` has a counsellor
    /// record (else `NotAvailable`), takes chats if `require_available`
    /// (status available and connected, else `NotAvailable`), and has a free
    /// place (`active < capacity`, else `CapacityReached`). Then the state
    /// becomes `Active{to}`, `counsellor = to`, `from` loses a place and the
    /// conversation from its held list, `to` gains both (and
    /// `last_assigned_ms = now`), `transfers += 1`, any supervision by `to`
    /// is dropped, and `note` (if any) is added to the notes. `to == from`
    /// changes nothing and returns the record.
    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// Hand an active conversation back to the queue, in one atomic step:
    /// active with `from` (errors as `reassign`); then `Queued` with
    /// `requeued = true` (the front of the queue), `counsellor` and
    /// `assigned_at_ms` cleared, `from` loses the place and the conversation
    /// from its held list, `transfers += 1`, and `note` is added.
    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord>;
    /// Set (`Some`) or clear (`None`) a supervisor's mode on a conversation,
    /// atomically: the conversation exists and has not ended (clearing is
    /// allowed on any); `Join` needs it active (`Transition(NotActive)`)
    /// and not with this supervisor as counsellor (`NotYours`). Returns
    /// the record and the previous mode.
    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)>;
    /// Queued and active conversations this supervisor observes or joined.
    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>>;
    /// Mark active conversations whose visitor has not written for
    /// `silence_ms` since the counsellor's last message, atomically per
    /// conversation: only those not yet marked for this silence; each gets
    /// `silent_since_ms = last_counsellor_msg_ms` and `went_silent` rises by
    /// one. A visitor message (`append`) clears the mark. Returns those
    /// marked now.
    async fn mark_silent(
        &self,
        now_ms: u64,
        silence_ms: u64,
    ) -> StoreResult<Vec<ConversationRecord>>;
}
