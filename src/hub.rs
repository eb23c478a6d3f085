//! Who is connected to this node, and delivery to them.
//!
//! The hub consumes the store's event stream and hands each event to the
//! local sockets it concerns, looked up by conversation or counsellor: a
//! per-conversation fan-out, never one global channel every socket listens
//! to. Each socket has a bounded outbox; a socket whose outbox is full is
//! closed (it resumes from the log when it reconnects) rather than allowed
//! to stall delivery to everyone else.
//!
//! The hub decides nothing about who may see what: a socket only watches a
//! conversation after the service has authorised it, and it checks every
//! event against its own role again when translating it to the wire.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytestring::ByteString;
use tokio::sync::{broadcast, mpsc, Notify};

use crate::core::ids::{AccountId, ConversationId};
use crate::model::Event;

pub type ConnId = u64;

/// What a socket's loop receives besides its own client's frames.
#[derive(Clone, Debug)]
pub enum Outbound {
    Event(Event),
    /// The visitor's place in the queue (only sent to queued visitors).
    QueuePosition {
        position: u32,
        queue_length: u32,
        estimated_wait_secs: Option<u64>,
    },
    /// An already encoded frame shared by many sockets (the counsellors'
    /// queue view is encoded once per update, not once per socket). A
    /// `ByteString` is reference-counted bytes: each socket writes the same
    /// buffer, nothing is copied per socket.
    Shared(ByteString),
    /// Events may have been missed: re-read everything from the store.
    Resync,
    /// The queue closed to new visitors (only sent to visitors); times are
    /// ISO 8601 with `+09:00`.
    Closing {
        closes_at: Option<String>,
        next_opening: Option<String>,
    },
    /// The node is shutting down: close with 1012 so the client reconnects
    /// (to another node) and resumes.
    Drain,
    /// The socket's staff session was logged out: close with 1008.
    SessionEnded,
    /// The socket's account was deactivated or its role changed: close
    /// with 1008 and the change's name.
    AccountChanged(crate::model::AccountChange),
}

/// A socket's outbox, as its loop reads it. Each message is boxed: tokio
/// allocates a channel's first block of 32 slots when the channel is
/// made, idle socket or not, so a slot's size is paid 32 times per socket
/// (a pointer: 256 bytes; an `Outbound` in place: 1.8 KB). The box costs
/// one allocation per message delivered.
pub type Outbox = mpsc::Receiver<Box<Outbound>>;

/// The sending side of one socket.
#[derive(Clone)]
pub struct ConnHandle {
    tx: mpsc::Sender<Box<Outbound>>,
    /// Notified when the socket must close because it cannot keep up.
    pub kill: Arc<Notify>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnKind {
    Visitor,
    Counsellor(AccountId),
}

#[derive(Default)]
struct Registry {
    conns: HashMap<ConnId, (ConnKind, ConnHandle)>,
    /// What each socket watches, so a disconnect touches only those entries.
    watching: HashMap<ConnId, Vec<ConversationId>>,
    by_conversation: HashMap<ConversationId, Vec<ConnId>>,
    by_counsellor: HashMap<AccountId, Vec<ConnId>>,
    /// Sockets of accounts with the supervisor role.
    supervisors: HashSet<ConnId>,
    /// Staff sockets by the session (token hash) they were opened with.
    by_session: HashMap<crate::model::TokenHash, Vec<ConnId>>,
    session_of: HashMap<ConnId, crate::model::TokenHash>,
}

pub struct Hub {
    registry: RwLock<Registry>,
    next_id: AtomicU64,
    outbox_messages: usize,
    /// Set by events that change the queue; cleared by the queue broadcaster.
    queue_dirty: Notify,
}

impl Hub {
    pub fn new(outbox_messages: usize) -> Arc<Self> {
        Arc::new(Self {
            registry: RwLock::new(Registry::default()),
            next_id: AtomicU64::new(1),
            outbox_messages,
            queue_dirty: Notify::new(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a socket. Returns its id, its outbox and its kill switch.
    pub fn connect(&self, kind: ConnKind) -> (ConnId, Outbox, Arc<Notify>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.outbox_messages);
        let kill = Arc::new(Notify::new());
        let handle = ConnHandle {
            tx,
            kill: kill.clone(),
        };
        let mut r = self.write();
        r.conns.insert(id, (kind, handle));
        if let ConnKind::Counsellor(a) = kind {
            r.by_counsellor.entry(a).or_default().push(id);
        }
        (id, rx, kill)
    }

    /// This staff socket was opened with this session: it closes when the
    /// session is logged out (`Event::SessionEnded`).
    pub fn mark_session(&self, id: ConnId, session: crate::model::TokenHash) {
        let mut r = self.write();
        if r.conns.contains_key(&id) {
            r.by_session.entry(session).or_default().push(id);
            r.session_of.insert(id, session);
        }
    }

    /// This socket belongs to a supervisor: it gets alerts and the floor.
    pub fn mark_supervisor(&self, id: ConnId) {
        let mut r = self.write();
        if r.conns.contains_key(&id) {
            r.supervisors.insert(id);
        }
    }

    pub fn has_supervisors(&self) -> bool {
        !self.read().supervisors.is_empty()
    }

    pub fn to_all_supervisors(&self, msg: Outbound) {
        let r = self.read();
        for id in &r.supervisors {
            if let Some((_, h)) = r.conns.get(id) {
                offer(h, msg.clone());
            }
        }
    }

    /// Send once to every socket watching `conversation` (all kinds) or
    /// belonging to `account`.
    pub fn to_conversation_or_account(
        &self,
        conversation: ConversationId,
        account: AccountId,
        msg: Outbound,
    ) {
        let r = self.read();
        let mut ids: Vec<ConnId> = r
            .by_conversation
            .get(&conversation)
            .cloned()
            .unwrap_or_default();
        ids.extend(r.by_counsellor.get(&account).into_iter().flatten().copied());
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if let Some((_, h)) = r.conns.get(&id) {
                offer(h, msg.clone());
            }
        }
    }

    pub fn disconnect(&self, id: ConnId) {
        let mut r = self.write();
        r.supervisors.remove(&id);
        if let Some(session) = r.session_of.remove(&id) {
            if let Some(v) = r.by_session.get_mut(&session) {
                v.retain(|c| *c != id);
                if v.is_empty() {
                    r.by_session.remove(&session);
                }
            }
        }
        let Some((kind, _)) = r.conns.remove(&id) else {
            return;
        };
        for conversation in r.watching.remove(&id).unwrap_or_default() {
            if let Some(v) = r.by_conversation.get_mut(&conversation) {
                v.retain(|c| *c != id);
                if v.is_empty() {
                    r.by_conversation.remove(&conversation);
                }
            }
        }
        if let ConnKind::Counsellor(a) = kind {
            if let Some(v) = r.by_counsellor.get_mut(&a) {
                v.retain(|c| *c != id);
                if v.is_empty() {
                    r.by_counsellor.remove(&a);
                }
            }
        }
    }

    /// Deliver this conversation's events to the socket from now on. The
    /// caller has authorised it, and catches up from the store afterwards.
    pub fn watch(&self, id: ConnId, conversation: ConversationId) {
        let mut r = self.write();
        if !r.conns.contains_key(&id) {
            return; // already gone
        }
        let v = r.by_conversation.entry(conversation).or_default();
        if !v.contains(&id) {
            v.push(id);
            r.watching.entry(id).or_default().push(conversation);
        }
    }

    pub fn unwatch(&self, id: ConnId, conversation: ConversationId) {
        let mut r = self.write();
        if let Some(v) = r.by_conversation.get_mut(&conversation) {
            v.retain(|c| *c != id);
            if v.is_empty() {
                r.by_conversation.remove(&conversation);
            }
        }
        if let Some(w) = r.watching.get_mut(&id) {
            w.retain(|c| *c != conversation);
        }
    }

    /// Sockets here, by kind: (visitors, counsellors).
    pub fn counts(&self) -> (usize, usize) {
        let r = self.read();
        let counsellors = r
            .conns
            .values()
            .filter(|(k, _)| matches!(k, ConnKind::Counsellor(_)))
            .count();
        (r.conns.len() - counsellors, counsellors)
    }

    /// The conversations local visitor sockets watch.
    pub fn visitor_conversations(&self) -> Vec<ConversationId> {
        let r = self.read();
        r.by_conversation
            .iter()
            .filter(|(_, ids)| {
                ids.iter()
                    .any(|id| matches!(r.conns.get(id), Some((ConnKind::Visitor, _))))
            })
            .map(|(c, _)| *c)
            .collect()
    }

    /// Send to every socket watching `conversation` whose kind matches.
    pub fn to_conversation(
        &self,
        conversation: ConversationId,
        only: Option<fn(ConnKind) -> bool>,
        msg: Outbound,
    ) {
        let r = self.read();
        if let Some(ids) = r.by_conversation.get(&conversation) {
            for id in ids {
                if let Some((kind, h)) = r.conns.get(id) {
                    if only.is_none_or(|f| f(*kind)) {
                        offer(h, msg.clone());
                    }
                }
            }
        }
    }

    pub fn to_counsellor(&self, counsellor: AccountId, msg: Outbound) {
        let r = self.read();
        for id in r.by_counsellor.get(&counsellor).into_iter().flatten() {
            if let Some((_, h)) = r.conns.get(id) {
                offer(h, msg.clone());
            }
        }
    }

    pub fn to_all_counsellors(&self, msg: Outbound) {
        let r = self.read();
        for (kind, h) in r.conns.values() {
            if matches!(kind, ConnKind::Counsellor(_)) {
                offer(h, msg.clone());
            }
        }
    }

    /// Send to every socket on this node.
    pub fn broadcast(&self, msg: Outbound) {
        let r = self.read();
        for (_, h) in r.conns.values() {
            offer(h, msg.clone());
        }
    }

    /// Wait until something changed the queue.
    pub async fn queue_changed(&self) {
        self.queue_dirty.notified().await
    }

    pub fn mark_queue_changed(&self) {
        self.queue_dirty.notify_one();
    }

    /// Route one store event to the sockets it concerns. Events that change
    /// the queue are delivered before the queue broadcaster is woken, so a
    /// visitor always hears "requeued" before their new place.
    pub fn dispatch(&self, event: Event) {
        // (Also what the floor view and the colleagues list show.)
        let changes_queue = matches!(
            event,
            Event::Ended { .. }
                | Event::Assigned { .. }
                | Event::Requeued { .. }
                | Event::CounsellorChanged { .. }
                | Event::QueueChanged
                | Event::Released { .. }
                | Event::RiskChanged { .. }
                | Event::Supervision { .. }
                | Event::Silent { .. }
                | Event::Alert { .. }
                | Event::AlertAcked { .. }
                | Event::FloorAlert { .. }
        );
        let staff_only: Option<fn(ConnKind) -> bool> =
            Some(|k| matches!(k, ConnKind::Counsellor(_)));
        match &event {
            Event::Message { conversation, .. }
            | Event::Acked { conversation, .. }
            | Event::Typing { conversation, .. }
            | Event::VisitorPresence { conversation, .. }
            | Event::Ended { conversation, .. }
            | Event::Requeued { conversation, .. }
            | Event::Handoff { conversation }
            | Event::Relay { conversation } => {
                let c = *conversation;
                self.to_conversation(c, None, Outbound::Event(event));
            }
            Event::SafetyInfo { conversation } => {
                // For the visitor's page only.
                let c = *conversation;
                self.to_conversation(c, Some(|k| k == ConnKind::Visitor), Outbound::Event(event));
            }
            Event::NoteSaved { conversation, .. }
            | Event::LeftQuickly { conversation, .. }
            | Event::RiskChanged { conversation, .. }
            | Event::Silent { conversation, .. }
            | Event::LineDelivery { conversation, .. } => {
                // Notes, risk, silence and LINE delivery never reach a
                // visitor's socket.
                let c = *conversation;
                self.to_conversation(c, staff_only, Outbound::Event(event));
            }
            Event::Whisper { whisper } => {
                // Staff watching the conversation only: its counsellor(s)
                // and supervisors. Never a visitor's socket.
                let c = whisper.conversation;
                self.to_conversation(c, staff_only, Outbound::Event(event));
            }
            Event::Released { counsellor, .. } => {
                let a = *counsellor;
                self.to_counsellor(a, Outbound::Event(event));
            }
            Event::Alert { .. } | Event::AlertAcked { .. } | Event::FloorAlert { .. } => {
                self.to_all_supervisors(Outbound::Event(event));
            }
            Event::Supervision {
                conversation,
                supervisor,
                ..
            } => {
                // The visitor (who may see a second name), whoever watches
                // the conversation, and every socket of the supervisor.
                let (c, a) = (*conversation, *supervisor);
                self.to_conversation_or_account(c, a, Outbound::Event(event));
            }
            Event::Assigned {
                conversation,
                counsellor,
            } => {
                let (c, a) = (*conversation, *counsellor);
                self.to_conversation(
                    c,
                    Some(|k| k == ConnKind::Visitor),
                    Outbound::Event(event.clone()),
                );
                self.to_counsellor(a, Outbound::Event(event));
            }
            Event::CounsellorChanged { counsellor } => {
                let a = *counsellor;
                self.to_counsellor(a, Outbound::Event(event));
            }
            Event::QueueChanged => {}
            // Events may have been missed: everyone re-reads from the store.
            Event::Resync => self.resync_all(),
            // This node's sockets are no longer counted as present: have
            // every client reconnect (and be counted again).
            Event::Reconnect => self.broadcast(Outbound::Drain),
            Event::SessionEnded { session } => {
                let r = self.read();
                for id in r.by_session.get(session).into_iter().flatten() {
                    if let Some((_, h)) = r.conns.get(id) {
                        offer(h, Outbound::SessionEnded);
                    }
                }
            }
            Event::AccountChanged { account, change } => {
                self.to_counsellor(*account, Outbound::AccountChanged(*change));
            }
            Event::SessionsRevoked { account, keep } => {
                let r = self.read();
                for id in r.by_counsellor.get(account).into_iter().flatten() {
                    if keep.is_some() && r.session_of.get(id) == keep.as_ref() {
                        continue;
                    }
                    if let Some((_, h)) = r.conns.get(id) {
                        offer(h, Outbound::SessionEnded);
                    }
                }
            }
        }
        if changes_queue {
            self.mark_queue_changed();
        }
    }

    /// Every socket re-reads what it shows from the store.
    fn resync_all(&self) {
        self.broadcast(Outbound::Resync);
        self.mark_queue_changed();
    }

    /// Consume the store's events until the store closes the stream.
    pub async fn run(self: Arc<Self>, mut events: broadcast::Receiver<Event>) {
        loop {
            match events.recv().await {
                Ok(e) => self.dispatch(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "event stream lagged; resynchronising every socket"
                    );
                    self.resync_all();
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}

/// Put a message in a socket's outbox, or close the socket if it is full.
fn offer(h: &ConnHandle, msg: Outbound) {
    match h.tx.try_send(Box::new(msg)) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => h.kill.notify_one(),
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[tokio::test]
    async fn events_reach_only_the_sockets_watching_the_conversation() {
        let hub = Hub::new(8);
        let (a, mut rx_a, _) = hub.connect(ConnKind::Visitor);
        let (_b, mut rx_b, _) = hub.connect(ConnKind::Visitor);
        let conv = ConversationId(Uuid::from_u128(1));
        hub.watch(a, conv);
        hub.dispatch(Event::Typing {
            conversation: conv,
            from: crate::core::ids::Party::Counsellor,
            active: true,
        });
        assert!(matches!(
            rx_a.try_recv().map(|m| *m),
            Ok(Outbound::Event(Event::Typing { .. }))
        ));
        assert!(rx_b.try_recv().is_err());
    }

    #[tokio::test]
    async fn notes_never_reach_a_visitor_socket() {
        let hub = Hub::new(8);
        let (v, mut rx_v, _) = hub.connect(ConnKind::Visitor);
        let counsellor = AccountId(Uuid::from_u128(9));
        let (c, mut rx_c, _) = hub.connect(ConnKind::Counsellor(counsellor));
        let conv = ConversationId(Uuid::from_u128(1));
        hub.watch(v, conv);
        hub.watch(c, conv);
        hub.dispatch(Event::NoteSaved {
            conversation: conv,
            counsellor,
            note: Box::new(crate::model::Note {
                author: counsellor,
                text: "private".into(),
                at_ms: 0,
            }),
        });
        assert!(rx_v.try_recv().is_err());
        assert!(rx_c.try_recv().is_ok());
    }

    #[tokio::test]
    async fn a_full_outbox_closes_that_socket_only() {
        let hub = Hub::new(1);
        let (a, _rx_a, kill_a) = hub.connect(ConnKind::Visitor);
        let conv = ConversationId(Uuid::from_u128(1));
        hub.watch(a, conv);
        let ev = || Event::Typing {
            conversation: conv,
            from: crate::core::ids::Party::Counsellor,
            active: true,
        };
        hub.dispatch(ev());
        hub.dispatch(ev()); // outbox of 1 is full: kill
        tokio::time::timeout(std::time::Duration::from_secs(1), kill_a.notified())
            .await
            .expect("the slow socket is told to close");
    }
}
