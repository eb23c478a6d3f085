//! The node-level part: readiness, durability, shutdown and events.

use super::*;

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
