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
//! Each store trait is implemented in the file of its name
//! (`accounts.rs`, `conversations.rs`, ...; see [`crate::store`]) with the
//! helpers only its steps use; this file keeps the store, its
//! connections, the command helpers and the scripts' registry.
//!
//! See docs/REDIS.md for the key layout, each script's checks, failure
//! behaviour and the Redis settings a deployment needs.

mod codec;
mod events;
mod gate;
pub mod keys;
mod primary;

pub use self::primary::{valid_service_name, Credentials, RedisTarget, ReplicaWait};

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{RedisError, Script, Value};
use async_trait::async_trait;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use self::codec::{enum_name, hex, queue_scores, reply, risk_tables, Reply, Static};
use self::gate::Gate;
use self::keys::Keys;
use self::primary::Primary;
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

// The store traits' impls, one file per aggregate; after `args!`, which
// they use.
mod accounts;
mod canned;
mod cases;
mod conversations;
mod counsellors;
mod floor;
mod guards;
mod handoffs;
mod hearing;
mod letters;
mod line;
mod messages;
mod node;
mod partners;
mod relays;
mod retention;
mod second_factors;
mod supervision;
mod way_back;

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
/// How long a handoff write waits for Redis to fsync it to the AOF
/// (`WAITAOF`) before it is reported `Unavailable`: below
/// `RESPONSE_TIMEOUT`, so the wait ends with Redis's answer, not ours.
const WAITAOF_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// A fixed URL or the Sentinels to ask (see [`primary`]).
    pub target: RedisTarget,
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
    /// Which writes wait for replicas (`WAIT`), how many and how long.
    pub wait: ReplicaWait,
}

impl RedisOptions {
    /// These URL and prefix, everything else the defaults.
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            target: RedisTarget::Url(url.into()),
            prefix: prefix.into(),
            node_ttl: DEFAULT_REDIS_NODE_TTL,
            queue_policy: QueuePolicy::default(),
            max_outstanding: DEFAULT_REDIS_MAX_OUTSTANDING,
            admission_wait: DEFAULT_REDIS_ADMISSION_WAIT,
            wait: ReplicaWait::default(),
        }
    }
}

struct Scripts {
    create_conversation: Script,
    assign: Script,
    end: Script,
    set_outcome: Script,
    save_hearing: Script,
    save_relays: Script,
    leave_quickly: Script,
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
    replace_account: Script,
    add_note: Script,
    set_risk: Script,
    ack_alert: Script,
    reassign: Script,
    requeue: Script,
    supervise: Script,
    whisper: Script,
    purge_audit: Script,
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
    record_failure: Script,
    hold: Script,
    set_way_back: Script,
    redeem_way_back: Script,
    begin_second_factor: Script,
    confirm_second_factor: Script,
    use_second_factor_step: Script,
    use_recovery_code: Script,
    reset_second_factor: Script,
    create_canned_reply: Script,
    update_canned_reply: Script,
    delete_canned_reply: Script,
    raise_floor: Script,
    clear_floor: Script,
    ack_floor: Script,
    claim_floor_webhook: Script,
    put_case: Script,
    delete_case: Script,
    write_letter: Script,
    answer_letter: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| {
    let s = |src: &str| Script::new(src);
    Scripts {
        create_conversation: s(include_str!(
            "../scripts/conversations/create_conversation.lua"
        )),
        assign: s(include_str!("../scripts/conversations/assign.lua")),
        end: s(concat!(
            include_str!("../scripts/conversations/close_accesses.lua"),
            include_str!("../scripts/conversations/end_conversation.lua")
        )),
        set_outcome: s(include_str!("../scripts/conversations/set_outcome.lua")),
        save_hearing: s(include_str!("../scripts/hearing/save_hearing.lua")),
        save_relays: s(include_str!("../scripts/relays/save_relays.lua")),
        leave_quickly: s(include_str!("../scripts/conversations/leave_quickly.lua")),
        append: s(include_str!("../scripts/messages/append.lua")),
        ack: s(include_str!("../scripts/messages/ack.lua")),
        visitor_connections: s(include_str!(
            "../scripts/conversations/visitor_connections.lua"
        )),
        counsellor_connections: s(include_str!(
            "../scripts/counsellors/counsellor_connections.lua"
        )),
        counsellor_set: s(include_str!("../scripts/counsellors/counsellor_set.lua")),
        sweep_abandon: s(concat!(
            include_str!("../scripts/conversations/close_accesses.lua"),
            include_str!("../scripts/conversations/sweep_abandon.lua")
        )),
        sweep_requeue: s(include_str!("../scripts/conversations/sweep_requeue.lua")),
        reap_counsellor: s(include_str!("../scripts/node/reap_counsellor.lua")),
        reap_visitor: s(include_str!("../scripts/node/reap_visitor.lua")),
        reap_node: s(include_str!("../scripts/node/reap_node.lua")),
        create_account: s(include_str!("../scripts/accounts/create_account.lua")),
        replace_account: s(include_str!("../scripts/accounts/replace_account.lua")),
        add_note: s(include_str!("../scripts/messages/add_note.lua")),
        set_risk: s(include_str!("../scripts/supervision/set_risk.lua")),
        ack_alert: s(include_str!("../scripts/supervision/ack_alert.lua")),
        reassign: s(include_str!("../scripts/supervision/reassign.lua")),
        requeue: s(include_str!("../scripts/supervision/requeue.lua")),
        supervise: s(include_str!("../scripts/supervision/supervise.lua")),
        whisper: s(include_str!("../scripts/supervision/whisper.lua")),
        purge_audit: s(include_str!("../scripts/retention/purge_audit.lua")),
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
        record_failure: s(include_str!("../scripts/guards/record_failure.lua")),
        hold: s(include_str!("../scripts/guards/hold.lua")),
        set_way_back: s(include_str!("../scripts/way_back/set_way_back.lua")),
        redeem_way_back: s(include_str!("../scripts/way_back/redeem_way_back.lua")),
        begin_second_factor: s(include_str!(
            "../scripts/second_factors/begin_second_factor.lua"
        )),
        confirm_second_factor: s(include_str!(
            "../scripts/second_factors/confirm_second_factor.lua"
        )),
        use_second_factor_step: s(include_str!(
            "../scripts/second_factors/use_second_factor_step.lua"
        )),
        use_recovery_code: s(include_str!(
            "../scripts/second_factors/use_recovery_code.lua"
        )),
        reset_second_factor: s(include_str!(
            "../scripts/second_factors/reset_second_factor.lua"
        )),
        create_canned_reply: s(include_str!("../scripts/canned/create_canned_reply.lua")),
        update_canned_reply: s(include_str!("../scripts/canned/update_canned_reply.lua")),
        delete_canned_reply: s(include_str!("../scripts/canned/delete_canned_reply.lua")),
        raise_floor: s(include_str!("../scripts/floor/raise_floor.lua")),
        clear_floor: s(include_str!("../scripts/floor/clear_floor.lua")),
        ack_floor: s(include_str!("../scripts/floor/ack_floor.lua")),
        claim_floor_webhook: s(include_str!("../scripts/floor/claim_floor_webhook.lua")),
        put_case: s(include_str!("../scripts/cases/put_case.lua")),
        delete_case: s(include_str!("../scripts/cases/delete_case.lua")),
        write_letter: s(include_str!("../scripts/letters/write_letter.lua")),
        answer_letter: s(include_str!("../scripts/letters/answer_letter.lua")),
    }
});

pub struct RedisStore {
    /// The primary's connections (see [`primary::Links`]), swapped whole
    /// when Sentinel names a new primary:
    /// - `lanes`: the chat's commands take these multiplexed connections
    ///   in turn. Each has one task that writes the commands and reads the
    ///   replies, scheduled like any socket's task: with thousands of
    ///   sockets busy, one such task was the node's limit. The first also
    ///   carries the heartbeat.
    /// - `durable`: the handoff's writes (consent, bookings, slots, audit),
    ///   account creation and session revocation, each followed by
    ///   `WAITAOF 1 0` where the server has it (Redis 7.2+) and by `WAIT`
    ///   when `wait.replicas` asks for it, so a wait holds up only them,
    ///   never the chat traffic pipelined on the lanes. Without either
    ///   they use the first lane and are as durable as `appendfsync`
    ///   makes them.
    /// - `bulk`: reads of many records at once (the queue broadcaster
    ///   reads the whole queue, hundreds of hashes, several times a
    ///   second): on a lane each would hold up every reply behind it, the
    ///   chat's appends and the matcher's assignments included.
    primary: Arc<Primary>,
    next_lane: std::sync::atomic::AtomicUsize,
    /// Every command on the lanes passes it (`run`, `query`, `pipe`, small
    /// `hashes`): a bounded line instead of time-outs under overload.
    /// The heartbeat (on the first lane), `bulk` and `durable` do not: they are
    /// few, and the heartbeat must not be refused.
    gate: Gate,
    wait: ReplicaWait,
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
        let primary =
            Arc::new(Primary::connect(opts.target.clone(), opts.wait.replicas > 0).await?);
        let links = primary.links();
        let mut conn = links.lanes[0].clone();
        // The start-up check of the replication the settings ask for.
        let replicas = primary::replicas_seen(&mut conn).await?;
        if replicas < opts.wait.replicas {
            tracing::warn!(
                replicas_seen = replicas,
                replicas_to_wait = opts.wait.replicas,
                "REDIS HAS FEWER REPLICAS THAN redis_replicas_to_wait: every write that waits for \
                 them will be refused as unavailable until enough replicas are connected"
            );
        } else {
            tracing::info!(
                replicas_seen = replicas,
                replicas_to_wait = opts.wait.replicas,
                "redis replication"
            );
        }
        let keys = Keys::new(&opts.prefix);
        let node = uuid::Uuid::new_v4().simple().to_string();
        let (events, _) = broadcast::channel(EVENT_BUFFER);

        let (ready_tx, ready_rx) = oneshot::channel();
        let forwarder = tokio::spawn(events::forward(
            primary.clone(),
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
            primary.clone(),
            keys.clone(),
            node.clone(),
            opts.node_ttl,
            events.clone(),
        ));
        let follower = tokio::spawn(primary::follow(primary.clone()));
        tracing::info!(
            prefix = %opts.prefix,
            node = %node,
            primary = %links.addr,
            sentinel = primary.via_sentinel(),
            waitaof = links.waitaof,
            "connected to redis"
        );
        Ok(Self {
            primary,
            next_lane: Default::default(),
            gate: Gate::new(opts.max_outstanding, opts.admission_wait),
            wait: opts.wait,
            keys,
            node,
            events,
            tasks: vec![forwarder, heartbeat, follower],
            policy: opts.queue_policy,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Delete every key under this store's prefix. For tests and for
    /// taking a deployment down; never called by the server.
    pub async fn purge(&self) -> StoreResult<usize> {
        let mut conn = self.primary.links().lanes[0].clone();
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
        let links = self.primary.links();
        links.lanes[i % links.lanes.len()].clone()
    }

    async fn run(&self, script: &Script, keys: &[String], args: &[String]) -> StoreResult<Value> {
        let _admitted = self.gate.admit().await?;
        invoke(&mut self.lane(), script, keys, args).await
    }

    /// The connection for the handoff's writes (see `durable`).
    fn durable_conn(&self) -> ConnectionManager {
        let links = self.primary.links();
        links
            .durable
            .clone()
            .unwrap_or_else(|| links.lanes[0].clone())
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
        self.wait_durable(&mut conn).await?;
        Ok(v)
    }

    /// `WAITAOF 1 0`: the writes this connection made are fsynced to the
    /// local AOF. A timeout means they may not be on disk: `Unavailable`,
    /// so nothing is confirmed to a person (a retry of the same step is
    /// refused as a conflict or finds it done). A server without AOF
    /// answers an error: there is no disk to wait for, as without
    /// `WAITAOF`, and `persistence()` reports it.
    async fn wait_aof(&self, conn: &mut ConnectionManager) -> StoreResult<()> {
        if !self.primary.links().waitaof {
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

    /// Run a script that writes an audit entry with its step: on the
    /// durable connection, and when it wrote (`{"ok", ...}`), wait until
    /// Redis has it on disk (`WAITAOF`, see `durable`); a refusal answers
    /// at once.
    async fn run_audited(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> StoreResult<Reply> {
        let answer = {
            let _admitted = self.gate.admit().await?;
            let mut conn = self.durable_conn();
            let answer = reply(invoke(&mut conn, script, keys, args).await?)?;
            if matches!(answer, Reply::Ok(_)) {
                self.wait_durable(&mut conn).await?;
            }
            answer
        };
        Ok(answer)
    }

    /// After a write that must survive a failover: on disk (`wait_aof`)
    /// and on `wait.replicas` replicas (`wait_replicas`).
    async fn wait_durable(&self, conn: &mut ConnectionManager) -> StoreResult<()> {
        self.wait_aof(conn).await?;
        self.wait_replicas(conn).await
    }

    /// `WAIT n timeout`: the writes this connection made so far have
    /// reached `wait.replicas` replicas. Fewer in time: `Unavailable`, and
    /// the caller confirms nothing. The write is on the primary all the
    /// same and may reach the replicas later: a retry of the same step
    /// finds it done (a duplicate, or a conflict on the revision), and a
    /// failover before it reaches them loses it (docs/REDIS.md).
    async fn wait_replicas(&self, conn: &mut ConnectionManager) -> StoreResult<()> {
        let wanted = self.wait.replicas;
        if wanted == 0 {
            return Ok(());
        }
        let reached: u64 = ::redis::cmd("WAIT")
            .arg(wanted)
            .arg(self.wait.timeout.as_millis() as u64)
            .query_async(conn)
            .await
            .map_err(unavailable)?;
        if reached >= u64::from(wanted) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "redis: the write reached {reached} of the {wanted} replicas asked for in time"
            )))
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
            p.query_async(&mut self.primary.links().bulk.clone())
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

fn first(v: &[Value]) -> StoreResult<&Value> {
    v.first().ok_or_else(|| codec::corrupt("missing value"))
}

fn uuid_of(s: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| codec::corrupt("id"))
}

fn opt_id(id: Option<AccountId>) -> String {
    id.map(|a| a.to_string()).unwrap_or_default()
}
