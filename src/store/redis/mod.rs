//! The Redis backend: every node of a deployment shares one Redis.
//!
//! It owns the mapping of the store contract onto Redis keys (`keys`), the
//! decoding of what Redis returns (`codec`), the node's background links
//! (`events`) and the Lua scripts (`src/store/scripts/<aggregate>/*.lua`,
//! grouped like the store's traits). It never knows about sockets.
//!
//! Every change that checks a precondition is ONE Lua script: Redis runs a
//! script alone, so no other node's command can come between the check and
//! the write. Scripts validate everything before their first write (Redis
//! never rolls a script back) and receive every key they touch in `KEYS`.
//! Reads that only display (the queue, a counsellor list) are plain
//! commands or pipelines; where a read finds candidates for a change (the
//! sweep), the script re-checks each candidate.
//!
//! The chat's commands take four multiplexed connections (`ConnectionManager`,
//! the `lanes`) in turn: commands from every task are pipelined on them and
//! each reconnects by itself. A pool of one-request-at-a-time connections
//! would cost several times more per operation. At most
//! `max_outstanding` of them wait for Redis at once (the `gate`); beyond
//! that a command is refused before it is sent as `StoreError::Busy`.
//! Connection failures become `StoreError::Unavailable`,
//! which the service reports as `unavailable`: nothing is acknowledged that
//! Redis did not confirm. A write whose reply was lost may still have been
//! applied; a client's resend with the same client id is then answered as a
//! duplicate with the original sequence number.
//!
//! See docs/REDIS.md for the key layout, each script's checks, failure
//! behaviour and the Redis settings a deployment needs.

mod codec;
mod events;
mod gate;
pub mod keys;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisError, Script, Value};
use async_trait::async_trait;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use self::codec::{enum_name, hex, queue_scores, reply, risk_tables, Reply, Static};
use self::gate::Gate;
use self::keys::Keys;
use super::*;
use crate::config::{
    valid_redis_prefix, DEFAULT_REDIS_ADMISSION_WAIT, DEFAULT_REDIS_MAX_OUTSTANDING,
    DEFAULT_REDIS_NODE_TTL,
};
use crate::core::queue::QueuePolicy;
use crate::model::*;

/// Script arguments, each as its decimal or text form.
macro_rules! args {
    ($($a:expr),* $(,)?) => { [$(($a).to_string()),*] };
}
/// Connections the chat's commands are spread over (see `lanes`).
const LANES: usize = 4;
/// A read of more hashes than this goes on the `bulk` connection.
const BULK_READ: usize = 32;
/// Events kept for a slow subscriber before it is told it lagged.
const EVENT_BUFFER: usize = 16_384;
/// How long one command may wait for its answer before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnection attempts one failing request waits for (50 ms, 100 ms).
const RECONNECT_RETRIES: usize = 2;
/// Sessions are kept this long past their expiry (the HTTP layer refuses
/// them once expired; then Redis forgets them).
const SESSION_AFTERLIFE_MS: u64 = 60_000;
/// `end` re-reads the record when a concurrent assign changed its
/// counsellor; it gives up (as `Unavailable`) after this many tries.
const END_ATTEMPTS: usize = 8;
/// How long a handoff write waits for Redis to fsync it to the AOF
/// (`WAITAOF`) before it is reported `Unavailable`: below
/// `RESPONSE_TIMEOUT`, so the wait ends with Redis's answer, not ours.
const WAITAOF_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    pub url: String,
    /// Prefix of every key; see [`valid_redis_prefix`].
    pub prefix: String,
    /// A node whose liveness key is older than this is taken for dead and
    /// its sockets are taken off the presence counts.
    pub node_ttl: Duration,
    /// How the queue is ordered (the urgent head start). Every node sharing
    /// a Redis must use the same: the scores are computed at creation.
    pub queue_policy: QueuePolicy,
    /// Admission control on the chat's connections (see [`gate`]):
    /// commands outstanding at most, and how long one waits for a place
    /// before it is refused.
    pub max_outstanding: usize,
    pub admission_wait: Duration,
}

impl RedisOptions {
    /// These URL and prefix, everything else the defaults.
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            node_ttl: DEFAULT_REDIS_NODE_TTL,
            queue_policy: QueuePolicy::default(),
            max_outstanding: DEFAULT_REDIS_MAX_OUTSTANDING,
            admission_wait: DEFAULT_REDIS_ADMISSION_WAIT,
        }
    }
}

struct Scripts {
    create_conversation: Script,
    assign: Script,
    end: Script,
    set_outcome: Script,
    append: Script,
    ack: Script,
    visitor_connections: Script,
    counsellor_connections: Script,
    counsellor_set: Script,
    sweep_abandon: Script,
    sweep_requeue: Script,
    reap_counsellor: Script,
    reap_visitor: Script,
    reap_node: Script,
    create_account: Script,
    add_note: Script,
    set_risk: Script,
    ack_alert: Script,
    reassign: Script,
    requeue: Script,
    supervise: Script,
    mark_silent: Script,
    create_slot: Script,
    cancel_slot: Script,
    write_handoff: Script,
    set_attended: Script,
    purge_conversation: Script,
    purge_handoff: Script,
    purge_slot: Script,
    erase: Script,
    line_open: Script,
    line_forget: Script,
    line_lease: Script,
    line_delivered: Script,
    put_handoff_link: Script,
    handoff_link_sent: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| {
    let s = |src: &str| Script::new(src);
    Scripts {
        create_conversation: s(include_str!(
            "../scripts/conversations/create_conversation.lua"
        )),
        assign: s(include_str!("../scripts/conversations/assign.lua")),
        end: s(include_str!(
            "../scripts/conversations/end_conversation.lua"
        )),
        set_outcome: s(include_str!("../scripts/conversations/set_outcome.lua")),
        append: s(include_str!("../scripts/messages/append.lua")),
        ack: s(include_str!("../scripts/messages/ack.lua")),
        visitor_connections: s(include_str!(
            "../scripts/conversations/visitor_connections.lua"
        )),
        counsellor_connections: s(include_str!(
            "../scripts/counsellors/counsellor_connections.lua"
        )),
        counsellor_set: s(include_str!("../scripts/counsellors/counsellor_set.lua")),
        sweep_abandon: s(include_str!("../scripts/conversations/sweep_abandon.lua")),
        sweep_requeue: s(include_str!("../scripts/conversations/sweep_requeue.lua")),
        reap_counsellor: s(include_str!("../scripts/node/reap_counsellor.lua")),
        reap_visitor: s(include_str!("../scripts/node/reap_visitor.lua")),
        reap_node: s(include_str!("../scripts/node/reap_node.lua")),
        create_account: s(include_str!("../scripts/accounts/create_account.lua")),
        add_note: s(include_str!("../scripts/messages/add_note.lua")),
        set_risk: s(include_str!("../scripts/supervision/set_risk.lua")),
        ack_alert: s(include_str!("../scripts/supervision/ack_alert.lua")),
        reassign: s(include_str!("../scripts/supervision/reassign.lua")),
        requeue: s(include_str!("../scripts/supervision/requeue.lua")),
        supervise: s(include_str!("../scripts/supervision/supervise.lua")),
        mark_silent: s(include_str!("../scripts/supervision/mark_silent.lua")),
        create_slot: s(include_str!("../scripts/handoffs/create_slot.lua")),
        cancel_slot: s(include_str!("../scripts/handoffs/cancel_slot.lua")),
        write_handoff: s(include_str!("../scripts/handoffs/write_handoff.lua")),
        set_attended: s(include_str!("../scripts/handoffs/set_attended.lua")),
        purge_conversation: s(include_str!("../scripts/retention/purge_conversation.lua")),
        purge_handoff: s(include_str!("../scripts/retention/purge_handoff.lua")),
        purge_slot: s(include_str!("../scripts/retention/purge_slot.lua")),
        erase: s(include_str!("../scripts/retention/erase.lua")),
        line_open: s(include_str!("../scripts/line/line_open.lua")),
        line_forget: s(include_str!("../scripts/line/line_forget.lua")),
        line_lease: s(include_str!("../scripts/line/line_lease.lua")),
        line_delivered: s(include_str!("../scripts/line/line_delivered.lua")),
        put_handoff_link: s(include_str!("../scripts/handoffs/put_handoff_link.lua")),
        handoff_link_sent: s(include_str!("../scripts/handoffs/handoff_link_sent.lua")),
    }
});

pub struct RedisStore {
    /// The command connections; commands take them in turn. The first
    /// also carries the heartbeat and the handoff's writes where Redis
    /// has no `WAITAOF`.
    /// Each multiplexed connection has one task that writes the commands
    /// and reads the replies, scheduled like any socket's task: with
    /// thousands of sockets busy, one such task was the node's limit.
    lanes: Box<[ConnectionManager]>,
    next_lane: std::sync::atomic::AtomicUsize,
    /// Every command on the lanes passes it (`run`, `query`, `pipe`, small
    /// `hashes`): a bounded line instead of time-outs under overload.
    /// The heartbeat (on the first lane), `bulk` and `durable` do not: they are
    /// few, and the heartbeat must not be refused.
    gate: Gate,
    /// Set when the server has `WAITAOF` (Redis 7.2+): the handoff's writes
    /// (consent, bookings, slots, audit) go on this connection of their
    /// own, each followed by `WAITAOF 1 0`, so a wait for the disk holds up
    /// only them, never the chat traffic pipelined on the lanes. Without it
    /// they use the first lane and are as durable as `appendfsync` makes them.
    durable: Option<ConnectionManager>,
    /// Reads of many records at once (the queue broadcaster reads the whole
    /// queue, hundreds of hashes, several times a second) go on their own
    /// connection: on a lane each would hold up every reply behind it on
    /// the multiplexed connection, the chat's appends and the matcher's
    /// assignments included.
    bulk: ConnectionManager,
    keys: Keys,
    /// This process's id among the nodes (random per start).
    node: String,
    events: broadcast::Sender<Event>,
    tasks: Vec<JoinHandle<()>>,
    policy: QueuePolicy,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

impl RedisStore {
    /// Connect, subscribe to the events and register this node. Fails if
    /// Redis cannot be reached now; once running, lost connections are
    /// re-established in the background.
    pub async fn connect(opts: RedisOptions) -> StoreResult<Self> {
        if !valid_redis_prefix(&opts.prefix) {
            return Err(StoreError::Unavailable(
                "redis_prefix must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'".into(),
            ));
        }
        let client = ::redis::Client::open(opts.url.as_str()).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_max_delay(Duration::from_secs(2))
            // While Redis is away a request waits for the reconnection
            // attempts; few and short ones make it fail fast as
            // `Unavailable` (the client retries) instead of hanging.
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(Duration::from_millis(50));
        let mut conn = client
            .get_connection_manager_with_config(config.clone())
            .await
            .map_err(unavailable)?;
        let bulk = client
            .get_connection_manager_with_config(config.clone())
            .await
            .map_err(unavailable)?;
        let mut lanes = vec![conn.clone()];
        for _ in 1..LANES {
            lanes.push(
                client
                    .get_connection_manager_with_config(config.clone())
                    .await
                    .map_err(unavailable)?,
            );
        }
        let durable = if has_waitaof(&mut conn).await? {
            Some(
                client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(unavailable)?,
            )
        } else {
            None
        };
        let keys = Keys::new(&opts.prefix);
        let node = uuid::Uuid::new_v4().simple().to_string();
        let (events, _) = broadcast::channel(EVENT_BUFFER);

        let (ready_tx, ready_rx) = oneshot::channel();
        let forwarder = tokio::spawn(events::forward(
            client,
            keys.events_channel(),
            events.clone(),
            ready_tx,
        ));
        match ready_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                forwarder.abort();
                return Err(StoreError::Unavailable(format!(
                    "redis: cannot subscribe to events: {e}"
                )));
            }
            Err(_) => return Err(StoreError::Unavailable("redis: subscriber stopped".into())),
        }
        if let Err(e) = events::renew(&mut conn, &keys, &node, opts.node_ttl).await {
            forwarder.abort();
            return Err(unavailable(e));
        }
        let heartbeat = tokio::spawn(events::heartbeat(
            conn,
            keys.clone(),
            node.clone(),
            opts.node_ttl,
            events.clone(),
        ));
        tracing::info!(
            prefix = %opts.prefix,
            node = %node,
            waitaof = durable.is_some(),
            "connected to redis"
        );
        Ok(Self {
            lanes: lanes.into(),
            next_lane: Default::default(),
            gate: Gate::new(opts.max_outstanding, opts.admission_wait),
            durable,
            bulk,
            keys,
            node,
            events,
            tasks: vec![forwarder, heartbeat],
            policy: opts.queue_policy,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Delete every key under this store's prefix. For tests and for
    /// taking a deployment down; never called by the server.
    pub async fn purge(&self) -> StoreResult<usize> {
        let mut conn = self.lanes[0].clone();
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.all_pattern())
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if !batch.is_empty() {
                deleted += batch.len();
                let _: i64 = ::redis::cmd("UNLINK")
                    .arg(&batch)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
            }
            cursor = next;
            if cursor == 0 {
                return Ok(deleted);
            }
        }
    }

    /// The next of the chat's connections, in turn.
    fn lane(&self) -> ConnectionManager {
        let i = self
            .next_lane
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lanes[i % self.lanes.len()].clone()
    }

    async fn run(&self, script: &Script, keys: &[String], args: &[String]) -> StoreResult<Value> {
        let _admitted = self.gate.admit().await?;
        invoke(&mut self.lane(), script, keys, args).await
    }

    /// The connection for the handoff's writes (see `durable`).
    fn durable_conn(&self) -> ConnectionManager {
        self.durable
            .clone()
            .unwrap_or_else(|| self.lanes[0].clone())
    }

    /// Run a handoff script and, when it wrote (`{"ok", ...}`), wait until
    /// Redis has it on disk; a refusal answers at once. See `durable`.
    async fn run_durable(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> StoreResult<Vec<Value>> {
        let mut conn = self.durable_conn();
        let Reply::Ok(v) = reply(invoke(&mut conn, script, keys, args).await?)? else {
            return Err(codec::corrupt("script reply"));
        };
        self.wait_aof(&mut conn).await?;
        Ok(v)
    }

    /// `WAITAOF 1 0`: the writes this connection made are fsynced to the
    /// local AOF. A timeout means they may not be on disk: `Unavailable`,
    /// so nothing is confirmed to a person (a retry of the same step is
    /// refused as a conflict or finds it done). A server without AOF
    /// answers an error: there is no disk to wait for, as without
    /// `WAITAOF`, and `persistence()` reports it.
    async fn wait_aof(&self, conn: &mut ConnectionManager) -> StoreResult<()> {
        if self.durable.is_none() {
            return Ok(());
        }
        let answer: Result<(u64, u64), RedisError> = ::redis::cmd("WAITAOF")
            .arg(1)
            .arg(0)
            .arg(WAITAOF_TIMEOUT.as_millis() as u64)
            .query_async(conn)
            .await;
        match answer {
            Ok((local, _)) if local >= 1 => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(
                "redis: the write was not fsynced to the AOF in time".into(),
            )),
            Err(e)
                if e.detail()
                    .is_some_and(|d| d.contains("appendonly is disabled")) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Run a script answering `{"ok", HGETALL meta}` and decode the record.
    async fn run_record(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> StoreResult<ConversationRecord> {
        match reply(self.run(script, keys, args).await?)? {
            Reply::Ok(v) => codec::conversation(&codec::hash(first(&v)?)?),
            _ => Err(codec::corrupt("script reply")),
        }
    }

    async fn run_counsellor(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> StoreResult<CounsellorRecord> {
        match reply(self.run(script, keys, args).await?)? {
            Reply::Ok(v) => codec::counsellor(&codec::hash(first(&v)?)?),
            _ => Err(codec::corrupt("script reply")),
        }
    }

    async fn query<T: ::redis::FromRedisValue>(&self, cmd: &::redis::Cmd) -> StoreResult<T> {
        let _admitted = self.gate.admit().await?;
        cmd.query_async(&mut self.lane()).await.map_err(unavailable)
    }

    /// A pipeline on the next lane, through the gate like `query`.
    async fn pipe<T: ::redis::FromRedisValue>(&self, p: &::redis::Pipeline) -> StoreResult<T> {
        let _admitted = self.gate.admit().await?;
        p.query_async(&mut self.lane()).await.map_err(unavailable)
    }

    /// Several hashes at once (one round trip), e.g. every queued record,
    /// each decoded by `parse`; keys that vanished meanwhile are skipped.
    async fn hashes<T>(
        &self,
        keys: &[String],
        parse: impl Fn(&HashMap<String, String>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = ::redis::pipe();
        for k in keys {
            p.cmd("HGETALL").arg(k);
        }
        let all: Vec<HashMap<String, String>> = if keys.len() > BULK_READ {
            p.query_async(&mut self.bulk.clone())
                .await
                .map_err(unavailable)?
        } else {
            self.pipe(&p).await?
        };
        all.iter().filter(|m| !m.is_empty()).map(parse).collect()
    }

    /// One hash, decoded by `parse`; `None` when the key does not exist.
    async fn hash_at<T>(
        &self,
        key: String,
        parse: impl Fn(&HashMap<String, String>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let m: HashMap<String, String> = self.query(::redis::cmd("HGETALL").arg(key)).await?;
        if m.is_empty() {
            return Ok(None);
        }
        parse(&m).map(Some)
    }

    /// The records of these conversations; ones that vanished are skipped.
    /// Queue entries from the front to `stop` (inclusive; -1 = all), in order.
    async fn queue_range(&self, stop: isize) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.queue())
                    .arg(0)
                    .arg(stop),
            )
            .await?;
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        // Two reads, not one snapshot: one assigned in between is left out.
        let mut v: Vec<_> = self
            .records(&ids)
            .await?
            .into_iter()
            .filter(|r| r.state == ConversationState::Queued)
            .collect();
        let policy = self.policy;
        v.sort_by_key(|r| r.queue_entry().key(policy));
        Ok(v)
    }

    async fn records(&self, ids: &[ConversationId]) -> StoreResult<Vec<ConversationRecord>> {
        let keys: Vec<String> = ids.iter().map(|id| self.keys.meta(*id)).collect();
        self.hashes(&keys, codec::conversation).await
    }

    /// The records of the ids in a set (e.g. `live`); vanished ones skipped.
    async fn records_in(&self, set: &str) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self.query(::redis::cmd("SMEMBERS").arg(set)).await?;
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        self.records(&ids).await
    }

    /// Take the sockets of nodes whose liveness key expired off the counts.
    async fn reap_dead_nodes(&self, now_ms: u64) -> StoreResult<()> {
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

async fn invoke(
    conn: &mut ConnectionManager,
    script: &Script,
    keys: &[String],
    args: &[String],
) -> StoreResult<Value> {
    let mut inv = script.prepare_invoke();
    for k in keys {
        inv.key(k);
    }
    for a in args {
        inv.arg(a);
    }
    inv.invoke_async(conn).await.map_err(unavailable)
}

/// Does the server have `WAITAOF` (Redis 7.2+)? Asked once at connect
/// with `WAITAOF 0 0 0`, which waits for nothing: an error answer
/// (unknown command, or refused by an ACL) means no.
async fn has_waitaof(conn: &mut ConnectionManager) -> StoreResult<bool> {
    let probe: Result<Value, RedisError> = ::redis::cmd("WAITAOF")
        .arg(0)
        .arg(0)
        .arg(0)
        .query_async(conn)
        .await;
    match probe {
        Ok(_) => Ok(true),
        Err(e) if e.code().is_some() => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

/// The meta field `assess`: the assessment as JSON (`{}` when empty).
fn assess_json(a: &Assessment) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

/// How many times a purge or erase step re-reads a conversation that
/// changed under it before leaving it for the next round.
const PURGE_ATTEMPTS: usize = 4;

/// How many times `put_handoff_link` re-reads a link index that changed
/// under it.
const LINK_PUT_ATTEMPTS: usize = 8;

impl RedisStore {
    /// Purge one ended conversation (see `purge_conversation.lua`): reads
    /// the record and its handoff, computes the facts, and lets the script
    /// check nothing changed before it writes. `true` if purged.
    async fn purge_one(&self, id: ConversationId, now_ms: u64, r: &Retention) -> StoreResult<bool> {
        for _ in 0..PURGE_ATTEMPTS {
            let Some(rec) = self.conversation(id).await? else {
                let _: i64 = self
                    .query(
                        ::redis::cmd("ZREM")
                            .arg(self.keys.ended())
                            .arg(id.to_string()),
                    )
                    .await?;
                return Ok(false);
            };
            let Some(ended_at) = rec.ended_at_ms else {
                return Ok(false);
            };
            let (facts, handoff, appointment) = self.facts_of(&rec).await?;
            let facts = serde_json::to_string(&facts).map_err(|_| codec::corrupt("facts"))?;
            let (rev, op, json, new_rev, expires) = match &handoff {
                None => (String::new(), "keep", String::new(), 0, 0),
                Some(h) => {
                    let expires = handoff_expiry(ended_at, appointment, r);
                    let mut stamped = h.clone();
                    stamped.rev += 1;
                    stamped.expires_at_ms = Some(expires);
                    let json =
                        serde_json::to_string(&stamped).map_err(|_| codec::corrupt("handoff"))?;
                    let op = if expires <= now_ms { "delete" } else { "keep" };
                    (h.rev.to_string(), op, json, stamped.rev, expires)
                }
            };
            let user_index = match self.line_link(id).await?.and_then(|l| l.user_id) {
                Some(u) => self.keys.line_user(&hex(&line_user_key(&u))),
                None => self.keys.line_user("-"),
            };
            let (link_hex, link_key) = self.handoff_link_key_of(id).await?;
            let keys = [
                self.keys.meta(id),
                self.keys.log(id),
                self.keys.seen(id),
                self.keys.notes(id),
                self.keys.ended(),
                self.keys.facts(),
                rec.counsellor
                    .map_or_else(|| self.keys.no_held(), |c| self.keys.held(c)),
                self.keys.handoff(id),
                self.keys.handoff_expiry(),
                self.keys.line(id),
                self.keys.line_deliveries(id),
                self.keys.line_lease(id),
                user_index,
                self.keys.handoff_link_of(id),
                link_key,
            ];
            let argv = args![
                id.to_string(),
                ended_at,
                rec.outcome.map(|o| enum_name(&o)).unwrap_or_default(),
                self.conversation_field(id, "assess").await?,
                facts,
                rev,
                op,
                json,
                new_rev,
                expires,
                link_hex
            ];
            match reply(self.run(&SCRIPTS.purge_conversation, &keys, &argv).await?) {
                Ok(Reply::Ok(_)) => return Ok(true),
                Ok(Reply::Retry) => continue,
                Err(StoreError::NotFound) => return Ok(false),
                Ok(Reply::Dup(_)) => return Err(codec::corrupt("purge reply")),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The token hash (hex, '' if none) of a conversation's handoff link
    /// and the key to delete it by (a placeholder if none).
    async fn handoff_link_key_of(&self, id: ConversationId) -> StoreResult<(String, String)> {
        let cur: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.handoff_link_of(id)))
            .await?;
        Ok(match cur {
            Some(h) => {
                let key = self.keys.handoff_link(&h);
                (h, key)
            }
            None => (String::new(), self.keys.no_handoff_link()),
        })
    }

    /// Members of a sorted set scored at most `max`, lowest first.
    /// A stored conversation's facts (with its handoff's progress), its
    /// handoff record and its booked appointment's start.
    async fn facts_of(
        &self,
        rec: &ConversationRecord,
    ) -> StoreResult<(ConversationFacts, Option<HandoffRecord>, Option<u64>)> {
        let handoff = self.handoff(rec.id).await?;
        let booking = match handoff.as_ref().and_then(|h| h.booking.as_ref()) {
            Some(b) => self.booking(b).await?,
            None => None,
        };
        let appointment = match &booking {
            Some(b) => self.slot(b.slot).await?.map(|s| s.slot.starts_at_ms),
            None => None,
        };
        let attended = booking.as_ref().is_some_and(|b| b.attended == Some(true));
        let facts = rec.facts(handoff_facts(handoff.as_ref(), attended));
        Ok((facts, handoff, appointment))
    }

    /// The facts of every record still stored (live and ended).
    async fn stored_facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        let mut ids: Vec<String> = self.scored_up_to(self.keys.ended(), u64::MAX).await?;
        let live: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.live()))
            .await?;
        ids.extend(live);
        ids.sort_unstable();
        ids.dedup();
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for rec in self.records(&ids).await? {
            out.push(self.facts_of(&rec).await?.0);
        }
        Ok(out)
    }

    async fn scored_up_to(&self, key: String, max: u64) -> StoreResult<Vec<String>> {
        self.query(
            ::redis::cmd("ZRANGE")
                .arg(key)
                .arg("-inf")
                .arg(max)
                .arg("BYSCORE"),
        )
        .await
    }

    async fn conversation_field(&self, id: ConversationId, field: &str) -> StoreResult<String> {
        let v: Option<String> = self
            .query(::redis::cmd("HGET").arg(self.keys.meta(id)).arg(field))
            .await?;
        Ok(v.unwrap_or_default())
    }
}

fn first(v: &[Value]) -> StoreResult<&Value> {
    v.first().ok_or_else(|| codec::corrupt("missing value"))
}

fn uuid_of(s: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| codec::corrupt("id"))
}

fn opt_id(id: Option<AccountId>) -> String {
    id.map(|a| a.to_string()).unwrap_or_default()
}

/// An acknowledgement as kept in `alert_acks`.
#[derive(serde::Serialize, serde::Deserialize)]
struct AlertAck {
    by: AccountId,
    at_ms: u64,
}

/// An alert as raised, with its acknowledgement (if any) applied.
fn alert_with_ack(alert: &str, ack: Option<&str>) -> StoreResult<Alert> {
    let mut a: Alert = serde_json::from_str(alert).map_err(|_| codec::corrupt("alert"))?;
    if let Some(ack) = ack {
        let ack: AlertAck = serde_json::from_str(ack).map_err(|_| codec::corrupt("ack"))?;
        a.acked_by = Some(ack.by);
        a.acked_at_ms = Some(ack.at_ms);
    }
    Ok(a)
}

fn note_json(note: Option<Note>) -> StoreResult<String> {
    match note {
        Some(n) => serde_json::to_string(&n).map_err(|_| codec::corrupt("note")),
        None => Ok(String::new()),
    }
}

fn party_field(party: Party) -> &'static str {
    match party {
        Party::Visitor => "vacked",
        Party::Counsellor => "cacked",
    }
}

#[async_trait]
impl NodeStore for RedisStore {
    /// Every command connection answers (each lane reconnects on its own
    /// after an outage: ready only once all of them are back). Not gated:
    /// a busy node is not a broken one.
    async fn ping(&self) -> StoreResult<()> {
        let pings = self.lanes.iter().map(|lane| async move {
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
        let waitaof = if self.durable.is_some() { "yes" } else { "no" };
        details.insert("waitaof".into(), waitaof.into());
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
}

#[async_trait]
impl AccountStore for RedisStore {
    async fn create_account(&self, account: Account) -> StoreResult<()> {
        let json = serde_json::to_string(&account).map_err(|_| codec::corrupt("account"))?;
        let keys = [self.keys.usernames(), self.keys.accounts()];
        let id = account.id.to_string();
        match reply(
            self.run(
                &SCRIPTS.create_account,
                &keys,
                &args![account.username, id, json],
            )
            .await?,
        )? {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("script reply")),
        }
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.accounts())
                    .arg(id.to_string()),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("account")))
            .transpose()
    }

    async fn account_by_username(&self, username: &str) -> StoreResult<Option<Account>> {
        let id: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.usernames())
                    .arg(username),
            )
            .await?;
        match id {
            Some(id) => self.account(AccountId(uuid_of(&id)?)).await,
            None => Ok(None),
        }
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let all: Vec<String> = self
            .query(::redis::cmd("HVALS").arg(self.keys.accounts()))
            .await?;
        let mut v = all
            .iter()
            .map(|j| serde_json::from_str::<Account>(j).map_err(|_| codec::corrupt("account")))
            .collect::<StoreResult<Vec<_>>>()?;
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn put_session(&self, token: TokenHash, session: SessionRecord) -> StoreResult<()> {
        let json = serde_json::to_string(&session).map_err(|_| codec::corrupt("session"))?;
        let ttl_ms = (session.expires_at_ms + SESSION_AFTERLIFE_MS)
            .saturating_sub(crate::clock::now_ms())
            .max(1_000);
        let _: () = self
            .query(
                ::redis::cmd("SET")
                    .arg(self.keys.session(&hex(&token)))
                    .arg(json)
                    .arg("PX")
                    .arg(ttl_ms),
            )
            .await?;
        Ok(())
    }

    async fn session(&self, token: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        let json: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.session(&hex(token))))
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("session")))
            .transpose()
    }

    async fn delete_session(&self, token: &TokenHash) -> StoreResult<()> {
        let _: i64 = self
            .query(::redis::cmd("DEL").arg(self.keys.session(&hex(token))))
            .await?;
        Ok(())
    }
}

#[async_trait]
impl ConversationStore for RedisStore {
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord> {
        let fixed = Static {
            token_hash: new.token_hash,
            pre_chat: new.pre_chat,
            started_at_ms: new.now_ms,
            queued_since_ms: new.now_ms,
            first_message: new.first_message.clone(),
            channel: new.channel,
        };
        let fixed = serde_json::to_string(&fixed).map_err(|_| codec::corrupt("static"))?;
        let id = new.id;
        let keys = [
            self.keys.queue(),
            self.keys.meta(id),
            self.keys.log(id),
            self.keys.seen(id),
            self.keys.live(),
            self.keys.alerts(),
            self.keys.alert_order(),
        ];
        let (has_first, first_text) = match &new.first_message {
            Some(t) => ("1", t.as_str()),
            None => ("0", ""),
        };
        let first_cid = ClientMsgId::first_message();
        let reasons =
            serde_json::to_string(&new.risk_reasons).map_err(|_| codec::corrupt("reasons"))?;
        let (alert_id, alert_json) = match new.alert {
            Some(alert) => {
                let a = Alert {
                    id: alert,
                    conversation: id,
                    level: new.risk,
                    reasons: new.risk_reasons.clone(),
                    at_ms: new.now_ms,
                    acked_by: None,
                    acked_at_ms: None,
                };
                let json = serde_json::to_string(&a).map_err(|_| codec::corrupt("alert"))?;
                (alert.to_string(), json)
            }
            None => (String::new(), String::new()),
        };
        let mut argv: Vec<String> = args![
            max_queue,
            id.to_string(),
            fixed,
            new.now_ms,
            has_first,
            first_text,
            first_cid.as_str(),
            enum_name(&new.risk),
            enum_name(&new.risk.priority()),
            reasons,
            alert_id,
            alert_json,
            match new.channel {
                Channel::Web => new.now_ms.to_string(),
                Channel::Line => String::new(),
            }
        ]
        .to_vec();
        for (field, score) in queue_scores(self.policy, new.now_ms) {
            argv.push(field);
            argv.push(score.to_string());
        }
        self.run_record(&SCRIPTS.create_conversation, &keys, &argv)
            .await
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>> {
        self.hash_at(self.keys.meta(id), codec::conversation).await
    }

    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>> {
        self.queue_range(-1).await
    }

    async fn queue_head(&self, n: usize) -> StoreResult<Vec<ConversationRecord>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.queue_range(n as isize - 1).await
    }

    async fn assign(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let keys = [
            self.keys.counsellor(counsellor),
            self.keys.meta(conversation),
            self.keys.queue(),
            self.keys.held(counsellor),
            self.keys.supervising(counsellor),
        ];
        self.run_record(
            &SCRIPTS.assign,
            &keys,
            &args![conversation.to_string(), counsellor.to_string(), now_ms],
        )
        .await
    }

    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        closing: Option<Closing>,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let by = enum_name(&by);
        let outcome = closing.map(|c| enum_name(&c.outcome)).unwrap_or_default();
        let assess = closing
            .map(|c| assess_json(&c.assessment))
            .unwrap_or_default();
        for _ in 0..END_ATTEMPTS {
            let current: Option<String> = self
                .query(
                    ::redis::cmd("HGET")
                        .arg(self.keys.meta(conversation))
                        .arg("counsellor"),
                )
                .await?;
            let counsellor = match current.as_deref() {
                None => return Err(StoreError::NotFound),
                Some("") => None,
                Some(s) => Some(AccountId(uuid_of(s)?)),
            };
            let keys = [
                self.keys.meta(conversation),
                self.keys.queue(),
                counsellor.map_or_else(|| self.keys.no_counsellor(), |c| self.keys.counsellor(c)),
                counsellor.map_or_else(|| self.keys.no_held(), |c| self.keys.held(c)),
                self.keys.live(),
                self.keys.stats(),
                self.keys.ended(),
            ];
            let v = self
                .run(
                    &SCRIPTS.end,
                    &keys,
                    &args![
                        conversation.to_string(),
                        opt_id(counsellor),
                        by,
                        outcome,
                        now_ms,
                        assess
                    ],
                )
                .await?;
            match reply(v)? {
                Reply::Ok(v) => {
                    let [was, meta] = v.as_slice() else {
                        return Err(codec::corrupt("end reply"));
                    };
                    let record = codec::conversation(&codec::hash(meta)?)?;
                    let was = match (codec::string(was)?.as_str(), counsellor) {
                        ("queued", _) => ConversationState::Queued,
                        ("active", Some(c)) => ConversationState::Active { counsellor: c },
                        _ => return Err(codec::corrupt("state before end")),
                    };
                    return Ok(Ended { record, was });
                }
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("end reply")),
            }
        }
        Err(StoreError::Unavailable(
            "redis: the conversation kept changing; try again".into(),
        ))
    }

    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> StoreResult<ConversationRecord> {
        let keys = [self.keys.meta(conversation), self.keys.held(counsellor)];
        self.run_record(
            &SCRIPTS.set_outcome,
            &keys,
            &args![
                conversation.to_string(),
                counsellor.to_string(),
                enum_name(&closing.outcome),
                assess_json(&closing.assessment)
            ],
        )
        .await
    }

    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.node_visitors(&self.node),
        ];
        self.run_record(
            &SCRIPTS.visitor_connections,
            &keys,
            &args![conversation.to_string(), delta, now_ms],
        )
        .await
    }

    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        Ok(self
            .records_in(&self.keys.live())
            .await?
            .into_iter()
            .filter(|r| r.state != ConversationState::Ended)
            .collect())
    }

    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>> {
        self.reap_dead_nodes(now_ms).await?;
        let mut out = Vec::new();
        let gone = |since: Option<u64>, grace: u64| {
            since.is_some_and(|t| now_ms.saturating_sub(t) >= grace)
        };

        // Candidates by plain reads; each script re-checks its candidate.
        for rec in self.queue().await? {
            if !gone(rec.visitor_offline_since_ms, visitor_grace_ms) {
                continue;
            }
            let keys = [
                self.keys.meta(rec.id),
                self.keys.queue(),
                self.keys.live(),
                self.keys.stats(),
                self.keys.ended(),
            ];
            let v = self
                .run(
                    &SCRIPTS.sweep_abandon,
                    &keys,
                    &args![rec.id.to_string(), now_ms, visitor_grace_ms],
                )
                .await?;
            if codec::int(Some(&v))? == 1 {
                out.push(Swept::Abandoned {
                    conversation: rec.id,
                });
            }
        }

        for c in self.counsellors().await? {
            if c.active == 0 || !gone(c.offline_since_ms, counsellor_grace_ms) {
                continue;
            }
            let held: Vec<String> = self
                .query(::redis::cmd("SMEMBERS").arg(self.keys.held(c.id)))
                .await?;
            for id in held {
                let conversation = ConversationId(uuid_of(&id)?);
                let keys = [
                    self.keys.counsellor(c.id),
                    self.keys.held(c.id),
                    self.keys.queue(),
                    self.keys.meta(conversation),
                ];
                let v = self
                    .run(
                        &SCRIPTS.sweep_requeue,
                        &keys,
                        &args![id, c.id.to_string(), now_ms, counsellor_grace_ms],
                    )
                    .await?;
                if codec::int(Some(&v))? == 1 {
                    out.push(Swept::Requeued {
                        conversation,
                        counsellor: c.id,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn stats(&self) -> StoreResult<Stats> {
        let (left, silent): (Option<u64>, Option<u64>) = self
            .query(
                ::redis::cmd("HMGET")
                    .arg(self.keys.stats())
                    .arg("left_queue")
                    .arg("went_silent"),
            )
            .await?;
        Ok(Stats {
            left_queue: left.unwrap_or(0),
            went_silent: silent.unwrap_or(0),
        })
    }
}

#[async_trait]
impl MessageStore for RedisStore {
    async fn append(&self, conversation: ConversationId, msg: NewMessage) -> StoreResult<Appended> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.log(conversation),
            self.keys.seen(conversation),
        ];
        let from = enum_name(&msg.from);
        let (has_name, name) = match &msg.author_name {
            Some(n) => ("1", n.as_str()),
            None => ("0", ""),
        };
        // The event is encoded here, with a placeholder where the sequence
        // number goes; the script fills it in once it has taken one.
        let event = Event::Message {
            conversation,
            message: Arc::new(StoredMessage {
                seq: SEQ_PLACEHOLDER,
                from: msg.from,
                author: msg.author,
                author_name: msg.author_name.clone(),
                client_id: msg.client_id.clone(),
                text: msg.text,
                at_ms: msg.now_ms,
            }),
        };
        let (before, after) = split_at_seq(&event)?;
        let Event::Message { mut message, .. } = event else {
            unreachable!("built as a message event above");
        };
        let v = self
            .run(
                &SCRIPTS.append,
                &keys,
                &args![
                    from,
                    opt_id(msg.author),
                    has_name,
                    name,
                    msg.client_id.as_str(),
                    message.text.as_str(),
                    msg.now_ms,
                    opt_id(msg.require_counsellor),
                    before,
                    after,
                    self.keys.events_channel()
                ],
            )
            .await?;
        match reply(v)? {
            Reply::Ok(v) => {
                // The only reference (the event is gone): set in place, no copy.
                Arc::make_mut(&mut message).seq = codec::int(v.first())?;
                Ok(Appended::New(message))
            }
            Reply::Dup(seq) => Ok(Appended::Duplicate(seq)),
            Reply::Retry => Err(codec::corrupt("append reply")),
        }
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Arc<StoredMessage>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Stream ids are "<seq>-0": the range starts right after `after`.
        let mut p = ::redis::pipe();
        p.cmd("EXISTS")
            .arg(self.keys.meta(conversation))
            .cmd("XRANGE")
            .arg(self.keys.log(conversation))
            .arg(format!("{}-0", after.saturating_add(1)))
            .arg("+")
            .arg("COUNT")
            .arg(limit);
        let (exists, entries): (bool, Value) = self.pipe(&p).await?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        match entries {
            Value::Array(items) => items.iter().map(codec::stream_message).collect(),
            Value::Nil => Ok(Vec::new()),
            _ => Err(codec::corrupt("xrange")),
        }
    }

    async fn ack(&self, conversation: ConversationId, party: Party, seq: u64) -> StoreResult<u64> {
        let keys = [self.keys.meta(conversation)];
        match reply(
            self.run(&SCRIPTS.ack, &keys, &args![party_field(party), seq])
                .await?,
        )? {
            Reply::Ok(v) => codec::int(v.first()),
            _ => Err(codec::corrupt("ack reply")),
        }
    }

    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()> {
        let json = serde_json::to_string(&note).map_err(|_| codec::corrupt("note"))?;
        let keys = [self.keys.meta(conversation), self.keys.notes(conversation)];
        match reply(self.run(&SCRIPTS.add_note, &keys, &args![json]).await?)? {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("note reply")),
        }
    }

    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>> {
        let mut p = ::redis::pipe();
        p.cmd("EXISTS")
            .arg(self.keys.meta(conversation))
            .cmd("LRANGE")
            .arg(self.keys.notes(conversation))
            .arg(0)
            .arg(-1);
        let (exists, notes): (bool, Vec<String>) = self.pipe(&p).await?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        notes
            .iter()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("note")))
            .collect()
    }
}

#[async_trait]
impl CounsellorStore for RedisStore {
    async fn counsellor_connections(
        &self,
        counsellor: AccountId,
        delta: i32,
        default_capacity: u32,
        now_ms: u64,
    ) -> StoreResult<CounsellorRecord> {
        let keys = [
            self.keys.counsellor(counsellor),
            self.keys.counsellor_ids(),
            self.keys.node_counsellors(&self.node),
        ];
        self.run_counsellor(
            &SCRIPTS.counsellor_connections,
            &keys,
            &args![counsellor.to_string(), delta, default_capacity, now_ms],
        )
        .await
    }

    async fn set_status(
        &self,
        counsellor: AccountId,
        status: Availability,
    ) -> StoreResult<CounsellorRecord> {
        let keys = [self.keys.counsellor(counsellor)];
        self.run_counsellor(
            &SCRIPTS.counsellor_set,
            &keys,
            &args!["status", enum_name(&status)],
        )
        .await
    }

    async fn set_capacity(
        &self,
        counsellor: AccountId,
        capacity: u32,
    ) -> StoreResult<CounsellorRecord> {
        let keys = [self.keys.counsellor(counsellor)];
        self.run_counsellor(&SCRIPTS.counsellor_set, &keys, &args!["capacity", capacity])
            .await
    }

    async fn counsellors(&self) -> StoreResult<Vec<CounsellorRecord>> {
        let ids: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.counsellor_ids()))
            .await?;
        let keys = ids
            .iter()
            .map(|s| uuid_of(s).map(|u| self.keys.counsellor(AccountId(u))))
            .collect::<StoreResult<Vec<_>>>()?;
        self.hashes(&keys, codec::counsellor).await
    }

    async fn counsellor(&self, id: AccountId) -> StoreResult<Option<CounsellorRecord>> {
        self.hash_at(self.keys.counsellor(id), codec::counsellor)
            .await
    }

    async fn conversations_of(
        &self,
        counsellor: AccountId,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.held(counsellor)))
            .await?;
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut v = self.records(&ids).await?;
        v.sort_by_key(|r| (r.assigned_at_ms, r.id));
        Ok(v)
    }
}

#[async_trait]
impl SupervisionStore for RedisStore {
    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.queue(),
            self.keys.alerts(),
            self.keys.alert_order(),
        ];
        let (levels, prios) = risk_tables();
        let reason_json =
            |r: &RiskReason| serde_json::to_string(r).map_err(|_| codec::corrupt("reason"));
        let (kind, alert, tail) = match &change {
            RiskChange::Triage { hits, alert } => {
                let mut tail = Vec::with_capacity(hits.len() * 3);
                for h in hits {
                    // Only triage hits count (a staff reason is never a hit).
                    let RiskSource::Triage { rule, .. } = &h.source else {
                        continue;
                    };
                    tail.push(rule.clone());
                    tail.push(enum_name(&h.level));
                    tail.push(reason_json(h)?);
                }
                ("triage", *alert, tail)
            }
            RiskChange::Staff { level, by, alert } => {
                let reason = RiskReason {
                    level: *level,
                    source: RiskSource::Staff { by: *by },
                    at_ms: now_ms,
                };
                (
                    "staff",
                    *alert,
                    vec![enum_name(level), reason_json(&reason)?],
                )
            }
        };
        let mut argv: Vec<String> = args![
            conversation.to_string(),
            kind,
            alert.to_string(),
            now_ms,
            levels,
            prios
        ]
        .to_vec();
        argv.extend(tail);
        match reply(self.run(&SCRIPTS.set_risk, &keys, &argv).await?)? {
            Reply::Ok(v) => {
                let [was, meta, alert] = v.as_slice() else {
                    return Err(codec::corrupt("set_risk reply"));
                };
                let was = codec::parse_enum(&codec::string(was)?, "risk")?;
                let record = codec::conversation(&codec::hash(meta)?)?;
                let alert = match codec::string(alert)?.as_str() {
                    "" => None,
                    json => Some(serde_json::from_str(json).map_err(|_| codec::corrupt("alert"))?),
                };
                Ok(RiskUpdate { record, was, alert })
            }
            _ => Err(codec::corrupt("set_risk reply")),
        }
    }

    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.alert_order())
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = ::redis::pipe();
        p.cmd("HMGET")
            .arg(self.keys.alerts())
            .arg(&ids)
            .cmd("HMGET")
            .arg(self.keys.alert_acks())
            .arg(&ids);
        let (alerts, acks): (Vec<Option<String>>, Vec<Option<String>>) = self.pipe(&p).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (alert, ack) in alerts.into_iter().zip(acks) {
            let Some(alert) = alert else { continue };
            let a = alert_with_ack(&alert, ack.as_deref())?;
            if !open_only || a.acked_by.is_none() {
                out.push(a);
            }
        }
        Ok(out)
    }

    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert> {
        let keys = [self.keys.alerts(), self.keys.alert_acks()];
        let ack = serde_json::to_string(&AlertAck { by, at_ms: now_ms })
            .map_err(|_| codec::corrupt("ack"))?;
        match reply(
            self.run(&SCRIPTS.ack_alert, &keys, &args![id.to_string(), ack])
                .await?,
        )? {
            Reply::Ok(v) => {
                let [alert, ack] = v.as_slice() else {
                    return Err(codec::corrupt("ack_alert reply"));
                };
                alert_with_ack(&codec::string(alert)?, Some(&codec::string(ack)?))
            }
            _ => Err(codec::corrupt("ack_alert reply")),
        }
    }

    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let note = note_json(note)?;
        let keys = [
            self.keys.meta(conversation),
            self.keys.counsellor(from),
            self.keys.held(from),
            self.keys.counsellor(to),
            self.keys.held(to),
            self.keys.supervising(to),
            self.keys.notes(conversation),
        ];
        self.run_record(
            &SCRIPTS.reassign,
            &keys,
            &args![
                conversation.to_string(),
                from.to_string(),
                to.to_string(),
                if require_available { "1" } else { "0" },
                note,
                now_ms
            ],
        )
        .await
    }

    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        _now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let note = note_json(note)?;
        let keys = [
            self.keys.meta(conversation),
            self.keys.counsellor(from),
            self.keys.held(from),
            self.keys.queue(),
            self.keys.notes(conversation),
        ];
        self.run_record(
            &SCRIPTS.requeue,
            &keys,
            &args![conversation.to_string(), from.to_string(), note],
        )
        .await
    }

    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.supervising(supervisor),
        ];
        let mode = mode.map(|m| enum_name(&m)).unwrap_or_default();
        match reply(
            self.run(
                &SCRIPTS.supervise,
                &keys,
                &args![conversation.to_string(), supervisor.to_string(), mode],
            )
            .await?,
        )? {
            Reply::Ok(v) => {
                let [previous, meta] = v.as_slice() else {
                    return Err(codec::corrupt("supervise reply"));
                };
                let previous = match codec::string(previous)?.as_str() {
                    "" => None,
                    s => Some(codec::parse_enum(s, "mode")?),
                };
                Ok((codec::conversation(&codec::hash(meta)?)?, previous))
            }
            _ => Err(codec::corrupt("supervise reply")),
        }
    }

    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>> {
        let set = self.keys.supervising(supervisor);
        let mut out = Vec::new();
        let mut ended = Vec::new();
        for r in self.records_in(&set).await? {
            if r.state == ConversationState::Ended {
                ended.push(r.id.to_string());
                continue;
            }
            if let Some(m) = r.supervision_of(supervisor) {
                out.push((r, m));
            }
        }
        if !ended.is_empty() {
            // An ended conversation can never be supervised again (supervise
            // refuses it), so forgetting it here races with nothing.
            let _: i64 = self
                .query(::redis::cmd("SREM").arg(&set).arg(&ended))
                .await?;
        }
        out.sort_by_key(|(r, _)| (r.started_at_ms, r.id));
        Ok(out)
    }

    async fn mark_silent(
        &self,
        now_ms: u64,
        silence_ms: u64,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let mut out = Vec::new();
        // Candidates by a plain read; the script re-checks each.
        for rec in self.live_conversations().await? {
            let Some(counsellor_at) = rec.last_counsellor_msg_ms else {
                continue;
            };
            let candidate = matches!(rec.state, ConversationState::Active { .. })
                && rec.silent_since_ms.is_none()
                && rec.last_visitor_msg_ms.is_none_or(|v| v < counsellor_at)
                && now_ms.saturating_sub(counsellor_at) >= silence_ms;
            if !candidate {
                continue;
            }
            let keys = [self.keys.meta(rec.id), self.keys.stats()];
            if let Reply::Ok(v) = reply(
                self.run(&SCRIPTS.mark_silent, &keys, &args![now_ms, silence_ms])
                    .await?,
            )? {
                if let Some(meta) = v.first() {
                    out.push(codec::conversation(&codec::hash(meta)?)?);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl HandoffStore for RedisStore {
    async fn create_slot(&self, slot: Slot) -> StoreResult<()> {
        let json = serde_json::to_string(&slot).map_err(|_| codec::corrupt("slot"))?;
        let keys = [self.keys.slot(slot.id), self.keys.slot_order()];
        self.run_durable(
            &SCRIPTS.create_slot,
            &keys,
            &args![
                slot.id.to_string(),
                json,
                slot.starts_at_ms,
                slot.capacity,
                codec::opt_field(slot.cancelled_at_ms)
            ],
        )
        .await
        .map(drop)
    }

    async fn cancel_slot(&self, id: SlotId, now_ms: u64) -> StoreResult<SlotRecord> {
        let v = self
            .run_durable(&SCRIPTS.cancel_slot, &[self.keys.slot(id)], &args![now_ms])
            .await?;
        codec::slot(&codec::hash(first(&v)?)?)
    }

    async fn slot(&self, id: SlotId) -> StoreResult<Option<SlotRecord>> {
        self.hash_at(self.keys.slot(id), codec::slot).await
    }

    async fn slots(&self, from_ms: u64) -> StoreResult<Vec<SlotRecord>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.slot_order())
                    .arg(from_ms)
                    .arg("+inf")
                    .arg("BYSCORE"),
            )
            .await?;
        let keys = ids
            .iter()
            .map(|s| uuid_of(s).map(|u| self.keys.slot(SlotId(u))))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut v = self.hashes(&keys, codec::slot).await?;
        v.sort_by_key(|r| (r.slot.starts_at_ms, r.slot.id));
        Ok(v)
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffRecord>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.handoff(conversation))
                    .arg("json"),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("handoff")))
            .transpose()
    }

    async fn write_handoff(&self, write: HandoffWrite) -> StoreResult<()> {
        let id = write.record.conversation;
        let json = serde_json::to_string(&write.record).map_err(|_| codec::corrupt("handoff"))?;
        let mut argv: Vec<String> = args![
            "",
            write.expected_rev,
            write.record.rev,
            json,
            id.to_string()
        ]
        .to_vec();
        let (op, slot_key, list_key, booking_key) = match &write.booking {
            BookingOp::Keep => (
                "keep",
                self.keys.no_slot(),
                self.keys.no_slot_bookings(),
                self.keys.no_booking(),
            ),
            BookingOp::Create(b) => {
                let booking = serde_json::to_string(b).map_err(|_| codec::corrupt("booking"))?;
                argv.extend(args![
                    b.slot.to_string(),
                    b.reference.as_str(),
                    booking,
                    b.conversation.to_string(),
                    b.created_at_ms,
                    codec::opt_field(b.cancelled_at_ms),
                    b.cancel_reason.map(|r| enum_name(&r)).unwrap_or_default(),
                    codec::attended_field(b.attended)
                ]);
                (
                    "create",
                    self.keys.slot(b.slot),
                    self.keys.slot_bookings(b.slot),
                    self.keys.booking(&b.reference),
                )
            }
            BookingOp::Cancel {
                reference,
                reason,
                now_ms,
            } => {
                // A booking's slot never changes: read it to name the
                // slot's key; the script checks it again. None found: the
                // script answers `not_found` after the revision check.
                let key = self.keys.booking(reference);
                let slot: Option<String> = self
                    .query(::redis::cmd("HGET").arg(&key).arg("slot"))
                    .await?;
                let slot = slot.map(|s| uuid_of(&s).map(SlotId)).transpose()?;
                argv.extend(args![
                    slot.map(|s| s.to_string()).unwrap_or_default(),
                    reference.as_str(),
                    now_ms,
                    enum_name(reason)
                ]);
                let slot_key = slot.map_or_else(|| self.keys.no_slot(), |s| self.keys.slot(s));
                ("cancel", slot_key, self.keys.no_slot_bookings(), key)
            }
        };
        argv[0] = op.to_owned();
        let keys = [
            self.keys.meta(id),
            self.keys.handoff(id),
            slot_key,
            booking_key,
            list_key,
        ];
        self.run_durable(&SCRIPTS.write_handoff, &keys, &argv)
            .await
            .map(drop)
    }

    async fn booking(&self, reference: &BookingRef) -> StoreResult<Option<Booking>> {
        self.hash_at(self.keys.booking(reference), codec::booking)
            .await
    }

    async fn slot_bookings(&self, slot: SlotId) -> StoreResult<Vec<Booking>> {
        let refs: Vec<String> = self
            .query(
                ::redis::cmd("LRANGE")
                    .arg(self.keys.slot_bookings(slot))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let keys = refs
            .iter()
            .map(|r| {
                BookingRef::parse(r)
                    .map(|r| self.keys.booking(&r))
                    .map_err(|_| codec::corrupt("reference"))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.hashes(&keys, codec::booking).await
    }

    async fn set_attended(&self, reference: &BookingRef, attended: bool) -> StoreResult<Booking> {
        let keys = [self.keys.booking(reference)];
        let flag = codec::attended_field(Some(attended));
        let v = self
            .run_durable(&SCRIPTS.set_attended, &keys, &args![flag])
            .await?;
        codec::booking(&codec::hash(first(&v)?)?)
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let json = serde_json::to_string(&entry).map_err(|_| codec::corrupt("audit"))?;
        let mut conn = self.durable_conn();
        let _: i64 = ::redis::cmd("LPUSH")
            .arg(self.keys.audit())
            .arg(json)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        self.wait_aof(&mut conn).await
    }

    async fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let all: Vec<String> = self
            .query(
                ::redis::cmd("LRANGE")
                    .arg(self.keys.audit())
                    .arg(0)
                    .arg(limit - 1),
            )
            .await?;
        all.iter()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("audit")))
            .collect()
    }

    async fn put_handoff_link(&self, link: HandoffLink) -> StoreResult<()> {
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("handoff link"))?;
        let id = link.conversation;
        let new_hex = hex(&link.token_hash);
        // A retry means another writer replaced the link in between. The
        // only writer is a conversation's LINE sender, holding its lease,
        // so it is rare; each round lets at least one writer through.
        for _ in 0..LINK_PUT_ATTEMPTS {
            let (cur_hex, cur_key) = self.handoff_link_key_of(id).await?;
            let keys = [
                self.keys.handoff(id),
                self.keys.handoff_link_of(id),
                self.keys.handoff_link(&new_hex),
                cur_key,
            ];
            // On the handoff's connection, and on disk before `Ok`: the
            // link is sent to the visitor only once it is stored.
            let mut conn = self.durable_conn();
            let argv = args![new_hex.clone(), json.clone(), cur_hex];
            match reply(invoke(&mut conn, &SCRIPTS.put_handoff_link, &keys, &argv).await?)? {
                Reply::Ok(_) => return self.wait_aof(&mut conn).await,
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("put_handoff_link reply")),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn handoff_link_sent(
        &self,
        conversation: ConversationId,
        token_hash: &TokenHash,
    ) -> StoreResult<bool> {
        let Some(mut link) = self.handoff_link(token_hash).await? else {
            return Ok(false);
        };
        if link.conversation != conversation {
            return Ok(false);
        }
        link.sent = true;
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("handoff link"))?;
        let h = hex(token_hash);
        let keys = [
            self.keys.handoff_link_of(conversation),
            self.keys.handoff_link(&h),
        ];
        let v = self
            .run(&SCRIPTS.handoff_link_sent, &keys, &args![h, json])
            .await?;
        match reply(v)? {
            Reply::Ok(v) => Ok(codec::int(v.first())? == 1),
            _ => Err(codec::corrupt("handoff_link_sent reply")),
        }
    }

    async fn handoff_link(&self, token_hash: &TokenHash) -> StoreResult<Option<HandoffLink>> {
        let json: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.handoff_link(&hex(token_hash))))
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("handoff link")))
            .transpose()
    }

    async fn handoff_link_of(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<HandoffLink>> {
        let Some(h) = self
            .query::<Option<String>>(
                ::redis::cmd("GET").arg(self.keys.handoff_link_of(conversation)),
            )
            .await?
        else {
            return Ok(None);
        };
        let json: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.handoff_link(&h)))
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("handoff link")))
            .transpose()
    }
}

#[async_trait]
impl LineStore for RedisStore {
    async fn line_open(&self, link: LineLink) -> StoreResult<()> {
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("line link"))?;
        let id = link.conversation;
        let index = match &link.user_id {
            Some(u) => self.keys.line_user(&hex(&line_user_key(u))),
            None => self.keys.line_user("-"),
        };
        let keys = [self.keys.meta(id), self.keys.line(id), index];
        let has_user = if link.user_id.is_some() { "1" } else { "0" };
        match reply(
            self.run(
                &SCRIPTS.line_open,
                &keys,
                &args![json, id.to_string(), has_user],
            )
            .await?,
        )? {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("line_open reply")),
        }
    }

    async fn line_link(&self, conversation: ConversationId) -> StoreResult<Option<LineLink>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.line(conversation))
                    .arg("json"),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("line link")))
            .transpose()
    }

    async fn line_conversation_of(&self, user_id: &str) -> StoreResult<Option<ConversationId>> {
        let id: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.line_user(&hex(&line_user_key(user_id)))))
            .await?;
        id.map(|s| {
            uuid::Uuid::parse_str(&s)
                .map(ConversationId)
                .map_err(|_| codec::corrupt("line user index"))
        })
        .transpose()
    }

    async fn line_forget_user(&self, conversation: ConversationId) -> StoreResult<()> {
        let Some(mut link) = self.line_link(conversation).await? else {
            return Ok(());
        };
        let Some(user) = link.user_id.take() else {
            return Ok(());
        };
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("line link"))?;
        let keys = [
            self.keys.line(conversation),
            self.keys.line_user(&hex(&line_user_key(&user))),
        ];
        reply(
            self.run(
                &SCRIPTS.line_forget,
                &keys,
                &args![json, conversation.to_string()],
            )
            .await?,
        )
        .map(drop)
    }

    async fn line_lease(
        &self,
        conversation: ConversationId,
        holder: &str,
        _now_ms: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        // Redis's own clock expires the lease (PX), so nodes' clocks may differ.
        let keys = [self.keys.line_lease(conversation)];
        match reply(
            self.run(&SCRIPTS.line_lease, &keys, &args![holder, ttl_ms.max(1)])
                .await?,
        )? {
            Reply::Ok(v) => Ok(codec::int(v.first())? == 1),
            _ => Err(codec::corrupt("line_lease reply")),
        }
    }

    async fn line_delivered(
        &self,
        conversation: ConversationId,
        delivery: LineDelivery,
    ) -> StoreResult<()> {
        let json = serde_json::to_string(&delivery).map_err(|_| codec::corrupt("delivery"))?;
        let keys = [
            self.keys.line(conversation),
            self.keys.line_deliveries(conversation),
        ];
        reply(
            self.run(&SCRIPTS.line_delivered, &keys, &args![delivery.seq, json])
                .await?,
        )
        .map(drop)
    }

    async fn line_deliveries(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<LineDelivery>> {
        let all: HashMap<String, String> = self
            .query(::redis::cmd("HGETALL").arg(self.keys.line_deliveries(conversation)))
            .await?;
        let mut out = all
            .values()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("delivery")))
            .collect::<StoreResult<Vec<LineDelivery>>>()?;
        out.sort_by_key(|d| d.seq);
        Ok(out)
    }
}

#[async_trait]
impl RetentionStore for RedisStore {
    async fn purge(&self, now_ms: u64, retention: &Retention) -> StoreResult<Purged> {
        let mut purged = Purged::default();
        let due = now_ms.saturating_sub(retention.conversation_ms);
        let ids: Vec<String> = self.scored_up_to(self.keys.ended(), due).await?;
        for id in ids {
            let id = ConversationId(uuid_of(&id)?);
            if self.purge_one(id, now_ms, retention).await? {
                purged.conversations.push(id);
            }
        }
        let expired: Vec<String> = self
            .scored_up_to(self.keys.handoff_expiry(), now_ms)
            .await?;
        for id in expired {
            let conv = ConversationId(uuid_of(&id)?);
            let keys = [self.keys.handoff(conv), self.keys.handoff_expiry()];
            let v = self
                .run(&SCRIPTS.purge_handoff, &keys, &args![id, now_ms])
                .await?;
            purged.handoffs += codec::int(Some(&v))? as u32;
        }
        let slot_due = now_ms.saturating_sub(retention.booking_ms);
        let slots: Vec<String> = self.scored_up_to(self.keys.slot_order(), slot_due).await?;
        for id in slots {
            let slot = SlotId(uuid_of(&id)?);
            let refs: Vec<String> = self
                .query(
                    ::redis::cmd("LRANGE")
                        .arg(self.keys.slot_bookings(slot))
                        .arg(0)
                        .arg(-1),
                )
                .await?;
            let mut keys = vec![
                self.keys.slot(slot),
                self.keys.slot_order(),
                self.keys.slot_bookings(slot),
            ];
            for r in &refs {
                let reference = BookingRef::parse(r).map_err(|_| codec::corrupt("booking ref"))?;
                keys.push(self.keys.booking(&reference));
            }
            let v = self
                .run(&SCRIPTS.purge_slot, &keys, &args![id, slot_due, refs.len()])
                .await?;
            purged.slots += codec::int(Some(&v))? as u32;
        }
        Ok(purged)
    }

    async fn erase(
        &self,
        conversation: ConversationId,
        keep_notes: bool,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let mut was = None;
        for _ in 0..PURGE_ATTEMPTS {
            let rec = self
                .conversation(conversation)
                .await?
                .ok_or(StoreError::NotFound)?;
            if rec.state != ConversationState::Ended {
                match self.end(conversation, EndedBy::Visitor, None, now_ms).await {
                    Ok(e) => was = was.or(Some(e.was)),
                    Err(StoreError::Transition(TransitionError::AlreadyEnded)) => {}
                    Err(e) => return Err(e),
                }
            }
            let fixed: String = self.conversation_field(conversation, "static").await?;
            let mut fixed: codec::Static =
                serde_json::from_str(&fixed).map_err(|_| codec::corrupt("static"))?;
            fixed.first_message = None;
            let fixed = serde_json::to_string(&fixed).map_err(|_| codec::corrupt("static"))?;
            let (link_hex, link_key) = self.handoff_link_key_of(conversation).await?;
            let keys = [
                self.keys.meta(conversation),
                self.keys.log(conversation),
                self.keys.seen(conversation),
                self.keys.notes(conversation),
                self.keys.handoff_link_of(conversation),
                link_key,
            ];
            let v = self
                .run(
                    &SCRIPTS.erase,
                    &keys,
                    &args![now_ms, fixed, if keep_notes { "0" } else { "1" }, link_hex],
                )
                .await?;
            match reply(v)? {
                Reply::Ok(v) => {
                    let record = codec::conversation(&codec::hash(first(&v)?)?)?;
                    return Ok(Ended {
                        record,
                        was: was.unwrap_or(ConversationState::Ended),
                    });
                }
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("erase reply")),
            }
        }
        Err(StoreError::Unavailable(
            "redis: the conversation kept changing; try again".into(),
        ))
    }

    async fn facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        let all: Vec<String> = self
            .query(::redis::cmd("LRANGE").arg(self.keys.facts()).arg(0).arg(-1))
            .await?;
        all.iter()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("facts")))
            .collect()
    }

    async fn report_facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        // A purge moves a conversation from its record to the facts list in
        // one script; if the list grew while the records were read, read
        // again, so nothing is counted twice or missed.
        for _ in 0..PURGE_ATTEMPTS {
            let before = self.facts().await?;
            let stored = self.stored_facts().await?;
            let len: u64 = self
                .query(::redis::cmd("LLEN").arg(self.keys.facts()))
                .await?;
            if len == before.len() as u64 {
                let mut all = before;
                all.extend(stored);
                return Ok(all);
            }
        }
        Err(StoreError::Unavailable(
            "the report's facts kept changing".into(),
        ))
    }
}

/// Stands for the sequence number in an event encoded before the store
/// has taken one (no real sequence number is this large).
const SEQ_PLACEHOLDER: u64 = u64::MAX;

/// A message event's JSON, split where its sequence number goes. A text
/// or name cannot contain the pattern: inside a JSON string every `"` is
/// escaped.
fn split_at_seq(event: &Event) -> StoreResult<(String, String)> {
    let json = serde_json::to_string(event).map_err(|_| codec::corrupt("event"))?;
    let mark = format!("\"seq\":{SEQ_PLACEHOLDER}");
    let at = json.find(&mark).ok_or_else(|| codec::corrupt("event"))?;
    let cut = at + "\"seq\":".len();
    Ok((json[..cut].to_owned(), json[at + mark.len()..].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_event_splits_where_its_sequence_number_goes() {
        let tricky = format!(r#"say "seq":{SEQ_PLACEHOLDER} and \"seq\":{SEQ_PLACEHOLDER}"#);
        let message = StoredMessage {
            seq: SEQ_PLACEHOLDER,
            from: Party::Visitor,
            author: None,
            author_name: Some(tricky.clone()),
            client_id: ClientMsgId::parse("c-1").unwrap(),
            text: tricky,
            at_ms: 7,
        };
        let conversation = ConversationId::new_random();
        let event = Event::Message {
            conversation,
            message: Arc::new(message.clone()),
        };
        let (before, after) = split_at_seq(&event).unwrap();
        let filled: Event = serde_json::from_str(&format!("{before}42{after}")).unwrap();
        let Event::Message {
            conversation: c,
            message: m,
        } = filled
        else {
            panic!("not a message event");
        };
        assert_eq!(c, conversation);
        assert_eq!(*m, StoredMessage { seq: 42, ..message });
    }
}
