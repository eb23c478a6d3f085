//! Guard counters, in this process's memory only (also under the
//! embedded store: they are not journaled, so a restart forgets them).

use super::*;

/// One key's failures and when they are forgotten.
#[derive(Clone, Copy, Debug)]
pub(super) struct Counter {
    count: u32,
    expires_at_ms: u64,
}

impl MemoryStore {
    fn guards(&self) -> StoreResult<MutexGuard<'_, HashMap<String, Counter>>> {
        self.guards
            .lock()
            .map_err(|_| StoreError::Unavailable("guard counters poisoned".into()))
    }
}

#[async_trait]
impl GuardStore for MemoryStore {
    async fn record_failure(&self, key: &str, now_ms: u64, ttl_ms: u64) -> StoreResult<u32> {
        let mut g = self.guards()?;
        // Forget what expired, so that guessed keys do not pile up.
        g.retain(|_, c| c.expires_at_ms > now_ms);
        let c = g.entry(key.to_owned()).or_insert(Counter {
            count: 0,
            expires_at_ms: 0,
        });
        c.count = c.count.saturating_add(1);
        c.expires_at_ms = c.expires_at_ms.max(now_ms.saturating_add(ttl_ms));
        Ok(c.count)
    }

    async fn failures(&self, key: &str, now_ms: u64) -> StoreResult<u32> {
        Ok(self
            .guards()?
            .get(key)
            .filter(|c| c.expires_at_ms > now_ms)
            .map_or(0, |c| c.count))
    }

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        self.guards()?.remove(key);
        Ok(())
    }
}
