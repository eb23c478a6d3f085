//! The actix-ws floor: the cheapest relay that can be written on the stack
//! Tsunagu runs on (actix-web + actix-ws, default settings except the frame
//! limit), so that the benchmarks measure the stack's own cost per socket
//! and per frame in the same run as the server, instead of quoting it.
//!
//! Two sockets that connect to `/relay?pair=N` with the same N are joined,
//! and every text frame one sends is forwarded to the other unchanged (no
//! parsing, no sequence numbers, no store): the same contract as
//! `bare-relay`, on actix instead of tokio-tungstenite. A socket without a
//! pair is just held.
//!
//! `actix-floor [ADDR]` (default 127.0.0.1:9103; loopback only).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_ws::Message;
use bytestring::ByteString;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

type Tx = mpsc::Sender<ByteString>;

/// The first socket of a pair waits here for its peer's sender.
type Waiting = Arc<Mutex<HashMap<String, (Tx, oneshot::Sender<Tx>)>>>;

/// The server's own limit (`limits.max_frame_bytes`' default is below it).
const MAX_FRAME: usize = 16 * 1024;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9103".into())
        .parse()
        .expect("an address like 127.0.0.1:9103");
    assert!(addr.ip().is_loopback(), "loopback addresses only");
    let waiting: Waiting = Arc::default();
    eprintln!("actix-floor listening on {addr}");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(waiting.clone()))
            .route("/relay", web::get().to(relay))
    })
    .bind(addr)?
    .run()
    .await
}

async fn relay(
    req: HttpRequest,
    body: web::Payload,
    waiting: web::Data<Waiting>,
) -> actix_web::Result<HttpResponse> {
    let (response, mut session, stream) = actix_ws::handle(&req, body)?;
    let pair = req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("pair="))
        .map(str::to_owned);
    let waiting = waiting.get_ref().clone();
    actix_web::rt::spawn(async move {
        let mut stream = stream.max_frame_size(MAX_FRAME);
        let (tx, mut rx) = mpsc::channel::<ByteString>(256);
        // Find the peer: the first of a pair waits for the second's sender.
        let mut peer: Option<Tx> = None;
        let mut peer_later: Option<oneshot::Receiver<Tx>> = None;
        if let Some(id) = pair {
            let found = waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            match found {
                Some((first, reply)) => {
                    let _ = reply.send(tx.clone());
                    peer = Some(first);
                }
                None => {
                    let (reply, later) = oneshot::channel();
                    waiting
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id, (tx.clone(), reply));
                    peer_later = Some(later);
                }
            }
        }
        loop {
            tokio::select! {
                found = async { peer_later.as_mut().expect("guarded").await }, if peer_later.is_some() => {
                    peer_later = None;
                    peer = found.ok();
                }
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(p) = &peer {
                            let _ = p.send(text).await;
                        }
                    }
                    Some(Ok(Message::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                out = rx.recv() => match out {
                    Some(text) => {
                        if session.text(text).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}
