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
//!
//! Each store trait is implemented in the file of its name
//! (`accounts.rs`, `conversations.rs`, ...; see [`crate::store`]), next to
//! the `State` methods its steps need. This file keeps the store, its
//! state and the journal seam (`record`, `settle`, `restore`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::journal::{Change, Commit, Journal, Snapshot};
use super::*;
use crate::core::conversation::{apply, Transition};
use crate::core::queue::{QueueKey, QueuePolicy};
use crate::model::*;

mod accounts;
mod canned;
mod cases;
mod conversations;
mod counsellors;
mod floor;
mod guards;
mod handoffs;
mod hearing;
mod letters;
mod line;
mod messages;
mod node;
mod partners;
mod relays;
mod retention;
mod second_factors;
mod supervision;
#[cfg(test)]
mod tests;
mod way_back;

/// Events kept for a slow subscriber before it is told it lagged.
const EVENT_BUFFER: usize = 16_384;

pub struct MemoryStore {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    /// `None`: purely in memory. `Some`: every change is committed there
    /// before the caller hears `Ok`.
    journal: Option<Arc<dyn Journal>>,
    /// Guard counters (`GuardStore`): in memory only, never journaled.
    guards: Mutex<HashMap<String, guards::Counter>>,
    /// Guard sets (`GuardStore::hold`): in memory only, never journaled.
    holds: Mutex<HashMap<String, guards::Held>>,
}

#[derive(Default)]
struct State {
    accounts: HashMap<AccountId, Account>,
    usernames: HashMap<String, AccountId>,
    sessions: HashMap<TokenHash, SessionRecord>,
    /// Boxed: a record is over 500 bytes, and a hash table keeps up to
    /// half its slots empty; inline, every empty slot cost a record's size
    /// (docs/BENCHMARKS.md, the idle socket).
    conversations: HashMap<ConversationId, Box<Conv>>,
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
    /// Each conversation's whispers, oldest first: apart from its log.
    whispers: HashMap<ConversationId, Vec<Whisper>>,
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
    /// Way-back code hash -> (its conversation, valid until ms). Not
    /// journaled: a restart forgets the codes (`WayBackStore`).
    way_back: HashMap<TokenHash, (ConversationId, u64)>,
    /// A conversation's way-back code hash in force.
    way_back_of: HashMap<ConversationId, TokenHash>,
    /// Staff accounts' second factors (set up or enrolled), by account.
    second_factors: HashMap<AccountId, SecondFactor>,
    /// The library of canned replies.
    canned: HashMap<crate::core::ids::CannedReplyId, CannedReply>,
    /// The directory of partner services (issue 23).
    partners: HashMap<crate::core::ids::PartnerId, Partner>,
    /// Empty-floor episodes by (raised at, id), oldest first.
    floor_alerts: BTreeMap<(u64, AlertId), FloorAlert>,
    floor_index: HashMap<AlertId, (u64, AlertId)>,
    /// The uncleared episode (at most one).
    floor_open: Option<AlertId>,
    /// Webhook deliveries not yet accepted or given up.
    floor_webhooks: BTreeMap<uuid::Uuid, FloorWebhook>,
    /// Anonymous cases (issue 22), journaled.
    cases: HashMap<CaseId, CaseRecord>,
    /// The hash of each case's return code in force -> the case.
    case_codes: HashMap<TokenHash, CaseId>,
    /// Conversation -> the case it belongs to.
    case_of: HashMap<ConversationId, CaseId>,
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
            guards: Mutex::new(HashMap::new()),
            holds: Mutex::new(HashMap::new()),
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
        self.conversations
            .get_mut(&id)
            .map(|c| &mut **c)
            .ok_or(StoreError::NotFound)
    }

    fn counsellor_mut(&mut self, id: AccountId) -> StoreResult<&mut CounsellorRecord> {
        self.counsellors.get_mut(&id).ok_or(StoreError::NotFound)
    }

    fn key(&self, rec: &ConversationRecord) -> QueueKey {
        rec.queue_entry().key(self.policy)
    }

    fn store_alert(&mut self, alert: Alert) {
        let k = (alert.at_ms, alert.id);
        self.alert_index.insert(alert.id, k);
        self.alerts.insert(k, alert);
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
        for alert in snapshot.floor_alerts {
            s.store_floor(alert);
        }
        for w in snapshot.floor_webhooks {
            s.floor_webhooks.insert(w.id, w);
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
        s.canned = snapshot
            .canned_replies
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        s.partners = snapshot.partners.into_iter().map(|p| (p.id, p)).collect();
        for w in snapshot.whispers {
            s.whispers.entry(w.conversation).or_default().push(w);
        }
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
        for case in snapshot.cases {
            s.put_case(case);
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
        s.second_factors = snapshot
            .second_factors
            .into_iter()
            .map(|f| (f.account, f))
            .collect();
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
                Box::new(Conv {
                    rec,
                    log,
                    seen,
                    notes: saved.notes,
                }),
            );
        }
        Ok(s)
    }
}
