//! The node-level part: readiness, durability, events, and taking a
//! dead node's sockets off the presence counts.

use super::*;

impl RedisStore {
    /// Take the sockets of nodes whose liveness key expired off the counts.
    pub(super) async fn reap_dead_nodes(&self, now_ms: u64) -> StoreResult<()> {
        let nodes: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.nodes()))
            .await?;
        let others: Vec<&String> = nodes.iter().filter(|n| **n != self.node).collect();
        if others.is_empty() {
            return Ok(());
        }
        let mut p = ::redis::pipe();
        for n in &others {
            p.cmd("EXISTS").arg(self.keys.node_alive(n));
        }
        let alive: Vec<bool> = self.pipe(&p).await?;
        for (node, _) in others.into_iter().zip(alive).filter(|(_, a)| !a) {
            let alive_key = self.keys.node_alive(node);
            let ckey = self.keys.node_counsellors(node);
            let vkey = self.keys.node_visitors(node);
            let counsellors: Vec<String> = self.query(::redis::cmd("HKEYS").arg(&ckey)).await?;
            for c in counsellors {
                let Ok(id) = uuid::Uuid::parse_str(&c) else {
                    continue;
                };
                let keys = [
                    alive_key.clone(),
                    ckey.clone(),
                    self.keys.counsellor(AccountId(id)),
                ];
                self.run(&SCRIPTS.reap_counsellor, &keys, &args![c, now_ms])
                    .await?;
            }
            let visitors: Vec<String> = self.query(::redis::cmd("HKEYS").arg(&vkey)).await?;
            for v in visitors {
                let Ok(id) = uuid::Uuid::parse_str(&v) else {
                    continue;
                };
                let keys = [
                    alive_key.clone(),
                    vkey.clone(),
                    self.keys.meta(ConversationId(id)),
                ];
                self.run(&SCRIPTS.reap_visitor, &keys, &args![v, now_ms])
                    .await?;
            }
            let keys = [alive_key, ckey, vkey, self.keys.nodes()];
            self.run(&SCRIPTS.reap_node, &keys, &args![node]).await?;
            tracing::warn!(node = %node, "a node stopped renewing its liveness; its sockets no longer count");
        }
        Ok(())
    }
}

#[async_trait]
impl NodeStore for RedisStore {
    /// Every command connection answers (each lane reconnects on its own
    /// after an outage: ready only once all of them are back). Not gated:
    /// a busy node is not a broken one.
    async fn ping(&self) -> StoreResult<()> {
        let links = self.primary.links();
        let pings = links.lanes.iter().map(|lane| async move {
            let _: String = ::redis::cmd("PING")
                .query_async(&mut lane.clone())
                .await
                .map_err(unavailable)?;
            StoreResult::Ok(())
        });
        futures_util::future::try_join_all(pings).await?;
        Ok(())
    }

    /// Acknowledged writes are on disk only with `appendonly yes` and
    /// `appendfsync always`; `everysec` can lose about a second of them on
    /// a crash. The handoff's writes also wait for `WAITAOF` where the
    /// server has it (Redis 7.2+; detail `waitaof`; see docs/REDIS.md).
    async fn persistence(&self) -> StoreResult<Persistence> {
        let mut details = std::collections::BTreeMap::new();
        for key in ["appendonly", "appendfsync", "maxmemory-policy"] {
            // CONFIG GET answers [name, value]; a managed Redis may refuse
            // CONFIG entirely: then say "unknown" rather than guess.
            let v: Vec<String> = self
                .query(::redis::cmd("CONFIG").arg("GET").arg(key))
                .await
                .unwrap_or_default();
            details.insert(
                key.to_owned(),
                v.get(1).cloned().unwrap_or_else(|| "unknown".into()),
            );
        }
        let on_disk = details["appendonly"] == "yes" && details["appendfsync"] == "always";
        let waitaof = if self.primary.links().waitaof {
            "yes"
        } else {
            "no"
        };
        details.insert("waitaof".into(), waitaof.into());
        details.insert("replicas_to_wait".into(), self.wait.replicas.to_string());
        Ok(Persistence {
            acknowledged_writes_on_disk: on_disk,
            details,
        })
    }

    async fn publish(&self, event: Event) -> StoreResult<()> {
        let json = serde_json::to_string(&event).map_err(|_| codec::corrupt("event"))?;
        let _: i64 = self
            .query(
                ::redis::cmd("PUBLISH")
                    .arg(self.keys.events_channel())
                    .arg(json),
            )
            .await?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The primary in use, whether a failover is under way, and the
    /// replicas it has against those the writes wait for.
    async fn replication(&self) -> StoreResult<Option<Replication>> {
        let links = self.primary.links();
        let failing_over = self.primary.failing_over();
        let replicas = match failing_over {
            true => None,
            false => primary::replicas_seen(&mut links.lanes[0].clone())
                .await
                .ok(),
        };
        Ok(Some(Replication {
            primary: links.addr.clone(),
            sentinel: self.primary.via_sentinel(),
            failing_over,
            replicas,
            replicas_to_wait: self.wait.replicas,
            messages_wait: self.wait.messages,
        }))
    }
}
