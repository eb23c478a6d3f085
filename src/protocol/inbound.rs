//! Client -> server: one enum per socket, and the two-step parse that says
//! exactly what was wrong with a frame.

use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize};

use crate::core::conversation::Outcome;
use crate::core::ids::{
    AccountId, AlertId, ClientMsgId, ConversationId, IdempotencyKey, PartnerId,
};
use crate::core::prechat::PreChat;
use crate::core::stats::{Severity, WithdrawalBand};
use crate::core::triage::RiskLevel;
use crate::model::Availability;

use super::*;

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
        /// Chosen by the client so that a `start` sent again (its
        /// `welcome` was lost) takes up the same waiting conversation.
        #[serde(default)]
        idempotency_key: Option<IdempotencyKey>,
        /// The page's language, `"ja"` or `"en"` (default `"ja"`): shown
        /// to the counsellor, who answers in it.
        #[serde(default)]
        lang: Option<crate::core::ids::Lang>,
        /// Issue 22: a return code, to continue one's anonymous case
        /// (optional). A wrong one is refused like a wrong resume token.
        #[serde(default)]
        return_code: Option<String>,
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
    /// The quick exit: the page is leaving at once. The conversation is not
    /// ended; it is marked "left quickly" and waits for the visitor's
    /// return within the grace period.
    LeaveQuickly,
    /// "Show me a way-back code": a new code for this conversation (the
    /// earlier one stops working), answered `way_back_code`.
    WayBackCode,
    /// Issue 22: "give me a return code" (during or after the
    /// conversation): links this conversation into an anonymous case and
    /// answers `return_code` (a new code replaces the case's earlier one).
    ReturnCode,
    /// Issue 22: "erase my case": every conversation of this one's case
    /// erased as `erase` does, and the case forgotten (its code stops
    /// working); answered `case_erased`.
    EraseCase,
    /// Issue 22: "keep my history longer for my next visit": the
    /// keep-longer consent for this conversation's case, having been shown
    /// the wording of `wording_version` in `lang` (default: the
    /// conversation's language); answered `case_retention`.
    KeepLonger {
        wording_version: String,
        #[serde(default)]
        lang: Option<crate::core::ids::Lang>,
    },
    /// Issue 22: take the keep-longer consent back (at once: the normal
    /// retention applies again); answered `case_retention`.
    WithdrawKeepLonger,
}

impl VisitorIn {
    pub const TYPES: &'static [&'static str] = &[
        "start",
        "resume",
        "send",
        "ack",
        "typing",
        "end",
        "erase",
        "leave_quickly",
        "way_back_code",
        "return_code",
        "erase_case",
        "keep_longer",
        "withdraw_keep_longer",
    ];
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
        /// The named partners referred to (issue 23; ids from the
        /// directory): their kinds are kept in the anonymous facts, and a
        /// non-empty list is a referral.
        #[serde(default)]
        referred_to: Vec<PartnerId>,
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
    /// Supervisors observing or joined: a message to the conversation's
    /// counsellor(s) and supervisors only, never to the visitor (issue 20).
    Whisper {
        conversation_id: ConversationId,
        text: String,
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
        "whisper",
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
