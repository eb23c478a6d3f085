//! The wire protocol: every WebSocket message, one enum per direction, and
//! the one table of error codes shared by WebSocket error frames and HTTP
//! error bodies. `docs/PROTOCOL.md` documents each message with an example;
//! a change here without a change there is a bug.
//!
//! Inbound messages are parsed in two steps so that a client learns exactly
//! what was wrong: not JSON (`bad_json`), no or unknown `type`
//! (`unknown_type`), or a known type with bad fields (`invalid_message`).
//! Text fields arrive as plain strings and are validated by the service,
//! which knows the deployment's limits.

use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::core::conversation::{EndedBy, Outcome};
use crate::core::handoff::{SlotId, SlotKind};
use crate::core::hours::{ClosedReason, HoursSpec, Status};
use crate::core::ids::{AccountId, AlertId, ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;
use crate::core::stats::{Severity, WithdrawalBand};
use crate::core::triage::RiskLevel;
use crate::model::{
    Alert, ReleaseReason, RiskReason, RiskSource, SlotRecord, Stats, SupervisionMode,
};
use crate::model::{Alternative, Availability, MatchingMode};

/// Bumped on an incompatible change; sent in every `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

// ---------------------------------------------------------------- errors

/// Stable error codes. The wire name (snake_case) never changes meaning;
/// new codes may be added. Each code decides its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The frame is not valid JSON.
    BadJson,
    /// The `type` is missing or not one this endpoint knows.
    UnknownType,
    /// A known type with missing or malformed fields.
    InvalidMessage,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// The frame exceeds the maximum frame size; the socket is closed.
    FrameTooLarge,
    /// Message or note text longer than the deployment allows.
    TextTooLong,
    /// Message or note text empty or blank.
    TextEmpty,
    /// Too many requests; `retry_after_ms` says when to try again.
    RateLimited,
    /// The queue is full; `alternatives` lists round-the-clock services.
    QueueFull,
    /// The first message must be `start`/`resume` (visitor) or `hello` (counsellor).
    NotStarted,
    /// `start`, `resume` or `hello` sent twice on one socket.
    AlreadyStarted,
    /// Unknown conversation or wrong resume token (the two are not told
    /// apart), or a conversation purged after the retention period: it no
    /// longer exists anywhere, so it cannot be told apart either.
    ResumeFailed,
    /// `resume` of a conversation its visitor erased ("erase my chat"):
    /// the right token, but nothing is left to show. Start a new chat.
    ConversationErased,
    /// The conversation does not exist or is not assigned to you.
    NotYourConversation,
    /// The conversation has ended; nothing more can be written.
    ConversationEnded,
    /// `pick`: the conversation is no longer waiting.
    NotWaiting,
    /// No free place within your capacity.
    CapacityReached,
    /// `pick` while your status is `away`.
    NotAvailable,
    /// `pick` while the deployment matches automatically.
    PickingDisabled,
    /// Capacity outside 1..=max.
    InvalidCapacity,
    /// `start` outside opening hours or after the last-entry time;
    /// `next_opening` and `alternatives` say what to do.
    Closed,
    /// Join or transfer on a conversation that is not active (still
    /// queued).
    NotActive,
    /// No valid session.
    Unauthorized,
    /// A valid session whose role may not do this.
    Forbidden,
    /// The request's `Origin` is not this site's and not allowed.
    OriginForbidden,
    /// Wrong username or password (never says which).
    LoginFailed,
    /// A username that is already taken, or a change that collided with
    /// another one (read again and retry).
    Conflict,
    /// An HTTP request body that is not what the endpoint takes.
    BadRequest,
    /// Handoff: nothing has been offered in this conversation.
    NoOffer,
    /// Handoff: the offer (or the consent wording) changed since it was
    /// shown; show the new one and ask again.
    OfferChanged,
    /// Handoff: the offer was already answered.
    AlreadyAnswered,
    /// Handoff: consent is in force; it must be withdrawn before a new offer.
    AlreadyConsented,
    /// Booking (or withdrawing) without a consent in force.
    NoConsent,
    /// Outside what the visitor consented to: contact details with a
    /// consent that excluded them, a transcript that consent excluded,
    /// a transcript that was not offered.
    OutsideConsent,
    /// This conversation has a booking in force already.
    AlreadyBooked,
    /// The slot has no free place.
    SlotFull,
    /// The slot is in the past, cancelled or unknown.
    SlotUnavailable,
    /// An admin cancelling a slot that has bookings in force.
    SlotBooked,
    /// A phone number or e-mail address that is not one.
    InvalidContact,
    /// Wrong booking reference or PIN (the two are not told apart), or no
    /// booking in force.
    BookingNotFound,
    NotFound,
    /// LINE webhook: the `x-line-signature` is missing or does not match
    /// the body; nothing was stored.
    InvalidSignature,
    /// A one-time handoff link that was used: a booking was made with it,
    /// or the offer it came with was declined or the consent withdrawn.
    /// (An unknown link answers `resume_failed`, like a wrong token.)
    LinkSpent,
    /// A one-time handoff link past its validity (`handoff.link_valid_secs`).
    LinkExpired,
    /// `offer_handoff` in a LINE conversation on a server without
    /// `public_url`: the visitor could not be sent a working link, so
    /// nothing was offered.
    HandoffLinkUnavailable,
    /// The store cannot be reached; nothing was changed. Try again.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadJson | UnknownType | InvalidMessage | BinaryNotSupported | TextTooLong
            | TextEmpty | InvalidCapacity | BadRequest | NotStarted | AlreadyStarted
            | InvalidContact => 400,
            FrameTooLarge => 413,
            Unauthorized | LoginFailed | InvalidSignature => 401,
            Forbidden | OriginForbidden | NotYourConversation | ResumeFailed | OutsideConsent => {
                403
            }
            NotFound | BookingNotFound => 404,
            ConversationEnded
            | NotWaiting
            | CapacityReached
            | NotAvailable
            | PickingDisabled
            | Conflict
            | NotActive
            | NoOffer
            | OfferChanged
            | AlreadyAnswered
            | AlreadyConsented
            | NoConsent
            | AlreadyBooked
            | SlotFull
            | SlotUnavailable
            | SlotBooked
            | HandoffLinkUnavailable => 409,
            RateLimited => 429,
            ConversationErased | LinkSpent | LinkExpired => 410,
            QueueFull | Unavailable | Closed => 503,
            Internal => 500,
        }
    }

    /// The wire name, e.g. `"queue_full"`: the one place it is spelled.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadJson => "bad_json",
            UnknownType => "unknown_type",
            InvalidMessage => "invalid_message",
            BinaryNotSupported => "binary_not_supported",
            FrameTooLarge => "frame_too_large",
            TextTooLong => "text_too_long",
            TextEmpty => "text_empty",
            RateLimited => "rate_limited",
            QueueFull => "queue_full",
            NotStarted => "not_started",
            AlreadyStarted => "already_started",
            ResumeFailed => "resume_failed",
            ConversationErased => "conversation_erased",
            NotYourConversation => "not_your_conversation",
            ConversationEnded => "conversation_ended",
            NotWaiting => "not_waiting",
            NotAvailable => "not_available",
            CapacityReached => "capacity_reached",
            PickingDisabled => "picking_disabled",
            InvalidCapacity => "invalid_capacity",
            Closed => "closed",
            NotActive => "not_active",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            OriginForbidden => "origin_forbidden",
            LoginFailed => "login_failed",
            Conflict => "conflict",
            BadRequest => "bad_request",
            NoOffer => "no_offer",
            OfferChanged => "offer_changed",
            AlreadyAnswered => "already_answered",
            AlreadyConsented => "already_consented",
            NoConsent => "no_consent",
            OutsideConsent => "outside_consent",
            AlreadyBooked => "already_booked",
            SlotFull => "slot_full",
            SlotUnavailable => "slot_unavailable",
            SlotBooked => "slot_booked",
            InvalidContact => "invalid_contact",
            BookingNotFound => "booking_not_found",
            NotFound => "not_found",
            InvalidSignature => "invalid_signature",
            LinkSpent => "link_spent",
            LinkExpired => "link_expired",
            HandoffLinkUnavailable => "handoff_link_unavailable",
            Unavailable => "unavailable",
            Internal => "internal",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The body of every error, on the socket (`"type": "error"`) and over HTTP.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Echoed from the `send` it answers, so the client can mark that message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// (Boxed slices keep error results small.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Box<[Alternative]>>,
    /// On `closed`: the next opening, ISO 8601 with `+09:00`; absent when
    /// no opening is scheduled. (A boxed str keeps error results small.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_opening: Option<Box<str>>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            conversation_id: None,
            client_id: None,
            retry_after_ms: None,
            alternatives: None,
            next_opening: None,
        }
    }
}

// ------------------------------------------------------------- inbound

/// Visitor -> server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorIn {
    /// Begin a new anonymous conversation and join the queue.
    Start {
        #[serde(default)]
        pre_chat: PreChat,
        #[serde(default)]
        first_message: Option<String>,
    },
    /// Take up an existing conversation after a reload or a dropped connection.
    Resume {
        conversation_id: ConversationId,
        token: String,
        /// The last sequence number this client has; everything after it is sent.
        #[serde(default)]
        last_seq: u64,
    },
    Send {
        client_id: ClientMsgId,
        text: String,
    },
    /// "I have everything up to `seq`" (shown to the other side as delivered).
    Ack {
        seq: u64,
    },
    Typing {
        active: bool,
    },
    /// Leave the queue, or end the chat.
    End,
    /// "Erase my chat": end it if it is live and delete its messages from
    /// the server at once, for everyone (the page asks to confirm first).
    Erase,
}

impl VisitorIn {
    pub const TYPES: &'static [&'static str] =
        &["start", "resume", "send", "ack", "typing", "end", "erase"];
}

/// Counsellor -> server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CounsellorIn {
    /// First message on the socket: the last sequence number seen per
    /// conversation (absent = 0, send everything).
    Hello {
        #[serde(default)]
        last_seq: HashMap<ConversationId, u64>,
    },
    SetStatus {
        status: Availability,
    },
    SetCapacity {
        capacity: u32,
    },
    /// Manual matching only: take this waiting visitor.
    Pick {
        conversation_id: ConversationId,
    },
    Send {
        conversation_id: ConversationId,
        client_id: ClientMsgId,
        text: String,
    },
    Ack {
        conversation_id: ConversationId,
        seq: u64,
    },
    Typing {
        conversation_id: ConversationId,
        active: bool,
    },
    /// A private note, never shown to the visitor.
    Note {
        conversation_id: ConversationId,
        text: String,
    },
    /// End an active conversation, or record the outcome of one the visitor ended.
    /// Optional, for the statistics: the length-of-withdrawal band, the
    /// severity state, and whether a referral was made.
    End {
        conversation_id: ConversationId,
        outcome: Outcome,
        #[serde(default)]
        withdrawal: Option<WithdrawalBand>,
        #[serde(default)]
        severity: Option<Severity>,
        #[serde(default)]
        referral: bool,
    },
    /// Raise or lower a conversation's risk level by hand.
    SetRisk {
        conversation_id: ConversationId,
        level: RiskLevel,
    },
    /// Hand an active conversation to a colleague (`to`), or back to the
    /// front of the queue (no `to`), with an optional note for whoever
    /// takes it next.
    Transfer {
        conversation_id: ConversationId,
        #[serde(default)]
        to: Option<AccountId>,
        #[serde(default)]
        note: Option<String>,
    },
    /// Supervisors: read a conversation without writing.
    Observe {
        conversation_id: ConversationId,
    },
    /// Supervisors: write in a conversation as a second counsellor.
    Join {
        conversation_id: ConversationId,
    },
    /// Supervisors: stop observing or stop being joined.
    Leave {
        conversation_id: ConversationId,
    },
    /// Supervisors: become the conversation's counsellor.
    TakeOver {
        conversation_id: ConversationId,
    },
    /// Supervisors: acknowledge a risk alert.
    AckAlert {
        alert_id: AlertId,
    },
    /// Offer the visitor a handoff to a first consultation (or revise the
    /// offer): the summary they will see word for word, and whether the
    /// transcript is part of it.
    OfferHandoff {
        conversation_id: ConversationId,
        summary: String,
        #[serde(default)]
        include_transcript: bool,
    },
}

impl CounsellorIn {
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "set_status",
        "set_capacity",
        "pick",
        "send",
        "ack",
        "typing",
        "note",
        "end",
        "set_risk",
        "transfer",
        "observe",
        "join",
        "leave",
        "take_over",
        "ack_alert",
        "offer_handoff",
    ];
}

/// Parse one inbound text frame into `T`, or say precisely what is wrong.
pub fn parse_inbound<T: DeserializeOwned>(frame: &str, known: &[&str]) -> Result<T, ErrorBody> {
    match serde_json::from_str::<T>(frame) {
        Ok(m) => Ok(m),
        Err(err) => Err(diagnose(frame, known, &err)),
    }
}

fn diagnose(frame: &str, known: &[&str], err: &serde_json::Error) -> ErrorBody {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Envelope>(frame) {
        Err(_) => ErrorBody::new(ErrorCode::BadJson, "the frame is not a JSON object"),
        Ok(Envelope {
            kind: Some(serde_json::Value::String(t)),
        }) if known.contains(&t.as_str()) => {
            // serde's message names the field and the expected type; it may
            // quote the client's own value back to the same client, which is
            // fine (it is never logged).
            ErrorBody::new(
                ErrorCode::InvalidMessage,
                format!("invalid `{t}` message: {err}"),
            )
        }
        Ok(_) => ErrorBody::new(
            ErrorCode::UnknownType,
            format!(
                "unknown or missing `type`; expected one of: {}",
                known.join(", ")
            ),
        ),
    }
}

// ------------------------------------------------------------ outbound

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
        matching: MatchingMode,
        max_text_chars: usize,
        max_capacity: u32,
        conversations: Vec<ConversationView>,
        /// Supervisors only: every alert not yet acknowledged, oldest first.
        #[serde(skip_serializing_if = "Option::is_none")]
        alerts: Option<Vec<AlertView>>,
    },
    Status {
        status: Availability,
        capacity: u32,
        active: u32,
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
    Error(&'a ErrorBody),
}

/// Encode an outbound message. Serialising these types cannot fail (no
/// maps with non-string keys, no custom serialisers that error).
pub fn encode<T: Serialize>(msg: &T) -> String {
    // unwrap: see above; a failure would be a bug in this module.
    serde_json::to_string(msg).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_unknown_and_invalid_are_told_apart() {
        let e = parse_inbound::<VisitorIn>("{not json", VisitorIn::TYPES).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
        let e = parse_inbound::<VisitorIn>(r#"{"type":"dance"}"#, VisitorIn::TYPES).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        let e = parse_inbound::<VisitorIn>(r#"{"text":"hi"}"#, VisitorIn::TYPES).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownType);
        let e = parse_inbound::<VisitorIn>(r#"{"type":"ack","seq":"x"}"#, VisitorIn::TYPES)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidMessage);
        let e = parse_inbound::<VisitorIn>(
            r#"{"type":"send","client_id":"has space","text":"x"}"#,
            VisitorIn::TYPES,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidMessage);
        let e = parse_inbound::<VisitorIn>("[1,2]", VisitorIn::TYPES).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadJson);
    }

    #[test]
    fn every_listed_type_parses_with_minimal_fields() {
        for (frame, ok) in [
            (r#"{"type":"start"}"#, true),
            (r#"{"type":"end"}"#, true),
            (r#"{"type":"typing","active":true}"#, true),
            (r#"{"type":"ack","seq":3}"#, true),
        ] {
            assert_eq!(
                parse_inbound::<VisitorIn>(frame, VisitorIn::TYPES).is_ok(),
                ok,
                "{frame}"
            );
        }
        assert!(parse_inbound::<CounsellorIn>(r#"{"type":"hello"}"#, CounsellorIn::TYPES).is_ok());
    }

    #[test]
    fn error_codes_have_stable_wire_names() {
        assert_eq!(ErrorCode::QueueFull.as_str(), "queue_full");
        assert_eq!(
            ErrorCode::NotYourConversation.as_str(),
            "not_your_conversation"
        );
        assert_eq!(ErrorCode::RateLimited.http_status(), 429);
    }
}
