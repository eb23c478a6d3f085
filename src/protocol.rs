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
use crate::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;

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
    /// Unknown conversation or wrong resume token (the two are not told apart).
    ResumeFailed,
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
    /// No valid session.
    Unauthorized,
    /// A valid session whose role may not do this.
    Forbidden,
    /// The request's `Origin` is not this site's and not allowed.
    OriginForbidden,
    /// Wrong username or password (never says which).
    LoginFailed,
    /// A username that is already taken.
    Conflict,
    /// An HTTP request body that is not what the endpoint takes.
    BadRequest,
    NotFound,
    /// The store cannot be reached; nothing was changed. Try again.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadJson | UnknownType | InvalidMessage | BinaryNotSupported | TextTooLong
            | TextEmpty | InvalidCapacity | BadRequest | NotStarted | AlreadyStarted => 400,
            FrameTooLarge => 413,
            Unauthorized | LoginFailed => 401,
            Forbidden | OriginForbidden | NotYourConversation | ResumeFailed => 403,
            NotFound => 404,
            ConversationEnded | NotWaiting | CapacityReached | NotAvailable | PickingDisabled
            | Conflict => 409,
            RateLimited => 429,
            QueueFull | Unavailable => 503,
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
            NotYourConversation => "not_your_conversation",
            ConversationEnded => "conversation_ended",
            NotWaiting => "not_waiting",
            NotAvailable => "not_available",
            CapacityReached => "capacity_reached",
            PickingDisabled => "picking_disabled",
            InvalidCapacity => "invalid_capacity",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            OriginForbidden => "origin_forbidden",
            LoginFailed => "login_failed",
            Conflict => "conflict",
            BadRequest => "bad_request",
            NotFound => "not_found",
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

/// A round-the-clock service to offer when we cannot help right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// Name as shown on the Japanese page.
    pub name: String,
    pub contact: String,
    #[serde(default)]
    pub hours: String,
    /// English forms for the English page; the Japanese ones are shown when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_en: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<Alternative>>,
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
}

impl VisitorIn {
    pub const TYPES: &'static [&'static str] = &["start", "resume", "send", "ack", "typing", "end"];
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
    End {
        conversation_id: ConversationId,
        outcome: Outcome,
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
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Away,
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
    Error(&'a ErrorBody),
}

/// One conversation as a counsellor sees it.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationView {
    pub conversation_id: ConversationId,
    pub state: &'static str,
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
    pub priority: Priority,
    pub requeued: bool,
    pub queued_at: u64,
    pub pre_chat: PreChat,
    /// What the visitor typed before joining; nothing else is shown before a match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CounsellorInfo {
    pub id: AccountId,
    pub display_name: String,
    pub role: crate::auth::Role,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchingMode {
    Auto,
    Manual,
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
