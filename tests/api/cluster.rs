//! What `deploy/` promises, on a real cluster: `deploy/local-cluster.sh`
//! starts Redis, three nodes and HAProxy (`deploy/haproxy.cfg`) on loopback
//! addresses; a visitor and a counsellor talk through the balancer only;
//! the node holding the visitor's socket is stopped (SIGTERM: the drain a
//! rolling restart sends) while messages flow; the conversation goes on
//! through another node with nothing lost and nothing doubled; `stop`
//! leaves no process behind.
//!
//! Runs only with `TSUNAGU_TEST_CLUSTER=1` (the cluster stage of
//! `tests/run.sh`, which checks that it ran); the other passes skip it.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use tsunagu::core::ids::{ConversationId, Party};
use tsunagu::store::redis::{RedisOptions, RedisStore};
use tsunagu::store::MessageStore;

use crate::helpers::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/local-cluster.sh");
/// The script's fixed addresses (ports are chosen per run).
pub(crate) const NODE_HOSTS: [&str; 3] = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
pub(crate) const REDIS_HOST: &str = "127.0.0.10";
/// Messages each way; the visitor's node is stopped at `STOP_AT`.
const EACH_WAY: usize = 150;
const STOP_AT: usize = 40;

fn cluster_requested() -> bool {
    std::env::var("TSUNAGU_TEST_CLUSTER").as_deref() == Ok("1")
}

/// A port nobody listens on at `host` (and, for the nodes, at each host).
pub(crate) fn free_port(hosts: &[&str]) -> u16 {
    loop {
        let port = TcpListener::bind((hosts[0], 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if hosts.iter().all(|h| TcpListener::bind((*h, port)).is_ok()) {
            return port;
        }
    }
}

/// `deploy/local-cluster.sh` with one cluster's settings (`failover.rs`
/// adds its Sentinel settings in `env`).
#[derive(Clone)]
pub(crate) struct Script {
    pub dir: PathBuf,
    pub lb: String,
    pub node_port: u16,
    pub redis_port: u16,
    pub env: Vec<(String, String)>,
}

impl Script {
    /// Run it; its output goes to the test's.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("bash")
            .arg(SCRIPT)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("LOCAL_CLUSTER_DIR", &self.dir)
            .env("LOCAL_CLUSTER_LB", &self.lb)
            .env("LOCAL_CLUSTER_NODE_PORT", self.node_port.to_string())
            .env("LOCAL_CLUSTER_REDIS_PORT", self.redis_port.to_string())
            .env("LOCAL_CLUSTER_BIN", env!("CARGO_BIN_EXE_tsunagu"))
            .env("LOCAL_CLUSTER_CONFIG", self.dir.join("tsunagu.toml"))
            // Settings for the nodes: open at any hour; a test client may
            // send faster than a person types.
            .env("TSUNAGU_HOURS__ALWAYS_OPEN", "true")
            .env("TSUNAGU_LIMITS__SOCKETS_PER_ADDRESS", "1000000")
            .env("TSUNAGU_LIMITS__WAITING_PER_ADDRESS", "1000000")
            .env(
                "TSUNAGU_LIMITS__WAITING_MESSAGES_PER_CONVERSATION",
                "1000000",
            )
            .env(
                "TSUNAGU_LIMITS__WAITING_BYTES_PER_CONVERSATION",
                "1000000000",
            )
            .env("TSUNAGU_LIMITS__FRAMES_PER_SEC", "1000")
            .env("TSUNAGU_LIMITS__FRAMES_BURST", "1000")
            .output()
            .expect("bash runs");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        out
    }
}

/// The cluster the script runs; `stop` on drop, whatever happened.
struct LocalCluster {
    script: Script,
    _dir: TempDir,
}

impl LocalCluster {
    fn start() -> LocalCluster {
        // tests/run.sh names the directory, so that its exit trap can stop
        // the cluster even if this process is killed before `Drop` runs.
        let dir = match std::env::var_os("TSUNAGU_TEST_CLUSTER_DIR") {
            Some(d) => {
                std::fs::create_dir_all(&d).unwrap();
                TempDir(d.into())
            }
            None => TempDir::new("local-cluster"),
        };
        let users = format!(
            "[[users]]\nusername = \"aoki\"\ndisplay_name = \"青木\"\nrole = \"counsellor\"\npassword_hash = \"{}\"\n",
            password_hash()
        );
        std::fs::write(dir.path().join("tsunagu.toml"), users).unwrap();
        let cluster = LocalCluster {
            script: Script {
                dir: dir.path().to_owned(),
                lb: format!("127.0.0.1:{}", free_port(&["127.0.0.1"])),
                node_port: free_port(&NODE_HOSTS),
                redis_port: free_port(&[REDIS_HOST]),
                env: Vec::new(),
            },
            _dir: dir,
        };
        let out = cluster.script.run(&["start"]);
        assert!(out.status.success(), "local-cluster.sh start failed");
        cluster
    }

    fn node(&self, i: usize) -> String {
        format!("{}:{}", NODE_HOSTS[i], self.script.node_port)
    }

    /// Pids the script recorded (first field of each `*.pid` file).
    fn pids(&self) -> Vec<u32> {
        std::fs::read_dir(&self.script.dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                let text = std::fs::read_to_string(&path).ok()?;
                (path.extension()? == "pid")
                    .then(|| text.split_whitespace().next()?.parse().ok())?
            })
            .collect()
    }

    /// Open sockets on node `i` (its own /readyz), as (visitors,
    /// counsellors); none on a node that is stopped.
    async fn sockets(&self, i: usize) -> (u64, u64) {
        let Ok(r) = reqwest::get(format!("http://{}/readyz", self.node(i))).await else {
            return (0, 0);
        };
        let (_, r) = read_answer(&reqwest::Method::GET, r).await;
        let n = |k: &str| r["sockets"][k].as_u64().unwrap();
        (n("visitors"), n("counsellors"))
    }

    /// The one node whose socket count of a kind is 1 (0 for the others).
    async fn holder(&self, counsellor: bool) -> usize {
        let deadline = Instant::now() + RECV_TIMEOUT;
        loop {
            let mut held = Vec::new();
            for i in 0..3 {
                let (v, c) = self.sockets(i).await;
                held.push(if counsellor { c } else { v });
            }
            if held.iter().sum::<u64>() == 1 {
                return held.iter().position(|&n| n == 1).unwrap();
            }
            assert!(Instant::now() < deadline, "socket counts {held:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.script.run(&["stop"]);
    }
}

/// A process that has not exited (a zombie has: it waits for its reaper).
pub(crate) fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// One side of the conversation as a browser runs it, through the
/// balancer only: it resumes whenever its socket is lost and resends
/// what was not confirmed (same `client_id`, so never stored twice).
struct Peer {
    lb: String,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    ws: Option<Ws>,
    /// The `resume` (visitor) or `hello` (counsellor) frame for a `last_seq`.
    rejoin: Box<dyn Fn(u64) -> Value + Send>,
    last_seq: u64,
    /// Who the other side is (`from` of their messages); a resume also
    /// replays this side's own messages, which are not counted.
    other: &'static str,
    /// The other side's messages, (seq, text), in arrival order.
    received: Vec<(u64, String)>,
    reconnects: u32,
}

impl Peer {
    /// Reconnect through the balancer and rejoin. While a node drains, the
    /// balancer may still hand it the upgrade, which it refuses: retry.
    async fn rejoin(&mut self) {
        let deadline = Instant::now() + RECV_TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "could not rejoin through the balancer"
            );
            let headers: Vec<(&str, &str)> =
                self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let Ok(mut ws) = Ws::connect(&self.lb, self.path, &headers).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            if !ws.try_send((self.rejoin)(self.last_seq)).await {
                continue;
            }
            while let Some(f) = ws.next().await {
                if f["type"] == "welcome" {
                    self.reconnects += 1;
                    self.ws = Some(ws);
                    return;
                }
            }
        }
    }

    /// The next frame, rejoining first if the socket is gone; `None` when
    /// the socket closed just now.
    async fn next(&mut self) -> Option<Value> {
        if self.ws.is_none() {
            self.rejoin().await;
        }
        let f = self.ws.as_mut().unwrap().next().await;
        if f.is_none() {
            self.ws = None;
        }
        f
    }

    /// Send `frame` until the server confirms its `client_id` with `sent`.
    async fn send_confirmed(&mut self, frame: Value) {
        let client_id = frame["client_id"].clone();
        'resend: loop {
            if self.ws.is_none() {
                self.rejoin().await;
            }
            if !self.ws.as_mut().unwrap().try_send(frame.clone()).await {
                self.ws = None;
                continue;
            }
            loop {
                match self.next().await {
                    None => continue 'resend,
                    Some(f) if f["type"] == "sent" && f["client_id"] == client_id => return,
                    Some(f) => self.take(f),
                }
            }
        }
    }

    fn take(&mut self, f: Value) {
        assert_ne!(f["type"], "error", "{f}");
        if f["type"] == "message" {
            let seq = f["seq"].as_u64().unwrap();
            if f["from"] == self.other {
                self.received
                    .push((seq, f["text"].as_str().unwrap().into()));
            }
            self.last_seq = self.last_seq.max(seq);
        }
    }

    async fn wait_for(&mut self, text: &str) {
        while !self.received.iter().any(|(_, t)| t == text) {
            if let Some(f) = self.next().await {
                self.take(f);
            }
        }
    }

    /// (received, lost, doubled, in order) against what the other side sent.
    fn tally(&self, sent: &[String]) -> (usize, usize, usize, bool) {
        let texts: Vec<&String> = self.received.iter().map(|(_, t)| t).collect();
        let lost = sent.iter().filter(|s| !texts.contains(s)).count();
        let doubled = texts.len() + lost - sent.len();
        let in_order = self.received.windows(2).all(|w| w[0].0 < w[1].0)
            && texts.iter().copied().eq(sent.iter());
        (texts.len(), lost, doubled, in_order)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_behind_the_balancer_loses_no_message() {
    if !cluster_requested() {
        return; // the cluster stage of tests/run.sh runs it
    }
    let began = Instant::now();
    let cluster = LocalCluster::start();
    let started = cluster.pids();
    assert_eq!(started.len(), 5, "redis, three nodes, haproxy");
    let lb = cluster.script.lb.clone();
    // A browser's Origin: the balancer keeps the Host, so it is same-site.
    let origin = format!("http://{lb}");

    let ready: Value = reqwest::get(format!("http://{lb}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let redis = &ready["persistence"]["details"];
    assert_eq!(redis["appendonly"], "yes", "{ready}");
    assert_eq!(redis["maxmemory-policy"], "noeviction", "{ready}");
    assert_eq!(
        reqwest::get(format!("http://{lb}/metrics"))
            .await
            .unwrap()
            .status(),
        404,
        "metrics are not served through the balancer"
    );

    // The counsellor logs in through the balancer; the session works on
    // whichever node the socket lands.
    let login = reqwest::Client::new()
        .post(format!("http://{lb}/api/login"))
        .header("origin", &origin)
        .json(&json!({"username": "aoki", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let headers = vec![("origin", origin.clone()), ("cookie", cookie)];
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut c = Ws::connect(&lb, "/ws/counsellor", &pairs).await.unwrap();
    c.send(json!({"type": "hello"})).await;
    c.recv_type("welcome").await;
    c.send(json!({"type": "set_status", "status": "available"}))
        .await;

    let mut v = Ws::connect(&lb, "/ws/visitor", &[("origin", &origin)])
        .await
        .unwrap();
    v.send(json!({"type": "start"})).await;
    let welcome = v.recv_type("welcome").await;
    wait_matched(&mut v, &welcome).await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        c.recv_type("assigned").await["conversation"]["conversation_id"],
        conv
    );

    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    let conv_v = conv.clone();
    let mut visitor = Peer {
        lb: lb.clone(),
        path: "/ws/visitor",
        headers: vec![("origin", origin.clone())],
        ws: Some(v),
        rejoin: Box::new(
            move |last_seq| json!({"type": "resume", "conversation_id": conv_v, "token": token, "last_seq": last_seq}),
        ),
        last_seq: 0,
        other: "counsellor",
        received: Vec::new(),
        reconnects: 0,
    };
    let conv_c = conv.clone();
    let mut counsellor = Peer {
        lb: lb.clone(),
        path: "/ws/counsellor",
        headers,
        ws: Some(c),
        rejoin: Box::new(move |last_seq| {
            let mut seen = serde_json::Map::new();
            seen.insert(conv_c.clone(), last_seq.into());
            json!({"type": "hello", "last_seq": seen})
        }),
        last_seq: 0,
        other: "visitor",
        received: Vec::new(),
        reconnects: 0,
    };
    let visitor_node = cluster.holder(false).await;
    let counsellor_node = cluster.holder(true).await;

    let (mut from_v, mut from_c) = (Vec::new(), Vec::new());
    let mut stopping = None;
    let mut stopped_at = Instant::now();
    for i in 0..EACH_WAY {
        let text = format!("v{i}");
        let frame = json!({"type": "send", "client_id": text, "text": text});
        if i == STOP_AT {
            // Stop the visitor's node with this message on its way.
            let _ = visitor.ws.as_mut().unwrap().try_send(frame.clone()).await;
            let (script, node) = (cluster.script.clone(), (visitor_node + 1).to_string());
            stopped_at = Instant::now();
            stopping = Some(tokio::task::spawn_blocking(move || {
                let ok = script.run(&["stop-node", &node]).status.success();
                (ok, Instant::now())
            }));
        }
        visitor.send_confirmed(frame).await;
        from_v.push(text.clone());
        counsellor.wait_for(&text).await;

        let text = format!("c{i}");
        counsellor
            .send_confirmed(
                json!({"type": "send", "conversation_id": conv, "client_id": text, "text": text}),
            )
            .await;
        from_c.push(text.clone());
        visitor.wait_for(&text).await;
    }
    let (stop_ok, node_gone) = stopping.unwrap().await.unwrap();
    assert!(stop_ok, "stop-node failed");
    assert!(visitor.reconnects >= 1, "the visitor's socket was moved");
    let new_node = cluster.holder(false).await;
    assert_ne!(new_node, visitor_node);

    // In the store: each message once, in the order they were exchanged.
    let store = RedisStore::connect(RedisOptions::new(
        format!("redis://{REDIS_HOST}:{}", cluster.script.redis_port),
        "tsunagu",
    ))
    .await
    .unwrap();
    let id = ConversationId(conv.parse().unwrap());
    let log = store.messages_after(id, 0, 10_000).await.unwrap();
    let stored: Vec<(u64, Party, String)> = log
        .iter()
        .map(|m| (m.seq, m.from, m.text.clone()))
        .collect();
    let expected: Vec<(u64, Party, String)> = from_v
        .iter()
        .zip(&from_c)
        .flat_map(|(v, c)| [(Party::Visitor, v.clone()), (Party::Counsellor, c.clone())])
        .zip(1..)
        .map(|((p, t), seq)| (seq, p, t))
        .collect();
    assert!(stored == expected, "the store's log differs");

    let (c_got, c_lost, c_doubled, c_order) = counsellor.tally(&from_v);
    let (v_got, v_lost, v_doubled, v_order) = visitor.tally(&from_c);
    println!(
        "cluster: {} messages sent through the balancer, {} received, {} lost, {} doubled; \
         node {} (the visitor's; the counsellor's was node {}) stopped at message {}, \
         gone after {:.1} s; the visitor went on through node {} ({} reconnect(s), \
         the counsellor {}); {:.1} s in all",
        from_v.len() + from_c.len(),
        c_got + v_got,
        c_lost + v_lost,
        c_doubled + v_doubled,
        visitor_node + 1,
        counsellor_node + 1,
        2 * STOP_AT + 1,
        node_gone.duration_since(stopped_at).as_secs_f64(),
        new_node + 1,
        visitor.reconnects,
        counsellor.reconnects,
        began.elapsed().as_secs_f64(),
    );
    assert_eq!((c_lost, c_doubled, v_lost, v_doubled), (0, 0, 0, 0));
    assert!(c_order && v_order, "order kept at both ends");

    // Stop the cluster: every process it started is gone, nothing listens.
    assert_eq!(
        cluster.pids().len(),
        4,
        "redis, haproxy and two nodes still up"
    );
    let out = cluster.script.run(&["stop"]);
    assert!(out.status.success(), "local-cluster.sh stop failed");
    let left: Vec<u32> = started.into_iter().filter(|&p| running(p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(
        TcpStream::connect(&lb).is_err(),
        "the balancer still listens"
    );
}

/// The settings file the deployment starts from is one the server accepts
/// (unknown keys stop a node at start).
#[test]
fn the_deployment_example_settings_load() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/config/tsunagu.example.toml"
    );
    let s = tsunagu::config::Settings::load(Some(path.as_ref()), std::iter::empty())
        .expect("deploy/config/tsunagu.example.toml loads");
    assert!(s.cookie_secure && s.trust_forwarded_for);
}
