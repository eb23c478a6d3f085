//! The pieces outbound messages are made of: messages, conversations, the
//! floor, alerts, hours, slots and the handoff as each side sees them.

use serde::Serialize;

use crate::core::conversation::{EndedBy, Outcome};
use crate::core::floor::{FloorCause, FloorCleared};
use crate::core::handoff::{SlotId, SlotKind};
use crate::core::hours::{ClosedReason, HoursSpec, Status};
use crate::core::ids::{AccountId, AlertId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;
use crate::core::triage::RiskLevel;
use crate::model::Availability;
use crate::model::FloorAlert;
use crate::model::{Alert, RiskReason, RiskSource, SlotRecord, Stats, SupervisionMode};

/// One chat message as both sides receive it.
#[derive(Clone, Debug, Serialize)]
pub struct MessageView<'a> {
    pub seq: u64,
    pub from: Party,
    /// The counsellor's display name on counsellor messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// Only on the sender's own messages, so it can match its `send`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    pub text: &'a str,
    /// ms since the Unix epoch, server time.
    pub sent_at: u64,
}

/// A staff member as others see them.
#[derive(Clone, Debug, Serialize)]
pub struct StaffRef {
    pub id: AccountId,
    pub display_name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SupervisorView {
    pub id: AccountId,
    pub display_name: String,
    pub mode: SupervisionMode,
}

/// Why a conversation has its risk level. Never the visitor's words.
#[derive(Clone, Debug, Serialize)]
pub struct RiskReasonView {
    pub level: RiskLevel,
    /// `triage` or `staff`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<AccountId>,
    pub at: u64,
}

impl From<&RiskReason> for RiskReasonView {
    fn from(r: &RiskReason) -> Self {
        let (source, rule, category, by) = match &r.source {
            RiskSource::Triage { rule, category } => {
                ("triage", Some(rule.clone()), Some(category.clone()), None)
            }
            RiskSource::Staff { by } => ("staff", None, None, Some(*by)),
        };
        Self {
            level: r.level,
            source,
            rule,
            category,
            by,
            at: r.at_ms,
        }
    }
}

pub fn reason_views(reasons: &[RiskReason]) -> Vec<RiskReasonView> {
    reasons.iter().map(RiskReasonView::from).collect()
}

#[derive(Clone, Debug, Serialize)]
pub struct AlertView {
    pub alert_id: AlertId,
    pub conversation_id: ConversationId,
    pub level: RiskLevel,
    pub reasons: Vec<RiskReasonView>,
    pub at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<AccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<u64>,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> Self {
        Self {
            alert_id: a.id,
            conversation_id: a.conversation,
            level: a.level,
            reasons: reason_views(&a.reasons),
            at: a.at_ms,
            acked_by: a.acked_by,
            acked_at: a.acked_at_ms,
        }
    }
}

/// An empty-floor episode as supervisors see it (no personal data:
/// times and a count).
#[derive(Clone, Debug, Serialize)]
pub struct FloorAlertView {
    pub alert_id: AlertId,
    /// `no_counsellor` or `long_wait`.
    pub cause: FloorCause,
    /// Since when nobody could take a visitor (ms since the epoch).
    pub since: u64,
    pub raised_at: u64,
    /// Visitors waiting when it was raised.
    pub waiting: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleared_at: Option<u64>,
    /// `counsellor_available` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleared: Option<FloorCleared>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<AccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<u64>,
}

impl From<&FloorAlert> for FloorAlertView {
    fn from(a: &FloorAlert) -> Self {
        Self {
            alert_id: a.id,
            cause: a.cause,
            since: a.since_ms,
            raised_at: a.raised_at_ms,
            waiting: a.waiting,
            cleared_at: a.cleared_at_ms,
            cleared: a.cleared,
            acked_by: a.acked_by,
            acked_at: a.acked_at_ms,
        }
    }
}

/// One empty-floor episode in `GET /api/floor`: the episode as the
/// console shows it, and how long the floor was (or, not yet cleared, has
/// been) uncovered.
#[derive(Clone, Debug, Serialize)]
pub struct FloorEpisodeView {
    #[serde(flatten)]
    pub alert: FloorAlertView,
    pub duration_ms: u64,
}

/// `GET /api/floor` (admins and supervisors): the floor now and its recent
/// empty-floor episodes. Counts and times only, never a person.
#[derive(Clone, Debug, Serialize)]
pub struct FloorStateView {
    /// The server's clock when read (ms since the epoch).
    pub at: u64,
    /// The opening hours are open now.
    pub open: bool,
    /// Counsellors taking chats now.
    pub available: u32,
    /// Visitors waiting now.
    pub waiting: u32,
    /// How long the longest-waiting visitor has waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_wait_ms: Option<u64>,
    /// The empty-floor alert is on (`alerts.empty_floor_disabled` is not
    /// set), and after how long without a counsellor it is raised.
    pub watching: bool,
    pub empty_floor_after_secs: u64,
    /// The episode not yet cleared, if any (it is also `episodes[0]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<FloorEpisodeView>,
    /// The most recently raised episodes, newest first (at most 50).
    pub episodes: Vec<FloorEpisodeView>,
}

/// Where the opening hours stand (in `GET /api/info`).
#[derive(Clone, Debug, Serialize)]
pub struct HoursView {
    /// `always_open`, `open`, `last_entry_passed` or `closed`.
    pub status: &'static str,
    /// A new visitor may `start` now.
    pub accepting: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_entry_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_opening: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ClosedReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holiday: Option<&'static str>,
    pub timezone: &'static str,
    pub schedule: HoursSpec,
}

impl HoursView {
    pub fn new(status: Status, spec: &HoursSpec) -> Self {
        use crate::core::hours::iso_jst;
        let mut v = HoursView {
            status: "always_open",
            accepting: status.accepts_new_visitors(),
            closes_at: None,
            last_entry_at: None,
            next_opening: None,
            reason: None,
            holiday: None,
            timezone: "Asia/Tokyo",
            schedule: spec.clone(),
        };
        match status {
            Status::AlwaysOpen => {}
            Status::Open {
                closes_at,
                last_entry_at,
            } => {
                v.status = "open";
                v.closes_at = Some(iso_jst(closes_at));
                v.last_entry_at = Some(iso_jst(last_entry_at));
            }
            Status::LastEntryPassed {
                closes_at,
                next_opening,
            } => {
                v.status = "last_entry_passed";
                v.closes_at = Some(iso_jst(closes_at));
                v.next_opening = next_opening.map(iso_jst);
            }
            Status::Closed {
                reason,
                holiday,
                next_opening,
            } => {
                v.status = "closed";
                v.reason = Some(reason);
                v.holiday = holiday.map(|h| h.name);
                v.next_opening = next_opening.map(iso_jst);
            }
        }
        v
    }
}

/// One conversation as a counsellor sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationView {
    pub conversation_id: ConversationId,
    pub state: &'static str,
    /// `web` or `line`.
    pub channel: crate::model::Channel,
    /// What to call the visitor: a pseudonym for a LINE visitor
    /// ("LINE-3F2A", from the conversation id, never from the LINE user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_name: Option<String>,
    pub pre_chat: PreChat,
    pub started_at: u64,
    pub last_seq: u64,
    /// The visitor has received the counsellor's messages up to here.
    pub delivered_seq: u64,
    pub visitor_online: bool,
    pub notes: Vec<NoteView>,
    /// Supervisors' whispers, oldest first (staff only; never in the
    /// visitor's log).
    pub whispers: Vec<WhisperView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub risk: RiskLevel,
    pub risk_reasons: Vec<RiskReasonView>,
    /// Who has it now (absent while queued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counsellor: Option<StaffRef>,
    /// Supervisors observing or joined.
    pub supervisors: Vec<SupervisorView>,
    /// Times it was handed on (transfer, takeover, back to the queue).
    pub transfers: u32,
    /// The visitor has not answered since then (see `silent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_since: Option<u64>,
    /// Present when you supervise this conversation rather than hold it:
    /// `observe` (read only) or `join`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervision: Option<SupervisionMode>,
    /// When the visitor last used the quick exit (absent: never). With
    /// `visitor_online: false` the console shows "left quickly".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_quickly_at: Option<u64>,
    /// The visitor erased the conversation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
    /// The language the visitor reads (`ja` or `en`, from their `start`;
    /// LINE: `ja`).
    pub lang: crate::core::ids::Lang,
    /// Since when the visitor has had no connection (absent while online,
    /// and for LINE). Past the welcome's `visitor_grace_secs` the console
    /// says the visitor has left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_offline_since: Option<u64>,
}

/// A supervisor's whisper as the console shows it (inline in the log,
/// marked: not visible to the visitor).
#[derive(Clone, Debug, Serialize)]
pub struct WhisperView {
    pub supervisor: StaffRef,
    pub text: String,
    pub at: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NoteView {
    pub text: String,
    pub author: AccountId,
    pub at: u64,
}

/// One waiting visitor in the counsellors' queue view.
#[derive(Clone, Debug, Serialize)]
pub struct QueueItem {
    pub conversation_id: ConversationId,
    /// `web` or `line`.
    pub channel: crate::model::Channel,
    pub priority: Priority,
    pub requeued: bool,
    pub queued_at: u64,
    pub pre_chat: PreChat,
    /// What the visitor typed before joining; nothing else is shown before a match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    /// The language the visitor reads.
    pub lang: crate::core::ids::Lang,
    pub risk: RiskLevel,
    /// Why (rule ids and categories, or who set it); empty when `none`.
    pub risk_reasons: Vec<RiskReasonView>,
}

/// A colleague a conversation can be transferred to.
#[derive(Clone, Debug, Serialize)]
pub struct ColleagueView {
    pub id: AccountId,
    pub display_name: String,
    pub role: crate::model::Role,
    /// Status `available` and connected.
    pub available: bool,
    /// Free places (capacity minus active).
    pub free: u32,
}

/// The supervisors' floor view.
#[derive(Clone, Debug, Serialize)]
pub struct FloorView {
    pub at: u64,
    pub queue: FloorQueue,
    pub counsellors: Vec<FloorCounsellor>,
    /// Every queued and active conversation, queue first (in queue order),
    /// then active ones oldest first.
    pub conversations: Vec<FloorConversation>,
    pub open_alerts: u32,
    pub stats: Stats,
    pub hours: HoursView,
}

#[derive(Clone, Debug, Serialize)]
pub struct FloorQueue {
    pub length: u32,
    pub urgent: u32,
    /// Seconds the longest-waiting visitor has waited; absent when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_wait_secs: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FloorCounsellor {
    pub id: AccountId,
    pub display_name: String,
    pub role: crate::model::Role,
    pub status: Availability,
    /// What to show: `available`, `busy` (away from new chats but holding
    /// one) or `away` (`CounsellorRecord::activity`).
    pub activity: crate::model::Activity,
    pub online: bool,
    pub capacity: u32,
    pub active: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct FloorConversation {
    pub conversation_id: ConversationId,
    pub state: &'static str,
    pub risk: RiskLevel,
    pub risk_reasons: Vec<RiskReasonView>,
    pub priority: Priority,
    pub requeued: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counsellor: Option<StaffRef>,
    pub supervisors: Vec<SupervisorView>,
    pub started_at: u64,
    /// Seconds since the visitor started.
    pub age_secs: u64,
    /// While queued: seconds waited since (first) joining the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_secs: Option<u64>,
    pub visitor_online: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_since: Option<u64>,
    pub transfers: u32,
    pub last_seq: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CounsellorInfo {
    pub id: AccountId,
    pub display_name: String,
    pub role: crate::model::Role,
}

// ------------------------------------------------------------- handoff

/// An appointment slot as visitors, intake and admins see it.
#[derive(Clone, Debug, Serialize)]
pub struct SlotView {
    pub slot_id: SlotId,
    /// ms since the epoch.
    pub starts_at: u64,
    pub ends_at: u64,
    pub duration_mins: u32,
    pub kind: SlotKind,
    pub place: String,
    pub capacity: u32,
    /// Free places (capacity minus bookings in force).
    pub free: u32,
    pub staff: u32,
    pub cancelled: bool,
}

impl From<&SlotRecord> for SlotView {
    fn from(r: &SlotRecord) -> Self {
        let s = &r.slot;
        Self {
            slot_id: s.id,
            starts_at: s.starts_at_ms,
            ends_at: s.ends_at_ms(),
            duration_mins: s.duration_mins,
            kind: s.kind,
            place: s.place.clone(),
            capacity: s.capacity,
            free: s.capacity.saturating_sub(r.booked),
            staff: s.staff,
            cancelled: s.cancelled_at_ms.is_some(),
        }
    }
}

/// What the visitor is told with an offer: who receives it, why, for how
/// long, in both languages, and the wording version to echo when answering.
#[derive(Clone, Debug, Serialize)]
pub struct TermsView {
    pub recipient_ja: String,
    pub recipient_en: String,
    pub purpose_ja: String,
    pub purpose_en: String,
    pub retention_days: u32,
    pub wording_version: String,
    /// What happens at the first consultation (`handoff.first_consultation_*`).
    pub first_consultation_ja: String,
    pub first_consultation_en: String,
    /// What to bring (`handoff.bring_*`).
    pub bring_ja: String,
    pub bring_en: String,
    /// The booking's neutral title (`handoff.appointment_title_*`).
    pub appointment_title_ja: String,
    pub appointment_title_en: String,
    /// How to reach the centre; empty when not configured.
    pub centre_contact_ja: String,
    pub centre_contact_en: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConsentView {
    pub transcript: bool,
    pub contact: bool,
    pub at: u64,
    /// The wording the visitor saw, e.g. `2026-12/ja`.
    pub wording_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<u64>,
}

/// The booking in force, as the chat shows it.
#[derive(Clone, Debug, Serialize)]
pub struct BookedView {
    /// Only to the visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub slot: SlotView,
}

/// A conversation's handoff, for the visitor and the counsellor.
#[derive(Clone, Debug, Serialize)]
pub struct HandoffView {
    /// `offered`, `change_requested`, `declined`, `consented`, `withdrawn`.
    pub state: &'static str,
    /// Answer this version.
    pub version: u32,
    /// The summary, word for word.
    pub summary: String,
    pub include_transcript: bool,
    pub offered_at: u64,
    pub terms: TermsView,
    /// The latest consent, if one was given (withdrawn or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookedView>,
}

// ------------------------------------------------------- canned replies

/// One canned reply, as admins and those who counsel read it
/// (`GET /api/canned-replies`).
#[derive(Clone, Debug, Serialize)]
pub struct CannedReplyView {
    pub canned_reply_id: crate::core::ids::CannedReplyId,
    pub lang: crate::core::ids::Lang,
    pub category: crate::core::canned::CannedCategory,
    pub title: String,
    pub body: String,
    /// ms since the epoch.
    pub updated_at: u64,
}

impl From<&crate::model::CannedReply> for CannedReplyView {
    fn from(r: &crate::model::CannedReply) -> Self {
        Self {
            canned_reply_id: r.id,
            lang: r.lang,
            category: r.category,
            title: r.title.clone(),
            body: r.body.clone(),
            updated_at: r.updated_at_ms,
        }
    }
}

/// Issue 22: a returning visitor's anonymous case, as the counsellor who
/// holds one of its conversations sees it (`GET
/// /api/counsellor/conversations/{id}/case`): the earlier conversations
/// still within retention, read only.
#[derive(Clone, Debug, Serialize)]
pub struct CaseView {
    pub case_id: crate::core::ids::CaseId,
    pub created_at: u64,
    pub last_contact_at: u64,
    /// The counsellor the visitor last talked with (as known when they
    /// took a code or came back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_counsellor: Option<StaffRef>,
    /// The conversations of the case before this one, oldest first; a
    /// purged one (past retention) is absent.
    pub earlier: Vec<EarlierConversationView>,
    /// Which retention applies to the case (the visitor's keep-longer
    /// consent).
    pub case_retention: CaseRetentionView,
}

/// Which retention applies to a case's conversations (issue 22), shown to
/// the visitor with their code and to the counsellor with the case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseRetentionView {
    /// `"normal"` (each conversation kept `retention_days` after its end)
    /// or `"keep_longer"` (the visitor's consent is in force: kept at
    /// least until `keep_until`).
    pub retention: &'static str,
    /// `retention.conversation_days`.
    pub retention_days: u32,
    /// What keep-longer offers: `retention.case_keep_days` after the
    /// case's last contact.
    pub case_keep_days: u32,
    /// The version of the keep-longer wording in force, to echo when
    /// agreeing (`offer_changed` otherwise).
    pub wording_version: String,
    /// The latest keep-longer consent (in force, or withdrawn), if any.
    pub keep_longer: Option<KeepLongerView>,
    /// While keep-longer is in force: the first moment the case's
    /// conversations may go (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_until: Option<u64>,
}

/// The record of a keep-longer consent, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct KeepLongerView {
    /// The wording the visitor saw, e.g. `2026-12/ja`.
    pub wording_version: String,
    pub keep_days: u32,
    pub at: u64,
    pub withdrawn_at: Option<u64>,
}

/// One earlier conversation of a case (read only).
#[derive(Clone, Debug, Serialize)]
pub struct EarlierConversationView {
    pub conversation_id: ConversationId,
    /// `web` or `line`.
    pub channel: crate::model::Channel,
    pub started_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counsellor: Option<StaffRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub risk: RiskLevel,
    /// The risk history: every reason recorded, oldest first.
    pub risk_reasons: Vec<RiskReasonView>,
    pub notes: Vec<NoteView>,
    /// The handoff's state, if one was offered (`offered`, `consented`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff: Option<&'static str>,
    /// Erased by the visitor: no messages are left.
    pub erased: bool,
    pub messages: Vec<CaseMessageView>,
    /// Its hearing sheet, if one was saved (issue 23).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hearing: Option<HearingSheetView>,
}

/// A conversation's hearing sheet (issue 23), for the counsellor.
#[derive(Clone, Debug, Serialize)]
pub struct HearingSheetView {
    /// The sheet's version it was filled under (`GET /api/hearing-sheets`
    /// has every version's questions).
    pub version: u32,
    /// Question id to answer: an option id, a list of option ids, a
    /// number, or text.
    pub answers: serde_json::Map<String, serde_json::Value>,
    pub complete: bool,
    pub saved_at: u64,
    pub saved_by: StaffRef,
    /// Its answered questions as a relay sheet would pass them on, word
    /// for word (`core::relay::shareable`): what the console offers when
    /// a relay is prepared. Only on the conversation's own sheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<Vec<crate::core::relay::SharedField>>,
}

/// A message of an earlier conversation.
#[derive(Clone, Debug, Serialize)]
pub struct CaseMessageView {
    pub seq: u64,
    pub from: Party,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub text: String,
    pub sent_at: u64,
}
