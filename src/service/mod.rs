//! Use cases: the one place every edge (visitor socket, counsellor socket,
//! HTTP, later LINE) goes through. Each use case parses nothing from the
//! wire; it checks who may do what, asks the pure core what should happen,
//! tells the store, and publishes the event. It never touches a socket.

mod bookings;
pub mod handoff;
mod intake;
pub mod report;
mod retention;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::auth;
use crate::clock::now_ms;
use crate::config::Settings;
use crate::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use crate::core::estimate::{estimate_wait, HandleTime, WaitInputs};
use crate::core::hours::{iso_jst, Schedule, Status};
use crate::core::ids::{
    AccountId, AlertId, ClientMsgId, ConversationId, InvalidInput, MessageText, Party,
};
use crate::core::matching::{self, CounsellorLoad};
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;
use crate::core::triage::{self, RiskLevel, Rules};
use crate::metrics::Metrics;
use crate::model::Role;
use crate::model::{
    Account, Alert, Appended, Channel, Closing, ConversationRecord, CounsellorRecord, Event,
    NewConversation, NewMessage, Note, ReleaseReason, RiskChange, RiskReason, RiskSource,
    SupervisionMode, Swept,
};
use crate::model::{Availability, MatchingMode};
use crate::protocol::{
    reason_views, ColleagueView, ErrorBody, ErrorCode, FloorConversation, FloorCounsellor,
    FloorQueue, FloorView, HoursView, StaffRef, SupervisorView,
};
use crate::store::{Store, StoreError};

pub struct Service {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    /// Risk triage rules (empty when triage is disabled).
    pub rules: Rules,
    pub schedule: Schedule,
    handle_time: Mutex<HandleTime>,
    matcher_wake: Notify,
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
            InvalidInput::ClientMsgId | InvalidInput::TextControlChars => ErrorCode::InvalidMessage,
        };
        refuse(code, e.to_string())
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

/// What a visitor learns about their place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    pub position: u32,
    pub queue_length: u32,
    pub estimated_wait_secs: Option<u64>,
}

/// A triage hit as a stored reason (the rule, never the text).
fn triage_reasons(hits: &[triage::Hit], now_ms: u64) -> Vec<RiskReason> {
    hits.iter()
        .map(|h| RiskReason {
            level: h.level,
            source: RiskSource::Triage {
                rule: h.rule.clone(),
                category: h.category.clone(),
            },
            at_ms: now_ms,
        })
        .collect()
}

/// The rule ids of reasons, for logs.
fn rule_ids(reasons: &[RiskReason]) -> String {
    reasons
        .iter()
        .filter_map(|r| match &r.source {
            RiskSource::Triage { rule, .. } => Some(rule.as_str()),
            RiskSource::Staff { .. } => None,
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        settings: Arc<Settings>,
        rules: Rules,
        schedule: Schedule,
    ) -> Arc<Self> {
        let prior = Duration::from_secs(settings.timing.handle_time_prior_secs);
        Arc::new(Self {
            store,
            settings,
            metrics: Metrics::default(),
            rules,
            schedule,
            handle_time: Mutex::new(HandleTime::new(prior)),
            matcher_wake: Notify::new(),
        })
    }

    /// Where the opening hours stand now.
    pub fn hours_status(&self) -> Status {
        self.schedule.status(now_ms())
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
        r.alternatives = Some(self.settings.alternatives.clone().into());
        r
    }

    fn text(&self, raw: String) -> Result<MessageText, Refusal> {
        Ok(MessageText::parse(
            raw,
            self.settings.limits.max_text_chars,
        )?)
    }

    async fn publish(&self, event: Event) {
        if let Err(e) = self.store.publish(event).await {
            // A lost notification costs latency, never data.
            tracing::warn!(error = %e, "could not publish an event");
        }
    }

    fn wake_matcher(&self) {
        self.matcher_wake.notify_one();
    }

    // ------------------------------------------------------------ visitor

    /// Start a conversation and join the queue. Returns the record and the
    /// resume token (shown to the visitor once, stored only as a hash).
    pub async fn start(
        &self,
        pre_chat: PreChat,
        first_message: Option<String>,
    ) -> Result<(ConversationRecord, String), Refusal> {
        self.start_on(Channel::Web, pre_chat, first_message).await
    }

    /// [`Service::start`] for a visitor on `channel` (the LINE edge starts
    /// its conversations here: same hours, triage, queue and limits).
    pub async fn start_on(
        &self,
        channel: Channel,
        pre_chat: PreChat,
        first_message: Option<String>,
    ) -> Result<(ConversationRecord, String), Refusal> {
        let now = now_ms();
        let status = self.schedule.status(now);
        if !status.accepts_new_visitors() {
            return Err(self.closed_refusal(status));
        }
        let first_message = match first_message {
            Some(t) if !t.trim().is_empty() => Some(self.text(t)?.into_string()),
            _ => None,
        };
        let hits = first_message
            .as_deref()
            .map(|t| self.rules.check(t))
            .unwrap_or_default();
        let risk_reasons = triage_reasons(&hits, now);
        let risk = triage::level_of(&hits);
        let alert_id = (!hits.is_empty()).then(AlertId::new_random);
        let (token, token_hash) = auth::new_token();
        let new = NewConversation {
            channel,
            id: ConversationId::new_random(),
            token_hash,
            pre_chat,
            risk,
            risk_reasons: risk_reasons.clone(),
            alert: alert_id,
            first_message,
            now_ms: now,
        };
        let rec = self
            .store
            .create_conversation(new, self.settings.limits.max_queue)
            .await
            .map_err(|e| {
                let mut r = Refusal::from(e);
                if r.code == ErrorCode::QueueFull {
                    r.message = "everyone is busy right now and the queue is full; please try again later or contact one of these services".into();
                    r.alternatives = Some(self.settings.alternatives.clone().into());
                }
                r
            })?;
        tracing::info!(conversation = %rec.id, "conversation started");
        self.metrics.conversation_started();
        if let Some(id) = alert_id {
            // The rule ids only: never the text.
            tracing::info!(conversation = %rec.id, rules = %rule_ids(&risk_reasons), level = ?risk, "triage matched the first message");
            self.publish(Event::Alert {
                alert: Box::new(Alert {
                    id,
                    conversation: rec.id,
                    level: risk,
                    reasons: risk_reasons,
                    at_ms: now,
                    acked_by: None,
                    acked_at_ms: None,
                }),
            })
            .await;
        }
        self.publish(Event::QueueChanged).await;
        self.wake_matcher();
        Ok((rec, token))
    }

    /// Check a resume token. Unknown conversation and wrong token give the
    /// same answer, so ids cannot be probed; a conversation purged after
    /// the retention period no longer exists, so it answers the same.
    pub async fn resume(
        &self,
        id: ConversationId,
        token: &str,
    ) -> Result<ConversationRecord, Refusal> {
        let failed = resume_failed;
        let rec = self.store.conversation(id).await?.ok_or_else(failed)?;
        if !auth::same_hash(&rec.token_hash, &crate::model::hash_token(token)) {
            return Err(failed());
        }
        if rec.erased_at_ms.is_some() {
            return Err(Self::erased_refusal());
        }
        Ok(rec)
    }

    pub async fn visitor_presence(&self, id: ConversationId, delta: i32) -> Result<(), Refusal> {
        let rec = self.store.visitor_connections(id, delta, now_ms()).await?;
        let online = rec.visitor_connections > 0;
        // Only the first socket in and the last one out change presence.
        if (delta > 0 && rec.visitor_connections == 1) || (delta < 0 && !online) {
            self.publish(Event::VisitorPresence {
                conversation: id,
                online,
                counsellor: rec.state.counsellor(),
            })
            .await;
        }
        Ok(())
    }

    /// Store a message from `party`; returns its sequence number (the same
    /// one again for a resend of the same client id).
    pub async fn send(
        &self,
        id: ConversationId,
        party: Party,
        author: Option<&Account>,
        client_id: ClientMsgId,
        text: String,
    ) -> Result<u64, Refusal> {
        let text = self.text(text)?;
        // Triage looks at what a visitor writes; the store applies a hit
        // only while the conversation is still queued.
        let hits = match party {
            Party::Visitor => self.rules.check(text.as_str()),
            Party::Counsellor => Vec::new(),
        };
        let msg = NewMessage {
            from: party,
            author: author.map(|a| a.id),
            author_name: author.map(|a| a.display_name.clone()),
            client_id,
            text: text.into_string(),
            now_ms: now_ms(),
            require_counsellor: match party {
                Party::Counsellor => author.map(|a| a.id),
                Party::Visitor => None,
            },
        };
        match self.store.append(id, msg).await? {
            Appended::New(message) => {
                // The store has published it (see `Store::append`).
                self.metrics.message_stored();
                let seq = message.seq;
                let at = message.at_ms;
                if !hits.is_empty() {
                    self.apply_triage(id, &hits, at).await;
                }
                Ok(seq)
            }
            Appended::Duplicate(seq) => Ok(seq),
        }
    }

    /// Raise a waiting visitor's risk after a triage hit. Failure to do so
    /// is logged, never shown to the visitor (triage never answers them).
    async fn apply_triage(&self, id: ConversationId, hits: &[triage::Hit], now: u64) {
        let change = RiskChange::Triage {
            hits: triage_reasons(hits, now),
            alert: AlertId::new_random(),
        };
        match self.store.set_risk(id, change, now).await {
            Ok(update) => {
                if let Some(alert) = update.alert {
                    tracing::info!(conversation = %id, rules = %rule_ids(&alert.reasons), level = ?update.record.risk, "triage matched a message while waiting");
                    self.publish(Event::RiskChanged {
                        conversation: id,
                        level: update.record.risk,
                        counsellor: update.record.counsellor,
                    })
                    .await;
                    self.publish(Event::Alert {
                        alert: Box::new(alert),
                    })
                    .await;
                    self.wake_matcher();
                }
            }
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "triage could not raise the risk level")
            }
        }
    }

    pub async fn ack(&self, id: ConversationId, party: Party, seq: u64) -> Result<(), Refusal> {
        let before = self
            .store
            .conversation(id)
            .await?
            .map(|r| r.acked_by(party));
        let now = self.store.ack(id, party, seq).await?;
        if before != Some(now) {
            self.publish(Event::Acked {
                conversation: id,
                by: party,
                seq: now,
            })
            .await;
        }
        Ok(())
    }

    pub async fn typing(&self, id: ConversationId, from: Party, active: bool) {
        self.publish(Event::Typing {
            conversation: id,
            from,
            active,
        })
        .await;
    }

    pub async fn visitor_end(&self, id: ConversationId) -> Result<(), Refusal> {
        let ended = self.store.end(id, EndedBy::Visitor, None, now_ms()).await?;
        self.after_end(&ended.record, ended.was, EndedBy::Visitor)
            .await;
        Ok(())
    }

    async fn after_end(&self, rec: &ConversationRecord, was: ConversationState, by: EndedBy) {
        tracing::info!(conversation = %rec.id, ended_by = ?by, outcome = ?rec.outcome, "conversation ended");
        self.metrics.conversation_ended();
        if let (ConversationState::Active { .. }, Some(start), Some(end)) =
            (was, rec.assigned_at_ms, rec.ended_at_ms)
        {
            self.observe_handle_time(Duration::from_millis(end.saturating_sub(start)));
        }
        // The matcher reads the freed place from the store, not from these
        // events: it need not wait for their round trips.
        self.wake_matcher();
        self.publish(Event::Ended {
            conversation: rec.id,
            by,
            outcome: rec.outcome,
            counsellor: rec.counsellor,
        })
        .await;
        if let ConversationState::Active { counsellor } = was {
            self.publish(Event::CounsellorChanged { counsellor }).await;
        }
        self.publish(Event::QueueChanged).await;
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

    // --------------------------------------------------------- counsellor

    pub async fn counsellor_presence(
        &self,
        id: AccountId,
        delta: i32,
    ) -> Result<CounsellorRecord, Refusal> {
        let rec = self
            .store
            .counsellor_connections(id, delta, self.settings.limits.default_capacity, now_ms())
            .await?;
        self.publish(Event::CounsellorChanged { counsellor: id })
            .await;
        self.wake_matcher();
        Ok(rec)
    }

    pub async fn set_status(&self, id: AccountId, status: Availability) -> Result<(), Refusal> {
        self.store.set_status(id, status).await?;
        self.publish(Event::CounsellorChanged { counsellor: id })
            .await;
        self.wake_matcher();
        Ok(())
    }

    pub async fn set_capacity(&self, id: AccountId, capacity: u32) -> Result<(), Refusal> {
        let max = self.settings.limits.max_capacity;
        if capacity == 0 || capacity > max {
            return Err(InvalidInput::Capacity { max }.into());
        }
        self.store.set_capacity(id, capacity).await?;
        self.publish(Event::CounsellorChanged { counsellor: id })
            .await;
        self.wake_matcher();
        Ok(())
    }

    pub async fn counsellor_record(&self, id: AccountId) -> Result<CounsellorRecord, Refusal> {
        self.store
            .counsellor(id)
            .await?
            .ok_or_else(|| refuse(ErrorCode::Internal, "counsellor not registered"))
    }

    /// The conversation, if `counsellor` has or last had it.
    pub async fn authorise(
        &self,
        id: ConversationId,
        counsellor: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        match self.store.conversation(id).await? {
            Some(rec)
                if rec.counsellor == Some(counsellor) && rec.state != ConversationState::Queued =>
            {
                Ok(rec)
            }
            _ => Err(StoreError::NotYours.into()),
        }
    }

    /// The conversation, if it is active with `counsellor` right now.
    pub async fn authorise_active(
        &self,
        id: ConversationId,
        counsellor: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        let rec = self.authorise(id, counsellor).await?;
        match rec.state {
            ConversationState::Active { counsellor: c } if c == counsellor => Ok(rec),
            ConversationState::Ended => {
                Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            _ => Err(StoreError::NotYours.into()),
        }
    }

    /// The conversation, if `account` may write to the visitor in it now
    /// (its counsellor, or a supervisor who joined).
    pub async fn authorise_writer(
        &self,
        id: ConversationId,
        account: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        match self.store.conversation(id).await? {
            Some(rec) if rec.writable_by(account) => Ok(rec),
            Some(rec) if rec.state == ConversationState::Ended => {
                Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            _ => Err(StoreError::NotYours.into()),
        }
    }

    /// The conversation, if `account` holds it (see `authorise`) or may
    /// write in it (a joined supervisor).
    pub async fn authorise_holder_or_writer(
        &self,
        id: ConversationId,
        account: AccountId,
    ) -> Result<ConversationRecord, Refusal> {
        match self.authorise(id, account).await {
            Ok(rec) => Ok(rec),
            Err(_) => self.authorise_writer(id, account).await,
        }
    }

    pub async fn pick(&self, id: ConversationId, counsellor: AccountId) -> Result<(), Refusal> {
        if self.settings.matching != MatchingMode::Manual {
            return Err(refuse(
                ErrorCode::PickingDisabled,
                "this deployment assigns visitors automatically",
            ));
        }
        let rec = self.counsellor_record(counsellor).await?;
        if rec.status != Availability::Available {
            return Err(refuse(
                ErrorCode::NotAvailable,
                "set yourself available to take chats",
            ));
        }
        self.assign(id, counsellor).await
    }

    async fn assign(&self, id: ConversationId, counsellor: AccountId) -> Result<(), Refusal> {
        let now = now_ms();
        let rec = self.store.assign(id, counsellor, now).await?;
        tracing::info!(conversation = %id, %counsellor, "assigned");
        self.metrics
            .assigned(now.saturating_sub(rec.queued_since_ms) as f64 / 1000.0);
        self.publish(Event::Assigned {
            conversation: id,
            counsellor,
        })
        .await;
        self.publish(Event::CounsellorChanged { counsellor }).await;
        Ok(())
    }

    pub async fn note(
        &self,
        id: ConversationId,
        counsellor: AccountId,
        text: String,
    ) -> Result<(), Refusal> {
        let text = self.text(text)?;
        self.authorise_holder_or_writer(id, counsellor).await?;
        let note = Note {
            author: counsellor,
            text: text.into_string(),
            at_ms: now_ms(),
        };
        self.store.add_note(id, note.clone()).await?;
        self.publish(Event::NoteSaved {
            conversation: id,
            counsellor,
            note: Box::new(note),
        })
        .await;
        Ok(())
    }

    /// End an active conversation with an outcome, or record the outcome of
    /// one the visitor (or the system) ended.
    pub async fn counsellor_end(
        &self,
        id: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> Result<(), Refusal> {
        let rec = self.authorise(id, counsellor).await?;
        if rec.state == ConversationState::Ended {
            if rec.outcome.is_some() {
                return Err(StoreError::Transition(TransitionError::AlreadyEnded).into());
            }
            let rec = self.store.set_outcome(id, counsellor, closing).await?;
            self.publish(Event::Ended {
                conversation: id,
                by: rec.ended_by.unwrap_or(EndedBy::Visitor),
                outcome: rec.outcome,
                counsellor: Some(counsellor),
            })
            .await;
            return Ok(());
        }
        self.authorise_active(id, counsellor).await?;
        let ended = self
            .store
            .end(id, EndedBy::Counsellor, Some(closing), now_ms())
            .await?;
        self.after_end(&ended.record, ended.was, EndedBy::Counsellor)
            .await;
        Ok(())
    }

    // ---------------------------------------------- safety and supervision

    /// Raise or lower a conversation's risk level by hand. Anyone who
    /// counsels may do it on a waiting visitor (they see the queue); on an
    /// active conversation, its counsellor, a joined or observing
    /// supervisor, or any supervisor.
    pub async fn set_risk(
        &self,
        id: ConversationId,
        who: &Account,
        level: RiskLevel,
    ) -> Result<(), Refusal> {
        let rec = self
            .store
            .conversation(id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let allowed = match rec.state {
            ConversationState::Ended => {
                return Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            ConversationState::Queued => true,
            ConversationState::Active { counsellor } => {
                counsellor == who.id || who.role == Role::Supervisor
            }
        };
        if !allowed {
            return Err(StoreError::NotYours.into());
        }
        let now = now_ms();
        let change = RiskChange::Staff {
            level,
            by: who.id,
            alert: AlertId::new_random(),
        };
        let update = self.store.set_risk(id, change, now).await?;
        tracing::info!(conversation = %id, by = %who.id, from = ?update.was, to = ?level, "risk level set by hand");
        self.publish(Event::RiskChanged {
            conversation: id,
            level: update.record.risk,
            counsellor: update.record.counsellor,
        })
        .await;
        if let Some(alert) = update.alert {
            self.publish(Event::Alert {
                alert: Box::new(alert),
            })
            .await;
        }
        self.wake_matcher();
        Ok(())
    }

    pub async fn ack_alert(&self, id: AlertId, supervisor: AccountId) -> Result<(), Refusal> {
        let alert = self
            .store
            .ack_alert(id, supervisor, now_ms())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => refuse(ErrorCode::InvalidMessage, "no such alert"),
                e => e.into(),
            })?;
        self.publish(Event::AlertAcked {
            alert: Box::new(alert),
        })
        .await;
        Ok(())
    }

    fn optional_note(
        &self,
        author: AccountId,
        note: Option<String>,
    ) -> Result<Option<Note>, Refusal> {
        match note {
            Some(t) if !t.trim().is_empty() => Ok(Some(Note {
                author,
                text: self.text(t)?.into_string(),
                at_ms: now_ms(),
            })),
            _ => Ok(None),
        }
    }

    /// Hand an active conversation to a colleague (`to`) or back to the
    /// front of the queue (`None`), with an optional note. Only its
    /// counsellor may. The visitor's log is untouched: messages continue by
    /// sequence number with whoever has it next.
    pub async fn transfer(
        &self,
        id: ConversationId,
        from: AccountId,
        to: Option<AccountId>,
        note: Option<String>,
    ) -> Result<(), Refusal> {
        let note = self.optional_note(from, note)?;
        let rec = self.authorise(id, from).await?;
        if rec.state == ConversationState::Ended {
            return Err(StoreError::Transition(TransitionError::AlreadyEnded).into());
        }
        let not_active = |e: StoreError| match e {
            StoreError::Transition(TransitionError::NotActive) => {
                refuse(ErrorCode::NotActive, "the conversation is not active")
            }
            e => e.into(),
        };
        let now = now_ms();
        match to {
            Some(to) => {
                if to == from {
                    return Err(refuse(
                        ErrorCode::InvalidMessage,
                        "choose a colleague other than yourself",
                    ));
                }
                let target = self.store.account(to).await?;
                if !target.is_some_and(|a| a.role.counsels()) {
                    return Err(refuse(
                        ErrorCode::NotAvailable,
                        "that colleague is not taking chats",
                    ));
                }
                self.store
                    .reassign(id, from, to, true, note.clone(), now)
                    .await
                    .map_err(not_active)?;
                tracing::info!(conversation = %id, from = %from, to = %to, "conversation transferred");
                self.after_handover(id, from, Some(to), ReleaseReason::Transferred, note)
                    .await;
            }
            None => {
                self.store
                    .requeue(id, from, note.clone(), now)
                    .await
                    .map_err(not_active)?;
                tracing::info!(conversation = %id, from = %from, "conversation handed back to the queue");
                self.after_handover(id, from, None, ReleaseReason::ReturnedToQueue, note)
                    .await;
            }
        }
        Ok(())
    }

    async fn after_handover(
        &self,
        id: ConversationId,
        from: AccountId,
        to: Option<AccountId>,
        reason: ReleaseReason,
        note: Option<Note>,
    ) {
        if let Some(note) = note {
            // Before the hand-over events: the next counsellor reads the
            // notes with the conversation.
            self.publish(Event::NoteSaved {
                conversation: id,
                counsellor: from,
                note: Box::new(note),
            })
            .await;
        }
        match to {
            Some(to) => {
                self.publish(Event::Assigned {
                    conversation: id,
                    counsellor: to,
                })
                .await;
                self.publish(Event::Released {
                    conversation: id,
                    counsellor: from,
                    to,
                    reason,
                })
                .await;
                self.publish(Event::CounsellorChanged { counsellor: to })
                    .await;
            }
            None => {
                self.publish(Event::Requeued {
                    conversation: id,
                    counsellor: from,
                    by_transfer: true,
                })
                .await;
            }
        }
        self.publish(Event::CounsellorChanged { counsellor: from })
            .await;
        self.publish(Event::QueueChanged).await;
        self.wake_matcher();
    }

    /// A supervisor becomes the conversation's counsellor: a waiting one is
    /// assigned to them, an active one is taken from its counsellor. Their
    /// capacity holds either way.
    pub async fn take_over(
        &self,
        id: ConversationId,
        supervisor: AccountId,
    ) -> Result<(), Refusal> {
        let rec = self
            .store
            .conversation(id)
            .await?
            .ok_or(StoreError::NotFound)?;
        match rec.state {
            ConversationState::Ended => {
                Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            ConversationState::Queued => {
                self.assign(id, supervisor).await?;
                tracing::info!(conversation = %id, supervisor = %supervisor, "supervisor took a waiting visitor");
                self.publish(Event::QueueChanged).await;
                Ok(())
            }
            ConversationState::Active { counsellor } if counsellor == supervisor => Ok(()),
            ConversationState::Active { counsellor } => {
                self.store
                    .reassign(id, counsellor, supervisor, false, None, now_ms())
                    .await?;
                tracing::info!(conversation = %id, from = %counsellor, supervisor = %supervisor, "supervisor took over");
                self.after_handover(
                    id,
                    counsellor,
                    Some(supervisor),
                    ReleaseReason::TakenOver,
                    None,
                )
                .await;
                Ok(())
            }
        }
    }

    /// Observe (`Some(Observe)`), join (`Some(Join)`) or leave (`None`).
    pub async fn supervise(
        &self,
        id: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
    ) -> Result<(), Refusal> {
        let (_, previous) =
            self.store
                .supervise(id, supervisor, mode)
                .await
                .map_err(|e| match e {
                    StoreError::Transition(TransitionError::NotActive) => refuse(
                        ErrorCode::NotActive,
                        "a waiting visitor cannot be joined; take them over instead",
                    ),
                    StoreError::NotYours => refuse(
                        ErrorCode::InvalidMessage,
                        "this conversation is already yours",
                    ),
                    e => e.into(),
                })?;
        if previous != mode {
            tracing::info!(conversation = %id, supervisor = %supervisor, mode = ?mode, "supervision changed");
            self.publish(Event::Supervision {
                conversation: id,
                supervisor,
                mode,
                previous,
            })
            .await;
            self.publish(Event::QueueChanged).await;
        }
        Ok(())
    }

    /// Display names by account.
    async fn names(&self) -> Result<std::collections::HashMap<AccountId, Account>, Refusal> {
        Ok(self
            .store
            .accounts()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect())
    }

    /// Colleagues a conversation can be transferred to: everyone who
    /// counsels and is connected.
    pub async fn colleagues(&self) -> Result<Vec<ColleagueView>, Refusal> {
        let names = self.names().await?;
        let mut v: Vec<ColleagueView> = self
            .store
            .counsellors()
            .await?
            .into_iter()
            .filter(|c| c.connections > 0)
            .filter_map(|c| {
                let a = names.get(&c.id)?;
                Some(ColleagueView {
                    id: c.id,
                    display_name: a.display_name.clone(),
                    role: a.role,
                    available: c.takes_chats(),
                    free: c.capacity.saturating_sub(c.active),
                })
            })
            .collect();
        v.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(v)
    }

    /// The supervisors' floor view, now.
    pub async fn floor(&self) -> Result<FloorView, Refusal> {
        let now = now_ms();
        let names = self.names().await?;
        let staff = |id: AccountId| StaffRef {
            id,
            display_name: names
                .get(&id)
                .map(|a| a.display_name.clone())
                .unwrap_or_default(),
        };
        let queue = self.store.queue().await?;
        let mut live = self.store.live_conversations().await?;
        live.retain(|r| r.state != ConversationState::Queued);
        live.sort_by_key(|r| (r.assigned_at_ms, r.id));
        let view = |r: &ConversationRecord| FloorConversation {
            conversation_id: r.id,
            state: r.state.name(),
            risk: r.risk,
            risk_reasons: reason_views(&r.risk_reasons),
            priority: r.priority,
            requeued: r.requeued,
            counsellor: r.state.counsellor().map(staff),
            supervisors: r
                .supervisors
                .iter()
                .map(|x| SupervisorView {
                    id: x.supervisor,
                    display_name: staff(x.supervisor).display_name,
                    mode: x.mode,
                })
                .collect(),
            started_at: r.started_at_ms,
            age_secs: now.saturating_sub(r.started_at_ms) / 1000,
            waiting_secs: (r.state == ConversationState::Queued)
                .then(|| now.saturating_sub(r.queued_since_ms) / 1000),
            visitor_online: r.visitor_connections > 0,
            silent_since: r.silent_since_ms,
            transfers: r.transfers,
            last_seq: r.last_seq,
        };
        let conversations: Vec<FloorConversation> =
            queue.iter().chain(live.iter()).map(view).collect();
        let mut counsellors: Vec<FloorCounsellor> = self
            .store
            .counsellors()
            .await?
            .into_iter()
            .filter_map(|c| {
                let a = names.get(&c.id)?;
                Some(FloorCounsellor {
                    id: c.id,
                    display_name: a.display_name.clone(),
                    role: a.role,
                    status: c.status,
                    online: c.connections > 0,
                    capacity: c.capacity,
                    active: c.active,
                })
            })
            .collect();
        counsellors.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        Ok(FloorView {
            at: now,
            queue: FloorQueue {
                length: queue.len() as u32,
                urgent: queue
                    .iter()
                    .filter(|r| r.priority == Priority::Urgent)
                    .count() as u32,
                longest_wait_secs: queue
                    .iter()
                    .map(|r| r.queued_since_ms)
                    .min()
                    .map(|t| now.saturating_sub(t) / 1000),
            },
            counsellors,
            conversations,
            open_alerts: self.store.alerts(true).await?.len() as u32,
            stats: self.store.stats().await?,
            hours: self.hours_view(),
        })
    }

    // ------------------------------------------------------ the queue

    /// Every waiting visitor's place, in queue order, with the estimate
    /// from the counsellors taking chats now.
    pub async fn queue_places(
        &self,
    ) -> Result<(Vec<ConversationRecord>, Vec<QueuePlace>), Refusal> {
        let queue = self.store.queue().await?;
        let counsellors = self.store.counsellors().await?;
        let (mut free, mut total) = (0u32, 0u32);
        for c in counsellors.iter().filter(|c| c.takes_chats()) {
            free += c.capacity.saturating_sub(c.active);
            total += c.capacity;
        }
        let mean_handle = self.mean_handle_time();
        let len = queue.len() as u32;
        let places = (1..=len)
            .map(|position| QueuePlace {
                position,
                queue_length: len,
                estimated_wait_secs: estimate_wait(WaitInputs {
                    position,
                    free_slots: free,
                    total_slots: total,
                    mean_handle,
                })
                .map(|d| d.as_secs()),
            })
            .collect();
        Ok((queue, places))
    }

    /// One round of automatic matching. Returns how many were assigned.
    pub async fn match_round(&self) -> Result<usize, Refusal> {
        if self.settings.matching != MatchingMode::Auto {
            return Ok(0);
        }
        // Counsellors first: there are few of them, while the queue may hold
        // thousands. With no free place anywhere (the usual state at a peak)
        // a round costs nothing, however often arrivals wake the matcher.
        let loads: Vec<CounsellorLoad> = self
            .store
            .counsellors()
            .await?
            .into_iter()
            .map(|c| CounsellorLoad {
                id: c.id,
                capacity: c.capacity,
                active: c.active,
                available: c.takes_chats(),
                last_assigned_ms: c.last_assigned_ms,
            })
            .collect();
        let free: u32 = loads.iter().filter(|c| c.available).map(|c| c.free()).sum();
        if free == 0 {
            return Ok(0);
        }
        let queue: Vec<ConversationId> = self
            .store
            .queue_head(free as usize)
            .await?
            .iter()
            .map(|r| r.id)
            .collect();
        // The planned assignments run at once: each is one atomic store
        // step that checks the counsellor's capacity itself, and one after
        // another they cost a round trip each while freed places wait
        // (tens of milliseconds a round on Redis at a busy moment).
        let plan = matching::plan(&queue, &loads);
        let results = futures_util::future::join_all(
            plan.into_iter()
                .map(|(conversation, counsellor)| self.assign(conversation, counsellor)),
        )
        .await;
        let mut assigned = 0;
        for r in results {
            // A refusal means another node (or a visitor leaving) got there
            // first; the next round plans again from fresh data.
            match r {
                Ok(()) => assigned += 1,
                Err(e) if e.code == ErrorCode::Unavailable => return Err(e),
                Err(_) => {}
            }
        }
        if assigned > 0 {
            self.publish(Event::QueueChanged).await;
        }
        Ok(assigned)
    }

    /// Run matching whenever woken, and at least every second.
    pub async fn run_matcher(self: Arc<Self>) {
        loop {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), self.matcher_wake.notified()).await;
            if let Err(e) = self.match_round().await {
                tracing::warn!(code = e.code.as_str(), "matching round failed");
            }
        }
    }

    /// Apply the grace periods on a fixed interval.
    pub async fn run_sweeper(self: Arc<Self>) {
        let t = &self.settings.timing;
        let mut tick = tokio::time::interval(Duration::from_millis(t.sweep_interval_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let swept = match self
                .store
                .sweep(
                    now_ms(),
                    t.visitor_grace_secs * 1000,
                    t.counsellor_grace_secs * 1000,
                )
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "sweep failed");
                    continue;
                }
            };
            for s in &swept {
                match *s {
                    Swept::Abandoned { conversation } => {
                        tracing::info!(%conversation, "visitor left the queue (grace period over)");
                        self.publish(Event::Ended {
                            conversation,
                            by: EndedBy::System,
                            outcome: Some(Outcome::VisitorLeft),
                            counsellor: None,
                        })
                        .await;
                    }
                    Swept::Requeued {
                        conversation,
                        counsellor,
                    } => {
                        tracing::info!(%conversation, %counsellor, "counsellor away past grace; conversation back to the front of the queue");
                        self.publish(Event::Requeued {
                            conversation,
                            counsellor,
                            by_transfer: false,
                        })
                        .await;
                        self.publish(Event::CounsellorChanged { counsellor }).await;
                    }
                }
            }
            if !swept.is_empty() {
                self.publish(Event::QueueChanged).await;
                self.wake_matcher();
            }
            match self
                .store
                .mark_silent(now_ms(), t.silence_secs * 1000)
                .await
            {
                Ok(silent) => {
                    for rec in silent {
                        if let Some(since_ms) = rec.silent_since_ms {
                            self.publish(Event::Silent {
                                conversation: rec.id,
                                since_ms,
                            })
                            .await;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "silence check failed"),
            }
        }
    }
}
