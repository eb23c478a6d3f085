//! How the Redis store behaves when Redis goes away and when a node dies.
//! Redis-only (the in-memory store has neither failure). Runs against the
//! test Redis through a TCP proxy this test can cut, so the shared Redis
//! itself is never stopped. Also: the admission gate that refuses work
//! beyond what the node lets wait for Redis (overload).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use serde_json::{json, Value};
use tsunagu::core::conversation::ConversationState;
use tsunagu::core::ids::{AccountId, ConversationId, Party};
use tsunagu::core::prechat::PreChat;
use tsunagu::model::{Appended, Event, NewConversation, Swept};
use tsunagu::store::redis::{RedisOptions, RedisStore};
use tsunagu::store::{ConversationStore, CounsellorStore, MessageStore, NodeStore, StoreError};

use crate::helpers::*;

/// A TCP proxy to the test Redis that can drop every connection at once
/// and refuse new ones, as a network partition or a Redis crash would.
struct Proxy {
    url: String,
    cut: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Proxy {
        let upstream = test_redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (cut, paused, links) = (cut.clone(), paused.clone(), links.clone());
            async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: connection closed at once
                    }
                    let (upstream, paused) = (upstream.clone(), paused.clone());
                    let link = tokio::spawn(async move {
                        if let Ok(out) = TcpStream::connect(&upstream).await {
                            let (from_node, to_node) = inbound.into_split();
                            let (from_redis, to_redis) = out.into_split();
                            let commands = pump(from_node, to_redis, Some(paused));
                            let replies = pump(from_redis, to_node, None);
                            let _ = tokio::join!(commands, replies);
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Proxy {
            url,
            cut,
            paused,
            links,
            accept,
        }
    }

    /// Hold every command on its way to Redis (connections stay open), as
    /// a Redis too busy to read them would; `resume` lets them through.
    fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for l in self.links.lock().unwrap().drain(..) {
            l.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copy one direction of a proxied connection; while `paused` is set,
/// what was read is held back.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    paused: Option<Arc<AtomicBool>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while paused.as_ref().is_some_and(|p| p.load(Ordering::SeqCst)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

fn new_conv() -> NewConversation {
    NewConversation {
        lang: Default::default(),
        channel: Default::default(),
        id: ConversationId::new_random(),
        token_hash: [1; 32],
        pre_chat: PreChat::default(),
        risk: Default::default(),
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms: 1_000,
        start_key: None,
        prefers: None,
    }
}

/// A server on Redis through `proxy`, under a fresh prefix removed when the
/// returned guard goes.
async fn app_through(
    proxy: &Proxy,
    tweak: impl FnOnce(&mut tsunagu::config::Settings),
) -> (TestApp, Purge) {
    let prefix = unique_prefix();
    let purge = Purge(prefix.clone());
    let url = proxy.url.clone();
    let app = spawn_app_with(move |s| {
        s.redis_url = Some(tsunagu::config::Secret::new(url));
        s.redis_prefix = prefix;
        tweak(s);
    })
    .await;
    (app, purge)
}

async fn store_at(url: &str, prefix: &str, node_ttl: Duration) -> RedisStore {
    RedisStore::connect(RedisOptions {
        node_ttl,
        ..RedisOptions::new(url, prefix)
    })
    .await
    .expect("Redis answers")
}

/// Removes a prefix's keys when the test ends, pass or fail.
struct Purge(String);
impl Drop for Purge {
    fn drop(&mut self) {
        purge_blocking(&test_redis_url(), &self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_loss_is_unavailable_and_the_event_link_resynchronises() {
    let proxy = Proxy::start().await;
    let prefix = unique_prefix();
    let _purge = Purge(prefix.clone());
    let store = store_at(&proxy.url, &prefix, Duration::from_secs(15)).await;
    let mut events = store.subscribe();
    let conv = store.create_conversation(new_conv(), 10).await.unwrap().id;

    proxy.cut();
    // Every operation fails as Unavailable and claims nothing was stored.
    let mut refused = 0;
    for _ in 0..3 {
        match store.create_conversation(new_conv(), 10).await {
            Err(StoreError::Unavailable(_)) => refused += 1,
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
    assert_eq!(refused, 3);
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store
            .append(
                conv,
                tsunagu::model::NewMessage {
                    from: Party::Visitor,
                    author: None,
                    author_name: None,
                    client_id: tsunagu::core::ids::ClientMsgId::parse("x1").unwrap(),
                    text: "hello".into(),
                    now_ms: 2_000,
                    require_counsellor: None,
                }
            )
            .await,
        Err(StoreError::Unavailable(_))
    ));

    proxy.restore();
    eventually("the store answers again", || async {
        store.ping().await.is_ok()
    })
    .await;
    // The subscription came back: the node is told to resynchronise.
    let resync = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Ok(Event::Resync) => return,
                Ok(_) => continue,
                Err(e) => panic!("event stream: {e}"),
            }
        }
    })
    .await;
    assert!(
        resync.is_ok(),
        "Event::Resync after the subscription came back"
    );
    // And live events flow again.
    store.publish(Event::QueueChanged).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), events.recv()).await;
    assert!(matches!(next, Ok(Ok(Event::QueueChanged))), "{next:?}");
    // Nothing was half-written during the outage: one conversation, empty log.
    assert_eq!(store.queue().await.unwrap().len(), 1);
    assert_eq!(store.messages_after(conv, 0, 10).await.unwrap(), vec![]);
}

#[tokio::test]
async fn readyz_fails_while_redis_is_unreachable() {
    let proxy = Proxy::start().await;
    let (app, _purge) = app_through(&proxy, |_| {}).await;
    let ready = || async { reqwest::get(app.url("/readyz")).await.unwrap() };
    let r = ready().await;
    assert_eq!(r.status(), 200);
    let (_, body) = read_answer(&reqwest::Method::GET, r).await;
    assert_eq!(body["store_kind"], "redis");
    proxy.cut();
    // Not ready: 503, in the same documented body (docs/openapi.yaml).
    let (status, body) = read_answer(&reqwest::Method::GET, ready().await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    proxy.restore();
    eventually("ready again", || async { ready().await.status() == 200 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_sockets_stop_counting_and_its_chats_are_requeued() {
    let prefix = unique_prefix();
    let _purge = Purge(prefix.clone());
    let url = test_redis_url();
    let ttl = Duration::from_millis(400);
    let survivor = store_at(&url, &prefix, ttl).await;
    let doomed = store_at(&url, &prefix, ttl).await;

    // On the doomed node: a counsellor's socket and a visitor's socket.
    let c = AccountId::new_random();
    doomed.counsellor_connections(c, 1, 2, 1_000).await.unwrap();
    doomed
        .set_status(c, tsunagu::model::Availability::Available)
        .await
        .unwrap();
    let conv = doomed.create_conversation(new_conv(), 10).await.unwrap().id;
    doomed.visitor_connections(conv, 1, 1_000).await.unwrap();
    doomed.assign(conv, c, 1_000).await.unwrap();
    // A socket on the survivor for the same counsellor, closed later.
    survivor
        .counsellor_connections(c, 1, 2, 1_000)
        .await
        .unwrap();

    // SIGKILL: no socket is ever closed, the heartbeat just stops.
    drop(doomed);
    let now = tsunagu::clock::now_ms();
    // Alive a moment ago: nothing is reaped yet.
    assert_eq!(
        survivor.sweep(now, u64::MAX, u64::MAX).await.unwrap(),
        vec![]
    );
    let rec = survivor.counsellors().await.unwrap().remove(0);
    assert_eq!(rec.connections, 2);

    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    survivor.sweep(now, u64::MAX, u64::MAX).await.unwrap();
    let rec = survivor.counsellors().await.unwrap().remove(0);
    assert_eq!(
        rec.connections, 1,
        "the dead node's socket no longer counts"
    );
    let v = survivor.conversation(conv).await.unwrap().unwrap();
    assert_eq!(v.visitor_connections, 0);
    assert!(v.visitor_offline_since_ms.is_some());

    // The survivor's own socket closes: the counsellor is away, and after
    // the grace their visitor goes back to the front of the queue.
    survivor
        .counsellor_connections(c, -1, 2, now)
        .await
        .unwrap();
    let swept = survivor.sweep(now + 5_000, u64::MAX, 5_000).await.unwrap();
    assert_eq!(
        swept,
        vec![Swept::Requeued {
            conversation: conv,
            counsellor: c
        }]
    );
    assert_eq!(
        survivor.conversation(conv).await.unwrap().unwrap().state,
        ConversationState::Queued
    );
    // A late close from a node taken for dead cannot take away others'
    // sockets: the counts stay at zero, never below.
    let rec = survivor.counsellors().await.unwrap().remove(0);
    assert_eq!(rec.connections, 0);
}

fn message(client_id: &str) -> tsunagu::model::NewMessage {
    tsunagu::model::NewMessage {
        from: Party::Visitor,
        author: None,
        author_name: None,
        client_id: tsunagu::core::ids::ClientMsgId::parse(client_id).unwrap(),
        text: format!("text of {client_id}"),
        now_ms: 2_000,
        require_counsellor: None,
    }
}

/// Admission control: with one place and no wait, a burst of appends
/// gets one in and refuses the rest as `Busy` (with a time to retry)
/// before sending them, so exactly the admitted ones are stored, and a
/// refused one can be sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_gate_appends_are_refused_as_busy_and_not_stored() {
    let prefix = unique_prefix();
    let _purge = Purge(prefix.clone());
    let store = RedisStore::connect(RedisOptions {
        max_outstanding: 1,
        admission_wait: Duration::ZERO,
        ..RedisOptions::new(test_redis_url(), &prefix)
    })
    .await
    .expect("Redis answers");
    let conv = store.create_conversation(new_conv(), 10).await.unwrap().id;
    let ids: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let results =
        futures_util::future::join_all(ids.iter().map(|id| store.append(conv, message(id)))).await;
    let mut admitted = Vec::new();
    let mut refused = Vec::new();
    for (id, r) in ids.iter().zip(results) {
        match r {
            Ok(Appended::New(m)) => admitted.push((m.seq, id.clone())),
            Err(StoreError::Busy { retry_after_ms }) => {
                assert!((100..=200).contains(&retry_after_ms), "{retry_after_ms}");
                refused.push(id.clone());
            }
            other => panic!("{id}: expected stored or busy, got {other:?}"),
        }
    }
    assert!(
        !admitted.is_empty() && !refused.is_empty(),
        "{admitted:?} {refused:?}"
    );
    let stored = store.messages_after(conv, 0, 100).await.unwrap();
    let stored: Vec<(u64, String)> = stored
        .iter()
        .map(|m| (m.seq, m.client_id.as_str().to_owned()))
        .collect();
    assert_eq!(stored, admitted, "exactly the admitted appends are stored");
    // Once the burst is over, a refused message goes in (not a duplicate).
    let again = store.append(conv, message(&refused[0])).await.unwrap();
    assert!(matches!(again, Appended::New(_)), "{again:?}");
}

/// Overload over real sockets: Redis stops reading (the proxy holds every
/// command), the node's one place fills, and the visitors' sends are
/// refused as `unavailable` with `retry_after_ms` after the admission
/// wait, long before Redis's 5 s response time-out. When Redis answers
/// again, every send has had exactly one answer, the counsellor's side
/// has exactly the confirmed ones in the store, and a resend of a
/// refused one is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_node_refuses_sends_early_and_stores_none_it_refused() {
    const VISITORS: usize = 3;
    const SENDS: usize = 2;
    let proxy = Proxy::start().await;
    let (app, _purge) = app_through(&proxy, |s| {
        s.redis_max_outstanding = 1;
        s.redis_admission_wait_ms = 300;
    })
    .await;
    let mut c = app.counsellor("aoki").await;
    c.available(VISITORS as u32).await;
    let mut visitors = Vec::new();
    for _ in 0..VISITORS {
        let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
        wait_matched(&mut v, &welcome).await;
        c.ws.recv_type("assigned").await;
        visitors.push((v, welcome["conversation_id"].as_str().unwrap().to_owned()));
    }

    proxy.pause();
    let paused_at = std::time::Instant::now();
    for (i, (v, _)) in visitors.iter_mut().enumerate() {
        for k in 0..SENDS {
            v.send(json!({"type": "send", "client_id": format!("v{i}-{k}"), "text": "hello"}))
                .await;
        }
    }
    // The first refusal comes after the admission wait, not Redis's time-out.
    // From any visitor: the one whose send holds the place hears nothing
    // until Redis answers.
    let mut answers: Vec<HashMap<String, Value>> = vec![HashMap::new(); VISITORS];
    let (who, first) = 'first: loop {
        assert!(
            paused_at.elapsed() < Duration::from_secs(3),
            "no refusal within 3 s"
        );
        for (i, (v, _)) in visitors.iter_mut().enumerate() {
            match v.recv_within(Duration::from_millis(20)).await {
                Some(f) if f["type"] == "error" => break 'first (i, f),
                _ => {}
            }
        }
    };
    let waited = paused_at.elapsed();
    assert_eq!(first["code"], "unavailable", "{first}");
    assert!(first["retry_after_ms"].as_u64().is_some(), "{first}");
    assert!(waited < Duration::from_secs(3), "refused after {waited:?}");
    answers[who].insert(first["client_id"].as_str().unwrap().to_owned(), first);
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.resume();

    // Every send gets exactly one answer: `sent`, or the typed refusal.
    for (i, (v, _)) in visitors.iter_mut().enumerate() {
        while answers[i].len() < SENDS {
            let f = v.recv().await;
            let t = f["type"].as_str().unwrap_or_default();
            if t != "sent" && t != "error" {
                continue;
            }
            if t == "error" {
                assert_eq!(f["code"], "unavailable", "{f}");
                assert!(f["retry_after_ms"].as_u64().is_some(), "{f}");
            }
            let id = f["client_id"].as_str().unwrap().to_owned();
            assert!(
                answers[i].insert(id, f.clone()).is_none(),
                "answered twice: {f}"
            );
        }
    }
    let refused: usize = answers
        .iter()
        .map(|a| a.values().filter(|f| f["type"] == "error").count())
        .sum();
    assert!(
        refused >= VISITORS - 1,
        "one place: most sends are refused ({refused})"
    );

    let store = app.store.clone();
    for (i, (v, conv)) in visitors.iter_mut().enumerate() {
        let conv = ConversationId(conv.parse().unwrap());
        let stored_ids = |log: Vec<Arc<tsunagu::model::StoredMessage>>| -> Vec<String> {
            let mut ids: Vec<String> = log
                .iter()
                .map(|m| m.client_id.as_str().to_owned())
                .collect();
            ids.sort();
            ids
        };
        let mut confirmed: Vec<String> = answers[i]
            .iter()
            .filter(|(_, f)| f["type"] == "sent")
            .map(|(id, _)| id.clone())
            .collect();
        confirmed.sort();
        assert_eq!(
            stored_ids(store.messages_after(conv, 0, 100).await.unwrap()),
            confirmed,
            "visitor {i}: exactly the confirmed sends are stored"
        );
        // The client's retry of what was refused is stored, once each.
        for (id, f) in &answers[i] {
            if f["type"] == "error" {
                v.send(json!({"type": "send", "client_id": id, "text": "hello"}))
                    .await;
                let ok = v.recv_type("sent").await;
                assert_eq!(ok["client_id"], id.as_str());
            }
        }
        let all: Vec<String> = {
            let mut all: Vec<String> = answers[i].keys().cloned().collect();
            all.sort();
            all
        };
        assert_eq!(
            stored_ids(store.messages_after(conv, 0, 100).await.unwrap()),
            all
        );
    }
}
