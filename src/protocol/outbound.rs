//! Server -> client: one enum per socket.

use serde::Serialize;

use crate::core::conversation::{EndedBy, Outcome};
use crate::core::ids::ConversationId;
use crate::core::triage::RiskLevel;
use crate::model::{Alternative, Availability, MatchingMode};
use crate::model::{ReleaseReason, SupervisionMode};

use super::*;

/// The socket's frame limits, in both `welcome`s, so a client can keep
/// under them instead of learning them from refusals.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FrameLimits {
    /// The largest frame, or message split into continuation frames.
    pub max_frame_bytes: usize,
    /// Frames per second on average, and at once.
    pub frames_per_sec: u32,
    pub frames_burst: u32,
}

/// Server -> visitor.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorOut<'a> {
    Welcome {
        protocol: u32,
        conversation_id: ConversationId,
        /// Only in answer to `start`: keep it to resume. Never sent again.
        #[serde(skip_serializing_if = "Option::is_none")]
        resume_token: Option<&'a str>,
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        counsellor: Option<&'a str>,
        /// The last sequence number in the conversation.
        last_seq: u64,
        /// The counsellor has received the visitor's messages up to here.
        delivered_seq: u64,
        max_text_chars: usize,
        #[serde(flatten)]
        limits: FrameLimits,
    },
    Queue {
        position: u32,
        queue_length: u32,
        /// `null`: no counsellor is taking chats right now.
        estimated_wait_secs: Option<u64>,
    },
    Matched {
        counsellor: &'a str,
    },
    /// The counsellor was disconnected past the grace period: the visitor is
    /// back at the front of the queue (`queue` frames follow), history kept.
    Requeued,
    Message(MessageView<'a>),
    Sent {
        client_id: &'a str,
        seq: u64,
    },
    Delivered {
        seq: u64,
    },
    Typing {
        active: bool,
    },
    Ended {
        by: EndedBy,
    },
    /// Triage matched something the visitor wrote (or did before this
    /// socket bound): show the emergency numbers and round-the-clock
    /// services. No level, no rule, no diagnosis.
    SafetyInfo {
        services: &'a [Alternative],
    },
    /// Answer to `leave_quickly`, if the page is still there to read it.
    LeftQuickly,
    /// A relay sheet was prepared or changed (issue 23): read it with
    /// `POST /api/visitor/relays`.
    RelayChanged,
    /// Answer to `way_back_code`: the code (grouped 4-4, shown once) and
    /// when it stops working. After a quick exit, the welcome page redeems
    /// it (`POST /api/visitor/way-back`) for a new resume token.
    WayBackCode {
        code: &'a str,
        expires_at_ms: u64,
    },
    /// Answer to `return_code` (issue 22): the code, in five groups of
    /// four, shown once (only its keyed hash is kept), and how long the
    /// case's conversations are kept.
    ReturnCode {
        code: &'a str,
        retention_days: u32,
        /// Which retention applies, and what keep-longer offers.
        case_retention: &'a CaseRetentionView,
    },
    /// Answer to `keep_longer` and `withdraw_keep_longer` (issue 22):
    /// which retention now applies to the visitor's case.
    CaseRetention {
        case_retention: &'a CaseRetentionView,
    },
    /// Answer to `erase_case`: how many conversations were erased.
    CaseErased {
        conversations: usize,
    },
    /// Answer to `erase`: the conversation's messages are deleted from
    /// the server (and it has ended). The page forgets it too.
    Erased,
    /// A second counsellor (a supervisor) joined the conversation.
    CounsellorJoined {
        name: &'a str,
    },
    /// The second counsellor left.
    CounsellorLeft {
        name: &'a str,
    },
    /// A supervisor started or stopped reading along (only when the
    /// deployment tells visitors).
    Observed {
        active: bool,
    },
    /// The queue has closed to new visitors for today; those waiting are
    /// still served.
    Closing {
        #[serde(skip_serializing_if = "Option::is_none")]
        closes_at: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_opening: Option<&'a str>,
        alternatives: &'a [Alternative],
    },
    /// The handoff was offered or changed (and, after `start`/`resume`,
    /// where it stands).
    Handoff {
        handoff: &'a HandoffView,
    },
    Error(&'a ErrorBody),
}

/// Server -> counsellor.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CounsellorOut<'a> {
    Welcome {
        protocol: u32,
        counsellor: &'a CounsellorInfo,
        status: Availability,
        capacity: u32,
        active: u32,
        /// See `Status`.
        activity: crate::model::Activity,
        matching: MatchingMode,
        max_text_chars: usize,
        max_capacity: u32,
        /// A visitor away longer than this has left: a waiting one loses
        /// their place; in a conversation the console says so (it goes on
        /// until someone ends it, and the visitor may come back).
        visitor_grace_secs: u64,
        #[serde(flatten)]
        limits: FrameLimits,
        conversations: Vec<ConversationView>,
        /// Supervisors only: every alert not yet acknowledged, oldest first.
        #[serde(skip_serializing_if = "Option::is_none")]
        alerts: Option<Vec<AlertView>>,
        /// Supervisors only: every empty-floor episode not yet
        /// acknowledged (raised or already cleared), oldest first.
        #[serde(skip_serializing_if = "Option::is_none")]
        floor_alerts: Option<Vec<FloorAlertView>>,
    },
    Status {
        status: Availability,
        capacity: u32,
        active: u32,
        /// What the header shows (`available`, `busy`, `away`): see
        /// `CounsellorRecord::activity`.
        activity: crate::model::Activity,
    },
    /// The head of the queue (at most the configured number of entries).
    Queue {
        queue_length: u32,
        entries: &'a [QueueItem],
    },
    Assigned {
        conversation: ConversationView,
    },
    Message {
        conversation_id: ConversationId,
        #[serde(flatten)]
        message: MessageView<'a>,
    },
    Sent {
        conversation_id: ConversationId,
        client_id: &'a str,
        seq: u64,
    },
    Delivered {
        conversation_id: ConversationId,
        seq: u64,
    },
    Typing {
        conversation_id: ConversationId,
        active: bool,
    },
    /// The visitor's connection came or went.
    Presence {
        conversation_id: ConversationId,
        visitor_online: bool,
    },
    NoteSaved {
        conversation_id: ConversationId,
        note: NoteView,
    },
    Ended {
        conversation_id: ConversationId,
        by: EndedBy,
        #[serde(skip_serializing_if = "Option::is_none")]
        outcome: Option<Outcome>,
        /// The visitor erased the conversation (not just ended it).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        erased: bool,
    },
    /// The visitor used the quick exit: they left the page at once. The
    /// conversation is not ended; they may come back within the visitor
    /// grace period.
    LeftQuickly {
        conversation_id: ConversationId,
        at: u64,
    },
    /// A relay sheet of the conversation changed (issue 23): read it with
    /// `GET /api/counsellor/conversations/{id}/relays`.
    RelayChanged {
        conversation_id: ConversationId,
    },
    /// Taken back into the queue because you were away past the grace period.
    Requeued {
        conversation_id: ConversationId,
    },
    /// The conversation is no longer yours: you handed it on, or a
    /// supervisor took it over.
    Released {
        conversation_id: ConversationId,
        reason: ReleaseReason,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<StaffRef>,
    },
    /// A conversation's risk level or reasons changed.
    Risk {
        conversation_id: ConversationId,
        level: RiskLevel,
        reasons: Vec<RiskReasonView>,
    },
    /// Supervisors: a new risk alert.
    Alert {
        alert: AlertView,
    },
    /// Supervisors: an alert was acknowledged (by anyone).
    AlertAcked {
        alert: AlertView,
    },
    /// Supervisors: an empty-floor episode was raised, cleared or
    /// acknowledged; the whole episode as it is now (replace by id).
    FloorAlert {
        alert: FloorAlertView,
    },
    /// Supervisors: the floor view.
    Floor(&'a FloorView),
    /// Supervisors: you now observe or joined this conversation; its
    /// messages follow.
    Supervising {
        conversation: ConversationView,
    },
    /// A supervisor started, changed or stopped (`mode` absent)
    /// supervising a conversation you hold or supervise.
    Supervision {
        conversation_id: ConversationId,
        supervisor: StaffRef,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<SupervisionMode>,
    },
    /// The visitor has not answered since `since`; a check-in is up to you.
    Silent {
        conversation_id: ConversationId,
        since: u64,
    },
    /// A LINE conversation: your message `seq` reached LINE (`sent`), or
    /// could not be delivered (`failed`, with `reason`).
    LineDelivery {
        conversation_id: ConversationId,
        seq: u64,
        #[serde(flatten)]
        state: crate::model::LineDeliveryState,
        attempts: u32,
    },
    /// Colleagues a conversation can be transferred to.
    Colleagues {
        counsellors: &'a [ColleagueView],
    },
    /// The conversation's handoff changed (or, after `hello`, where it
    /// stands).
    Handoff {
        conversation_id: ConversationId,
        handoff: &'a HandoffView,
    },
    /// A supervisor's whisper on a conversation you hold or supervise:
    /// for staff only, never shown to the visitor (issue 20).
    Whisper {
        conversation_id: ConversationId,
        whisper: WhisperView,
    },
    Error(&'a ErrorBody),
}
