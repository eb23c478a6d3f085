//! The store contract (the doc comments on the traits of `tsunagu::store`),
//! checked directly on `Arc<dyn Store>` against every backend, one file per
//! aggregate as in `src/store` (the handoff's and retention's parts are
//! `handoff_store.rs` and `retention_store.rs`): each test runs once on the
//! in-memory store (`store_conformance::<file>::memory::*`) and once on
//! Redis (`store_conformance::<file>::redis::*`).
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
use tsunagu::store::{Acknowledged, Store, StoreError};

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

// After `conformance!`, which they use.
mod account_audit;
mod accounts;
mod canned;
mod cases;
mod conversations;
mod counsellors;
mod floor;
mod forget;
mod guards;
mod messages;
mod node;
mod reschedule;
mod second_factors;
mod supervision;
mod supervision_audit;
mod way_back;

// ------------------------------------------------------------ helpers

const T0: u64 = 1_700_000_000_000;

pub(crate) fn conv_at(now_ms: u64) -> NewConversation {
    NewConversation {
        lang: Default::default(),
        channel: Default::default(),
        id: ConversationId::new_random(),
        token_hash: [7; 32],
        pre_chat: PreChat::default(),
        risk: Default::default(),
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms,
        start_key: None,
        prefers: None,
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
