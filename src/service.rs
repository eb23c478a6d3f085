//! Use cases: the one place every edge (visitor socket, counsellor socket,
//! HTTP, later LINE) goes through. Each use case parses nothing from the
//! wire; it checks who may do what, asks the pure core what should happen,
//! tells the store, and publishes the event. It never touches a socket.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use crate::auth;
use crate::config::Settings;
use crate::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use crate::core::estimate::{estimate_wait, HandleTime, WaitInputs};
use crate::core::ids::{AccountId, ClientMsgId, ConversationId, InvalidInput, MessageText, Party};
use crate::core::matching::{self, CounsellorLoad};
use crate::core::prechat::PreChat;
use crate::core::queue::Priority;
use crate::protocol::{Availability, ErrorBody, ErrorCode, MatchingMode};
use crate::store::{
    Account, Appended, ConversationRecord, CounsellorRecord, Event, NewConversation, NewMessage,
    Note, Store, StoreError, Swept,
};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub struct Service {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
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
            StoreError::Unavailable(_) => refuse(
                ErrorCode::Unavailable,
                "temporarily unavailable; nothing was changed, please try again",
            ),
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

/// What a visitor learns about their place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    pub position: u32,
    pub queue_length: u32,
    pub estimated_wait_secs: Option<u64>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, settings: Arc<Settings>) -> Arc<Self> {
        let prior = Duration::from_secs(settings.timing.handle_time_prior_secs);
        Arc::new(Self {
            store,
            settings,
            handle_time: Mutex::new(HandleTime::new(prior)),
            matcher_wake: Notify::new(),
        })
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
        let first_message = match first_message {
            Some(t) if !t.trim().is_empty() => Some(self.text(t)?.into_string()),
            _ => None,
        };
        let (token, token_hash) = auth::new_token();
        let new = NewConversation {
            id: ConversationId::new_random(),
            token_hash,
            pre_chat,
            priority: Priority::Normal,
            first_message,
            now_ms: now_ms(),
        };
        let rec = self
            .store
            .create_conversation(new, self.settings.limits.max_queue)
            .await
            .map_err(|e| {
                let mut r = Refusal::from(e);
                if r.code == ErrorCode::QueueFull {
                    r.message = "everyone is busy right now and the queue is full; please try again later or contact one of these services".into();
                    r.alternatives = Some(self.settings.alternatives.clone());
                }
                r
            })?;
        self.publish(Event::QueueChanged).await;
        self.wake_matcher();
        Ok((rec, token))
    }

    /// Check a resume token. Unknown conversation and wrong token give the
    /// same answer, so ids cannot be probed.
    pub async fn resume(
        &self,
        id: ConversationId,
        token: &str,
    ) -> Result<ConversationRecord, Refusal> {
        let failed = || refuse(ErrorCode::ResumeFailed, "cannot resume that conversation");
        let rec = self.store.conversation(id).await?.ok_or_else(failed)?;
        if !auth::same_hash(&rec.token_hash, &auth::hash_token(token)) {
            return Err(failed());
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
                let seq = message.seq;
                self.publish(Event::Message {
                    conversation: id,
                    message,
                })
                .await;
                Ok(seq)
            }
            Appended::Duplicate(seq) => Ok(seq),
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
        if let (ConversationState::Active { .. }, Some(start), Some(end)) =
            (was, rec.assigned_at_ms, rec.ended_at_ms)
        {
            self.observe_handle_time(Duration::from_millis(end.saturating_sub(start)));
        }
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
        self.wake_matcher();
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
            .counsellors()
            .await?
            .into_iter()
            .find(|c| c.id == id)
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
        self.store.assign(id, counsellor, now_ms()).await?;
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
        self.authorise(id, counsellor).await?;
        let note = Note {
            author: counsellor,
            text: text.into_string(),
            at_ms: now_ms(),
        };
        self.store.add_note(id, note.clone()).await?;
        self.publish(Event::NoteSaved {
            conversation: id,
            counsellor,
            note,
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
        outcome: Outcome,
    ) -> Result<(), Refusal> {
        let rec = self.authorise(id, counsellor).await?;
        if rec.state == ConversationState::Ended {
            if rec.outcome.is_some() {
                return Err(StoreError::Transition(TransitionError::AlreadyEnded).into());
            }
            let rec = self.store.set_outcome(id, counsellor, outcome).await?;
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
            .end(id, EndedBy::Counsellor, Some(outcome), now_ms())
            .await?;
        self.after_end(&ended.record, ended.was, EndedBy::Counsellor)
            .await;
        Ok(())
    }

    // ------------------------------------------------------ the queue

    /// Every waiting visitor's place, in queue order.
    pub async fn queue_places(
        &self,
    ) -> Result<(Vec<ConversationRecord>, Vec<QueuePlace>), Refusal> {
        let queue = self.store.queue().await?;
        let place = self.place_at().await?;
        let len = queue.len() as u32;
        let places = (1..=len).map(|position| place(position, len)).collect();
        Ok((queue, places))
    }

    /// One waiting visitor's place (`None` if not waiting), without reading
    /// the whole queue: asked on every `start`, so a burst of joins costs
    /// O(joins), not O(joins x queue).
    pub async fn queue_place(&self, id: ConversationId) -> Result<Option<QueuePlace>, Refusal> {
        let Some((position, len)) = self.store.queue_position(id).await? else {
            return Ok(None);
        };
        let place = self.place_at().await?;
        Ok(Some(place(position, len)))
    }

    /// The place of position `p` in a queue of `len`, with the estimate
    /// from the counsellors taking chats now.
    async fn place_at(&self) -> Result<impl Fn(u32, u32) -> QueuePlace, Refusal> {
        let counsellors = self.store.counsellors().await?;
        let (mut free, mut total) = (0u32, 0u32);
        for c in counsellors.iter().filter(|c| c.takes_chats()) {
            free += c.capacity.saturating_sub(c.active);
            total += c.capacity;
        }
        let mean_handle = self.mean_handle_time();
        Ok(move |position, queue_length| QueuePlace {
            position,
            queue_length,
            estimated_wait_secs: estimate_wait(WaitInputs {
                position,
                free_slots: free,
                total_slots: total,
                mean_handle,
            })
            .map(|d| d.as_secs()),
        })
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
        if !loads.iter().any(|c| c.available && c.active < c.capacity) {
            return Ok(0);
        }
        let queue: Vec<ConversationId> = self.store.queue().await?.iter().map(|r| r.id).collect();
        if queue.is_empty() {
            return Ok(0);
        }
        let mut assigned = 0;
        for (conversation, counsellor) in matching::plan(&queue, &loads) {
            // A refusal means another node (or a visitor leaving) got there
            // first; the next round plans again from fresh data.
            match self.assign(conversation, counsellor).await {
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
        }
    }
}
