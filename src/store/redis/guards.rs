//! Guard counters: one string per key under the node's prefix, named by
//! the hash of the key (a booking reference never appears in Redis as a
//! counter's name). Expiry is Redis's own (`PEXPIRE`).

use super::*;

#[async_trait]
impl GuardStore for RedisStore {
    async fn record_failure(&self, key: &str, _now_ms: u64, ttl_ms: u64) -> StoreResult<u32> {
        let keys = [self.keys.guard(&hash_token(key))];
        let v = self
            .run(&SCRIPTS.record_failure, &keys, &args![ttl_ms.max(1)])
            .await?;
        let n: i64 = ::redis::from_redis_value(v).map_err(|_| codec::corrupt("guard"))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn failures(&self, key: &str, _now_ms: u64) -> StoreResult<u32> {
        let n: Option<i64> = self
            .query(::redis::cmd("GET").arg(self.keys.guard(&hash_token(key))))
            .await?;
        Ok(n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        let _: i64 = self
            .query(::redis::cmd("DEL").arg(self.keys.guard(&hash_token(key))))
            .await?;
        Ok(())
    }

    async fn hold(
        &self,
        key: &str,
        member: &str,
        cap: u32,
        _now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        let keys = [self.keys.guard_set(&hash_token(key))];
        let v = self
            .run(&SCRIPTS.hold, &keys, &args![member, cap, ttl_ms.max(1)])
            .await?;
        let n: i64 = ::redis::from_redis_value(v).map_err(|_| codec::corrupt("guard set"))?;
        Ok(n == 1)
    }

    async fn held(&self, key: &str, _now_ms: u64) -> StoreResult<Vec<String>> {
        self.query(::redis::cmd("SMEMBERS").arg(self.keys.guard_set(&hash_token(key))))
            .await
    }

    async fn release(&self, key: &str, member: &str) -> StoreResult<()> {
        let _: i64 = self
            .query(
                ::redis::cmd("SREM")
                    .arg(self.keys.guard_set(&hash_token(key)))
                    .arg(member),
            )
            .await?;
        Ok(())
    }
}
