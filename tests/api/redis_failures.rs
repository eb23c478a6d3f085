//! How the Redis store behaves when Redis goes away and when a node dies.
//! Redis-only (the in-memory store has neither failure). Runs against the
//! test Redis through a TCP proxy this test can cut, so the shared Redis
//! itself is never stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use tsunagu::core::conversation::ConversationState;
use tsunagu::core::ids::{AccountId, ConversationId, Party};
use tsunagu::core::prechat::PreChat;
use tsunagu::store::redis::{RedisOptions, RedisStore};
use tsunagu::store::{Event, NewConversation, Store, StoreError, Swept};

use crate::helpers::*;

/// A TCP proxy to the test Redis that can drop every connection at once
/// and refuse new ones, as a network partition or a Redis crash would.
struct Proxy {
    url: String,
    cut: Arc<AtomicBool>,
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
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (cut, links) = (cut.clone(), links.clone());
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: connection closed at once
                    }
                    let upstream = upstream.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut out) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Proxy {
            url,
            cut,
            links,
            accept,
        }
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

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

fn new_conv() -> NewConversation {
    NewConversation {
        channel: Default::default(),
        id: ConversationId::new_random(),
        token_hash: [1; 32],
        pre_chat: PreChat::default(),
        risk: Default::default(),
        risk_reasons: Vec::new(),
        alert: None,
        first_message: None,
        now_ms: 1_000,
    }
}

async fn store_at(url: &str, prefix: &str, node_ttl: Duration) -> RedisStore {
    RedisStore::connect(RedisOptions {
        url: url.into(),
        prefix: prefix.into(),
        node_ttl,
        queue_policy: Default::default(),
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
                tsunagu::store::NewMessage {
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
    let prefix = unique_prefix();
    let _purge = Purge(prefix.clone());
    let url = proxy.url.clone();
    let app = spawn_app_with(move |s| {
        s.redis_url = Some(tsunagu::config::Secret::new(url));
        s.redis_prefix = prefix;
    })
    .await;
    let ready = || async { reqwest::get(app.url("/readyz")).await.unwrap() };
    let r = ready().await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["store_kind"], "redis");
    proxy.cut();
    let r = ready().await;
    assert_eq!(r.status(), 503);
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
        .set_status(c, tsunagu::protocol::Availability::Available)
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
    let now = tsunagu::service::now_ms();
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
