//! Use cases: the one place every edge (visitor socket, counsellor socket,
//! HTTP, LINE) goes through. Each use case parses nothing from the wire; it
//! checks who may do what, asks the pure core what should happen, tells
//! the store, and publishes the event. It never touches a socket.
//!
//! The store handle is private to this module: edges get commands and
//! read models (what they show, names resolved), never the store, and
//! make no decision about who may see or act on which conversation.
//!
//! By area: `visitor`, `counsellor`, `supervision`, `queue` (places,
//! matching, sweeping), `console` (what a counsellor may see, and its
//! views), `views` (colleagues, floor, names, the log), `accounts`
//! (sessions and staff accounts), `health` (readiness, metrics), `line`
//! (the LINE channel's store steps), `handoff`, `retention`, `report`.
//! This file holds the [`Service`] itself, its refusals and the helpers
//! every area shares.

pub mod accounts;
mod address_caps;
mod bookings;
mod canned;
mod cases;
mod console;
mod counsellor;
mod floor;
pub mod handoff;
mod health;
mod hearing;
mod intake;
mod letters;
mod line;
mod line_replay;
mod login_guard;
mod partners;
mod queue;
mod relays;
pub mod report;
mod reschedule;
mod retention;
pub mod second_factor;
mod supervision;
mod views;
mod visitor;
mod waiting_budget;
mod way_back;

pub use canned::CannedInput;
pub use cases::KeepLongerStep;
pub use console::{note_view, Access, CounsellorWelcome, Recheck};
pub use hearing::{HearingSheetsView, SaveHearing};
pub use letters::{LetterReceipt, LetterView, WaitingLetterView};
pub use line::{LineCurrent, LineOver, LinkDue};
pub use queue::QueuePlace;
pub use relays::{PartnerScope, PartnerSheetView, PrepareRelay, RelayPartView, RelayView};
pub use visitor::{StartOptions, VisitorWelcome};
pub use way_back::WayBack;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Settings;
use crate::core::conversation::TransitionError;
use crate::core::estimate::HandleTime;
use crate::core::hours::{iso_jst, Schedule, Status};
use crate::core::ids::{InvalidInput, MessageText};
use crate::core::triage::Rules;
use crate::metrics::Metrics;
use crate::model::Event;
use crate::protocol::{ErrorBody, ErrorCode, HoursView};
use crate::store::{Store, StoreError};

pub struct Service {
    /// Private to the service layer: the edges get use cases and read
    /// models, never the store.
    store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    /// Risk triage rules (empty when triage is disabled).
    pub rules: Rules,
    pub schedule: Schedule,
    handle_time: Mutex<HandleTime>,
    /// The round-the-clock services the pages offer: the configured ones
    /// and the directory's (`refresh_alternatives`).
    alternatives: std::sync::RwLock<Arc<[crate::model::Alternative]>>,
    matcher_wake: Notify,
    /// Password checks running at once (argon2: memory and CPU), bounded
    /// by `limits.password_hash_concurrency`.
    hashing: tokio::sync::Semaphore,
    /// Every decision's "now": the system time, moved only by tests.
    pub clock: Clock,
}

/// A failed use case, ready for the wire.
pub type Refusal = ErrorBody;

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    ErrorBody::new(code, message)
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound | StoreError::NotYours => refuse(
                ErrorCode::NotYourConversation,
                "no such conversation of yours",
            ),
            StoreError::QueueFull => refuse(ErrorCode::QueueFull, "the queue is full"),
            StoreError::UsernameTaken => refuse(ErrorCode::Conflict, "that username is taken"),
            StoreError::CapacityReached => refuse(
                ErrorCode::CapacityReached,
                "no free place within your capacity",
            ),
            StoreError::NotAvailable => refuse(
                ErrorCode::NotAvailable,
                "that counsellor is not taking chats",
            ),
            StoreError::Transition(TransitionError::AlreadyEnded) => {
                refuse(ErrorCode::ConversationEnded, "the conversation has ended")
            }
            StoreError::Transition(TransitionError::NotQueued) => {
                refuse(ErrorCode::NotWaiting, "that visitor is no longer waiting")
            }
            StoreError::Transition(TransitionError::NotActive) => refuse(
                ErrorCode::ConversationEnded,
                "the conversation is not active",
            ),
            StoreError::Conflict => refuse(
                ErrorCode::Conflict,
                "changed at the same moment by someone else; read it again and retry",
            ),
            StoreError::SlotFull => refuse(ErrorCode::SlotFull, "that slot is full"),
            StoreError::SlotUnavailable => refuse(
                ErrorCode::SlotUnavailable,
                "that slot is in the past, cancelled or unknown",
            ),
            StoreError::SlotBooked => refuse(
                ErrorCode::SlotBooked,
                "the slot has bookings in force; cancel them first",
            ),
            StoreError::LibraryFull => refuse(
                ErrorCode::CannedLibraryFull,
                format!(
                    "the library holds {} canned replies already; delete one first",
                    crate::core::canned::LIBRARY_MAX
                ),
            ),
            StoreError::LettersFull => refuse(
                ErrorCode::LettersFull,
                "as many letters as the centre can answer are waiting already; please contact one of these services",
            ),
            StoreError::Unavailable(_) => refuse(
                ErrorCode::Unavailable,
                "temporarily unavailable; nothing was changed, please try again",
            ),
            StoreError::Busy { retry_after_ms } => ErrorBody {
                retry_after_ms: Some(retry_after_ms),
                ..refuse(
                    ErrorCode::Unavailable,
                    "busy; nothing was changed, please try again after retry_after_ms",
                )
            },
        }
    }
}

impl From<InvalidInput> for Refusal {
    fn from(e: InvalidInput) -> Self {
        let code = match e {
            InvalidInput::TextEmpty => ErrorCode::TextEmpty,
            InvalidInput::TextTooLong { .. } => ErrorCode::TextTooLong,
            InvalidInput::Capacity { .. } => ErrorCode::InvalidCapacity,
            InvalidInput::ClientMsgId
            | InvalidInput::IdempotencyKey
            | InvalidInput::TextControlChars => ErrorCode::InvalidMessage,
        };
        refuse(code, e.to_string())
    }
}

/// Refused unless `who` is an admin: `what` they alone manage, for the
/// message ("the canned replies").
pub(crate) fn only_admins(who: &crate::model::Account, what: &str) -> Result<(), Refusal> {
    if who.role == crate::model::Role::Admin {
        Ok(())
    } else {
        Err(refuse(
            ErrorCode::Forbidden,
            format!("only admins manage {what}"),
        ))
    }
}

/// A wrong resume token, an unknown conversation and an unknown handoff
/// link all get this one answer, so none of them can be probed.
pub(crate) fn resume_failed() -> Refusal {
    refuse(
        ErrorCode::ResumeFailed,
        "cannot resume that conversation: the link is wrong, or the conversation expired under the retention period",
    )
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        settings: Arc<Settings>,
        rules: Rules,
        schedule: Schedule,
    ) -> Arc<Self> {
        let prior = Duration::from_secs(settings.timing.handle_time_prior_secs);
        let hashing = settings.password_hash_concurrency();
        Arc::new(Self {
            store,
            metrics: Metrics::default(),
            rules,
            schedule,
            handle_time: Mutex::new(HandleTime::new(prior)),
            alternatives: std::sync::RwLock::new(settings.alternatives.clone().into()),
            matcher_wake: Notify::new(),
            hashing: tokio::sync::Semaphore::new(hashing),
            settings,
            clock: Clock::default(),
        })
    }

    /// Now, by the service's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Where the opening hours stand now.
    pub fn hours_status(&self) -> Status {
        self.schedule.status(self.now_ms())
    }

    pub fn hours_view(&self) -> HoursView {
        HoursView::new(self.hours_status(), &self.settings.hours)
    }

    fn closed_refusal(&self, status: Status) -> Refusal {
        let mut r = refuse(
            ErrorCode::Closed,
            match status {
                Status::LastEntryPassed { .. } => {
                    "chat is closing for today and takes no new conversations; please come back when it opens, or contact one of these services"
                }
                _ => "chat is closed now; please come back when it opens, or contact one of these services",
            },
        );
        r.next_opening = status.next_opening().map(|t| iso_jst(t).into());
        r.alternatives = Some(self.alternatives().to_vec().into());
        r
    }

    fn text(&self, raw: String) -> Result<MessageText, Refusal> {
        Ok(MessageText::parse(
            raw,
            self.settings.limits.max_text_chars,
        )?)
    }

    async fn publish(&self, event: Event) {
        // The notice of a change already made: never shed by the store's
        // admission control (a refused publish is lost with no resync to
        // make up for it, e.g. a visitor's safety information).
        if let Err(e) = crate::store::background(self.store.publish(event)).await {
            // A lost notification costs latency, never data.
            tracing::warn!(error = %e, "could not publish an event");
        }
    }

    fn wake_matcher(&self) {
        self.matcher_wake.notify_one();
    }

    fn observe_handle_time(&self, d: Duration) {
        self.handle_time
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe(d);
    }

    fn mean_handle_time(&self) -> Duration {
        self.handle_time
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .mean()
    }
}
