//! The node's background links to Redis: the event subscription and the
//! liveness heartbeat.
//!
//! Events travel on one pub/sub channel. Each node holds its own pub/sub
//! connection (a subscribed connection cannot run other commands) and
//! forwards every event into a local broadcast channel, the one the hub
//! reads. Pub/sub is fire-and-forget: while the subscription is down,
//! events are lost. So when it comes back the node sends itself
//! [`Event::Resync`], and every socket re-reads what it shows from the
//! store. A lost event costs latency, never a message. When the node moves
//! to a new primary (Sentinel failover, [`super::primary`]) the
//! subscription moves with it, and the same resync covers the events
//! published while it moved.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::{broadcast, oneshot, watch};

use super::keys::Keys;
use super::primary::Primary;
use crate::model::Event;

/// First wait before reconnecting the subscription; doubled up to the max.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// A subscription that does not answer a ping in time is treated as lost
/// (a dead peer does not always close the TCP connection).
const PING_INTERVAL: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Forward the deployment's events into `tx` until the task is aborted.
/// `ready` is told once the first subscription is in place (or why not).
pub async fn forward(
    primary: Arc<Primary>,
    channel: String,
    tx: broadcast::Sender<Event>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let mut ready = Some(ready);
    let mut backoff = RECONNECT_MIN;
    let mut moves = primary.moves();
    loop {
        moves.mark_unchanged();
        let client = primary.links().client.clone();
        match subscribe(&client, &channel).await {
            Ok(pubsub) => {
                backoff = RECONNECT_MIN;
                match ready.take() {
                    Some(r) => {
                        let _ = r.send(Ok(()));
                    }
                    None => {
                        tracing::info!("event subscription back; resynchronising every socket");
                        let _ = tx.send(Event::Resync);
                    }
                }
                if relay(pubsub, &tx, &mut moves).await {
                    tracing::warn!("new Redis primary; moving the event subscription");
                    continue;
                }
                tracing::warn!("event subscription lost; reconnecting");
            }
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e));
                    return;
                }
                tracing::warn!(error = %e, "cannot subscribe to events; retrying");
            }
        }
        // A move to a new primary cuts the wait short: that is where the
        // subscription can be made now.
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = moves.changed() => {}
        }
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> Result<redis::aio::PubSub, String> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Relay until the connection is lost (false) or the node moved to a new
/// primary (true).
async fn relay(
    pubsub: redis::aio::PubSub,
    tx: &broadcast::Sender<Event>,
    moves: &mut watch::Receiver<u64>,
) -> bool {
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return false };
                match serde_json::from_slice::<Event>(msg.get_payload_bytes()) {
                    // No receiver yet is fine: nobody to tell.
                    Ok(event) => { let _ = tx.send(event); }
                    // From a newer or older version: skip it (latency, not data).
                    Err(_) => tracing::warn!("ignored an event this version cannot read"),
                }
            }
            _ = ping.tick() => {
                let pong = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return false;
                }
            }
            moved = moves.changed() => return moved.is_ok(),
        }
    }
}

/// Keep this node's liveness key alive. A node whose key expired was taken
/// for dead by the others, who took its sockets off the shared presence
/// counts; when it notices (its key was gone when it renewed it), it sends
/// itself [`Event::Reconnect`] so every socket reconnects and is counted
/// again.
pub async fn heartbeat(
    primary: Arc<Primary>,
    keys: Keys,
    node: String,
    ttl: Duration,
    tx: broadcast::Sender<Event>,
) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let mut conn = primary.links().lanes[0].clone();
        match renew(&mut conn, &keys, &node, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(
                    node = %node,
                    "this node was taken for dead (liveness key expired); reconnecting every socket"
                );
                let _ = tx.send(Event::Reconnect);
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew node liveness"),
        }
    }
}

/// Set the liveness key and register the node. Returns whether the key was
/// still there.
pub async fn renew(
    conn: &mut ConnectionManager,
    keys: &Keys,
    node: &str,
    ttl: Duration,
) -> redis::RedisResult<bool> {
    let (previous, _): (Option<String>, i64) = redis::pipe()
        .cmd("SET")
        .arg(keys.node_alive(node))
        .arg("1")
        .arg("PX")
        .arg(ttl.as_millis() as u64)
        .arg("GET")
        .cmd("SADD")
        .arg(keys.nodes())
        .arg(node)
        .query_async(conn)
        .await?;
    Ok(previous.is_some())
}
