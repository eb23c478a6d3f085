//! Safety and supervision: risk levels and the alerts they raise,
//! supervisors observing or joining, handing a conversation to another
//! counsellor or back to the queue, and marking silent visitors.

use super::*;

/// How long a supervision lasted (0 when its start was not kept).
pub fn access_duration(s: Supervision, now_ms: u64) -> u64 {
    if s.since_ms == 0 {
        0
    } else {
        now_ms.saturating_sub(s.since_ms)
    }
}

/// The audit entry for a change of a supervisor's mode (`before` is not
/// `mode`): `Observe`/`Join` for a new mode, `Leave` (or
/// `LeaveByDisconnect`) with the access's duration when cleared.
pub fn supervision_audit(
    conversation: ConversationId,
    supervisor: AccountId,
    before: Option<Supervision>,
    mode: Option<SupervisionMode>,
    by_disconnect: bool,
    now_ms: u64,
) -> AuditEntry {
    let (action, duration) = match mode {
        Some(SupervisionMode::Observe) => (AuditAction::Observe, None),
        Some(SupervisionMode::Join) => (AuditAction::Join, None),
        None if by_disconnect => (
            AuditAction::LeaveByDisconnect,
            before.map(|b| access_duration(b, now_ms)),
        ),
        None => (
            AuditAction::Leave,
            before.map(|b| access_duration(b, now_ms)),
        ),
    };
    AuditEntry::access(now_ms, supervisor, action, conversation, duration)
}

/// The accesses still open when a conversation ends, closed: one
/// `LeaveByEnd` entry per supervisor in `supervisors` (in their order),
/// each with its access's duration. Every store calls it in the step that
/// ends the conversation (`end`, the grace period's `sweep`, `erase`) and
/// empties the record's `supervisors` in that step, so a later `leave`
/// finds nothing open and audits nothing.
pub fn accesses_closed_by_end(
    conversation: ConversationId,
    supervisors: &[Supervision],
    now_ms: u64,
) -> Vec<AuditEntry> {
    supervisors
        .iter()
        .map(|s| {
            AuditEntry::access(
                now_ms,
                s.supervisor,
                AuditAction::LeaveByEnd,
                conversation,
                Some(access_duration(*s, now_ms)),
            )
        })
        .collect()
}

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
    ///
    /// With `audit = Some(action)` (a supervisor's take-over), an audit
    /// entry (`to`, `action`, the conversation, `now_ms`, and as
    /// `duration_ms` how long `to`'s dropped supervision had lasted, if
    /// there was one) is appended in the same atomic step.
    #[allow(clippy::too_many_arguments)]
    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        audit: Option<AuditAction>,
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
    ///
    /// Every change is audited in the same atomic step (nothing changes,
    /// nothing is audited, when the mode is the one already set): a new
    /// mode appends `Observe` or `Join` (the access's `since_ms` is set on
    /// the first, kept on a change of mode); clearing appends `Leave`, or
    /// `LeaveByDisconnect` when `by_disconnect`, with `duration_ms = now_ms
    /// - since_ms`.
    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
        by_disconnect: bool,
        now_ms: u64,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)>;
    /// Store a whisper and its `Whisper` audit entry in one atomic step:
    /// the conversation exists (`NotFound`) and has not ended
    /// (`Transition(AlreadyEnded)`), and `whisper.supervisor` observes or
    /// joined it (`NotYours`). Whispers are kept apart from the log (never
    /// in `messages`, `after`, a transcript or the facts) and deleted with
    /// the conversation's purge or erasure.
    async fn whisper(&self, whisper: Whisper) -> StoreResult<()>;
    /// A conversation's whispers, oldest first.
    async fn whispers(&self, conversation: ConversationId) -> StoreResult<Vec<Whisper>>;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_open_access_closes_once_with_its_duration() {
        let conv = ConversationId::new_random();
        let (a, b) = (AccountId::new_random(), AccountId::new_random());
        let open = [
            Supervision {
                supervisor: a,
                mode: SupervisionMode::Observe,
                since_ms: 1_000,
            },
            Supervision {
                supervisor: b,
                mode: SupervisionMode::Join,
                since_ms: 0,
            },
        ];
        let closed = accesses_closed_by_end(conv, &open, 61_000);
        let got: Vec<_> = closed
            .iter()
            .map(|e| (e.account, e.action, e.conversation, e.duration_ms, e.at_ms))
            .collect();
        assert_eq!(
            got,
            vec![
                (a, AuditAction::LeaveByEnd, Some(conv), Some(60_000), 61_000),
                // A start not kept (older records): 0, as for a leave.
                (b, AuditAction::LeaveByEnd, Some(conv), Some(0), 61_000),
            ]
        );
        assert!(accesses_closed_by_end(conv, &[], 61_000).is_empty());
    }
}
