//! Redis without a single point of failure (issue 25), on a real cluster:
//! `deploy/local-cluster.sh` with `LOCAL_CLUSTER_SENTINEL=1` starts a Redis
//! primary, two replicas, three Sentinels and three nodes on loopback
//! addresses and free ports. 200 visitors chat (each through one of the
//! nodes) and 50 consents and bookings are made (through a store of this
//! test's own that finds the primary through the Sentinels, as the nodes
//! do); mid-traffic the primary is killed with SIGKILL, the Sentinels
//! promote a replica, and every node moves to it without a restart.
//!
//! Then the test counts, against the new primary: acknowledged messages
//! lost, doubled, out of order; confirmed consents and bookings lost;
//! overbooked slots; and the time from the kill until a send begun after
//! it is accepted again, per node. With `WAIT` on (the default) every
//! count must be 0. With `TSUNAGU_TEST_FAILOVER_WAIT=off` nothing waits
//! for a replica: the test prints the same counts and fails only on what
//! `WAIT` does not decide (tests/run.sh runs it several times to measure
//! the window `WAIT` closes).
//!
//! With `TSUNAGU_TEST_FAILOVER_AUTH=1` every Redis and Sentinel asks for a
//! password (`LOCAL_CLUSTER_REDIS_AUTH=1`), as a deployment's should: the
//! nodes and the test's own store find the primary through the Sentinels
//! with `redis_sentinel_password` and reach it with `redis_password`, and
//! the promoted replica too (tests/run.sh runs the WAIT run so).
//!
//! Runs only with `TSUNAGU_TEST_FAILOVER=1` (the failover stage of
//! `tests/run.sh`, which checks that it ran).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use tsunagu::core::handoff::{self, Answer, BookingRef, HandoffRecord, SlotId};
use tsunagu::core::ids::{AccountId, ConversationId};
use tsunagu::model::{BookingOp, HandoffWrite};
use tsunagu::store::redis::{Credentials, RedisOptions, RedisStore, RedisTarget, ReplicaWait};
use tsunagu::store::{Store, StoreError};

use crate::cluster::{free_port, running, Script, NODE_HOSTS, REDIS_HOST};
use crate::handoff_store::{booking_for, slot_at, terms};
use crate::helpers::*;
use crate::store_conformance::conv_at;

const VISITORS: usize = 200;
/// Messages each visitor sends, one at a time, `PACE` apart.
const MESSAGES_EACH: usize = 10;
const PACE: Duration = Duration::from_millis(200);
const BOOKINGS: usize = 50;
/// Slots of `CAPACITY` places: fewer places than bookings, so some are
/// refused as full while others race for the last places.
const SLOTS: usize = 10;
const CAPACITY: u32 = 4;
/// The primary is killed this long after the traffic began.
const KILL_AFTER: Duration = Duration::from_millis(1500);
/// Sentinel's own detection takes `down-after-milliseconds` (1 s in the
/// script) plus an election; generous, as the machine may be busy.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// A step refused as `unavailable` is retried this long at most.
const RETRY_FOR: Duration = Duration::from_secs(60);
const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

fn failover_requested() -> bool {
    std::env::var("TSUNAGU_TEST_FAILOVER").as_deref() == Ok("1")
}

fn auth_on() -> bool {
    std::env::var("TSUNAGU_TEST_FAILOVER_AUTH").as_deref() == Ok("1")
}

/// The passwords of the auth run (`auth_on`).
const DATA_PASSWORD: &str = "failover-data-pw-7f3a";
const SENTINEL_PASSWORD: &str = "failover-sentinel-pw-7f3a";

fn wait_on() -> bool {
    std::env::var("TSUNAGU_TEST_FAILOVER_WAIT").as_deref() != Ok("off")
}

struct Cluster {
    script: Script,
    sentinels: Vec<String>,
    auth: bool,
    _dir: TempDir,
}

impl Cluster {
    fn start(wait: bool) -> Cluster {
        let dir = match std::env::var_os("TSUNAGU_TEST_FAILOVER_DIR") {
            Some(d) => {
                std::fs::create_dir_all(&d).unwrap();
                TempDir(d.into())
            }
            None => TempDir::new("failover"),
        };
        let users = format!(
            "[[users]]\nusername = \"kudo\"\ndisplay_name = \"工藤\"\nrole = \"counsellor\"\npassword_hash = \"{}\"\n",
            password_hash()
        );
        std::fs::write(dir.path().join("tsunagu.toml"), users).unwrap();
        let ports = |n: usize| -> Vec<u16> {
            let mut v: Vec<u16> = Vec::new();
            while v.len() < n {
                let p = free_port(&[REDIS_HOST]);
                if !v.contains(&p) {
                    v.push(p);
                }
            }
            v
        };
        let redis = ports(6);
        let join = |p: &[u16]| {
            p.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut env = vec![
            ("LOCAL_CLUSTER_SENTINEL", "1".to_owned()),
            ("LOCAL_CLUSTER_REPLICA_PORTS", join(&redis[1..3])),
            ("LOCAL_CLUSTER_SENTINEL_PORTS", join(&redis[3..6])),
            (
                "TSUNAGU_REDIS_REPLICAS_TO_WAIT",
                if wait { "1" } else { "0" }.to_owned(),
            ),
            ("TSUNAGU_REDIS_WAIT_MESSAGES", wait.to_string()),
            // 200 visitors from one address, all waiting at once.
            ("TSUNAGU_LIMITS__MAX_QUEUE", "100000".to_owned()),
            ("TSUNAGU_LIMITS__STARTS_PER_IP_PER_MIN", "100000".to_owned()),
            ("TSUNAGU_LIMITS__STARTS_BURST", "100000".to_owned()),
            (
                "TSUNAGU_LIMITS__UPGRADES_PER_IP_PER_MIN",
                "100000".to_owned(),
            ),
            ("TSUNAGU_LIMITS__UPGRADES_BURST", "100000".to_owned()),
            (
                "TSUNAGU_HANDOFF__PIN_KEY",
                "failover-test-pin-key-0123".to_owned(),
            ),
        ];
        if auth_on() {
            env.push(("LOCAL_CLUSTER_REDIS_AUTH", "1".to_owned()));
            env.push(("LOCAL_CLUSTER_REDIS_PASSWORD", DATA_PASSWORD.to_owned()));
            env.push((
                "LOCAL_CLUSTER_SENTINEL_PASSWORD",
                SENTINEL_PASSWORD.to_owned(),
            ));
        }
        let cluster = Cluster {
            auth: auth_on(),
            script: Script {
                dir: dir.path().to_owned(),
                lb: format!("127.0.0.1:{}", free_port(&["127.0.0.1"])),
                node_port: free_port(&NODE_HOSTS),
                redis_port: redis[0],
                env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            },
            sentinels: redis[3..6]
                .iter()
                .map(|p| format!("{REDIS_HOST}:{p}"))
                .collect(),
            _dir: dir,
        };
        let out = cluster.script.run(&["start"]);
        assert!(out.status.success(), "local-cluster.sh start failed");
        cluster
    }

    fn node(&self, i: usize) -> String {
        format!("{}:{}", NODE_HOSTS[i], self.script.node_port)
    }

    /// The nodes' pids (to tell that none restarted).
    fn node_pids(&self) -> Vec<u32> {
        (1..=3)
            .map(|n| {
                let text =
                    std::fs::read_to_string(self.script.dir.join(format!("node{n}.pid"))).unwrap();
                text.split_whitespace().next().unwrap().parse().unwrap()
            })
            .collect()
    }

    async fn readyz(&self, i: usize) -> Value {
        reqwest::get(format!("http://{}/readyz", self.node(i)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A store of the test's own, finding the primary as the nodes do.
    async fn store(&self, wait: bool) -> Arc<dyn Store> {
        let opts = RedisOptions {
            target: RedisTarget::Sentinel {
                sentinels: self.sentinels.clone(),
                service: "tsunagu".into(),
                data: Credentials {
                    username: None,
                    password: self.auth.then(|| DATA_PASSWORD.to_owned()),
                },
                sentinel: Credentials {
                    username: None,
                    password: self.auth.then(|| SENTINEL_PASSWORD.to_owned()),
                },
            },
            wait: ReplicaWait {
                replicas: u32::from(wait),
                ..ReplicaWait::default()
            },
            ..RedisOptions::new("", "tsunagu")
        };
        Arc::new(
            RedisStore::connect(opts)
                .await
                .expect("the primary answers"),
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.script.run(&["stop"]);
        // On a failure, what the nodes warned about (ids and codes only).
        if std::thread::panicking() {
            for n in 1..=3 {
                let log = std::fs::read_to_string(self.script.dir.join(format!("node{n}.log")))
                    .unwrap_or_default();
                let warned: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .collect();
                eprintln!("node {n}: {} warnings; the last ones:", warned.len());
                for l in warned.iter().rev().take(8).rev() {
                    eprintln!("  {l}");
                }
            }
        }
    }
}

/// What one visitor sent and was told.
struct VisitorRun {
    node: usize,
    conversation: String,
    /// client id -> seq, for each `sent`.
    acked: BTreeMap<String, u64>,
    /// In the order sent.
    sent: Vec<String>,
    /// (attempt began, accepted) of each acknowledged send.
    accepted: Vec<(Instant, Instant)>,
    refusals: usize,
    ws: Ws,
}

async fn visitor(
    node: String,
    node_no: usize,
    i: usize,
    ready: mpsc::UnboundedSender<()>,
    mut go: watch::Receiver<bool>,
) -> VisitorRun {
    let origin = format!("http://{node}");
    let headers = [("origin", origin.as_str())];
    // On a busy machine an upgrade may time out (408): try again.
    let deadline = Instant::now() + RETRY_FOR;
    let mut ws = loop {
        match Ws::connect(&node, "/ws/visitor", &headers).await {
            Ok(ws) => break ws,
            Err(r) => {
                assert!(Instant::now() < deadline, "visitor {i}: {r:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // 200 starts at once on debug builds may find the gate full: a
    // refused start changed nothing and is sent again.
    let welcome = loop {
        ws.send(json!({"type": "start"})).await;
        let f = ws.recv().await;
        match f["type"].as_str() {
            Some("welcome") => break f,
            Some("error") if f["code"] == "unavailable" => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            _ => panic!("unexpected answer to start: {f}"),
        }
    };
    let conversation = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    let _ = ready.send(());
    go.wait_for(|&g| g).await.unwrap();
    let mut run = VisitorRun {
        node: node_no,
        conversation,
        acked: BTreeMap::new(),
        sent: Vec::new(),
        accepted: Vec::new(),
        refusals: 0,
        ws,
    };
    for m in 0..MESSAGES_EACH {
        let id = format!("v{i}-{m}");
        let frame = json!({"type": "send", "client_id": id, "text": id});
        let deadline = Instant::now() + RETRY_FOR;
        'attempt: loop {
            assert!(Instant::now() < deadline, "{id} was never accepted");
            let began = Instant::now();
            if !run.ws.try_send(frame.clone()).await {
                reconnect(&mut run, &node, &token).await;
                continue;
            }
            loop {
                let Some(f) = run.ws.next().await else {
                    reconnect(&mut run, &node, &token).await;
                    continue 'attempt;
                };
                if f["client_id"] != id.as_str() {
                    continue;
                }
                match f["type"].as_str() {
                    Some("sent") => {
                        run.acked.insert(id.clone(), f["seq"].as_u64().unwrap());
                        run.accepted.push((began, Instant::now()));
                        break 'attempt;
                    }
                    Some("error") => {
                        assert!(
                            f["code"] == "unavailable" || f["code"] == "busy",
                            "only refusals a retry answers: {f}"
                        );
                        run.refusals += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'attempt;
                    }
                    _ => {}
                }
            }
        }
        run.sent.push(id);
        tokio::time::sleep(PACE).await;
    }
    run
}

/// The socket closed: open another and resume the conversation.
async fn reconnect(run: &mut VisitorRun, node: &str, token: &str) {
    let origin = format!("http://{node}");
    let deadline = Instant::now() + RETRY_FOR;
    loop {
        assert!(Instant::now() < deadline, "could not resume");
        if let Ok(mut ws) = Ws::connect(node, "/ws/visitor", &[("origin", &origin)]).await {
            let resume = json!({"type": "resume", "conversation_id": run.conversation, "token": token, "last_seq": 0});
            if ws.try_send(resume).await {
                while let Some(f) = ws.next().await {
                    if f["type"] == "welcome" {
                        run.ws = ws;
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Retry while the store is away; `true` with the result if it was
/// refused at least once on the way (the step may then have been applied
/// by an attempt whose answer was a refusal).
async fn retrying<T, F, Fut>(mut step: F) -> (Result<T, StoreError>, bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = Instant::now() + RETRY_FOR;
    let mut refused = false;
    loop {
        match step().await {
            Err(StoreError::Unavailable(_) | StoreError::Busy { .. })
                if Instant::now() < deadline =>
            {
                refused = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => return (r, refused),
        }
    }
}

/// A handoff write retried while the store is away. `Ok(true)`: confirmed
/// by the store; `Ok(false)`: an earlier attempt was applied though its
/// answer was a refusal (the record read back is the one written), not a
/// confirmation; `Err`: refused.
async fn write(s: &Arc<dyn Store>, w: HandoffWrite) -> Result<bool, StoreError> {
    match retrying(|| s.write_handoff(w.clone())).await {
        (Ok(()), _) => Ok(true),
        (Err(StoreError::Conflict), true) => {
            let (now, _) = retrying(|| s.handoff(w.record.conversation)).await;
            match now? {
                Some(r) if r == w.record => Ok(false),
                _ => Err(StoreError::Conflict),
            }
        }
        (Err(e), _) => Err(e),
    }
}

#[derive(Default)]
struct Bookings {
    /// Conversations whose consent the store confirmed.
    consents: Vec<ConversationId>,
    /// (reference, slot, conversation) the store confirmed.
    booked: Vec<(BookingRef, SlotId, ConversationId)>,
    full: usize,
    /// Applied by a refused attempt, or refused for another reason.
    unconfirmed: usize,
}

async fn bookings(
    s: Arc<dyn Store>,
    slots: Vec<SlotId>,
    mut go: watch::Receiver<bool>,
) -> Bookings {
    go.wait_for(|&g| g).await.unwrap();
    let staff = AccountId(uuid::Uuid::from_u128(7));
    let mut out = Bookings::default();
    for k in 0..BOOKINGS {
        let now = T0 + k as u64;
        let (created, _) = retrying(|| s.create_conversation(conv_at(now), 100_000)).await;
        let Ok(conv) = created else {
            out.unconfirmed += 1;
            continue;
        };
        let offered =
            handoff::offer(None, conv.id, "学校に行けていない", true, staff, now).unwrap();
        let w = HandoffWrite {
            expected_rev: 0,
            record: offered.clone(),
            booking: BookingOp::Keep,
        };
        if write(&s, w).await.is_err() {
            out.unconfirmed += 1;
            continue;
        }
        let yes = Answer::Consent {
            transcript: false,
            contact: true,
        };
        let consented: HandoffRecord =
            handoff::answer(&offered, 1, "w1/ja", yes, &terms(), now + 1).unwrap();
        let w = HandoffWrite {
            expected_rev: 1,
            record: consented.clone(),
            booking: BookingOp::Keep,
        };
        match write(&s, w).await {
            Ok(true) => out.consents.push(conv.id),
            Ok(false) => out.unconfirmed += 1,
            Err(_) => {
                out.unconfirmed += 1;
                continue;
            }
        }
        let slot = slots[k % SLOTS];
        let (next, booking) = booking_for(&consented, slot, now + 2);
        let w = HandoffWrite {
            expected_rev: consented.rev,
            record: next,
            booking: BookingOp::Create(booking.clone()),
        };
        match write(&s, w).await {
            Ok(true) => out.booked.push((booking.reference, slot, conv.id)),
            Err(StoreError::SlotFull) => out.full += 1,
            _ => out.unconfirmed += 1,
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_killed_mid_traffic_loses_nothing_acknowledged() {
    if !failover_requested() {
        return; // the failover stage of tests/run.sh runs it
    }
    let wait = wait_on();
    let began = Instant::now();
    let cluster = Cluster::start(wait);
    let pids = cluster.node_pids();
    let phase =
        |what: &str| eprintln!("failover: {what} at {:.1} s", began.elapsed().as_secs_f64());
    phase("cluster up");
    if cluster.auth {
        // Auth is really on: a Sentinel and the primary refuse a client
        // without the password, so the nodes above got in with theirs.
        for addr in [
            cluster.sentinels[0].clone(),
            format!("{REDIS_HOST}:{}", cluster.script.redis_port),
        ] {
            let client = ::redis::Client::open(format!("redis://{addr}/")).unwrap();
            let answer: Result<String, _> = async {
                let mut c = client.get_multiplexed_async_connection().await?;
                ::redis::cmd("PING").query_async(&mut c).await
            }
            .await;
            let e = answer.expect_err("refused without a password");
            assert!(e.to_string().contains("NOAUTH"), "{addr}: {e}");
        }
    }
    let first_primary = format!("{REDIS_HOST}:{}", cluster.script.redis_port);
    for i in 0..3 {
        let r = cluster.readyz(i).await;
        let rep = &r["replication"];
        assert_eq!(rep["primary"], first_primary.as_str(), "{r}");
        assert_eq!(rep["sentinel"], true, "{r}");
        assert_eq!(rep["failing_over"], false, "{r}");
        assert_eq!(rep["replicas"], 2, "{r}");
        assert_eq!(rep["replicas_to_wait"], u32::from(wait), "{r}");
    }

    let store = cluster.store(wait).await;
    let mut slots = Vec::new();
    for k in 0..SLOTS {
        let slot = slot_at(T0 + DAY + k as u64, CAPACITY);
        store.create_slot(slot.clone()).await.unwrap();
        slots.push(slot.id);
    }

    // Every visitor opens its socket and starts first; then all send at
    // once, and the bookings begin.
    let (go_tx, go) = watch::channel(false);
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let visitors = tokio::spawn(join_all((0..VISITORS).map(|i| {
        let node = cluster.node(i % 3);
        tokio::spawn(visitor(node, i % 3, i, ready_tx.clone(), go.clone()))
    })));
    drop(ready_tx);
    let booking = tokio::spawn(bookings(store.clone(), slots.clone(), go));
    for n in 0..VISITORS {
        let got = tokio::time::timeout(RETRY_FOR, ready.recv()).await;
        assert!(matches!(got, Ok(Some(()))), "only {n} visitors started");
    }
    go_tx.send(true).unwrap();
    phase("200 visitors started; traffic begins");

    tokio::time::sleep(KILL_AFTER).await;
    let killing = Instant::now();
    let out = cluster.script.run(&["kill-primary"]);
    assert!(out.status.success(), "kill-primary failed");
    // The primary is gone by now: whatever starts later cannot reach it.
    let killed = Instant::now();

    let runs: Vec<VisitorRun> = visitors
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.expect("a visitor's task"))
        .collect();
    let booked = booking.await.unwrap();
    phase("traffic done");

    // Every node moved to the promoted replica; none restarted.
    let mut new_primary = String::new();
    for i in 0..3 {
        let deadline = Instant::now() + RECOVERY_BOUND;
        loop {
            let r = cluster.readyz(i).await;
            let rep = &r["replication"];
            if r["status"] == "ready" && rep["primary"] != first_primary.as_str() {
                assert_eq!(rep["failing_over"], false, "{r}");
                let p = rep["primary"].as_str().unwrap().to_owned();
                assert!(new_primary.is_empty() || new_primary == p, "{r}");
                new_primary = p;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not move: {r}",
                i + 1
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(cluster.node_pids(), pids, "no node restarted");
    assert!(pids.iter().all(|&p| running(p)), "every node still runs");

    // Time from the kill until a send begun after it was accepted, per node.
    let mut recovery = [None::<Duration>; 3];
    for r in &runs {
        for (start, done) in &r.accepted {
            if *start > killed {
                let d = done.duration_since(killing);
                let slot = &mut recovery[r.node];
                *slot = Some(slot.map_or(d, |s: Duration| s.min(d)));
            }
        }
    }

    phase("every node on the new primary");
    // Counted against the new primary, through a fresh store.
    let check = cluster.store(wait).await;
    let (mut acked, mut lost, mut doubled, mut moved_seq, mut out_of_order, mut refusals) =
        (0, 0, 0, 0, 0, 0);
    for r in &runs {
        let id = ConversationId(r.conversation.parse().unwrap());
        let log = check.messages_after(id, 0, 10_000).await.unwrap();
        let mut seen: HashMap<&str, u64> = HashMap::new();
        let mut order = Vec::new();
        for m in &log {
            if seen.insert(m.client_id.as_str(), m.seq).is_some() {
                doubled += 1;
            }
            order.push(r.sent.iter().position(|s| s == m.client_id.as_str()));
        }
        if !order.windows(2).all(|w| w[0] < w[1]) || order.iter().any(Option::is_none) {
            out_of_order += 1;
        }
        for (cid, seq) in &r.acked {
            acked += 1;
            match seen.get(cid.as_str()) {
                None => lost += 1,
                Some(s) if s != seq => moved_seq += 1,
                Some(_) => {}
            }
        }
        refusals += r.refusals;
    }
    let mut consents_lost = 0;
    for conv in &booked.consents {
        let h = check.handoff(*conv).await.unwrap();
        if h.is_none_or(|h| h.consent().is_none()) {
            consents_lost += 1;
        }
    }
    let mut bookings_lost = 0;
    for (reference, slot, conv) in &booked.booked {
        let b = check.booking(reference).await.unwrap();
        let held = check.slot_bookings(*slot).await.unwrap();
        let h = check.handoff(*conv).await.unwrap();
        let kept = b.is_some_and(|b| b.cancelled_at_ms.is_none())
            && held.iter().any(|b| &b.reference == reference)
            && h.is_some_and(|h| h.booking.as_ref() == Some(reference));
        if !kept {
            bookings_lost += 1;
        }
    }
    let mut overbooked = 0;
    for slot in &slots {
        let rec = check.slot(*slot).await.unwrap().unwrap();
        let held = check.slot_bookings(*slot).await.unwrap();
        let live = held.iter().filter(|b| b.cancelled_at_ms.is_none()).count();
        if live > CAPACITY as usize || rec.booked > CAPACITY || rec.booked as usize != live {
            overbooked += 1;
        }
    }

    let secs =
        |d: Option<Duration>| d.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!(
        "failover (WAIT {}): primary {first_primary} killed {:.1} s into the traffic, now {new_primary}; \
         sends accepted again after {} / {} / {} (nodes 1 / 2 / 3); \
         {VISITORS} visitors: {acked} messages acknowledged, lost {lost}, doubled {doubled}, \
         stored under another seq {moved_seq}, conversations out of order {out_of_order}, \
         {refusals} sends refused and retried; {} consents and {} bookings confirmed \
         ({} full, {} unconfirmed), consents lost {consents_lost}, bookings lost {bookings_lost}, \
         overbooked slots {overbooked}; no node restarted; {:.1} s in all",
        if wait { "on" } else { "off" },
        KILL_AFTER.as_secs_f64(),
        secs(recovery[0]),
        secs(recovery[1]),
        secs(recovery[2]),
        booked.consents.len(),
        booked.booked.len(),
        booked.full,
        booked.unconfirmed,
        began.elapsed().as_secs_f64(),
    );
    assert_eq!(
        acked,
        VISITORS * MESSAGES_EACH,
        "every message was accepted in the end"
    );
    for (i, r) in recovery.iter().enumerate() {
        let r = r
            .unwrap_or_else(|| panic!("node {}: no send begun after the kill was accepted", i + 1));
        assert!(r < RECOVERY_BOUND, "node {}: {r:?}", i + 1);
    }
    assert!(refusals > 0, "the kill was felt: some sends were refused");
    assert_eq!(doubled, 0, "doubled");
    if wait {
        assert_eq!(
            (lost, moved_seq, out_of_order, consents_lost, bookings_lost, overbooked),
            (0, 0, 0, 0, 0, 0),
            "(lost, stored under another seq, out of order, consents lost, bookings lost, overbooked)"
        );
        assert!(
            !booked.booked.is_empty() && booked.full > 0,
            "bookings raced for the places"
        );
    }

    // Events flow on the new primary: a counsellor on node 1 is assigned
    // a waiting visitor and gets what that visitor sends now.
    let mut runs = runs;
    let origin = format!("http://{}", cluster.node(0));
    let login = reqwest::Client::new()
        .post(format!("http://{}/api/login", cluster.node(0)))
        .header("origin", &origin)
        .json(&json!({"username": "kudo", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let mut c = Ws::connect(
        &cluster.node(0),
        "/ws/counsellor",
        &[("origin", &origin), ("cookie", &cookie)],
    )
    .await
    .unwrap();
    c.send(json!({"type": "hello"})).await;
    c.recv_type("welcome").await;
    c.send(json!({"type": "set_capacity", "capacity": 1})).await;
    c.send(json!({"type": "set_status", "status": "available"}))
        .await;
    // The booking task's conversations (and one whose creation was retried
    // after a lost answer) wait in the same queue with nobody on their
    // sockets, and may come first: end those and take the next.
    let v = loop {
        let assigned = c.recv_type("assigned").await;
        let conv = assigned["conversation"]["conversation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        if let Some(i) = runs.iter().position(|r| r.conversation == conv) {
            break &mut runs[i];
        }
        c.send(json!({"type": "end", "conversation_id": conv, "outcome": "listened"}))
            .await;
    };
    v.ws.send(json!({"type": "send", "client_id": "after-failover", "text": "after-failover"}))
        .await;
    loop {
        let f = c.recv().await;
        if f["type"] == "message" && f["text"] == "after-failover" {
            break;
        }
    }
}
