//! The state machine of the embedded store, in memory.
//!
//! On its own (`MemoryStore::new`) it is the purely in-memory mode, for
//! tests and trials: nothing on disk. With a [`Journal`]
//! (`MemoryStore::restore`, used by `store::embedded`) it is the durable
//! default: every mutation hands the rows it changed to the journal while
//! holding the lock, and answers `Ok` only once they are committed. One set
//! of rules serves both modes.
//!
//! One mutex guards all state: every method is then trivially atomic, and
//! no method holds it across an `.await` or for longer than a few map
//! operations (waiting for the commit happens after the lock is released).
//!
//! Messages are visible to readers only once durable: `rec.last_seq` is the
//! highest *committed* sequence number, `messages_after` stops there, and
//! a resend answered `Duplicate` waits for the first copy's commit. So no
//! socket can show (or a counsellor acknowledge) a message that a crash
//! could still take back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::journal::{Change, Commit, Journal, Snapshot};
use super::*;
use crate::core::conversation::{apply, Transition};
use crate::core::queue::{QueueKey, QueuePolicy};
use crate::model::*;

/// Events kept for a slow subscriber before it is told it lagged.
const EVENT_BUFFER: usize = 16_384;

pub struct MemoryStore {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    /// `None`: purely in memory. `Some`: every change is committed there
    /// before the caller hears `Ok`.
    journal: Option<Arc<dyn Journal>>,
}

#[derive(Default)]
struct State {
    accounts: HashMap<AccountId, Account>,
    usernames: HashMap<String, AccountId>,
    sessions: HashMap<TokenHash, SessionRecord>,
    conversations: HashMap<ConversationId, Conv>,
    queue: BTreeMap<QueueKey, ConversationId>,
    counsellors: HashMap<AccountId, CounsellorRecord>,
    /// Counsellor -> conversations they hold (active, or ended without outcome).
    held: HashMap<AccountId, HashSet<ConversationId>>,
    policy: QueuePolicy,
    /// Queued and active conversations.
    live: HashSet<ConversationId>,
    /// Supervisor -> conversations they observe or joined.
    supervising: HashMap<AccountId, HashSet<ConversationId>>,
    alerts: BTreeMap<(u64, AlertId), Alert>,
    alert_index: HashMap<AlertId, (u64, AlertId)>,
    stats: Stats,
    slots: HashMap<SlotId, SlotRecord>,
    handoffs: HashMap<ConversationId, HandoffRecord>,
    bookings: HashMap<BookingRef, Booking>,
    /// Slot -> its bookings' references, in the order made.
    slot_bookings: HashMap<SlotId, Vec<BookingRef>>,
    /// Oldest first.
    audit: Vec<AuditEntry>,
    /// Facts of purged conversations, in the order purged.
    facts: Vec<ConversationFacts>,
    line_links: HashMap<ConversationId, LineLink>,
    /// `line_user_key(user id)` -> the user's current conversation.
    line_users: HashMap<TokenHash, ConversationId>,
    line_deliveries: HashMap<ConversationId, BTreeMap<u64, LineDelivery>>,
    /// Conversation -> (holder, until ms). Not persisted: after a restart
    /// the single node takes it again.
    line_leases: HashMap<ConversationId, (String, u64)>,
    /// A conversation's handoff link in force.
    handoff_links: HashMap<ConversationId, HandoffLink>,
    /// The token hash of each link in `handoff_links` -> its conversation.
    handoff_link_index: HashMap<TokenHash, ConversationId>,
}

struct Conv {
    /// `rec.last_seq` is the highest durable sequence number; the log may
    /// hold later messages whose commit is pending.
    rec: ConversationRecord,
    /// Message `seq` is at index `seq - 1`.
    log: Vec<Arc<StoredMessage>>,
    /// (sender party, sender account for counsellors, client id) -> seq.
    /// Keyed by account so one counsellor can never collide with, or
    /// learn the sequence numbers of, another's messages.
    seen: HashMap<(Party, Option<AccountId>, ClientMsgId), u64>,
    notes: Vec<Note>,
}

impl Conv {
    /// Keep a note (a transfer's) and return its journal row.
    fn add_note(&mut self, conversation: ConversationId, note: Option<Note>) -> Option<Change> {
        let note = note?;
        self.notes.push(note.clone());
        Some(Change::Note { conversation, note })
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A new message is announced once it is stored (see `Store::append`).
    fn tell_appended(&self, conversation: ConversationId, appended: &Appended) {
        if let Appended::New(message) = appended {
            // No receiver (no hub yet) is fine: nobody to tell.
            let _ = self.events.send(Event::Message {
                conversation,
                message: message.clone(),
            });
        }
    }

    /// Purely in memory: nothing survives the process.
    pub fn new() -> Self {
        Self::with_queue_policy(QueuePolicy::default())
    }

    /// Purely in memory, ordering the queue with `policy` (the urgent head
    /// start).
    pub fn with_queue_policy(policy: QueuePolicy) -> Self {
        Self::with_state(
            State {
                policy,
                ..State::default()
            },
            None,
        )
    }

    fn with_state(state: State, journal: Option<Arc<dyn Journal>>) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            state: Mutex::new(state),
            events,
            journal,
        }
    }

    /// Rebuild the state from what a durable backend read back, and commit
    /// every later change to `journal`. Presence is not restored: everyone
    /// is offline since `now_ms` (the restart), so the grace periods run
    /// from the restart and people who reconnect in time resume as after a
    /// drop. Refuses data that breaks an invariant (a gap in a log, an
    /// active conversation of an unknown counsellor).
    pub fn restore(
        snapshot: Snapshot,
        journal: Arc<dyn Journal>,
        now_ms: u64,
        policy: QueuePolicy,
    ) -> Result<Self, String> {
        Ok(Self::with_state(
            State::restore(snapshot, now_ms, policy)?,
            Some(journal),
        ))
    }

    /// The state, unless a commit failed (then nothing in memory can be
    /// trusted to match the disk).
    fn state(&self) -> StoreResult<MutexGuard<'_, State>> {
        if let Some(j) = &self.journal {
            if !j.healthy() {
                return Err(StoreError::Unavailable(
                    "the data directory could not be written; restart the server once it is fixed"
                        .into(),
                ));
            }
        }
        // A panic while holding the lock is a bug; the data is still
        // consistent (every method validates before it writes), so carry on.
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Hand `changes` to the journal. Call with the lock held (so the
    /// journal sees changes in the order they happened); await the result
    /// with the lock released.
    fn record(&self, changes: Vec<Change>) -> Option<Commit> {
        self.journal.as_ref().map(|j| j.submit(changes))
    }

    /// Messages up to `seq` of `id` are durable: let readers see them.
    fn mark_durable(&self, id: ConversationId, seq: u64) -> StoreResult<()> {
        let mut s = self.state()?;
        let rec = &mut s.conv(id)?.rec;
        rec.last_seq = rec.last_seq.max(seq);
        Ok(())
    }

    /// Commit what is pending and stop writing (clean shutdown).
    pub async fn close_journal(&self) -> StoreResult<()> {
        match &self.journal {
            Some(j) => j.close().await,
            None => Ok(()),
        }
    }
}

/// Wait for a commit, if there is one.
async fn settle(commit: Option<Commit>) -> StoreResult<()> {
    match commit {
        Some(c) => c.await,
        None => Ok(()),
    }
}

impl State {
    fn conv(&mut self, id: ConversationId) -> StoreResult<&mut Conv> {
        self.conversations.get_mut(&id).ok_or(StoreError::NotFound)
    }

    fn counsellor_mut(&mut self, id: AccountId) -> StoreResult<&mut CounsellorRecord> {
        self.counsellors.get_mut(&id).ok_or(StoreError::NotFound)
    }

    fn append(&mut self, id: ConversationId, m: NewMessage) -> StoreResult<Appended> {
        let conv = self.conv(id)?;
        // A resend is answered first: the sender learns the sequence number
        // it got the first time, even if the conversation ended since.
        let key = (m.from, m.author, m.client_id.clone());
        if let Some(&seq) = conv.seen.get(&key) {
            return Ok(Appended::Duplicate(seq));
        }
        if conv.rec.state == ConversationState::Ended {
            return Err(TransitionError::AlreadyEnded.into());
        }
        if let Some(required) = m.require_counsellor {
            // The owner, or a supervisor who joined.
            if !conv.rec.writable_by(required) {
                return Err(StoreError::NotYours);
            }
        }
        match m.from {
            Party::Visitor => {
                conv.rec.last_visitor_msg_ms = Some(m.now_ms);
                conv.rec.silent_since_ms = None;
            }
            Party::Counsellor => conv.rec.last_counsellor_msg_ms = Some(m.now_ms),
        }
        let seq = conv.log.len() as u64 + 1;
        let msg = Arc::new(StoredMessage {
            seq,
            from: m.from,
            author: m.author,
            author_name: m.author_name,
            client_id: m.client_id,
            text: m.text,
            at_ms: m.now_ms,
        });
        conv.seen.insert(key, seq);
        conv.log.push(msg.clone());
        Ok(Appended::New(msg))
    }

    /// Free the counsellor's place if `was` was theirs.
    fn release(&mut self, was: ConversationState) {
        if let ConversationState::Active { counsellor } = was {
            if let Some(c) = self.counsellors.get_mut(&counsellor) {
                c.active = c.active.saturating_sub(1);
            }
        }
    }

    fn key(&self, rec: &ConversationRecord) -> QueueKey {
        rec.queue_entry().key(self.policy)
    }

    fn store_alert(&mut self, alert: Alert) {
        let k = (alert.at_ms, alert.id);
        self.alert_index.insert(alert.id, k);
        self.alerts.insert(k, alert);
    }

    /// The conversation is no longer queued or active.
    fn retire(&mut self, id: ConversationId) {
        self.live.remove(&id);
        if let Some(c) = self.conversations.get(&id) {
            for sup in &c.rec.supervisors {
                if let Some(set) = self.supervising.get_mut(&sup.supervisor) {
                    set.remove(&id);
                }
            }
        }
    }

    /// `counsellor` takes `conversation` (assignment, transfer, take-over):
    /// one more place used, assigned now, on their list, and no longer
    /// supervising it. Returns their record for the journal.
    fn take_on(
        &mut self,
        counsellor: AccountId,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let c = self.counsellor_mut(counsellor)?;
        c.active += 1;
        c.last_assigned_ms = Some(now_ms);
        let c = c.clone();
        self.held
            .entry(counsellor)
            .or_default()
            .insert(conversation);
        if let Some(set) = self.supervising.get_mut(&counsellor) {
            set.remove(&conversation);
        }
        Ok(c)
    }

    /// Checks shared by `reassign` and `requeue`: active with `from`.
    fn active_with(&mut self, id: ConversationId, from: AccountId) -> StoreResult<()> {
        let conv = self.conv(id)?;
        match conv.rec.state {
            ConversationState::Active { counsellor } if counsellor == from => Ok(()),
            ConversationState::Active { .. } => Err(StoreError::NotYours),
            ConversationState::Queued => Err(TransitionError::NotActive.into()),
            ConversationState::Ended => Err(TransitionError::AlreadyEnded.into()),
        }
    }

    /// A stored conversation's facts (with its handoff's progress) and its
    /// booked appointment's start.
    fn facts_of(&self, rec: &ConversationRecord) -> (ConversationFacts, Option<u64>) {
        let handoff = self.handoffs.get(&rec.id);
        let booking = handoff
            .and_then(|h| h.booking.as_ref())
            .and_then(|b| self.bookings.get(b));
        let attended = booking.is_some_and(|b| b.attended == Some(true));
        let appointment = booking
            .and_then(|b| self.slots.get(&b.slot))
            .map(|s| s.slot.starts_at_ms);
        (rec.facts(handoff_facts(handoff, attended)), appointment)
    }

    /// Purge one ended conversation (see `Store::purge`): its facts kept,
    /// everything else gone; its handoff stamped with its expiry, or gone
    /// too once that passed.
    fn purge_conversation(
        &mut self,
        id: ConversationId,
        now_ms: u64,
        r: &Retention,
    ) -> Vec<Change> {
        let Some(conv) = self.conversations.remove(&id) else {
            return Vec::new();
        };
        let (facts, appointment) = self.facts_of(&conv.rec);
        self.facts.push(facts);
        // A LINE conversation's link and delivery states go with it.
        self.line_links.remove(&id);
        self.line_users.retain(|_, c| *c != id);
        self.line_deliveries.remove(&id);
        self.line_leases.remove(&id);
        self.drop_handoff_link(id);
        if let Some(c) = conv.rec.counsellor {
            if let Some(h) = self.held.get_mut(&c) {
                h.remove(&id);
            }
        }
        let mut changes = vec![Change::Facts(facts), Change::ConversationDeleted(id)];
        if let Some(h) = self.handoffs.get_mut(&id) {
            let ended = conv.rec.ended_at_ms.unwrap_or(now_ms);
            let expires = handoff_expiry(ended, appointment, r);
            if expires <= now_ms {
                self.handoffs.remove(&id);
                changes.push(Change::HandoffDeleted(id));
            } else {
                h.rev += 1;
                h.expires_at_ms = Some(expires);
                changes.push(Change::Handoff(h.clone()));
            }
        }
        changes
    }

    /// Forget a conversation's handoff link (the rows go with the
    /// conversation's own deletion).
    fn drop_handoff_link(&mut self, id: ConversationId) {
        if let Some(l) = self.handoff_links.remove(&id) {
            self.handoff_link_index.remove(&l.token_hash);
        }
    }

    /// The state a durable backend read back; see [`MemoryStore::restore`].
    fn restore(snapshot: Snapshot, now_ms: u64, policy: QueuePolicy) -> Result<State, String> {
        let mut s = State {
            policy,
            stats: snapshot.stats,
            facts: snapshot.facts,
            ..State::default()
        };
        for alert in snapshot.alerts {
            s.store_alert(alert);
        }
        for slot in snapshot.slots {
            s.slots.insert(slot.id, SlotRecord { slot, booked: 0 });
        }
        let mut bookings = snapshot.bookings;
        bookings.sort_by_key(|b| b.created_at_ms);
        for b in bookings {
            let rec = s.slots.get_mut(&b.slot).ok_or_else(|| {
                format!("booking {} is for an unknown slot", b.reference.as_str())
            })?;
            if b.active() {
                rec.booked += 1;
            }
            s.slot_bookings
                .entry(b.slot)
                .or_default()
                .push(b.reference.clone());
            s.bookings.insert(b.reference.clone(), b);
        }
        s.handoffs = snapshot
            .handoffs
            .into_iter()
            .map(|h| (h.conversation, h))
            .collect();
        s.audit = snapshot.audit;
        for link in snapshot.line_links {
            if let Some(user) = &link.user_id {
                // The newest link of a user is their current conversation.
                let key = line_user_key(user);
                let newer = s
                    .line_users
                    .get(&key)
                    .and_then(|c| s.line_links.get(c))
                    .is_some_and(|l| l.created_at_ms > link.created_at_ms);
                if !newer {
                    s.line_users.insert(key, link.conversation);
                }
            }
            s.line_links.insert(link.conversation, link);
        }
        for link in snapshot.handoff_links {
            s.handoff_link_index
                .insert(link.token_hash, link.conversation);
            s.handoff_links.insert(link.conversation, link);
        }
        for (conversation, d) in snapshot.line_deliveries {
            s.line_deliveries
                .entry(conversation)
                .or_default()
                .insert(d.seq, d);
        }
        for a in snapshot.accounts {
            if s.usernames.insert(a.username.clone(), a.id).is_some() {
                return Err(format!("username {} appears twice", a.username));
            }
            s.accounts.insert(a.id, a);
        }
        s.sessions = snapshot.sessions.into_iter().collect();
        for mut c in snapshot.counsellors {
            c.active = 0;
            c.connections = 0;
            c.offline_since_ms = Some(now_ms);
            s.counsellors.insert(c.id, c);
        }
        for saved in snapshot.conversations {
            let mut rec = saved.record;
            let id = rec.id;
            let mut seen = HashMap::new();
            let mut log = Vec::with_capacity(saved.messages.len());
            for (i, m) in saved.messages.into_iter().enumerate() {
                if m.seq != i as u64 + 1 {
                    return Err(format!(
                        "conversation {id}: message {} where {} was expected",
                        m.seq,
                        i + 1
                    ));
                }
                if seen
                    .insert((m.from, m.author, m.client_id.clone()), m.seq)
                    .is_some()
                {
                    return Err(format!(
                        "conversation {id}: message {} repeats a client id",
                        m.seq
                    ));
                }
                log.push(Arc::new(m));
            }
            rec.last_seq = log.len() as u64;
            rec.visitor_acked = rec.visitor_acked.min(rec.last_seq);
            rec.counsellor_acked = rec.counsellor_acked.min(rec.last_seq);
            rec.visitor_connections = 0;
            rec.visitor_offline_since_ms = (rec.channel == Channel::Web).then_some(now_ms);
            // Derived from the log rather than stored: who wrote last, when.
            rec.last_visitor_msg_ms = log
                .iter()
                .rev()
                .find(|m| m.from == Party::Visitor)
                .map(|m| m.at_ms);
            rec.last_counsellor_msg_ms = log
                .iter()
                .rev()
                .find(|m| m.from == Party::Counsellor)
                .map(|m| m.at_ms);
            if rec.state != ConversationState::Ended {
                s.live.insert(id);
                for sup in &rec.supervisors {
                    s.supervising.entry(sup.supervisor).or_default().insert(id);
                }
            }
            match rec.state {
                ConversationState::Queued => {
                    let key = s.key(&rec);
                    s.queue.insert(key, id);
                }
                ConversationState::Active { counsellor } => {
                    let c = s.counsellors.get_mut(&counsellor).ok_or_else(|| {
                        format!("conversation {id} is active with an unknown counsellor")
                    })?;
                    c.active += 1;
                    s.held.entry(counsellor).or_default().insert(id);
                }
                ConversationState::Ended => {
                    // Ended without an outcome: still on its counsellor's list.
                    if let (Some(c), None) = (rec.counsellor, rec.outcome) {
                        s.held.entry(c).or_default().insert(id);
                    }
                }
            }
            s.conversations.insert(
                id,
                Conv {
                    rec,
                    log,
                    seen,
                    notes: saved.notes,
                },
            );
        }
        Ok(s)
    }
}

#[async_trait]
impl NodeStore for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        self.state().map(drop)
    }

    async fn persistence(&self) -> StoreResult<Persistence> {
        Ok(match &self.journal {
            Some(j) => Persistence {
                acknowledged_writes_on_disk: true,
                details: j.describe(),
            },
            None => Persistence {
                acknowledged_writes_on_disk: false,
                details: [("memory".to_owned(), "nothing is written to disk".to_owned())].into(),
            },
        })
    }

    async fn close(&self) -> StoreResult<()> {
        self.close_journal().await
    }

    async fn publish(&self, event: Event) -> StoreResult<()> {
        // No receiver (no hub yet) is fine: nobody to tell.
        let _ = self.events.send(event);
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn create_account(&self, account: Account) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.usernames.contains_key(&account.username) {
                return Err(StoreError::UsernameTaken);
            }
            s.usernames.insert(account.username.clone(), account.id);
            s.accounts.insert(account.id, account.clone());
            self.record(vec![Change::Account(account)])
        };
        settle(commit).await
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.state()?.accounts.get(&id).cloned())
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        let s = self.state()?;
        Ok(s.usernames
            .get(username)
            .and_then(|id| s.accounts.get(id))
            .cloned())
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let mut v: Vec<_> = self.state()?.accounts.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            s.sessions.insert(token, session);
            self.record(vec![Change::Session { token, session }])
        };
        settle(commit).await
    }

    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        Ok(self.state()?.sessions.get(token).copied())
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            match s.sessions.remove(token) {
                Some(_) => self.record(vec![Change::SessionDeleted(*token)]),
                // Not (or no longer) there: still wait until an earlier
                // deletion of it, if any, is committed.
                None => self.record(Vec::new()),
            }
        };
        settle(commit).await
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord> {
        let id = new.id;
        let (commit, rec) = {
            let mut s = self.state()?;
            if s.queue.len() >= max_queue as usize {
                return Err(StoreError::QueueFull);
            }
            let rec = ConversationRecord {
                id,
                token_hash: new.token_hash,
                state: ConversationState::Queued,
                pre_chat: new.pre_chat,
                priority: new.risk.priority(),
                requeued: false,
                queued_since_ms: new.now_ms,
                started_at_ms: new.now_ms,
                assigned_at_ms: None,
                ended_at_ms: None,
                ended_by: None,
                outcome: None,
                counsellor: None,
                first_message: new.first_message.clone(),
                last_seq: 0,
                visitor_acked: 0,
                counsellor_acked: 0,
                visitor_connections: 0,
                // A LINE visitor has no socket to be away from.
                visitor_offline_since_ms: (new.channel == Channel::Web).then_some(new.now_ms),
                risk: new.risk,
                risk_reasons: new.risk_reasons.clone(),
                supervisors: Vec::new(),
                transfers: 0,
                last_visitor_msg_ms: None,
                last_counsellor_msg_ms: None,
                silent_since_ms: None,
                assessment: Default::default(),
                erased_at_ms: None,
                channel: new.channel,
            };
            let key = s.key(&rec);
            s.queue.insert(key, id);
            s.live.insert(id);
            let mut changes = vec![Change::Conversation(rec.clone())];
            if let Some(alert_id) = new.alert {
                let alert = Alert {
                    id: alert_id,
                    conversation: id,
                    level: new.risk,
                    reasons: new.risk_reasons,
                    at_ms: new.now_ms,
                    acked_by: None,
                    acked_at_ms: None,
                };
                changes.push(Change::Alert(alert.clone()));
                s.store_alert(alert);
            }
            s.conversations.insert(
                id,
                Conv {
                    rec,
                    log: Vec::new(),
                    seen: HashMap::new(),
                    notes: Vec::new(),
                },
            );
            let mut seq = 0;
            if let Some(text) = new.first_message {
                let appended = s.append(
                    id,
                    NewMessage {
                        from: Party::Visitor,
                        author: None,
                        author_name: None,
                        client_id: ClientMsgId::first_message(),
                        text,
                        now_ms: new.now_ms,
                        require_counsellor: None,
                    },
                )?;
                if let Appended::New(message) = appended {
                    seq = message.seq;
                    changes.push(Change::Message {
                        conversation: id,
                        message,
                    });
                }
            }
            if self.journal.is_none() {
                let rec = &mut s.conv(id)?.rec;
                rec.last_seq = seq;
                return Ok(rec.clone());
            }
            let mut rec = s.conv(id)?.rec.clone();
            rec.last_seq = seq;
            (self.record(changes), rec)
        };
        settle(commit).await?;
        self.mark_durable(id, rec.last_seq)?;
        Ok(rec)
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>> {
        Ok(self.state()?.conversations.get(&id).map(|c| c.rec.clone()))
    }

    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.queue
            .values()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn queue_head(&self, n: usize) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.queue
            .values()
            .take(n)
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn assign(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let c = s.counsellor_mut(counsellor)?;
            if c.active >= c.capacity {
                return Err(StoreError::CapacityReached);
            }
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let next = apply(conv.rec.state, Transition::Assign(counsellor))?;
            let key = conv.rec.queue_entry().key(policy);
            conv.rec.state = next;
            // A supervisor who takes a conversation they observed stops observing.
            conv.rec.supervisors.retain(|x| x.supervisor != counsellor);
            conv.rec.counsellor = Some(counsellor);
            conv.rec.assigned_at_ms = Some(now_ms);
            let rec = conv.rec.clone();
            s.queue.remove(&key);
            let c = s.take_on(counsellor, conversation, now_ms)?;
            let changes = vec![Change::Conversation(rec.clone()), Change::Counsellor(c)];
            (self.record(changes), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        closing: Option<Closing>,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let outcome = closing.map(|c| c.outcome);
        let (commit, ended) = {
            let mut s = self.state()?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let was = conv.rec.state;
            let next = apply(was, Transition::End)?;
            let key = conv.rec.queue_entry().key(policy);
            conv.rec.state = next;
            conv.rec.ended_at_ms = Some(now_ms);
            conv.rec.ended_by = Some(by);
            conv.rec.outcome = outcome;
            if let Some(c) = closing {
                conv.rec.assessment = c.assessment;
            }
            let record = conv.rec.clone();
            let mut changes = vec![Change::Conversation(record.clone())];
            if was == ConversationState::Queued {
                s.queue.remove(&key);
                if by == EndedBy::Visitor {
                    s.stats.left_queue += 1;
                    changes.push(Change::Stats(s.stats));
                }
            }
            s.release(was);
            s.retire(conversation);
            // A conversation with its outcome recorded leaves the counsellor's list.
            if let (Some(c), Some(_)) = (record.counsellor, outcome) {
                if let Some(h) = s.held.get_mut(&c) {
                    h.remove(&conversation);
                }
            }
            let commit = self.record(changes);
            (commit, Ended { record, was })
        };
        settle(commit).await?;
        Ok(ended)
    }

    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            if conv.rec.counsellor != Some(counsellor) {
                return Err(StoreError::NotYours);
            }
            if conv.rec.state != ConversationState::Ended {
                return Err(TransitionError::NotActive.into());
            }
            conv.rec.outcome = Some(closing.outcome);
            conv.rec.assessment = closing.assessment;
            let rec = conv.rec.clone();
            if let Some(h) = s.held.get_mut(&counsellor) {
                h.remove(&conversation);
            }
            (self.record(vec![Change::Conversation(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        // Presence: never persisted (after a restart everyone is offline).
        let mut s = self.state()?;
        let rec = &mut s.conv(conversation)?.rec;
        rec.visitor_connections = rec.visitor_connections.saturating_add_signed(delta);
        rec.visitor_offline_since_ms = match rec.visitor_connections {
            0 => rec.visitor_offline_since_ms.or(Some(now_ms)),
            _ => None,
        };
        Ok(rec.clone())
    }

    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        Ok(s.live
            .iter()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect())
    }

    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>> {
        let (commit, out) = {
            let mut s = self.state()?;
            let mut out = Vec::new();
            let mut changes = Vec::new();
            let gone = |since: Option<u64>, grace: u64| {
                since.is_some_and(|t| now_ms.saturating_sub(t) >= grace)
            };

            let abandoned: Vec<(QueueKey, ConversationId)> = s
                .queue
                .iter()
                .filter(|(_, id)| {
                    s.conversations
                        .get(id)
                        .is_some_and(|c| gone(c.rec.visitor_offline_since_ms, visitor_grace_ms))
                })
                .map(|(k, id)| (*k, *id))
                .collect();
            for (key, id) in abandoned {
                s.queue.remove(&key);
                let rec = &mut s.conv(id)?.rec;
                rec.state = ConversationState::Ended;
                rec.ended_at_ms = Some(now_ms);
                rec.ended_by = Some(EndedBy::System);
                rec.outcome = Some(Outcome::VisitorLeft);
                changes.push(Change::Conversation(rec.clone()));
                s.stats.left_queue += 1;
                s.retire(id);
                out.push(Swept::Abandoned { conversation: id });
            }
            if !out.is_empty() {
                changes.push(Change::Stats(s.stats));
            }

            let away: Vec<AccountId> = s
                .counsellors
                .values()
                .filter(|c| c.active > 0 && gone(c.offline_since_ms, counsellor_grace_ms))
                .map(|c| c.id)
                .collect();
            let policy = s.policy;
            for counsellor in away {
                let held: Vec<ConversationId> =
                    s.held.remove(&counsellor).into_iter().flatten().collect();
                let mut kept = HashSet::new();
                for id in held {
                    let conv = s.conv(id)?;
                    match apply(conv.rec.state, Transition::Requeue) {
                        Ok(next) => {
                            conv.rec.state = next;
                            conv.rec.requeued = true;
                            conv.rec.assigned_at_ms = None;
                            // They no longer have it: no notes, no outcome, no acks.
                            conv.rec.counsellor = None;
                            let key = conv.rec.queue_entry().key(policy);
                            changes.push(Change::Conversation(conv.rec.clone()));
                            s.queue.insert(key, id);
                            s.release(ConversationState::Active { counsellor });
                            out.push(Swept::Requeued {
                                conversation: id,
                                counsellor,
                            });
                        }
                        // Ended ones waiting for an outcome stay with them.
                        Err(_) => {
                            kept.insert(id);
                        }
                    }
                }
                if !kept.is_empty() {
                    s.held.insert(counsellor, kept);
                }
            }
            let commit = if changes.is_empty() {
                None
            } else {
                self.record(changes)
            };
            (commit, out)
        };
        settle(commit).await?;
        Ok(out)
    }

    async fn stats(&self) -> StoreResult<Stats> {
        Ok(self.state()?.stats)
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append(&self, conversation: ConversationId, msg: NewMessage) -> StoreResult<Appended> {
        let (commit, appended) = {
            let mut s = self.state()?;
            let appended = s.append(conversation, msg)?;
            let seq = match &appended {
                Appended::New(m) => m.seq,
                Appended::Duplicate(seq) => *seq,
            };
            let rec = &mut s.conv(conversation)?.rec;
            if self.journal.is_none() {
                // In memory: stored is as stored as it gets.
                rec.last_seq = rec.last_seq.max(seq);
                // Under the lock: events leave in sequence order.
                self.tell_appended(conversation, &appended);
                return Ok(appended);
            }
            if rec.last_seq >= seq {
                // A resend of a message already durable.
                return Ok(appended);
            }
            let changes = match &appended {
                Appended::New(message) => vec![Change::Message {
                    conversation,
                    message: message.clone(),
                }],
                // A resend of a message whose commit is pending: answer
                // only once the first copy is durable.
                Appended::Duplicate(_) => Vec::new(),
            };
            (self.record(changes), appended)
        };
        settle(commit).await?;
        let seq = match &appended {
            Appended::New(m) => m.seq,
            Appended::Duplicate(seq) => *seq,
        };
        self.mark_durable(conversation, seq)?;
        self.tell_appended(conversation, &appended);
        Ok(appended)
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Arc<StoredMessage>>> {
        let s = self.state()?;
        let conv = s
            .conversations
            .get(&conversation)
            .ok_or(StoreError::NotFound)?;
        // seq n is at index n-1; only durable messages are visible.
        let end = (conv.rec.last_seq as usize).min(conv.log.len());
        let start = (after as usize).min(end);
        Ok(conv.log[start..end].iter().take(limit).cloned().collect())
    }

    async fn ack(&self, conversation: ConversationId, party: Party, seq: u64) -> StoreResult<u64> {
        let (commit, now) = {
            let mut s = self.state()?;
            let rec = &mut s.conv(conversation)?.rec;
            let seq = seq.min(rec.last_seq);
            let slot = match party {
                Party::Visitor => &mut rec.visitor_acked,
                Party::Counsellor => &mut rec.counsellor_acked,
            };
            if seq <= *slot {
                return Ok(*slot);
            }
            *slot = seq;
            (self.record(vec![Change::Conversation(rec.clone())]), seq)
        };
        settle(commit).await?;
        Ok(now)
    }

    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let change = s.conv(conversation)?.add_note(conversation, Some(note));
            self.record(change.into_iter().collect())
        };
        settle(commit).await
    }

    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>> {
        Ok(self.state()?.conv(conversation)?.notes.clone())
    }
}

#[async_trait]
impl CounsellorStore for MemoryStore {
    async fn counsellor_connections(
        &self,
        counsellor: AccountId,
        delta: i32,
        default_capacity: u32,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let mut created = false;
            let c = s.counsellors.entry(counsellor).or_insert_with(|| {
                created = true;
                CounsellorRecord {
                    id: counsellor,
                    status: Availability::Away,
                    capacity: default_capacity,
                    active: 0,
                    connections: 0,
                    offline_since_ms: Some(now_ms),
                    last_assigned_ms: None,
                }
            });
            c.connections = c.connections.saturating_add_signed(delta);
            c.offline_since_ms = match c.connections {
                0 => c.offline_since_ms.or(Some(now_ms)),
                _ => None,
            };
            let rec = c.clone();
            // The connection count is presence; only a new record is stored.
            let commit = created.then(|| self.record(vec![Change::Counsellor(rec.clone())]));
            (commit.flatten(), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn set_status(
        &self,
        counsellor: AccountId,
        status: Availability,
    ) -> StoreResult<CounsellorRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let c = s.counsellor_mut(counsellor)?;
            c.status = status;
            let rec = c.clone();
            (self.record(vec![Change::Counsellor(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn set_capacity(
        &self,
        counsellor: AccountId,
        capacity: u32,
    ) -> StoreResult<CounsellorRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let c = s.counsellor_mut(counsellor)?;
            c.capacity = capacity;
            let rec = c.clone();
            (self.record(vec![Change::Counsellor(rec.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn counsellors(&self) -> StoreResult<Vec<CounsellorRecord>> {
        Ok(self.state()?.counsellors.values().cloned().collect())
    }

    async fn counsellor(&self, id: AccountId) -> StoreResult<Option<CounsellorRecord>> {
        Ok(self.state()?.counsellors.get(&id).cloned())
    }

    async fn conversations_of(
        &self,
        counsellor: AccountId,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let s = self.state()?;
        let mut v: Vec<_> = s
            .held
            .get(&counsellor)
            .into_iter()
            .flatten()
            .filter_map(|id| s.conversations.get(id).map(|c| c.rec.clone()))
            .collect();
        v.sort_by_key(|r| (r.assigned_at_ms, r.id));
        Ok(v)
    }
}

#[async_trait]
impl SupervisionStore for MemoryStore {
    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate> {
        let (commit, update) = {
            let mut s = self.state()?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let was = conv.rec.risk;
            if conv.rec.state == ConversationState::Ended {
                return Err(TransitionError::AlreadyEnded.into());
            }
            let old_key = conv.rec.queue_entry().key(policy);
            let (added, alert_id, raised_enough) = match change {
                RiskChange::Triage { hits, alert } => {
                    if conv.rec.state != ConversationState::Queued {
                        return Ok(RiskUpdate {
                            record: conv.rec.clone(),
                            was,
                            alert: None,
                        });
                    }
                    let mut known: HashSet<String> = conv
                        .rec
                        .risk_reasons
                        .iter()
                        .filter_map(|r| match &r.source {
                            RiskSource::Triage { rule, .. } => Some(rule.clone()),
                            RiskSource::Staff { .. } => None,
                        })
                        .collect();
                    // One reason per rule id, recorded or among these hits.
                    let added: Vec<RiskReason> = hits
                        .into_iter()
                        .filter(|h| match &h.source {
                            RiskSource::Triage { rule, .. } => known.insert(rule.clone()),
                            RiskSource::Staff { .. } => false,
                        })
                        .collect();
                    let top = added.iter().map(|r| r.level).max().unwrap_or_default();
                    conv.rec.risk = conv.rec.risk.max(top);
                    let any = !added.is_empty();
                    (added, alert, any)
                }
                RiskChange::Staff { level, by, alert } => {
                    conv.rec.risk = level;
                    let reason = RiskReason {
                        level,
                        source: RiskSource::Staff { by },
                        at_ms: now_ms,
                    };
                    (vec![reason], alert, level > was)
                }
            };
            conv.rec.risk_reasons.extend(added.iter().cloned());
            conv.rec.priority = conv.rec.risk.priority();
            let record = conv.rec.clone();
            if record.state == ConversationState::Queued {
                let new_key = record.queue_entry().key(policy);
                if new_key != old_key {
                    s.queue.remove(&old_key);
                    s.queue.insert(new_key, conversation);
                }
            }
            let alert = raised_enough.then_some(Alert {
                id: alert_id,
                conversation,
                level: record.risk,
                reasons: added,
                at_ms: now_ms,
                acked_by: None,
                acked_at_ms: None,
            });
            let mut changes = vec![Change::Conversation(record.clone())];
            if let Some(a) = &alert {
                s.store_alert(a.clone());
                changes.push(Change::Alert(a.clone()));
            }
            (self.record(changes), RiskUpdate { record, was, alert })
        };
        settle(commit).await?;
        Ok(update)
    }

    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>> {
        Ok(self
            .state()?
            .alerts
            .values()
            .filter(|a| !open_only || a.acked_by.is_none())
            .cloned()
            .collect())
    }

    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert> {
        let (commit, alert) = {
            let mut s = self.state()?;
            let key = *s.alert_index.get(&id).ok_or(StoreError::NotFound)?;
            let a = s.alerts.get_mut(&key).ok_or(StoreError::NotFound)?;
            if a.acked_by.is_some() {
                // Acknowledging again keeps the first acknowledgement.
                return Ok(a.clone());
            }
            a.acked_by = Some(by);
            a.acked_at_ms = Some(now_ms);
            let a = a.clone();
            (self.record(vec![Change::Alert(a.clone())]), a)
        };
        settle(commit).await?;
        Ok(alert)
    }

    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            s.active_with(conversation, from)?;
            if to == from {
                return Ok(s.conv(conversation)?.rec.clone());
            }
            let target = s.counsellors.get(&to).ok_or(StoreError::NotAvailable)?;
            if require_available && !target.takes_chats() {
                return Err(StoreError::NotAvailable);
            }
            if target.active >= target.capacity {
                return Err(StoreError::CapacityReached);
            }
            let conv = s.conv(conversation)?;
            conv.rec.state = apply(conv.rec.state, Transition::Transfer(to))?;
            conv.rec.counsellor = Some(to);
            conv.rec.transfers += 1;
            conv.rec.supervisors.retain(|x| x.supervisor != to);
            let mut changes = vec![Change::Conversation(conv.rec.clone())];
            changes.extend(conv.add_note(conversation, note));
            let rec = conv.rec.clone();
            s.release(ConversationState::Active { counsellor: from });
            if let Some(h) = s.held.get_mut(&from) {
                h.remove(&conversation);
            }
            changes.push(Change::Counsellor(s.take_on(to, conversation, now_ms)?));
            (self.record(changes), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        _now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            s.active_with(conversation, from)?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            conv.rec.state = apply(conv.rec.state, Transition::Requeue)?;
            conv.rec.requeued = true;
            conv.rec.assigned_at_ms = None;
            conv.rec.counsellor = None;
            conv.rec.transfers += 1;
            let mut changes = vec![Change::Conversation(conv.rec.clone())];
            changes.extend(conv.add_note(conversation, note));
            let rec = conv.rec.clone();
            s.queue.insert(rec.queue_entry().key(policy), conversation);
            s.release(ConversationState::Active { counsellor: from });
            if let Some(h) = s.held.get_mut(&from) {
                h.remove(&conversation);
            }
            (self.record(changes), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)> {
        let (commit, result) = {
            let mut s = self.state()?;
            let conv = s.conv(conversation)?;
            let previous = conv.rec.supervision_of(supervisor);
            if let Some(m) = mode {
                match conv.rec.state {
                    ConversationState::Ended => return Err(TransitionError::AlreadyEnded.into()),
                    ConversationState::Active { counsellor } if counsellor == supervisor => {
                        return Err(StoreError::NotYours)
                    }
                    ConversationState::Queued if m == SupervisionMode::Join => {
                        return Err(TransitionError::NotActive.into())
                    }
                    _ => {}
                }
            }
            conv.rec.supervisors.retain(|x| x.supervisor != supervisor);
            if let Some(m) = mode {
                conv.rec.supervisors.push(Supervision {
                    supervisor,
                    mode: m,
                });
            }
            let rec = conv.rec.clone();
            let set = s.supervising.entry(supervisor).or_default();
            if mode.is_some() {
                set.insert(conversation);
            } else {
                set.remove(&conversation);
            }
            let commit = self.record(vec![Change::Conversation(rec.clone())]);
            (commit, (rec, previous))
        };
        settle(commit).await?;
        Ok(result)
    }

    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>> {
        let s = self.state()?;
        let mut v: Vec<_> = s
            .supervising
            .get(&supervisor)
            .into_iter()
            .flatten()
            .filter_map(|id| s.conversations.get(id))
            .filter(|c| c.rec.state != ConversationState::Ended)
            .filter_map(|c| c.rec.supervision_of(supervisor).map(|m| (c.rec.clone(), m)))
            .collect();
        v.sort_by_key(|(r, _)| (r.started_at_ms, r.id));
        Ok(v)
    }

    async fn mark_silent(
        &self,
        now_ms: u64,
        silence_ms: u64,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let (commit, out) = {
            let mut s = self.state()?;
            let ids: Vec<ConversationId> = s.live.iter().copied().collect();
            let mut out = Vec::new();
            for id in ids {
                let rec = &mut s.conv(id)?.rec;
                let Some(counsellor_at) = rec.last_counsellor_msg_ms else {
                    continue;
                };
                let waiting_for_visitor = rec.last_visitor_msg_ms.is_none_or(|v| v < counsellor_at);
                if matches!(rec.state, ConversationState::Active { .. })
                    && rec.silent_since_ms.is_none()
                    && waiting_for_visitor
                    && now_ms.saturating_sub(counsellor_at) >= silence_ms
                {
                    rec.silent_since_ms = Some(counsellor_at);
                    out.push(rec.clone());
                }
            }
            if out.is_empty() {
                return Ok(out);
            }
            s.stats.went_silent += out.len() as u64;
            // The silence mark itself is derived again after a restart; the
            // count is what the statistics need.
            (self.record(vec![Change::Stats(s.stats)]), out)
        };
        settle(commit).await?;
        Ok(out)
    }
}

#[async_trait]
impl HandoffStore for MemoryStore {
    async fn create_slot(&self, slot: Slot) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.slots.contains_key(&slot.id) {
                return Err(StoreError::Conflict);
            }
            s.slots.insert(
                slot.id,
                SlotRecord {
                    slot: slot.clone(),
                    booked: 0,
                },
            );
            self.record(vec![Change::Slot(slot)])
        };
        settle(commit).await
    }

    async fn cancel_slot(&self, id: SlotId, now_ms: u64) -> StoreResult<SlotRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let rec = s.slots.get_mut(&id).ok_or(StoreError::NotFound)?;
            if rec.slot.cancelled_at_ms.is_some() {
                return Ok(rec.clone());
            }
            if rec.booked > 0 {
                return Err(StoreError::SlotBooked);
            }
            rec.slot.cancelled_at_ms = Some(now_ms);
            let rec = rec.clone();
            (self.record(vec![Change::Slot(rec.slot.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn slot(&self, id: SlotId) -> StoreResult<Option<SlotRecord>> {
        Ok(self.state()?.slots.get(&id).cloned())
    }

    async fn slots(&self, from_ms: u64) -> StoreResult<Vec<SlotRecord>> {
        let mut v: Vec<SlotRecord> = self
            .state()?
            .slots
            .values()
            .filter(|r| r.slot.starts_at_ms >= from_ms)
            .cloned()
            .collect();
        v.sort_by_key(|r| (r.slot.starts_at_ms, r.slot.id));
        Ok(v)
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffRecord>> {
        Ok(self.state()?.handoffs.get(&conversation).cloned())
    }

    async fn write_handoff(&self, write: HandoffWrite) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let id = write.record.conversation;
            if !s.conversations.contains_key(&id) {
                return Err(StoreError::NotFound);
            }
            let rev = s.handoffs.get(&id).map_or(0, |h| h.rev);
            if rev != write.expected_rev {
                return Err(StoreError::Conflict);
            }
            // Validate the booking change before anything is written.
            let mut changes = Vec::with_capacity(2);
            match &write.booking {
                BookingOp::Keep => {}
                BookingOp::Create(b) => {
                    if b.conversation != id {
                        return Err(StoreError::NotFound);
                    }
                    let slot = s.slots.get(&b.slot).ok_or(StoreError::SlotUnavailable)?;
                    if slot.slot.cancelled_at_ms.is_some()
                        || slot.slot.starts_at_ms <= b.created_at_ms
                    {
                        return Err(StoreError::SlotUnavailable);
                    }
                    if slot.booked >= slot.slot.capacity {
                        return Err(StoreError::SlotFull);
                    }
                    if s.bookings.contains_key(&b.reference) {
                        return Err(StoreError::Conflict);
                    }
                }
                BookingOp::Cancel { reference, .. } => match s.bookings.get(reference) {
                    Some(b) if b.conversation == id && b.active() => {}
                    _ => return Err(StoreError::NotFound),
                },
            }
            match write.booking {
                BookingOp::Keep => {}
                BookingOp::Create(b) => {
                    if let Some(slot) = s.slots.get_mut(&b.slot) {
                        slot.booked += 1;
                    }
                    s.slot_bookings
                        .entry(b.slot)
                        .or_default()
                        .push(b.reference.clone());
                    s.bookings.insert(b.reference.clone(), b.clone());
                    changes.push(Change::Booking(b));
                }
                BookingOp::Cancel {
                    reference,
                    reason,
                    now_ms,
                } => {
                    let b = s.bookings.get_mut(&reference).ok_or(StoreError::NotFound)?;
                    b.cancelled_at_ms = Some(now_ms);
                    b.cancel_reason = Some(reason);
                    let b = b.clone();
                    if let Some(slot) = s.slots.get_mut(&b.slot) {
                        slot.booked = slot.booked.saturating_sub(1);
                    }
                    changes.push(Change::Booking(b));
                }
            }
            s.handoffs.insert(id, write.record.clone());
            changes.push(Change::Handoff(write.record));
            self.record(changes)
        };
        settle(commit).await
    }

    async fn booking(&self, reference: &BookingRef) -> StoreResult<Option<Booking>> {
        Ok(self.state()?.bookings.get(reference).cloned())
    }

    async fn slot_bookings(&self, slot: SlotId) -> StoreResult<Vec<Booking>> {
        let s = self.state()?;
        Ok(s.slot_bookings
            .get(&slot)
            .into_iter()
            .flatten()
            .filter_map(|r| s.bookings.get(r).cloned())
            .collect())
    }

    async fn set_attended(&self, reference: &BookingRef, attended: bool) -> StoreResult<Booking> {
        let (commit, b) = {
            let mut s = self.state()?;
            let b = s.bookings.get_mut(reference).ok_or(StoreError::NotFound)?;
            b.attended = Some(attended);
            let b = b.clone();
            (self.record(vec![Change::Booking(b.clone())]), b)
        };
        settle(commit).await?;
        Ok(b)
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            s.audit.push(entry.clone());
            self.record(vec![Change::Audit(entry)])
        };
        settle(commit).await
    }

    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        Ok(self
            .state()?
            .audit
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn put_handoff_link(&self, link: HandoffLink) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if !s.handoffs.contains_key(&link.conversation) {
                return Err(StoreError::NotFound);
            }
            s.drop_handoff_link(link.conversation);
            s.handoff_link_index
                .insert(link.token_hash, link.conversation);
            s.handoff_links.insert(link.conversation, link.clone());
            self.record(vec![Change::HandoffLink(link)])
        };
        settle(commit).await
    }

    async fn handoff_link_sent(
        &self,
        conversation: ConversationId,
        token_hash: &TokenHash,
    ) -> StoreResult<bool> {
        let commit = {
            let mut s = self.state()?;
            let Some(link) = s
                .handoff_links
                .get_mut(&conversation)
                .filter(|l| l.token_hash == *token_hash)
            else {
                return Ok(false);
            };
            link.sent = true;
            let link = link.clone();
            self.record(vec![Change::HandoffLink(link)])
        };
        settle(commit).await?;
        Ok(true)
    }

    async fn handoff_link(&self, token_hash: &TokenHash) -> StoreResult<Option<HandoffLink>> {
        let s = self.state()?;
        Ok(s.handoff_link_index
            .get(token_hash)
            .and_then(|c| s.handoff_links.get(c))
            .cloned())
    }

    async fn handoff_link_of(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<HandoffLink>> {
        Ok(self.state()?.handoff_links.get(&conversation).cloned())
    }
}

#[async_trait]
impl LineStore for MemoryStore {
    async fn line_open(&self, link: LineLink) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if !s.conversations.contains_key(&link.conversation) {
                return Err(StoreError::NotFound);
            }
            if let Some(user) = &link.user_id {
                s.line_users.insert(line_user_key(user), link.conversation);
            }
            s.line_links.insert(link.conversation, link.clone());
            self.record(vec![Change::LineLink(link)])
        };
        settle(commit).await
    }

    async fn line_link(&self, conversation: ConversationId) -> StoreResult<Option<LineLink>> {
        Ok(self.state()?.line_links.get(&conversation).cloned())
    }

    async fn line_conversation_of(&self, user_id: &str) -> StoreResult<Option<ConversationId>> {
        Ok(self
            .state()?
            .line_users
            .get(&line_user_key(user_id))
            .copied())
    }

    async fn line_forget_user(&self, conversation: ConversationId) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let Some(link) = s.line_links.get_mut(&conversation) else {
                return Ok(());
            };
            let Some(user) = link.user_id.take() else {
                return Ok(());
            };
            let link = link.clone();
            let key = line_user_key(&user);
            if s.line_users.get(&key) == Some(&conversation) {
                s.line_users.remove(&key);
            }
            self.record(vec![Change::LineLink(link)])
        };
        settle(commit).await
    }

    async fn line_lease(
        &self,
        conversation: ConversationId,
        holder: &str,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        let mut s = self.state()?;
        let granted = match s.line_leases.get(&conversation) {
            Some((h, until)) => h == holder || *until <= now_ms,
            None => true,
        };
        if granted {
            s.line_leases
                .insert(conversation, (holder.to_owned(), now_ms + ttl_ms));
        }
        Ok(granted)
    }

    async fn line_delivered(
        &self,
        conversation: ConversationId,
        delivery: LineDelivery,
    ) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if !s.line_links.contains_key(&conversation) {
                return Err(StoreError::NotFound);
            }
            s.line_deliveries
                .entry(conversation)
                .or_default()
                .insert(delivery.seq, delivery.clone());
            self.record(vec![Change::LineDelivery {
                conversation,
                delivery,
            }])
        };
        settle(commit).await
    }

    async fn line_deliveries(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<LineDelivery>> {
        Ok(self
            .state()?
            .line_deliveries
            .get(&conversation)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl RetentionStore for MemoryStore {
    async fn purge(&self, now_ms: u64, retention: &Retention) -> StoreResult<Purged> {
        let (commit, purged) = {
            let mut s = self.state()?;
            let mut purged = Purged::default();
            let mut changes = Vec::new();
            let due: Vec<ConversationId> = s
                .conversations
                .values()
                .filter(|c| c.rec.state == ConversationState::Ended)
                .filter(|c| {
                    c.rec
                        .ended_at_ms
                        .is_some_and(|e| e.saturating_add(retention.conversation_ms) <= now_ms)
                })
                .map(|c| c.rec.id)
                .collect();
            for id in due {
                changes.extend(s.purge_conversation(id, now_ms, retention));
                purged.conversations.push(id);
            }
            let expired: Vec<ConversationId> = s
                .handoffs
                .values()
                .filter(|h| h.expires_at_ms.is_some_and(|e| e <= now_ms))
                .map(|h| h.conversation)
                .collect();
            for id in expired {
                s.handoffs.remove(&id);
                changes.push(Change::HandoffDeleted(id));
            }
            purged.handoffs = changes
                .iter()
                .filter(|c| matches!(c, Change::HandoffDeleted(_)))
                .count() as u32;
            let old_slots: Vec<SlotId> = s
                .slots
                .values()
                .filter(|r| r.slot.starts_at_ms.saturating_add(retention.booking_ms) <= now_ms)
                .map(|r| r.slot.id)
                .collect();
            for id in old_slots {
                s.slots.remove(&id);
                for reference in s.slot_bookings.remove(&id).unwrap_or_default() {
                    s.bookings.remove(&reference);
                }
                changes.push(Change::SlotDeleted(id));
                purged.slots += 1;
            }
            let commit = (!changes.is_empty())
                .then(|| self.record(changes))
                .flatten();
            (commit, purged)
        };
        settle(commit).await?;
        Ok(purged)
    }

    async fn erase(
        &self,
        conversation: ConversationId,
        keep_notes: bool,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let (commit, ended) = {
            let mut s = self.state()?;
            let policy = s.policy;
            let conv = s.conv(conversation)?;
            let was = conv.rec.state;
            if conv.rec.erased_at_ms.is_some() {
                return Ok(Ended {
                    record: conv.rec.clone(),
                    was,
                });
            }
            let key = conv.rec.queue_entry().key(policy);
            if was != ConversationState::Ended {
                conv.rec.state = ConversationState::Ended;
                conv.rec.ended_at_ms = Some(now_ms);
                conv.rec.ended_by = Some(EndedBy::Visitor);
            }
            conv.rec.erased_at_ms = Some(now_ms);
            conv.rec.first_message = None;
            conv.log.clear();
            conv.seen.clear();
            if !keep_notes {
                conv.notes.clear();
            }
            let record = conv.rec.clone();
            s.drop_handoff_link(conversation);
            let mut changes = vec![
                Change::Conversation(record.clone()),
                Change::Erased {
                    conversation,
                    notes: !keep_notes,
                },
            ];
            if was == ConversationState::Queued {
                s.queue.remove(&key);
                s.stats.left_queue += 1;
                changes.push(Change::Stats(s.stats));
            }
            if was != ConversationState::Ended {
                s.release(was);
                s.retire(conversation);
            }
            (self.record(changes), Ended { record, was })
        };
        settle(commit).await?;
        Ok(ended)
    }

    async fn facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        Ok(self.state()?.facts.clone())
    }

    async fn report_facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        let s = self.state()?;
        let mut all = s.facts.clone();
        all.extend(s.conversations.values().map(|c| s.facts_of(&c.rec).0));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    //! The journal contract as the state machine sees it; the SQLite side
    //! is tested end to end in `tests/api/durability.rs`.
    use super::*;
    use crate::core::prechat::PreChat;
    use crate::core::queue::Priority;
    use crate::store::journal::SavedConversation;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Holds every commit until the test releases it, or fails them all.
    #[derive(Default)]
    struct HeldJournal {
        pending: Mutex<Vec<tokio::sync::oneshot::Sender<StoreResult<()>>>>,
        broken: AtomicBool,
    }

    impl HeldJournal {
        fn release(&self, result: StoreResult<()>) {
            if result.is_err() {
                self.broken.store(true, Ordering::SeqCst);
            }
            for tx in self.pending.lock().unwrap().drain(..) {
                let _ = tx.send(result.clone());
            }
        }
    }

    impl Journal for Arc<HeldJournal> {
        fn submit(&self, _changes: Vec<Change>) -> Commit {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.pending.lock().unwrap().push(tx);
            Box::pin(async move { rx.await.unwrap_or(Err(StoreError::NotFound)) })
        }
        fn healthy(&self) -> bool {
            !self.broken.load(Ordering::SeqCst)
        }
        fn close(&self) -> Commit {
            Box::pin(async { Ok(()) })
        }
        fn describe(&self) -> std::collections::BTreeMap<String, String> {
            Default::default()
        }
    }

    fn held() -> (Arc<MemoryStore>, Arc<HeldJournal>) {
        let j = Arc::new(HeldJournal::default());
        let store = MemoryStore::restore(
            Snapshot::default(),
            Arc::new(j.clone()),
            0,
            QueuePolicy::default(),
        )
        .unwrap();
        (Arc::new(store), j)
    }

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            from: Party::Visitor,
            author: None,
            author_name: None,
            client_id: ClientMsgId::parse(id).unwrap(),
            text: "t".into(),
            now_ms: 0,
            require_counsellor: None,
        }
    }

    async fn conversation(store: &Arc<MemoryStore>, j: &HeldJournal) -> ConversationId {
        let id = ConversationId::new_random();
        let new = NewConversation {
            channel: Default::default(),
            id,
            token_hash: [0; 32],
            pre_chat: PreChat::default(),
            risk: RiskLevel::None,
            risk_reasons: Vec::new(),
            alert: None,
            first_message: None,
            now_ms: 0,
        };
        let s = store.clone();
        let t = tokio::spawn(async move { s.create_conversation(new, 10).await });
        tokio::task::yield_now().await;
        while !t.is_finished() {
            j.release(Ok(()));
            tokio::task::yield_now().await;
        }
        t.await.unwrap().unwrap();
        id
    }

    #[tokio::test]
    async fn a_message_is_confirmed_and_visible_only_after_its_commit() {
        let (store, j) = held();
        let id = conversation(&store, &j).await;
        let s = store.clone();
        let send = tokio::spawn(async move { s.append(id, msg("m1")).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!send.is_finished(), "confirmed before the commit");
        assert!(store.messages_after(id, 0, 10).await.unwrap().is_empty());
        assert_eq!(store.conversation(id).await.unwrap().unwrap().last_seq, 0);
        assert_eq!(store.ack(id, Party::Counsellor, 1).await.unwrap(), 0);
        // A resend while the first copy is pending waits for it too.
        let s = store.clone();
        let resend = tokio::spawn(async move { s.append(id, msg("m1")).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!resend.is_finished());
        j.release(Ok(()));
        assert!(matches!(send.await.unwrap(), Ok(Appended::New(m)) if m.seq == 1));
        assert_eq!(resend.await.unwrap(), Ok(Appended::Duplicate(1)));
        assert_eq!(store.messages_after(id, 0, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_commit_stops_the_store() {
        let (store, j) = held();
        let id = conversation(&store, &j).await;
        let s = store.clone();
        let send = tokio::spawn(async move { s.append(id, msg("m1")).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        j.release(Err(StoreError::Unavailable("disk full".into())));
        assert!(matches!(
            send.await.unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        // Memory may now differ from the disk: nothing is served any more.
        assert!(store.ping().await.is_err());
        assert!(matches!(
            store.conversation(id).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(store.append(id, msg("m2")).await.is_err());
    }

    #[test]
    fn restore_rebuilds_derived_state_and_refuses_a_gap() {
        let c = AccountId::new_random();
        let active = ConversationId::new_random();
        let record = |id, state, counsellor| ConversationRecord {
            id,
            token_hash: [0; 32],
            state,
            pre_chat: PreChat::default(),
            priority: Priority::Normal,
            requeued: false,
            queued_since_ms: 0,
            started_at_ms: 0,
            assigned_at_ms: None,
            ended_at_ms: None,
            ended_by: None,
            outcome: None,
            counsellor,
            first_message: None,
            last_seq: 0,
            visitor_acked: 9,
            counsellor_acked: 0,
            visitor_connections: 3,
            visitor_offline_since_ms: None,
            risk: RiskLevel::None,
            risk_reasons: Vec::new(),
            supervisors: Vec::new(),
            transfers: 0,
            last_visitor_msg_ms: None,
            last_counsellor_msg_ms: None,
            silent_since_ms: None,
            assessment: Default::default(),
            erased_at_ms: None,
            channel: Channel::Web,
        };
        let m = |seq| StoredMessage {
            seq,
            from: Party::Visitor,
            author: None,
            author_name: None,
            client_id: ClientMsgId::parse(&format!("m{seq}")).unwrap(),
            text: "t".into(),
            at_ms: 0,
        };
        let counsellor = CounsellorRecord {
            id: c,
            status: Availability::Available,
            capacity: 2,
            active: 0,
            connections: 4,
            offline_since_ms: None,
            last_assigned_ms: None,
        };
        let snap = |messages: Vec<StoredMessage>| Snapshot {
            counsellors: vec![counsellor.clone()],
            conversations: vec![SavedConversation {
                record: record(active, ConversationState::Active { counsellor: c }, Some(c)),
                messages,
                notes: Vec::new(),
            }],
            ..Snapshot::default()
        };
        let s = State::restore(snap(vec![m(1), m(2)]), 77, QueuePolicy::default()).unwrap();
        let rec = &s.conversations[&active].rec;
        assert_eq!(rec.last_seq, 2);
        assert_eq!(rec.visitor_acked, 2, "acks clamped to the log");
        assert_eq!(rec.visitor_connections, 0, "presence is not restored");
        assert_eq!(rec.visitor_offline_since_ms, Some(77));
        let cr = &s.counsellors[&c];
        assert_eq!((cr.active, cr.connections), (1, 0));
        assert_eq!(cr.offline_since_ms, Some(77), "grace runs from the restart");
        assert!(s.held[&c].contains(&active));
        assert!(State::restore(snap(vec![m(1), m(3)]), 0, QueuePolicy::default()).is_err());
    }
}
