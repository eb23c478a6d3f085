//! What operators read: whether the store answers and how durable its
//! writes are (`/readyz`), and the figures behind `/metrics`.

use super::{Refusal, Service};
use crate::metrics::Snapshot;
use crate::model::{Availability, CounsellorRecord};
use crate::store::{Persistence, Replication};

impl Service {
    /// `"ok"` when the store answers, else why it does not.
    pub async fn ping_store(&self) -> String {
        match self.store.ping().await {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    /// How durable an acknowledged write is (`None` if the store cannot say).
    pub async fn persistence(&self) -> Option<Persistence> {
        self.store.persistence().await.ok()
    }

    /// The primary and its replicas, for a replicated store (`None` on the
    /// embedded and memory stores, or if the store cannot say).
    pub async fn replication(&self) -> Option<Replication> {
        self.store.replication().await.ok().flatten()
    }

    /// The queue and the counsellors now, with this node's sockets
    /// (`(visitors, counsellors)`, from the hub), for `/metrics`.
    pub async fn metrics_snapshot(&self, sockets: (usize, usize)) -> Result<Snapshot, Refusal> {
        let queue = self.store.queue().await?;
        let counsellors = self.store.counsellors().await?;
        let now = self.now_ms();
        let (visitors, counsellor_sockets) = sockets;
        let online = |c: &&CounsellorRecord| c.connections > 0;
        Ok(Snapshot {
            queue_length: queue.len(),
            longest_wait_secs: queue
                .iter()
                .map(|r| now.saturating_sub(r.queued_since_ms))
                .max()
                .unwrap_or(0) as f64
                / 1000.0,
            conversations_active: counsellors.iter().map(|c| c.active as usize).sum(),
            counsellors_available: counsellors
                .iter()
                .filter(online)
                .filter(|c| c.status == Availability::Available)
                .count(),
            counsellors_away: counsellors
                .iter()
                .filter(online)
                .filter(|c| c.status == Availability::Away)
                .count(),
            counsellors_offline: counsellors.iter().filter(|c| c.connections == 0).count(),
            sockets_visitor: visitors,
            sockets_counsellor: counsellor_sockets,
            empty_floor: self.floor_raised().await?,
        })
    }
}
