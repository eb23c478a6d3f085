//! Store append: messages per second and latency of `Store::append`, in
//! memory and durable (the embedded store, one fsync per commit, group
//! commit), measured in the same process and run.
//!
//! `cargo bench --bench store_append` prints a Markdown table (the figures
//! in docs/BENCHMARKS.md). Run without `--bench` (as `cargo test` does) it
//! only checks itself on a few messages.
//!
//! Each writer is one task appending to its own conversation and waiting
//! for each answer before the next message, as a socket does. With many
//! writers the durable store shares each fsync among the appends that
//! arrived while the previous commit was running.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tsunagu::core::ids::{ClientMsgId, ConversationId, Party};
use tsunagu::core::prechat::PreChat;
use tsunagu::core::queue::QueuePolicy;
use tsunagu::core::triage::RiskLevel;
use tsunagu::model::{NewConversation, NewMessage};
use tsunagu::store::memory::MemoryStore;
use tsunagu::store::Store;

struct Figures {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

async fn run(store: Arc<dyn Store>, writers: usize, each: usize) -> Figures {
    let mut convs = Vec::new();
    for _ in 0..writers {
        let id = ConversationId::new_random();
        store
            .create_conversation(
                NewConversation {
                    lang: Default::default(),
                    channel: Default::default(),
                    id,
                    token_hash: [7; 32],
                    pre_chat: PreChat::default(),
                    risk: RiskLevel::None,
                    risk_reasons: Vec::new(),
                    alert: None,
                    first_message: None,
                    now_ms: 0,
                    start_key: None,
                    prefers: None,
                },
                u32::MAX,
            )
            .await
            .expect("create");
        convs.push(id);
    }
    let text = "ありがとうございます。少し話してもいいですか。".repeat(3);
    let start = Instant::now();
    let tasks: Vec<_> = convs
        .into_iter()
        .map(|id| {
            let (store, text) = (store.clone(), text.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(each);
                for i in 0..each {
                    let msg = NewMessage {
                        from: Party::Visitor,
                        author: None,
                        author_name: None,
                        client_id: ClientMsgId::parse(&format!("m{i}")).expect("id"),
                        text: text.clone(),
                        now_ms: 0,
                        require_counsellor: None,
                    };
                    let t = Instant::now();
                    store.append(id, msg).await.expect("append");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    Figures {
        per_sec: lat.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: *lat.last().expect("some"),
    }
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("tsunagu-bench-{}", uuid::Uuid::new_v4()));
    let total = if full { 20_000 } else { 64 };
    println!("| store | writers | messages | messages/s | p50 µs | p99 µs | max µs |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    runtime.block_on(async {
        for writers in [1, 16, 64] {
            let each = (total / writers).max(1);
            let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let sub = dir.join(format!("w{writers}"));
            let (durable, _) = tsunagu::store::embedded::open(&sub, 0, QueuePolicy::default())
                .expect("open a data directory");
            let durable: Arc<dyn Store> = Arc::new(durable);
            for (name, store) in [("memory", memory), ("embedded (durable)", durable)] {
                let f = run(store.clone(), writers, each).await;
                store.close().await.expect("close");
                println!(
                    "| {name} | {writers} | {} | {:.0} | {} | {} | {} |",
                    writers * each,
                    f.per_sec,
                    us(f.p50),
                    us(f.p99),
                    us(f.max)
                );
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
