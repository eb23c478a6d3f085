//! Guard counters, in this process's memory only (also under the
//! embedded store: they are not journaled, so a restart forgets them).

use super::*;

/// One key's failures and when they are forgotten.
#[derive(Clone, Copy, Debug)]
pub(super) struct Counter {
    count: u32,
    expires_at_ms: u64,
}

/// One key's held places and when they are forgotten.
#[derive(Clone, Debug, Default)]
pub(super) struct Held {
    members: std::collections::HashSet<String>,
    expires_at_ms: u64,
}

impl MemoryStore {
    fn holds(&self) -> StoreResult<MutexGuard<'_, HashMap<String, Held>>> {
        self.holds
            .lock()
            .map_err(|_| StoreError::Unavailable("guard sets poisoned".into()))
    }

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

    async fn hold(
        &self,
        key: &str,
        member: &str,
        cap: u32,
        now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        let mut h = self.holds()?;
        h.retain(|_, s| s.expires_at_ms > now_ms && !s.members.is_empty());
        let set = h.entry(key.to_owned()).or_default();
        if !set.members.contains(member) {
            if set.members.len() >= cap as usize {
                return Ok(false);
            }
            set.members.insert(member.to_owned());
        }
        set.expires_at_ms = now_ms.saturating_add(ttl_ms);
        Ok(true)
    }

    async fn held(&self, key: &str, now_ms: u64) -> StoreResult<Vec<String>> {
        Ok(self
            .holds()?
            .get(key)
            .filter(|s| s.expires_at_ms > now_ms)
            .map(|s| s.members.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn release(&self, key: &str, member: &str) -> StoreResult<()> {
        let mut h = self.holds()?;
        if let Some(s) = h.get_mut(key) {
            s.members.remove(member);
            if s.members.is_empty() {
                h.remove(key);
            }
        }
        Ok(())
    }
}
