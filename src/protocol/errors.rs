//! The one table of error codes, shared by WebSocket error frames and HTTP
//! error bodies, and the body every error carries.

use serde::Serialize;

use crate::core::ids::ConversationId;
use crate::model::Alternative;

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
    /// An HTTP request (its body included) that took longer than
    /// `timing.http_request_timeout_ms` to arrive and be answered.
    RequestTimeout,
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
    /// The booking reference is locked after too many wrong PINs
    /// (`limits.booking_pin_failures`): every PIN, the right one too, is
    /// refused until a new PIN is set (`POST /api/handoff/pin` with the
    /// resume token or handoff link, or by intake). Waiting does not help.
    BookingLocked,
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
    /// Rescheduling a booking to the slot it is already in.
    SameSlot,
    /// Rescheduling a booking whose time has begun or passed.
    BookingPast,
    /// A way-back code that is wrong, expired, used, replaced by a newer
    /// one, or whose conversation has ended: one answer for all (no
    /// oracle). Counts against the client address.
    WayBackFailed,
    /// This client address gave too many wrong way-back codes
    /// (`limits.way_back_failures`): refused, the right code too, until
    /// `retry_after_ms` (at most `limits.way_back_lockout_secs`).
    WayBackLocked,
    /// Second factor (issue 21): the account's role must use a second
    /// factor and it has not enrolled; after its password it may only
    /// set one up (`/api/second-factor/*`), see itself and log out.
    SecondFactorRequired,
    /// Second factor: a code (or recovery code) that is wrong, already
    /// used (a replay) or outside the ±1 step window; one answer for all.
    /// Counted like a wrong password.
    SecondFactorFailed,
    /// Issue 22: this client address gave too many wrong return codes
    /// (`limits.return_code_failures`): refused, the right code too, until
    /// `retry_after_ms` (at most `limits.return_code_lockout_secs`). A
    /// wrong code itself is answered `resume_failed`, like a wrong token.
    ReturnCodeLocked,
    /// Issue 22: keep-longer asked for a conversation of no case (the
    /// visitor took no return code).
    NoCase,
    /// The store cannot be reached; nothing was changed. Try again.
    Unavailable,
    Internal,
    /// Every password check this node allows at once is running
    /// (`limits.password_hash_concurrency`); nothing was checked or
    /// counted. Try again after `retry_after_ms`.
    Busy,
    /// A visitor socket upgrade from an address (IPv6 by /64) that has
    /// `limits.sockets_per_address` visitor sockets open on this node.
    TooManySockets,
    /// `start` from an address (IPv6 by /64) that has
    /// `limits.waiting_per_address` conversations waiting in the queue
    /// (counted for the whole deployment); nothing was started.
    TooManyWaiting,
    /// `send` while the conversation waits to be matched for the first
    /// time and the visitor has written `limits.waiting_messages_per_conversation`
    /// messages or `waiting_bytes_per_conversation` bytes; nothing was
    /// stored. The messages already sent wait to be read; matching ends
    /// the budget.
    WaitingBudgetSpent,
    /// LINE webhook event (not answered, only counted in /metrics):
    /// its `timestamp` is outside `line.event_window_secs`; ignored.
    LineEventStale,
    /// LINE webhook event (counted only): its `webhookEventId` was handled
    /// within the window; ignored.
    LineEventSeen,
    /// HTTP: a method the path does not take (`Allow` lists the ones it
    /// does), e.g. `DELETE /api/me` or `POST /ws/visitor`.
    MethodNotAllowed,
    /// HTTP: a request body over the limit (16 KiB); nothing was read.
    BodyTooLarge,
    // ---- staff accounts (issue 21)
    /// A new password shorter than 12 characters or on the list of
    /// common passwords; nothing was changed.
    WeakPassword,
    /// A password set-up code that is wrong, used, replaced by a newer
    /// one, expired, or whose account is deactivated: one answer for all.
    SetupFailed,
    /// Creating a canned reply when the library holds its maximum
    /// (`core::canned::LIBRARY_MAX`); nothing was stored.
    CannedLibraryFull,
    // ---- issue 20 (supervision audit)
    /// HTTP: a filter of `GET /api/admin/audit` is malformed (unknown
    /// action, bad id, bad time, `since` after `until`, limit out of range);
    /// the message names it.
    InvalidFilter,
    // ---- letters (issue 22)
    /// Writing a letter when the deployment's maximum already wait for
    /// their answer (`letters.max_waiting`); `alternatives` lists
    /// round-the-clock services. Nothing was stored.
    LettersFull,
    /// Answering a letter that was answered already (by anyone) or
    /// erased by its writer; nothing was stored.
    LetterAnswered,
    // ---- the directory of partners (issue 23)
    /// Adding a partner when the directory holds its maximum
    /// (`core::partners::DIRECTORY_MAX`); nothing was stored.
    DirectoryFull,
    /// A relay sheet naming a partner the directory does not mark as
    /// taking relays (`accepts_relays`); nothing was prepared.
    PartnerNotAccepting,
    /// A partner's relay link whose consent the visitor withdrew: it
    /// shows nothing from then on.
    RelayWithdrawn,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadJson | UnknownType | InvalidMessage | BinaryNotSupported | TextTooLong
            | TextEmpty | InvalidCapacity | BadRequest | NotStarted | AlreadyStarted
            | InvalidContact | WeakPassword => 400,
            FrameTooLarge | BodyTooLarge => 413,
            InvalidFilter => 400,
            MethodNotAllowed => 405,
            RequestTimeout => 408,
            Unauthorized | LoginFailed | InvalidSignature | SecondFactorFailed => 401,
            Forbidden | OriginForbidden | NotYourConversation | ResumeFailed | OutsideConsent
            | SecondFactorRequired => 403,
            NotFound | BookingNotFound | WayBackFailed | SetupFailed => 404,
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
            | HandoffLinkUnavailable
            | SameSlot
            | BookingPast
            | CannedLibraryFull
            | LetterAnswered
            | DirectoryFull
            | PartnerNotAccepting
            | NoCase => 409,
            RateLimited | TooManySockets | TooManyWaiting | WaitingBudgetSpent | WayBackLocked
            | ReturnCodeLocked => 429,
            LineEventStale | LineEventSeen => 409,
            BookingLocked => 423,
            ConversationErased | LinkSpent | LinkExpired | RelayWithdrawn => 410,
            QueueFull | LettersFull | Unavailable | Closed | Busy => 503,
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
            RequestTimeout => "request_timeout",
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
            BookingLocked => "booking_locked",
            NotFound => "not_found",
            InvalidSignature => "invalid_signature",
            LinkSpent => "link_spent",
            LinkExpired => "link_expired",
            HandoffLinkUnavailable => "handoff_link_unavailable",
            SameSlot => "same_slot",
            BookingPast => "booking_past",
            WayBackFailed => "way_back_failed",
            WayBackLocked => "way_back_locked",
            SecondFactorRequired => "second_factor_required",
            SecondFactorFailed => "second_factor_failed",
            ReturnCodeLocked => "return_code_locked",
            NoCase => "no_case",
            Unavailable => "unavailable",
            Internal => "internal",
            Busy => "busy",
            TooManySockets => "too_many_sockets",
            TooManyWaiting => "too_many_waiting",
            WaitingBudgetSpent => "waiting_budget_spent",
            LineEventStale => "line_event_stale",
            LineEventSeen => "line_event_seen",
            MethodNotAllowed => "method_not_allowed",
            BodyTooLarge => "body_too_large",
            WeakPassword => "weak_password",
            SetupFailed => "setup_failed",
            CannedLibraryFull => "canned_library_full",
            InvalidFilter => "invalid_filter",
            LettersFull => "letters_full",
            LetterAnswered => "letter_answered",
            DirectoryFull => "directory_full",
            PartnerNotAccepting => "partner_not_accepting",
            RelayWithdrawn => "relay_withdrawn",
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
