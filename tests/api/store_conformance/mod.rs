//! The store contract (the doc comments on `tsunagu::store::Store`), checked
//! directly on `Arc<dyn Store>` against every backend: each test below runs
//! once on the in-memory store (`store_conformance::memory::*`) and once on
//! Redis (`store_conformance::redis::*`).
//!
//! On Redis every test gets its own key prefix and three stores on it, as
//! three nodes would have: concurrency tests spread their calls over all
//! three, so the atomicity of the scripts is what is tested, not the order
//! of one connection. The prefix's keys are deleted when the test ends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use uuid::Uuid;

use tsunagu::core::conversation::{ConversationState, EndedBy, Outcome, TransitionError};
use tsunagu::core::ids::AlertId;
use tsunagu::core::ids::{AccountId, ClientMsgId, ConversationId, Party};
use tsunagu::core::prechat::PreChat;
use tsunagu::core::queue::{Priority, DEFAULT_URGENT_HEAD_START_MS};
use tsunagu::core::triage::RiskLevel;
use tsunagu::model::Availability;
use tsunagu::model::Role;
use tsunagu::model::{
    Account, Appended, Event, NewConversation, NewMessage, Note, RiskChange, RiskReason,
    RiskSource, SessionRecord, Stats, SupervisionMode, Swept,
};
use tsunagu::store::memory::MemoryStore;
use tsunagu::store::redis::{RedisOptions, RedisStore};
use tsunagu::store::{Store, StoreError};

use crate::helpers::{purge_blocking, test_redis_url, unique_prefix};

/// A backend under test: three handles on one shared state.
pub struct Backend {
    nodes: Vec<Arc<dyn Store>>,
    redis: Option<(String, String)>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some((url, prefix)) = &self.redis {
            purge_blocking(url, prefix);
        }
    }
}

impl Backend {
    pub fn memory() -> Self {
        let s: Arc<dyn Store> = Arc::new(MemoryStore::new());
        Self {
            nodes: vec![s.clone(), s.clone(), s],
            redis: None,
        }
    }

    pub async fn redis() -> Self {
        let url = test_redis_url();
        let prefix = unique_prefix();
        let mut nodes: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..3 {
            let store = RedisStore::connect(RedisOptions::new(url.clone(), prefix.clone()))
                .await
                .unwrap_or_else(|e| panic!("Redis at {url} is needed for these tests: {e}"));
            nodes.push(Arc::new(store));
        }
        Self {
            nodes,
            redis: Some((url, prefix)),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.nodes[0]
    }

    /// The i-th "node", round robin.
    pub(crate) fn node(&self, i: usize) -> Arc<dyn Store> {
        self.nodes[i % self.nodes.len()].clone()
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::memory()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::redis().await).await
                }
            )*
        }
    };
}

conformance!(
    a_created_conversation_reads_back_whole,
    queue_order_is_requeued_then_rank_time_then_id,
    a_full_queue_refuses_atomically,
    concurrent_assigns_of_one_conversation_have_exactly_one_winner,
    capacity_is_never_exceeded_under_concurrency,
    no_conversation_has_two_counsellors_under_concurrency,
    assign_refusals_change_nothing,
    append_numbers_in_order_and_answers_resends_with_the_first_seq,
    concurrent_appends_get_distinct_consecutive_seqs,
    require_counsellor_is_checked_with_the_append,
    messages_after_pages_by_sequence,
    ack_is_monotonic_and_clamped,
    end_frees_the_counsellors_place,
    set_outcome_only_for_the_counsellor_of_an_ended_conversation,
    sweep_ends_queued_visitors_away_past_grace,
    sweep_requeues_to_the_front_when_the_counsellor_is_away_past_grace,
    connection_counts_track_presence,
    counsellor_records_are_created_on_first_sight,
    sessions_are_stored_and_deleted,
    accounts_have_unique_usernames,
    notes_belong_to_an_existing_conversation,
    published_events_reach_every_subscriber,
    triage_raises_a_waiting_visitor_once_and_moves_them_ahead,
    triage_changes_nothing_once_a_counsellor_has_the_conversation,
    a_refused_reassign_changes_nothing,
    requeue_puts_the_conversation_at_the_front_and_frees_the_place,
    supervision_rules_and_writers,
    alerts_are_acknowledged_once_and_silences_counted_once,
    a_created_conversation_keeps_its_risk_and_alert,
    staff_risk_moves_a_queued_visitor_both_ways_keeping_arrival,
    triage_keeps_the_highest_level_and_records_new_rules_only,
    alerts_are_listed_oldest_first,
    reassign_moves_the_place_and_the_held_entry,
    requeue_clears_the_counsellor_counts_a_transfer_and_keeps_the_note,
    live_conversations_are_the_queued_and_active_ones,
    left_queue_counts_visitors_who_gave_up_waiting,
    assign_drops_the_assignees_supervision,
);

// ------------------------------------------------------------ helpers

const T0: u64 = 1_700_000_000_000;

pub(crate) fn conv_at(now_ms: u64) -> NewConversation {
    NewConversation {
        channel: Default::default(),
        id: ConversationId::new_random(),
        token_hash: [7; 32],
        pre_chat: PreChat::default(),
        risk: Default::default(),
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms,
    }
}

pub(crate) async fn create(store: &Arc<dyn Store>, new: NewConversation) -> ConversationId {
    store.create_conversation(new, 1_000).await.unwrap().id
}

pub(crate) fn message(from: Party, client_id: &str, text: &str) -> NewMessage {
    NewMessage {
        from,
        author: None,
        author_name: None,
        client_id: ClientMsgId::parse(client_id).unwrap(),
        text: text.into(),
        now_ms: T0,
        require_counsellor: None,
    }
}

fn counsellor_message(c: AccountId, client_id: &str, require: bool) -> NewMessage {
    NewMessage {
        from: Party::Counsellor,
        author: Some(c),
        author_name: Some("aoki-san".into()),
        client_id: ClientMsgId::parse(client_id).unwrap(),
        text: "こんにちは".into(),
        now_ms: T0,
        require_counsellor: require.then_some(c),
    }
}

/// A connected, available counsellor with `capacity` places.
pub(crate) async fn counsellor(store: &Arc<dyn Store>, capacity: u32) -> AccountId {
    let id = AccountId::new_random();
    store
        .counsellor_connections(id, 1, capacity, T0)
        .await
        .unwrap();
    store.set_status(id, Availability::Available).await.unwrap();
    id
}

pub(crate) async fn active_of(store: &Arc<dyn Store>, id: AccountId) -> u32 {
    store
        .counsellors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .expect("the counsellor is listed")
        .active
}

async fn queue_ids(store: &Arc<dyn Store>) -> Vec<ConversationId> {
    store.queue().await.unwrap().iter().map(|r| r.id).collect()
}

// ------------------------------------------------------------ the tests

async fn a_created_conversation_reads_back_whole(b: Backend) {
    let s = b.store();
    let mut new = conv_at(T0);
    new.first_message = Some("息子のことで相談したいです".into());
    new.pre_chat = serde_json::from_str(r#"{"who":"self","topic":"family"}"#).unwrap();
    let created = s.create_conversation(new.clone(), 10).await.unwrap();
    assert_eq!(created.state, ConversationState::Queued);
    assert_eq!(created.last_seq, 1, "the first message is message 1");
    assert_eq!(created.visitor_offline_since_ms, Some(T0));
    assert_eq!(created.token_hash, [7; 32]);
    let read = s.conversation(new.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    let log = s.messages_after(new.id, 0, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].seq, 1);
    assert_eq!(log[0].from, Party::Visitor);
    assert_eq!(log[0].client_id, ClientMsgId::first_message());
    assert_eq!(log[0].text, "息子のことで相談したいです");
    assert!(s
        .conversation(ConversationId::new_random())
        .await
        .unwrap()
        .is_none());
    // Read through another node: the same record.
    assert_eq!(
        b.node(1).conversation(new.id).await.unwrap().unwrap(),
        created
    );
}

async fn queue_order_is_requeued_then_rank_time_then_id(b: Backend) {
    let s = b.store();
    let late = create(s, conv_at(T0 + 10)).await;
    let early = create(s, conv_at(T0 + 5)).await;
    let mut urgent = conv_at(T0 + 90);
    urgent.risk = RiskLevel::Urgent;
    let urgent = create(s, urgent).await;
    // Waited longer than the urgent head start: stays ahead of the urgent.
    let veteran = create(s, conv_at(T0 + 90 - DEFAULT_URGENT_HEAD_START_MS - 1)).await;
    // Same millisecond: the conversation id decides, the same everywhere.
    let mut tie_a = conv_at(T0 + 20);
    tie_a.id = ConversationId(Uuid::from_u128(u128::MAX - 1));
    let mut tie_b = conv_at(T0 + 20);
    tie_b.id = ConversationId(Uuid::from_u128(1));
    let (tie_a, tie_b) = (create(s, tie_a).await, create(s, tie_b).await);
    let requeued = create(s, conv_at(T0 + 50)).await;
    assert_eq!(
        queue_ids(s).await,
        vec![veteran, urgent, early, late, tie_b, tie_a, requeued]
    );

    // `requeued` is served, its counsellor goes away, the grace passes.
    let c = counsellor(s, 1).await;
    s.assign(requeued, c, T0 + 60).await.unwrap();
    s.counsellor_connections(c, -1, 1, T0 + 100).await.unwrap();
    let swept = s.sweep(T0 + 200, u64::MAX, 100).await.unwrap();
    assert_eq!(
        swept,
        vec![Swept::Requeued {
            conversation: requeued,
            counsellor: c
        }]
    );
    assert_eq!(
        queue_ids(s).await,
        vec![requeued, veteran, urgent, early, late, tie_b, tie_a],
        "requeued goes before everyone, urgent or not"
    );
    assert_eq!(queue_ids(&b.node(2)).await, queue_ids(s).await);
    // The head of the queue is its prefix, in the same order.
    let head: Vec<_> = s
        .queue_head(3)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(head, vec![requeued, veteran, urgent]);
    assert!(s.queue_head(0).await.unwrap().is_empty());
    assert_eq!(s.queue_head(100).await.unwrap().len(), 7);
}

async fn a_full_queue_refuses_atomically(b: Backend) {
    let s = b.store();
    for _ in 0..3 {
        s.create_conversation(conv_at(T0), 3).await.unwrap();
    }
    let refused = conv_at(T0);
    assert_eq!(
        s.create_conversation(refused.clone(), 3).await,
        Err(StoreError::QueueFull)
    );
    assert!(
        s.conversation(refused.id).await.unwrap().is_none(),
        "a refused start leaves nothing behind"
    );
    // 40 concurrent starts against a limit of 10 (3 already waiting).
    let results = join_all((0..40).map(|i| {
        let s = b.node(i);
        async move { s.create_conversation(conv_at(T0 + i as u64), 10).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 7);
    assert!(results
        .iter()
        .all(|r| r.is_ok() || r == &Err(StoreError::QueueFull)));
    assert_eq!(s.queue().await.unwrap().len(), 10);
}

async fn concurrent_assigns_of_one_conversation_have_exactly_one_winner(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let mut counsellors = Vec::new();
    for _ in 0..10 {
        counsellors.push(counsellor(s, 1).await);
    }
    let results = join_all((0..60).map(|i| {
        let (s, c) = (b.node(i), counsellors[i % counsellors.len()]);
        tokio::spawn(async move { (c, s.assign(conv, c, T0 + 1).await) })
    }))
    .await;
    let mut winners = Vec::new();
    for r in results {
        let (c, r) = r.unwrap();
        match r {
            Ok(rec) => {
                assert_eq!(rec.state, ConversationState::Active { counsellor: c });
                winners.push(c);
            }
            Err(StoreError::Transition(TransitionError::NotQueued))
            | Err(StoreError::CapacityReached) => {}
            Err(e) => panic!("unexpected refusal: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one assign wins");
    let mut total = 0;
    for c in &counsellors {
        total += active_of(s, *c).await;
    }
    assert_eq!(total, 1, "only the winner's place is taken");
    assert_eq!(
        s.conversation(conv).await.unwrap().unwrap().state,
        ConversationState::Active {
            counsellor: winners[0]
        }
    );
    assert!(s.queue().await.unwrap().is_empty());
    assert_eq!(
        s.conversations_of(winners[0])
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![conv]
    );
}

async fn capacity_is_never_exceeded_under_concurrency(b: Backend) {
    let s = b.store();
    let c = counsellor(s, 3).await;
    let mut convs = Vec::new();
    for i in 0..20 {
        convs.push(create(s, conv_at(T0 + i)).await);
    }
    let results = join_all(convs.iter().enumerate().map(|(i, conv)| {
        let (s, conv) = (b.node(i), *conv);
        tokio::spawn(async move { s.assign(conv, c, T0 + 100).await })
    }))
    .await;
    let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(StoreError::CapacityReached))))
        .count();
    assert_eq!((ok, full), (3, 17));
    assert_eq!(active_of(s, c).await, 3);
    assert_eq!(s.conversations_of(c).await.unwrap().len(), 3);
    assert_eq!(s.queue().await.unwrap().len(), 17);
}

async fn no_conversation_has_two_counsellors_under_concurrency(b: Backend) {
    let s = b.store();
    let mut counsellors = Vec::new();
    for _ in 0..5 {
        counsellors.push(counsellor(s, 2).await);
    }
    let mut convs = Vec::new();
    for i in 0..30 {
        convs.push(create(s, conv_at(T0 + i)).await);
    }
    // Every counsellor tries every conversation, from three nodes at once.
    let mut tries = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        for (j, c) in counsellors.iter().enumerate() {
            let (s, conv, c) = (b.node(i + j), *conv, *c);
            tries.push(tokio::spawn(async move {
                (conv, c, s.assign(conv, c, T0).await)
            }));
        }
    }
    let mut won: HashMap<ConversationId, AccountId> = HashMap::new();
    for t in join_all(tries).await {
        let (conv, c, r) = t.unwrap();
        if r.is_ok() {
            assert!(won.insert(conv, c).is_none(), "{conv} assigned twice");
        }
    }
    assert_eq!(won.len(), 10, "5 counsellors x 2 places");
    for c in &counsellors {
        let mine = won.values().filter(|w| *w == c).count() as u32;
        assert_eq!(mine, 2);
        assert_eq!(active_of(s, *c).await, mine);
    }
    for (conv, c) in &won {
        assert_eq!(
            s.conversation(*conv).await.unwrap().unwrap().state,
            ConversationState::Active { counsellor: *c }
        );
    }
    assert_eq!(s.queue().await.unwrap().len(), 20);
}

async fn assign_refusals_change_nothing(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let stranger = AccountId::new_random();
    assert_eq!(
        s.assign(conv, stranger, T0).await,
        Err(StoreError::NotFound),
        "an unknown counsellor"
    );
    let c = counsellor(s, 1).await;
    assert_eq!(
        s.assign(ConversationId::new_random(), c, T0).await,
        Err(StoreError::NotFound)
    );
    s.end(conv, EndedBy::Visitor, None, T0).await.unwrap();
    assert_eq!(
        s.assign(conv, c, T0).await,
        Err(TransitionError::AlreadyEnded.into())
    );
    assert_eq!(active_of(s, c).await, 0);
    let rec = s.conversation(conv).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Ended);
    assert_eq!(rec.counsellor, None);
}

async fn append_numbers_in_order_and_answers_resends_with_the_first_seq(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let c = counsellor(s, 1).await;
    s.assign(conv, c, T0).await.unwrap();
    let seq = |a: Appended| match a {
        Appended::New(m) => m.seq,
        Appended::Duplicate(n) => panic!("unexpected duplicate of {n}"),
    };
    assert_eq!(
        seq(s
            .append(conv, message(Party::Visitor, "a", "one"))
            .await
            .unwrap()),
        1
    );
    assert_eq!(
        seq(s
            .append(conv, counsellor_message(c, "a", true))
            .await
            .unwrap()),
        2,
        "the same client id from the other party is another message"
    );
    assert_eq!(
        seq(s
            .append(conv, message(Party::Visitor, "b", "two"))
            .await
            .unwrap()),
        3
    );
    // A resend, through another node, with different text: nothing stored.
    assert_eq!(
        b.node(1)
            .append(conv, message(Party::Visitor, "a", "one again"))
            .await
            .unwrap(),
        Appended::Duplicate(1)
    );
    s.end(conv, EndedBy::Visitor, None, T0).await.unwrap();
    assert_eq!(
        s.append(conv, message(Party::Visitor, "b", "two"))
            .await
            .unwrap(),
        Appended::Duplicate(3),
        "a resend is answered even after the end"
    );
    assert_eq!(
        s.append(conv, message(Party::Visitor, "c", "three")).await,
        Err(TransitionError::AlreadyEnded.into())
    );
    let log = s.messages_after(conv, 0, 100).await.unwrap();
    let got: Vec<(u64, &str)> = log.iter().map(|m| (m.seq, m.text.as_str())).collect();
    assert_eq!(got, vec![(1, "one"), (2, "こんにちは"), (3, "two")]);
    assert_eq!(log[1].author, Some(c));
    assert_eq!(log[1].author_name.as_deref(), Some("aoki-san"));
    assert_eq!(log[0].author_name, None);
    assert_eq!(s.conversation(conv).await.unwrap().unwrap().last_seq, 3);
    assert_eq!(
        s.append(
            ConversationId::new_random(),
            message(Party::Visitor, "x", "x")
        )
        .await,
        Err(StoreError::NotFound)
    );
}

async fn concurrent_appends_get_distinct_consecutive_seqs(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let results = join_all((0..60).map(|i| {
        let s = b.node(i);
        tokio::spawn(async move {
            s.append(
                conv,
                message(Party::Visitor, &format!("m{i}"), &format!("{i}")),
            )
            .await
        })
    }))
    .await;
    let mut seqs: Vec<u64> = results
        .into_iter()
        .map(|r| match r.unwrap().unwrap() {
            Appended::New(m) => m.seq,
            d => panic!("{d:?}"),
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
    // The same message resent by ten tasks at once is stored once.
    let resends = join_all((0..10).map(|i| {
        let s = b.node(i);
        tokio::spawn(async move {
            s.append(conv, message(Party::Visitor, "same", "once"))
                .await
        })
    }))
    .await;
    let new: Vec<u64> = resends
        .iter()
        .filter_map(|r| match r.as_ref().unwrap() {
            Ok(Appended::New(m)) => Some(m.seq),
            _ => None,
        })
        .collect();
    assert_eq!(new, vec![61]);
    assert!(resends.iter().all(|r| matches!(
        r.as_ref().unwrap(),
        Ok(Appended::New(_)) | Ok(Appended::Duplicate(61))
    )));
    let log = s.messages_after(conv, 0, 1_000).await.unwrap();
    assert_eq!(
        log.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=61).collect::<Vec<_>>()
    );
    // Each stored text is the one its sequence number was given to.
    let texts: HashSet<&str> = log.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts.len(), 61);
}

async fn require_counsellor_is_checked_with_the_append(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let c = counsellor(s, 1).await;
    let other = counsellor(s, 1).await;
    assert_eq!(
        s.append(conv, counsellor_message(c, "q", true)).await,
        Err(StoreError::NotYours),
        "not while queued"
    );
    s.assign(conv, c, T0).await.unwrap();
    assert_eq!(
        s.append(conv, counsellor_message(other, "o", true)).await,
        Err(StoreError::NotYours),
        "not someone else's"
    );
    assert!(matches!(
        s.append(conv, counsellor_message(c, "mine", true)).await,
        Ok(Appended::New(_))
    ));
    // Requeued (counsellor away past grace): the old counsellor cannot write.
    s.counsellor_connections(c, -1, 1, T0).await.unwrap();
    s.sweep(T0 + 10, u64::MAX, 10).await.unwrap();
    assert_eq!(
        s.append(conv, counsellor_message(c, "late", true)).await,
        Err(StoreError::NotYours)
    );
    assert_eq!(s.conversation(conv).await.unwrap().unwrap().last_seq, 1);
}

async fn messages_after_pages_by_sequence(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    for i in 1..=10 {
        s.append(
            conv,
            message(Party::Visitor, &format!("m{i}"), &format!("{i}")),
        )
        .await
        .unwrap();
    }
    let page = |after, limit| {
        let s = s.clone();
        async move {
            s.messages_after(conv, after, limit)
                .await
                .unwrap()
                .iter()
                .map(|m| m.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 4).await, vec![1, 2, 3, 4]);
    assert_eq!(page(4, 4).await, vec![5, 6, 7, 8]);
    assert_eq!(page(8, 4).await, vec![9, 10]);
    assert_eq!(page(10, 4).await, Vec::<u64>::new());
    assert_eq!(page(500, 4).await, Vec::<u64>::new());
    assert_eq!(page(3, 0).await, Vec::<u64>::new());
    assert_eq!(
        s.messages_after(ConversationId::new_random(), 0, 10).await,
        Err(StoreError::NotFound)
    );
}

async fn ack_is_monotonic_and_clamped(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    for i in 0..3 {
        s.append(conv, message(Party::Visitor, &format!("m{i}"), "x"))
            .await
            .unwrap();
    }
    assert_eq!(s.ack(conv, Party::Counsellor, 2).await, Ok(2));
    assert_eq!(
        s.ack(conv, Party::Counsellor, 1).await,
        Ok(2),
        "never lowered"
    );
    assert_eq!(s.ack(conv, Party::Counsellor, 99).await, Ok(3), "clamped");
    assert_eq!(
        s.ack(conv, Party::Counsellor, u64::MAX).await,
        Ok(3),
        "clamped even at the edge"
    );
    assert_eq!(s.ack(conv, Party::Visitor, 1).await, Ok(1), "per party");
    let rec = s.conversation(conv).await.unwrap().unwrap();
    assert_eq!((rec.counsellor_acked, rec.visitor_acked), (3, 1));
    assert_eq!(
        s.ack(ConversationId::new_random(), Party::Visitor, 1).await,
        Err(StoreError::NotFound)
    );
}

async fn end_frees_the_counsellors_place(b: Backend) {
    let s = b.store();
    let c = counsellor(s, 1).await;
    let first = create(s, conv_at(T0)).await;
    let second = create(s, conv_at(T0 + 1)).await;
    s.assign(first, c, T0 + 2).await.unwrap();
    assert_eq!(
        s.assign(second, c, T0 + 3).await,
        Err(StoreError::CapacityReached)
    );
    let ended = s.end(first, EndedBy::Visitor, None, T0 + 4).await.unwrap();
    assert_eq!(ended.was, ConversationState::Active { counsellor: c });
    assert_eq!(ended.record.state, ConversationState::Ended);
    assert_eq!(ended.record.ended_by, Some(EndedBy::Visitor));
    assert_eq!(ended.record.ended_at_ms, Some(T0 + 4));
    assert_eq!(ended.record.counsellor, Some(c));
    assert_eq!(active_of(s, c).await, 0);
    assert_eq!(
        s.end(first, EndedBy::Visitor, None, T0 + 5).await,
        Err(TransitionError::AlreadyEnded.into())
    );
    // Still on the counsellor's list until they record an outcome.
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![first]
    );
    s.assign(second, c, T0 + 6).await.unwrap();
    // Ended by the counsellor with an outcome: off the list at once.
    let ended = s
        .end(
            second,
            EndedBy::Counsellor,
            Some(Outcome::Listened.into()),
            T0 + 7,
        )
        .await
        .unwrap();
    assert_eq!(ended.record.outcome, Some(Outcome::Listened));
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![first]
    );
    // Ending a queued one takes it out of the queue.
    let queued = create(s, conv_at(T0 + 8)).await;
    let ended = s.end(queued, EndedBy::Visitor, None, T0 + 9).await.unwrap();
    assert_eq!(ended.was, ConversationState::Queued);
    assert!(s.queue().await.unwrap().is_empty());
    assert_eq!(
        s.end(ConversationId::new_random(), EndedBy::Visitor, None, T0)
            .await
            .map(|e| e.was),
        Err(StoreError::NotFound)
    );
}

async fn set_outcome_only_for_the_counsellor_of_an_ended_conversation(b: Backend) {
    let s = b.store();
    let c = counsellor(s, 2).await;
    let other = counsellor(s, 2).await;
    let conv = create(s, conv_at(T0)).await;
    s.assign(conv, c, T0).await.unwrap();
    assert_eq!(
        s.set_outcome(conv, c, Outcome::Referred.into()).await,
        Err(TransitionError::NotActive.into()),
        "not before it ended"
    );
    s.end(conv, EndedBy::Visitor, None, T0 + 1).await.unwrap();
    assert_eq!(
        s.set_outcome(conv, other, Outcome::Referred.into()).await,
        Err(StoreError::NotYours)
    );
    let rec = s
        .set_outcome(conv, c, Outcome::Referred.into())
        .await
        .unwrap();
    assert_eq!(rec.outcome, Some(Outcome::Referred));
    assert!(s.conversations_of(c).await.unwrap().is_empty());
    assert_eq!(
        s.conversation(conv).await.unwrap().unwrap().outcome,
        Some(Outcome::Referred)
    );
    assert_eq!(
        s.set_outcome(ConversationId::new_random(), c, Outcome::Other.into())
            .await,
        Err(StoreError::NotFound)
    );
}

async fn sweep_ends_queued_visitors_away_past_grace(b: Backend) {
    let s = b.store();
    let away = create(s, conv_at(T0)).await; // never connected: away since T0
    let here = create(s, conv_at(T0)).await;
    s.visitor_connections(here, 1, T0 + 1).await.unwrap();
    let left = create(s, conv_at(T0)).await;
    s.visitor_connections(left, 1, T0 + 1).await.unwrap();
    s.visitor_connections(left, -1, T0 + 500).await.unwrap();

    assert_eq!(s.sweep(T0 + 999, 1_000, u64::MAX).await.unwrap(), vec![]);
    let swept = s.sweep(T0 + 1_000, 1_000, u64::MAX).await.unwrap();
    assert_eq!(swept, vec![Swept::Abandoned { conversation: away }]);
    let rec = s.conversation(away).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Ended);
    assert_eq!(rec.ended_by, Some(EndedBy::System));
    assert_eq!(rec.outcome, Some(Outcome::VisitorLeft));
    assert_eq!(rec.ended_at_ms, Some(T0 + 1_000));
    // Nodes sweeping at once: each abandonment is reported once.
    let all = join_all((0..3).map(|i| {
        let s = b.node(i);
        async move { s.sweep(T0 + 1_500, 1_000, u64::MAX).await.unwrap() }
    }))
    .await;
    let reported: Vec<Swept> = all.into_iter().flatten().collect();
    assert_eq!(reported, vec![Swept::Abandoned { conversation: left }]);
    assert_eq!(queue_ids(s).await, vec![here]);
}

async fn sweep_requeues_to_the_front_when_the_counsellor_is_away_past_grace(b: Backend) {
    let s = b.store();
    let waiting = create(s, conv_at(T0)).await;
    let served = create(s, conv_at(T0 + 10)).await;
    let done = create(s, conv_at(T0 + 20)).await;
    let c = counsellor(s, 3).await;
    s.assign(served, c, T0 + 30).await.unwrap();
    s.assign(done, c, T0 + 31).await.unwrap();
    s.end(done, EndedBy::Visitor, None, T0 + 32).await.unwrap();
    // The counsellor's laptop sleeps; they come back before the grace.
    s.counsellor_connections(c, -1, 3, T0 + 100).await.unwrap();
    s.counsellor_connections(c, 1, 3, T0 + 150).await.unwrap();
    assert_eq!(s.sweep(T0 + 10_000, u64::MAX, 1_000).await.unwrap(), vec![]);
    // Gone for good this time.
    s.counsellor_connections(c, -1, 3, T0 + 200).await.unwrap();
    assert_eq!(s.sweep(T0 + 1_199, u64::MAX, 1_000).await.unwrap(), vec![]);
    let all = join_all((0..3).map(|i| {
        let s = b.node(i);
        async move { s.sweep(T0 + 1_200, u64::MAX, 1_000).await.unwrap() }
    }))
    .await;
    let reported: Vec<Swept> = all.into_iter().flatten().collect();
    assert_eq!(
        reported,
        vec![Swept::Requeued {
            conversation: served,
            counsellor: c
        }],
        "requeued once, by one node"
    );
    let rec = s.conversation(served).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    assert!(rec.requeued);
    assert_eq!(rec.assigned_at_ms, None);
    assert_eq!(rec.queued_since_ms, T0 + 10, "keeps its first arrival");
    assert_eq!(queue_ids(s).await, vec![served, waiting]);
    assert_eq!(active_of(s, c).await, 0);
    // The ended one waiting for its outcome stays on the counsellor's list.
    assert_eq!(
        s.conversations_of(c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![done]
    );
}

async fn connection_counts_track_presence(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let rec = s.visitor_connections(conv, 1, T0 + 1).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (1, None)
    );
    let rec = s.visitor_connections(conv, 1, T0 + 2).await.unwrap();
    assert_eq!(rec.visitor_connections, 2);
    let rec = s.visitor_connections(conv, -1, T0 + 3).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (1, None)
    );
    let rec = s.visitor_connections(conv, -1, T0 + 4).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (0, Some(T0 + 4))
    );
    let rec = s.visitor_connections(conv, -1, T0 + 5).await.unwrap();
    assert_eq!(
        (rec.visitor_connections, rec.visitor_offline_since_ms),
        (0, Some(T0 + 4)),
        "never below zero; away since the first time"
    );
    assert_eq!(
        s.visitor_connections(ConversationId::new_random(), 1, T0)
            .await
            .map(|r| r.id),
        Err(StoreError::NotFound)
    );
}

async fn counsellor_records_are_created_on_first_sight(b: Backend) {
    let s = b.store();
    let id = AccountId::new_random();
    assert_eq!(s.counsellor(id).await, Ok(None));
    assert_eq!(
        s.set_status(id, Availability::Available).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.set_capacity(id, 2).await, Err(StoreError::NotFound));
    let rec = s.counsellor_connections(id, 1, 3, T0).await.unwrap();
    assert_eq!(rec.status, Availability::Away);
    assert_eq!((rec.capacity, rec.active, rec.connections), (3, 0, 1));
    assert_eq!(rec.offline_since_ms, None);
    assert!(!rec.takes_chats());
    let rec = s.set_status(id, Availability::Available).await.unwrap();
    assert!(rec.takes_chats());
    let rec = s.set_capacity(id, 5).await.unwrap();
    assert_eq!(rec.capacity, 5);
    let rec = s.counsellor_connections(id, 1, 3, T0 + 1).await.unwrap();
    assert_eq!((rec.connections, rec.capacity), (2, 5));
    s.counsellor_connections(id, -1, 3, T0 + 2).await.unwrap();
    let rec = s.counsellor_connections(id, -1, 3, T0 + 3).await.unwrap();
    assert_eq!((rec.connections, rec.offline_since_ms), (0, Some(T0 + 3)));
    assert!(!rec.takes_chats());
    let listed = b.node(1).counsellors().await.unwrap();
    assert_eq!(listed, vec![rec.clone()]);
    // One record read on its own is the same record, on any node.
    assert_eq!(b.node(1).counsellor(id).await, Ok(Some(rec)));
    assert_eq!(s.counsellor(AccountId::new_random()).await, Ok(None));
}

async fn sessions_are_stored_and_deleted(b: Backend) {
    let s = b.store();
    let token = [42u8; 32];
    let session = SessionRecord {
        account: AccountId::new_random(),
        expires_at_ms: tsunagu::clock::now_ms() + 3_600_000,
    };
    assert_eq!(s.session(&token).await, Ok(None));
    s.put_session(token, session).await.unwrap();
    assert_eq!(b.node(2).session(&token).await, Ok(Some(session)));
    assert_eq!(s.session(&[43u8; 32]).await, Ok(None));
    s.delete_session(&token).await.unwrap();
    assert_eq!(s.session(&token).await, Ok(None));
    s.delete_session(&token).await.unwrap();
}

async fn accounts_have_unique_usernames(b: Backend) {
    let s = b.store();
    let account = |username: &str| Account {
        id: AccountId::new_random(),
        username: username.into(),
        display_name: format!("{username}-san"),
        role: Role::Counsellor,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    let (b1, a1) = (account("sato"), account("aoki"));
    s.create_account(b1.clone()).await.unwrap();
    s.create_account(a1.clone()).await.unwrap();
    assert_eq!(
        s.create_account(account("sato")).await,
        Err(StoreError::UsernameTaken)
    );
    // Ten nodes racing for one username: one wins.
    let race = join_all((0..10).map(|i| {
        let s = b.node(i);
        let a = account("ueda");
        async move { s.create_account(a).await }
    }))
    .await;
    assert_eq!(race.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(s.account(a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(s.account_by_username("sato").await.unwrap(), Some(b1));
    assert_eq!(s.account_by_username("nobody").await.unwrap(), None);
    assert_eq!(s.account(AccountId::new_random()).await.unwrap(), None);
    let names: Vec<String> = s
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, vec!["aoki", "sato", "ueda"]);
}

async fn notes_belong_to_an_existing_conversation(b: Backend) {
    let s = b.store();
    let conv = create(s, conv_at(T0)).await;
    let note = |text: &str, at_ms| Note {
        author: AccountId(Uuid::from_u128(5)),
        text: text.into(),
        at_ms,
    };
    assert_eq!(s.notes(conv).await, Ok(vec![]));
    s.add_note(conv, note("母親から", T0)).await.unwrap();
    s.add_note(conv, note("二回目", T0 + 1)).await.unwrap();
    assert_eq!(
        s.notes(conv).await,
        Ok(vec![note("母親から", T0), note("二回目", T0 + 1)])
    );
    let unknown = ConversationId::new_random();
    assert_eq!(
        s.add_note(unknown, note("x", T0)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(s.notes(unknown).await, Err(StoreError::NotFound));
}

async fn published_events_reach_every_subscriber(b: Backend) {
    let mut here = b.node(0).subscribe();
    let mut there = b.node(1).subscribe();
    let conv = ConversationId::new_random();
    for i in 0..20u64 {
        b.node(0)
            .publish(Event::Acked {
                conversation: conv,
                by: Party::Visitor,
                seq: i,
            })
            .await
            .unwrap();
    }
    for rx in [&mut here, &mut there] {
        for i in 0..20u64 {
            let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("the event arrives")
                .unwrap();
            match e {
                Event::Acked {
                    conversation, seq, ..
                } => assert_eq!((conversation, seq), (conv, i), "in publish order"),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}

// ------------------------------------------------------------ safety and supervision

fn risk_conv(risk: RiskLevel, now_ms: u64) -> NewConversation {
    NewConversation {
        channel: Default::default(),
        id: ConversationId::new_random(),
        token_hash: [0; 32],
        pre_chat: PreChat::default(),
        risk,
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms,
    }
}

fn triage_hit(rule: &str) -> RiskReason {
    RiskReason {
        level: RiskLevel::Urgent,
        source: RiskSource::Triage {
            rule: rule.into(),
            category: "self_harm".into(),
        },
        at_ms: 5,
    }
}

async fn safety_counsellor(s: &Arc<dyn Store>, capacity: u32, available: bool) -> AccountId {
    let id = AccountId::new_random();
    s.counsellor_connections(id, 1, capacity, 0).await.unwrap();
    if available {
        s.set_status(id, Availability::Available).await.unwrap();
    }
    id
}

async fn triage_raises_a_waiting_visitor_once_and_moves_them_ahead(b: Backend) {
    let s = b.store();
    let first = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    let second = s
        .create_conversation(risk_conv(RiskLevel::None, 2), 10)
        .await
        .unwrap();
    let hit = || RiskChange::Triage {
        hits: vec![triage_hit("r1")],
        alert: AlertId::new_random(),
    };
    let u = s.set_risk(second.id, hit(), 3).await.unwrap();
    assert_eq!((u.was, u.record.risk), (RiskLevel::None, RiskLevel::Urgent));
    assert_eq!(u.record.priority, Priority::Urgent);
    assert!(u.alert.is_some());
    let order: Vec<_> = s.queue().await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![second.id, first.id]);
    // The same rule again: nothing recorded, no alert.
    let u = s.set_risk(second.id, hit(), 4).await.unwrap();
    assert!(u.alert.is_none());
    assert_eq!(u.record.risk_reasons.len(), 1);
    assert_eq!(s.alerts(true).await.unwrap().len(), 1);
}

async fn triage_changes_nothing_once_a_counsellor_has_the_conversation(b: Backend) {
    let s = b.store();
    let c = safety_counsellor(s, 1, true).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    s.assign(conv.id, c, 2).await.unwrap();
    let change = RiskChange::Triage {
        hits: vec![triage_hit("r1")],
        alert: AlertId::new_random(),
    };
    let u = s.set_risk(conv.id, change, 3).await.unwrap();
    assert_eq!(u.record.risk, RiskLevel::None);
    assert!(u.alert.is_none() && s.alerts(false).await.unwrap().is_empty());
    // A person may; lowering stores no alert.
    let up = RiskChange::Staff {
        level: RiskLevel::Urgent,
        by: c,
        alert: AlertId::new_random(),
    };
    assert!(s.set_risk(conv.id, up, 4).await.unwrap().alert.is_some());
    let down = RiskChange::Staff {
        level: RiskLevel::Watch,
        by: c,
        alert: AlertId::new_random(),
    };
    let u = s.set_risk(conv.id, down, 5).await.unwrap();
    assert!(u.alert.is_none());
    assert_eq!(u.record.risk, RiskLevel::Watch);
}

async fn a_refused_reassign_changes_nothing(b: Backend) {
    let s = b.store();
    let a = safety_counsellor(s, 1, true).await;
    let full = safety_counsellor(s, 1, true).await;
    let away = safety_counsellor(s, 2, false).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    let other = s
        .create_conversation(risk_conv(RiskLevel::None, 2), 10)
        .await
        .unwrap();
    s.assign(conv.id, a, 3).await.unwrap();
    s.assign(other.id, full, 3).await.unwrap();
    let before = s.conversation(conv.id).await.unwrap();
    let loads_before = loads(s).await;
    let note = || {
        Some(Note {
            author: a,
            text: "n".into(),
            at_ms: 4,
        })
    };
    assert_eq!(
        s.reassign(conv.id, a, full, true, note(), 4).await,
        Err(StoreError::CapacityReached)
    );
    assert_eq!(
        s.reassign(conv.id, a, away, true, note(), 4).await,
        Err(StoreError::NotAvailable)
    );
    assert_eq!(
        s.reassign(conv.id, full, away, false, note(), 4).await,
        Err(StoreError::NotYours)
    );
    assert_eq!(s.conversation(conv.id).await.unwrap(), before);
    assert_eq!(loads(s).await, loads_before);
    assert!(s.notes(conv.id).await.unwrap().is_empty());
    // A takeover ignores status but not capacity.
    let rec = s
        .reassign(conv.id, a, away, false, note(), 5)
        .await
        .unwrap();
    assert_eq!(rec.counsellor, Some(away));
    assert_eq!(s.conversations_of(a).await.unwrap().len(), 0);
    assert_eq!(s.conversations_of(away).await.unwrap().len(), 1);
    assert_eq!(s.notes(conv.id).await.unwrap().len(), 1);
}

async fn requeue_puts_the_conversation_at_the_front_and_frees_the_place(b: Backend) {
    let s = b.store();
    let a = safety_counsellor(s, 1, true).await;
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 10), 10)
        .await
        .unwrap();
    s.assign(conv.id, a, 11).await.unwrap();
    let urgent = s
        .create_conversation(risk_conv(RiskLevel::Urgent, 1), 10)
        .await
        .unwrap();
    let rec = s.requeue(conv.id, a, None, 12).await.unwrap();
    assert!(rec.requeued && rec.counsellor.is_none());
    let order: Vec<_> = s.queue().await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![conv.id, urgent.id]);
    assert_eq!(load_of(s, a).await, 0);
    // Not theirs any more: a second requeue is refused.
    assert_eq!(
        s.requeue(conv.id, a, None, 13).await,
        Err(StoreError::Transition(TransitionError::NotActive))
    );
}

async fn supervision_rules_and_writers(b: Backend) {
    let s = b.store();
    let a = safety_counsellor(s, 1, true).await;
    let sup = AccountId::new_random();
    let conv = s
        .create_conversation(risk_conv(RiskLevel::None, 1), 10)
        .await
        .unwrap();
    assert_eq!(
        s.supervise(conv.id, sup, Some(SupervisionMode::Join))
            .await
            .map(|_| ()),
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    s.supervise(conv.id, sup, Some(SupervisionMode::Observe))
        .await
        .unwrap();
    s.assign(conv.id, a, 2).await.unwrap();
    let msg = |who: AccountId| NewMessage {
        from: Party::Counsellor,
        author: Some(who),
        author_name: None,
        client_id: ClientMsgId::parse("m1").unwrap(),
        text: "x".into(),
        now_ms: 3,
        require_counsellor: Some(who),
    };
    assert_eq!(s.append(conv.id, msg(sup)).await, Err(StoreError::NotYours));
    let (_, prev) = s
        .supervise(conv.id, sup, Some(SupervisionMode::Join))
        .await
        .unwrap();
    assert_eq!(prev, Some(SupervisionMode::Observe));
    assert!(matches!(
        s.append(conv.id, msg(sup)).await,
        Ok(Appended::New(_))
    ));
    assert_eq!(s.supervised_by(sup).await.unwrap().len(), 1);
    s.end(
        conv.id,
        EndedBy::Counsellor,
        Some(Outcome::Listened.into()),
        4,
    )
    .await
    .unwrap();
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    assert!(s.live_conversations().await.unwrap().is_empty());
}

async fn alerts_are_acknowledged_once_and_silences_counted_once(b: Backend) {
    let s = b.store();
    let mut n = risk_conv(RiskLevel::Urgent, 1);
    let alert_id = AlertId::new_random();
    n.alert = Some(alert_id);
    n.risk_reasons = vec![triage_hit("r")];
    let conv = s.create_conversation(n, 10).await.unwrap();
    let (x, y) = (AccountId::new_random(), AccountId::new_random());
    assert_eq!(s.ack_alert(alert_id, x, 2).await.unwrap().acked_by, Some(x));
    let again = s.ack_alert(alert_id, y, 3).await.unwrap();
    assert_eq!((again.acked_by, again.acked_at_ms), (Some(x), Some(2)));
    assert!(s.alerts(true).await.unwrap().is_empty());
    assert_eq!(
        s.ack_alert(AlertId::new_random(), x, 4).await,
        Err(StoreError::NotFound)
    );

    let a = safety_counsellor(s, 1, true).await;
    s.assign(conv.id, a, 5).await.unwrap();
    let say = |from: Party, id: &str, now_ms: u64| NewMessage {
        from,
        author: None,
        author_name: None,
        client_id: ClientMsgId::parse(id).unwrap(),
        text: "x".into(),
        now_ms,
        require_counsellor: None,
    };
    s.append(conv.id, say(Party::Counsellor, "c1", 10))
        .await
        .unwrap();
    assert!(s.mark_silent(15, 10).await.unwrap().is_empty());
    assert_eq!(s.mark_silent(20, 10).await.unwrap().len(), 1);
    assert!(s.mark_silent(30, 10).await.unwrap().is_empty());
    s.append(conv.id, say(Party::Visitor, "v1", 31))
        .await
        .unwrap();
    assert_eq!(
        s.conversation(conv.id)
            .await
            .unwrap()
            .unwrap()
            .silent_since_ms,
        None
    );
    assert_eq!(s.stats().await.unwrap().went_silent, 1);
}

async fn loads(s: &Arc<dyn Store>) -> Vec<(AccountId, u32)> {
    let mut v: Vec<(AccountId, u32)> = s
        .counsellors()
        .await
        .unwrap()
        .iter()
        .map(|c| (c.id, c.active))
        .collect();
    v.sort();
    v
}

async fn load_of(s: &Arc<dyn Store>, id: AccountId) -> u32 {
    loads(s)
        .await
        .into_iter()
        .find(|(c, _)| *c == id)
        .map(|(_, n)| n)
        .unwrap_or_default()
}

fn staff(level: RiskLevel, by: AccountId) -> RiskChange {
    RiskChange::Staff {
        level,
        by,
        alert: AlertId::new_random(),
    }
}

async fn a_created_conversation_keeps_its_risk_and_alert(b: Backend) {
    let s = b.store();
    let mut n = risk_conv(RiskLevel::Urgent, T0);
    let alert = AlertId::new_random();
    n.alert = Some(alert);
    n.risk_reasons = vec![triage_hit("r1"), triage_hit("r2")];
    let rec = s.create_conversation(n, 10).await.unwrap();
    assert_eq!(rec.risk, RiskLevel::Urgent);
    assert_eq!(rec.priority, Priority::Urgent);
    assert_eq!(rec.risk_reasons.len(), 2);
    assert_eq!(
        (rec.transfers, rec.supervisors.len(), rec.silent_since_ms),
        (0, 0, None)
    );
    let alerts = b.node(1).alerts(true).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].id, alerts[0].conversation, alerts[0].level),
        (alert, rec.id, RiskLevel::Urgent)
    );
    assert_eq!(alerts[0].reasons, rec.risk_reasons);
    assert_eq!(b.node(2).conversation(rec.id).await.unwrap().unwrap(), rec);
    // Without an alert id nothing is stored.
    s.create_conversation(risk_conv(RiskLevel::Watch, T0), 10)
        .await
        .unwrap();
    assert_eq!(s.alerts(false).await.unwrap().len(), 1);
}

async fn staff_risk_moves_a_queued_visitor_both_ways_keeping_arrival(b: Backend) {
    let s = b.store();
    let by = AccountId::new_random();
    let first = create(s, conv_at(T0)).await;
    let second = create(s, conv_at(T0 + 1)).await;
    let u = s
        .set_risk(second, staff(RiskLevel::Urgent, by), T0 + 2)
        .await
        .unwrap();
    assert_eq!(u.was, RiskLevel::None);
    assert!(u.alert.is_some(), "raised: an alert");
    assert_eq!(u.record.queued_since_ms, T0 + 1, "arrival kept");
    assert_eq!(queue_ids(&b.node(1)).await, vec![second, first]);
    let u = s
        .set_risk(second, staff(RiskLevel::Watch, by), T0 + 3)
        .await
        .unwrap();
    assert!(u.alert.is_none(), "lowered: no alert");
    assert_eq!(u.record.priority, Priority::Normal);
    assert_eq!(
        u.record.risk_reasons.len(),
        2,
        "every staff change is recorded"
    );
    assert_eq!(queue_ids(s).await, vec![first, second]);
    // A requeued visitor raised to urgent stays requeued (at the front).
    let c = counsellor(s, 1).await;
    s.assign(first, c, T0 + 4).await.unwrap();
    s.requeue(first, c, None, T0 + 5).await.unwrap();
    let u = s
        .set_risk(first, staff(RiskLevel::Urgent, by), T0 + 6)
        .await
        .unwrap();
    assert!(u.record.requeued);
    assert_eq!(queue_ids(s).await, vec![first, second]);
    // Refusals.
    assert_eq!(
        s.set_risk(
            ConversationId::new_random(),
            staff(RiskLevel::Urgent, by),
            0
        )
        .await
        .map(|_| ()),
        Err(StoreError::NotFound)
    );
    s.end(second, EndedBy::Visitor, None, T0 + 7).await.unwrap();
    assert_eq!(
        s.set_risk(second, staff(RiskLevel::Urgent, by), T0 + 8)
            .await
            .map(|_| ()),
        Err(StoreError::Transition(TransitionError::AlreadyEnded))
    );
    assert_eq!(s.alerts(false).await.unwrap().len(), 2);
}

async fn triage_keeps_the_highest_level_and_records_new_rules_only(b: Backend) {
    let s = b.store();
    let id = create(s, conv_at(T0)).await;
    let watch = |rule: &str| RiskReason {
        level: RiskLevel::Watch,
        ..triage_hit(rule)
    };
    let tri = |hits: Vec<RiskReason>| RiskChange::Triage {
        hits,
        alert: AlertId::new_random(),
    };
    let u = s
        .set_risk(id, tri(vec![triage_hit("u1"), watch("w1")]), T0 + 1)
        .await
        .unwrap();
    assert_eq!(u.record.risk, RiskLevel::Urgent);
    assert_eq!(u.alert.as_ref().unwrap().reasons.len(), 2);
    // A new watch rule is recorded (and alerted) but never lowers.
    let u = s
        .set_risk(id, tri(vec![watch("w2"), watch("w1")]), T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        (u.was, u.record.risk),
        (RiskLevel::Urgent, RiskLevel::Urgent)
    );
    let alert = u.alert.unwrap();
    assert_eq!(alert.reasons, vec![watch("w2")]);
    assert_eq!(alert.level, RiskLevel::Urgent);
    let rules: Vec<_> = u
        .record
        .risk_reasons
        .iter()
        .map(|r| match &r.source {
            RiskSource::Triage { rule, .. } => rule.clone(),
            RiskSource::Staff { .. } => "staff".into(),
        })
        .collect();
    assert_eq!(rules, vec!["u1", "w1", "w2"]);
    assert_eq!(b.node(1).conversation(id).await.unwrap().unwrap(), u.record);
}

async fn alerts_are_listed_oldest_first(b: Backend) {
    let s = b.store();
    let by = AccountId::new_random();
    let mut ids = Vec::new();
    for (i, at) in [T0 + 30, T0 + 10, T0 + 20].into_iter().enumerate() {
        let conv = create(s, conv_at(T0 + i as u64)).await;
        let u = s
            .set_risk(conv, staff(RiskLevel::Urgent, by), at)
            .await
            .unwrap();
        ids.push((at, u.alert.unwrap().id));
    }
    ids.sort();
    let listed: Vec<_> = b
        .node(1)
        .alerts(false)
        .await
        .unwrap()
        .iter()
        .map(|a| (a.at_ms, a.id))
        .collect();
    assert_eq!(listed, ids);
    s.ack_alert(ids[1].1, by, T0 + 40).await.unwrap();
    let open: Vec<_> = s.alerts(true).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(open, vec![ids[0].1, ids[2].1]);
    let all = s.alerts(false).await.unwrap();
    assert_eq!(all[1].acked_by, Some(by));
    assert_eq!(all[1].acked_at_ms, Some(T0 + 40));
}

async fn reassign_moves_the_place_and_the_held_entry(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 2).await;
    let sup = counsellor(s, 2).await;
    let id = create(s, conv_at(T0)).await;
    s.assign(id, a, T0 + 1).await.unwrap();
    s.supervise(id, sup, Some(SupervisionMode::Observe))
        .await
        .unwrap();
    // to == from: nothing changes.
    let same = s.reassign(id, a, a, true, None, T0 + 2).await.unwrap();
    assert_eq!(same, s.conversation(id).await.unwrap().unwrap());
    assert_eq!(same.transfers, 0);
    // Unknown target.
    assert_eq!(
        s.reassign(id, a, AccountId::new_random(), false, None, T0 + 2)
            .await,
        Err(StoreError::NotAvailable)
    );
    let note = Note {
        author: sup,
        text: "taking over".into(),
        at_ms: T0 + 3,
    };
    let rec = b
        .node(1)
        .reassign(id, a, sup, false, Some(note.clone()), T0 + 3)
        .await
        .unwrap();
    assert_eq!(rec.state, ConversationState::Active { counsellor: sup });
    assert_eq!(rec.counsellor, Some(sup));
    assert_eq!(rec.transfers, 1);
    assert!(
        rec.supervisors.is_empty(),
        "the new holder no longer observes"
    );
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    assert_eq!((load_of(s, a).await, load_of(s, sup).await), (0, 1));
    assert!(s.conversations_of(a).await.unwrap().is_empty());
    assert_eq!(s.conversations_of(sup).await.unwrap()[0].id, id);
    let target = s
        .counsellors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == sup)
        .unwrap();
    assert_eq!(target.last_assigned_ms, Some(T0 + 3));
    assert_eq!(s.notes(id).await.unwrap(), vec![note]);
    // The old holder may not write any more; the new one may.
    let mut m = message(Party::Counsellor, "m1", "x");
    m.require_counsellor = Some(a);
    assert_eq!(s.append(id, m.clone()).await, Err(StoreError::NotYours));
    m.require_counsellor = Some(sup);
    assert!(matches!(s.append(id, m).await, Ok(Appended::New(_))));
    // Refusals on a queued and an ended conversation.
    let queued = create(s, conv_at(T0)).await;
    assert_eq!(
        s.reassign(queued, a, sup, false, None, T0).await,
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    assert_eq!(
        s.requeue(queued, a, None, T0).await,
        Err(StoreError::Transition(TransitionError::NotActive))
    );
    s.end(id, EndedBy::Counsellor, None, T0 + 4).await.unwrap();
    assert_eq!(
        s.reassign(id, sup, a, false, None, T0 + 5).await,
        Err(StoreError::Transition(TransitionError::AlreadyEnded))
    );
}

async fn requeue_clears_the_counsellor_counts_a_transfer_and_keeps_the_note(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 1).await;
    let id = create(s, conv_at(T0)).await;
    s.assign(id, a, T0 + 1).await.unwrap();
    let note = Note {
        author: a,
        text: "back to the queue".into(),
        at_ms: T0 + 2,
    };
    let rec = b
        .node(2)
        .requeue(id, a, Some(note.clone()), T0 + 2)
        .await
        .unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    assert_eq!(
        (
            rec.counsellor,
            rec.assigned_at_ms,
            rec.requeued,
            rec.transfers
        ),
        (None, None, true, 1)
    );
    assert_eq!(rec.queued_since_ms, T0, "arrival kept");
    assert!(s.conversations_of(a).await.unwrap().is_empty());
    assert_eq!(s.notes(id).await.unwrap(), vec![note]);
    assert_eq!(s.conversation(id).await.unwrap().unwrap(), rec);
    // Its place is free again: it can be assigned back.
    s.assign(id, a, T0 + 3).await.unwrap();
}

async fn live_conversations_are_the_queued_and_active_ones(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 2).await;
    let queued = create(s, conv_at(T0)).await;
    let active = create(s, conv_at(T0)).await;
    let ended = create(s, conv_at(T0)).await;
    s.assign(active, a, T0).await.unwrap();
    s.end(ended, EndedBy::Visitor, None, T0).await.unwrap();
    let mut live: Vec<_> = b
        .node(1)
        .live_conversations()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    live.sort();
    let mut want = vec![queued, active];
    want.sort();
    assert_eq!(live, want);
}

async fn left_queue_counts_visitors_who_gave_up_waiting(b: Backend) {
    let s = b.store();
    let a = counsellor(s, 1).await;
    let by_visitor = create(s, conv_at(T0)).await;
    let by_system = create(s, conv_at(T0)).await;
    let served = create(s, conv_at(T0)).await;
    let away = create(s, conv_at(T0)).await;
    s.end(by_visitor, EndedBy::Visitor, None, T0).await.unwrap();
    s.end(by_system, EndedBy::System, None, T0).await.unwrap();
    s.assign(served, a, T0).await.unwrap();
    s.end(served, EndedBy::Visitor, None, T0).await.unwrap();
    assert_eq!(s.stats().await.unwrap().left_queue, 1);
    // `away` never connected: offline since creation.
    let swept = s.sweep(T0 + 1_000, 500, u64::MAX).await.unwrap();
    assert_eq!(swept, vec![Swept::Abandoned { conversation: away }]);
    assert_eq!(
        b.node(1).stats().await.unwrap(),
        Stats {
            left_queue: 2,
            went_silent: 0
        }
    );
}

async fn assign_drops_the_assignees_supervision(b: Backend) {
    let s = b.store();
    let sup = counsellor(s, 1).await;
    let other = AccountId::new_random();
    let id = create(s, conv_at(T0)).await;
    s.supervise(id, sup, Some(SupervisionMode::Observe))
        .await
        .unwrap();
    s.supervise(id, other, Some(SupervisionMode::Observe))
        .await
        .unwrap();
    assert_eq!(s.supervised_by(sup).await.unwrap().len(), 1);
    let rec = s.assign(id, sup, T0).await.unwrap();
    assert_eq!(rec.supervision_of(sup), None);
    assert_eq!(rec.supervision_of(other), Some(SupervisionMode::Observe));
    assert!(s.supervised_by(sup).await.unwrap().is_empty());
    // Supervising one's own conversation is refused; clearing is not.
    assert_eq!(
        s.supervise(id, sup, Some(SupervisionMode::Observe))
            .await
            .map(|_| ()),
        Err(StoreError::NotYours)
    );
    let (rec, prev) = s.supervise(id, other, None).await.unwrap();
    assert_eq!(prev, Some(SupervisionMode::Observe));
    assert!(rec.supervisors.is_empty());
    assert_eq!(
        s.supervise(ConversationId::new_random(), other, None)
            .await
            .map(|_| ()),
        Err(StoreError::NotFound)
    );
}
