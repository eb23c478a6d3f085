//! The node's own needs of its store: is it there, how durable is it,
//! a clean shutdown, and the events between nodes.

use super::*;

/// What a backend says about its durability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Persistence {
    /// Is a write on disk (fsynced) before the store answers OK?
    pub acknowledged_writes_on_disk: bool,
    /// The settings that decide it, e.g. Redis `appendonly`/`appendfsync`.
    pub details: std::collections::BTreeMap<String, String>,
}

/// Where a replicated store writes and what it waits for (`/readyz`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Replication {
    /// `host:port` of the primary this node writes to.
    pub primary: String,
    /// Found through Sentinel (and followed on a failover).
    pub sentinel: bool,
    /// The primary does not answer, or Sentinel names a new one this node
    /// has not moved to yet.
    pub failing_over: bool,
    /// Replicas connected to the primary (`None` while failing over).
    pub replicas: Option<u32>,
    /// Replicas the durable writes wait for (`WAIT`); 0: none.
    pub replicas_to_wait: u32,
    /// Chat messages wait for them too.
    pub messages_wait: bool,
}

/// The store as the node sees it, apart from any record: readiness,
/// durability, shutdown and the notifications between nodes.
#[async_trait]
pub trait NodeStore: Send + Sync {
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// How durable an acknowledged write is, for the start-up log and
    /// `/readyz`.
    async fn persistence(&self) -> StoreResult<Persistence>;
    /// Replication, for a store that has it (Redis); `None` otherwise.
    async fn replication(&self) -> StoreResult<Option<Replication>> {
        Ok(None)
    }

    // ---- lifecycle
    /// Clean shutdown: finish writes in flight and release the backend.
    /// Nothing acknowledged waits for this (it is stored already); a crash
    /// that skips it loses nothing that was confirmed.
    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }

    // ---- notifications
    async fn publish(&self, event: Event) -> StoreResult<()>;
    /// One receiver per node (the hub). A lagging receiver gets
    /// `RecvError::Lagged` and must resynchronise from the store.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}
