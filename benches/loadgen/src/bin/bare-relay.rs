//! The bare Rust baseline: a tokio-tungstenite relay with no queue, no
//! store and no checks. Two sockets that connect to `/relay?pair=N` with
//! the same N are joined, and every text frame one sends is forwarded to
//! the other unchanged. A socket without a pair is just held. It is the
//! practical limit of one relay hop on this machine.
//!
//! `bare-relay [ADDR]` (default 127.0.0.1:9102; loopback only).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type Tx = mpsc::Sender<Message>;

/// The first socket of a pair waits here for its peer's sender.
type Waiting = Arc<Mutex<HashMap<String, (Tx, oneshot::Sender<Tx>)>>>;

fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9102".into())
        .parse()
        .expect("an address like 127.0.0.1:9102");
    assert!(addr.ip().is_loopback(), "loopback addresses only");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await.expect("bind");
        eprintln!("bare-relay listening on {addr}");
        let waiting: Waiting = Arc::default();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(serve(stream, waiting.clone()));
        }
    });
}

// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, waiting: Waiting) {
    stream.set_nodelay(true).ok();
    let mut pair = None;
    let callback = |req: &Request, resp: Response| {
        pair = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("pair=")))
            .map(str::to_owned);
        Ok(resp)
    };
    // tungstenite reads through a 128 KiB buffer by default; 4 KiB is
    // plenty for chat frames and keeps an idle socket cheap.
    let config = WebSocketConfig::default()
        .max_frame_size(Some(16 * 1024))
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let Ok(ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(256);
    // Find the peer: the first of a pair waits for the second's sender.
    let peer: Option<Tx> = match pair {
        None => None,
        Some(id) => {
            let found = waiting.lock().unwrap().remove(&id);
            match found {
                Some((their_tx, give_them_ours)) => {
                    let _ = give_them_ours.send(tx.clone());
                    Some(their_tx)
                }
                None => {
                    let (give, get) = oneshot::channel();
                    waiting.lock().unwrap().insert(id, (tx.clone(), give));
                    // Frames that arrive before the peer are dropped.
                    tokio::select! {
                        peer = get => peer.ok(),
                        _ = drain_until_closed(&mut source) => return,
                    }
                }
            }
        }
    };
    drop(tx);
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(m)) = source.next().await {
        if let (Message::Text(_), Some(p)) = (&m, &peer) {
            // Bounded: a slow peer slows its sender (back-pressure).
            if p.send(m).await.is_err() {
                break;
            }
        } else if m.is_close() {
            break;
        }
    }
    drop(peer);
    writer.abort();
}

async fn drain_until_closed<S>(source: &mut S)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(m)) = source.next().await {
        if m.is_close() {
            break;
        }
    }
}
