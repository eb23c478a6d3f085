//! Events between nodes: what changed, for the sockets that care.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::conversation::{EndedBy, Outcome};
use crate::core::ids::{AccountId, ConversationId, Party};
use crate::core::triage::RiskLevel;

/// Notifications between nodes (and within one). None of them is the only
/// copy of anything: each tells readers where to look.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Message {
        conversation: ConversationId,
        message: Arc<StoredMessage>,
    },
    Acked {
        conversation: ConversationId,
        by: Party,
        seq: u64,
    },
    Typing {
        conversation: ConversationId,
        from: Party,
        active: bool,
    },
    Assigned {
        conversation: ConversationId,
        counsellor: AccountId,
    },
    Ended {
        conversation: ConversationId,
        by: EndedBy,
        outcome: Option<Outcome>,
        counsellor: Option<AccountId>,
        /// The visitor erased it (the counsellor is told so, not only
        /// that it ended).
        #[serde(default)]
        erased: bool,
    },
    /// The visitor used the quick exit. The conversation goes on (see
    /// `Store::leave_quickly`); staff only.
    /// A relay sheet of the conversation was prepared or changed (issue
    /// 23): the visitor's page and the console read it again.
    Relay {
        conversation: ConversationId,
    },
    LeftQuickly {
        conversation: ConversationId,
        counsellor: Option<AccountId>,
        at_ms: u64,
    },
    /// Triage matched something the visitor wrote: their page shows the
    /// emergency numbers and round-the-clock services. Visitors only; it
    /// carries no level and no rule.
    SafetyInfo {
        conversation: ConversationId,
    },
    Requeued {
        conversation: ConversationId,
        counsellor: AccountId,
        /// The counsellor handed it back themselves (rather than being away).
        #[serde(default)]
        by_transfer: bool,
    },
    /// `counsellor` lost an active conversation to `to` (who gets `Assigned`).
    Released {
        conversation: ConversationId,
        counsellor: AccountId,
        to: AccountId,
        reason: ReleaseReason,
    },
    /// The risk level or its reasons changed. Never sent to visitors.
    RiskChanged {
        conversation: ConversationId,
        level: RiskLevel,
        counsellor: Option<AccountId>,
    },
    /// A staff session was logged out: its sockets on every node close at
    /// once (1008), not at their next heartbeat. Carries the session's
    /// token hash (the token itself is never sent anywhere).
    SessionEnded {
        session: crate::model::TokenHash,
    },
    // ---- staff accounts run from the product (issue 21)
    /// An admin deactivated the account or changed its role: every socket
    /// of the account closes at once (1008, the change's name as reason).
    AccountChanged {
        account: AccountId,
        change: crate::model::AccountChange,
    },
    /// The account's sessions were revoked (log out everywhere, a new
    /// password, an admin's revocation), except `keep`: its sockets opened
    /// with another session close at once (1008).
    SessionsRevoked {
        account: AccountId,
        keep: Option<crate::model::TokenHash>,
    },
    /// A new alert for supervisors.
    // (Alerts, notes and LINE deliveries are boxed: rare and large, they
    // would make every event, and so every slot of every socket's outbox,
    // as large as they are.)
    Alert {
        alert: Box<Alert>,
    },
    AlertAcked {
        alert: Box<Alert>,
    },
    /// An empty-floor episode was raised, cleared or acknowledged (the
    /// whole episode as it is now). For supervisors.
    FloorAlert {
        alert: Box<FloorAlert>,
    },
    /// A supervisor started, changed or stopped (`mode: None`) supervising.
    Supervision {
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
        previous: Option<SupervisionMode>,
    },
    /// A supervisor's whisper: for the conversation's staff only, never a
    /// visitor's socket.
    Whisper {
        whisper: Box<Whisper>,
    },
    /// The visitor has not answered the counsellor for the silence period.
    Silent {
        conversation: ConversationId,
        since_ms: u64,
    },
    VisitorPresence {
        conversation: ConversationId,
        online: bool,
        counsellor: Option<AccountId>,
    },
    NoteSaved {
        conversation: ConversationId,
        counsellor: AccountId,
        note: Box<Note>,
    },
    /// The conversation's handoff (offer, answer, consent, booking)
    /// changed: read it again with `Store::handoff`.
    Handoff {
        conversation: ConversationId,
    },
    /// A counsellor message reached the LINE user, or was given up on.
    LineDelivery {
        conversation: ConversationId,
        delivery: Box<LineDelivery>,
    },
    /// Status, capacity or load of a counsellor changed.
    CounsellorChanged {
        counsellor: AccountId,
    },
    /// Someone joined or left the queue.
    QueueChanged,
    /// Local to one node, never published: this node may have missed events
    /// (its link to the other nodes' events was lost and is back). Every
    /// socket re-reads what it shows from the store.
    Resync,
    /// Local to one node, never published: the other nodes took this node
    /// for dead and no longer count its sockets as present. Every socket is
    /// closed so its client reconnects (here or elsewhere) and is counted
    /// again.
    Reconnect,
}
