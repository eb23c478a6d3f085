//! WebSocket edges. Each socket is one task running [`run`]: a `select!`
//! over the client's frames, the hub's outbox, the socket's store writes in
//! flight, a heartbeat tick and a kill switch. The loop owns the limits
//! every socket shares (frame size, frame rate, heartbeats, slow-client
//! drop); the role handlers (`visitor`, `counsellor`) only translate
//! between the wire and service calls.
//!
//! **Pipelining.** A message, an ack or a typing signal is a store write
//! that may take milliseconds (an fsync, a Redis round trip). The loop does
//! not wait for it: it keeps delivering the outbox and reading other
//! frames, so a counsellor socket with eight busy conversations never
//! backs up while its own writes commit. Order is kept where it matters:
//! one write in flight per conversation (the next frame for that
//! conversation waits, and reading stops until it can start, which is the
//! back-pressure a fast client feels), at most [`MAX_IN_FLIGHT`] per
//! socket, and every other command (`end`, `pick`, `offer_handoff`, …)
//! waits until the socket's writes are done, so it sees them.

pub mod broadcast;
pub mod counsellor;
pub mod visitor;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{
    AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError, Session,
};
use bytestring::ByteString;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use governor::DefaultDirectRateLimiter;
use serde::Serialize;
use tokio::sync::Notify;

use crate::app::AppState;
use crate::core::ids::{AccountId, ConversationId, Party};
use crate::hub::{ConnId, Outbound};
use crate::limits::check_direct;
use crate::model::StoredMessage;
use crate::protocol::{encode, ErrorBody, ErrorCode};
use crate::service::Service;

/// The writing half of a socket, with a send time-out: a client that stops
/// reading cannot stall its task forever.
pub struct Io {
    session: Session,
    send_timeout: Duration,
    /// For counting refusals.
    app: Arc<AppState>,
    pub open: bool,
}

impl Io {
    pub async fn send<T: Serialize>(&mut self, msg: &T) {
        self.send_text(encode(msg)).await
    }

    pub async fn send_text(&mut self, text: impl Into<ByteString>) {
        if !self.open {
            return;
        }
        // Boxed, as every large future a socket's task awaits: the task's
        // own state is sized by its largest await, and it lives as long
        // as the socket, idle or not (docs/BENCHMARKS.md, memory).
        let sending = Box::pin(tokio::time::timeout(
            self.send_timeout,
            self.session.text(text),
        ));
        match sending.await {
            Ok(Ok(())) => {}
            _ => self.open = false,
        }
    }

    /// Boxed: refusals are rare, and the socket's task would otherwise
    /// be sized for this future at every place it is awaited.
    pub fn error(&mut self, e: &ErrorBody) -> LocalBoxFuture<'_, ()> {
        self.app.service.metrics.refused(e.code);
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Frame<'a> {
            Error(&'a ErrorBody),
        }
        Box::pin(self.send_text(encode(&Frame::Error(e))))
    }
}

/// How many store writes one socket may have in flight.
pub const MAX_IN_FLIGHT: usize = 16;

/// When a parsed frame may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// A write about this conversation: after the socket's previous write
    /// about it has finished, alongside writes about others.
    Conversation(ConversationId),
    /// Anything else: after every write of this socket has finished.
    Barrier,
}

/// A store write started by [`Handler::on_frame`], finished by the loop
/// while it goes on; its result comes back to [`Handler::on_done`].
pub struct Pending<D> {
    pub conversation: ConversationId,
    pub work: LocalBoxFuture<'static, D>,
}

/// What a role handler does with the socket's traffic. Socket tasks run on
/// the worker's local executor (the WebSocket stream is not `Send`), so no
/// `Send` bound is wanted on these futures.
#[allow(async_fn_in_trait)]
pub trait Handler {
    /// A parsed client frame.
    type In;
    /// The result of a [`Pending`] write.
    type Done: 'static;
    /// Parse one text frame (already size- and rate-checked).
    fn parse(&self, text: &str) -> Result<Self::In, ErrorBody>;
    /// When the frame may run.
    fn order(&self, msg: &Self::In) -> Order;
    /// Run one frame. A write that may take a while is returned as a
    /// [`Pending`] (its conversation is the one [`Handler::order`] named)
    /// instead of being awaited here.
    async fn on_frame(&mut self, io: &mut Io, msg: Self::In) -> Option<Pending<Self::Done>>;
    /// A [`Pending`] write has finished.
    async fn on_done(&mut self, io: &mut Io, done: Self::Done);
    /// One item from the hub.
    async fn on_outbound(&mut self, io: &mut Io, msg: Outbound);
    /// Whether the socket has said who it is (a visitor's `start` or
    /// `resume`); one that has not within `timing.start_timeout_ms` is
    /// closed (1008 `start_timeout`). Staff sockets are known at upgrade.
    fn bound(&self) -> bool {
        true
    }
    /// Checked on every heartbeat: may this socket stay open?
    async fn still_allowed(&mut self) -> bool {
        true
    }
    /// The socket has closed (for presence).
    async fn on_close(&mut self);
}

/// The socket's writes in flight and the one frame waiting for its turn.
struct Pipeline<H: Handler> {
    in_flight: FuturesUnordered<LocalBoxFuture<'static, (ConversationId, H::Done)>>,
    /// The conversations of `in_flight` (at most [`MAX_IN_FLIGHT`]).
    busy: Vec<ConversationId>,
    /// A frame that may not run yet; while there is one, nothing more is
    /// read from the client.
    parked: Option<(Order, H::In)>,
}

impl<H: Handler> Pipeline<H> {
    fn new() -> Self {
        Self {
            in_flight: FuturesUnordered::new(),
            busy: Vec::new(),
            parked: None,
        }
    }

    fn may_run(&self, order: Order) -> bool {
        match order {
            Order::Barrier => self.in_flight.is_empty(),
            Order::Conversation(c) => self.busy.len() < MAX_IN_FLIGHT && !self.busy.contains(&c),
        }
    }

    /// Run `msg` now if its turn has come, else keep it for later.
    async fn offer(&mut self, handler: &mut H, io: &mut Io, order: Order, msg: H::In) {
        if !self.may_run(order) {
            self.parked = Some((order, msg));
            return;
        }
        if let Some(p) = handler.on_frame(io, msg).await {
            let Pending { conversation, work } = p;
            self.busy.push(conversation);
            self.in_flight
                .push(Box::pin(async move { (conversation, work.await) }));
        }
    }

    /// `conversation` has no write in flight any more.
    fn release(&mut self, conversation: ConversationId) {
        if let Some(i) = self.busy.iter().position(|c| *c == conversation) {
            self.busy.swap_remove(i);
        }
    }

    /// A write finished: hand its result over, then run the parked frame
    /// if that has become possible.
    async fn finished(
        &mut self,
        handler: &mut H,
        io: &mut Io,
        conversation: ConversationId,
        done: H::Done,
    ) {
        self.release(conversation);
        handler.on_done(io, done).await;
        if let Some((order, _)) = &self.parked {
            if self.may_run(*order) {
                let (order, msg) = self.parked.take().expect("checked");
                self.offer(handler, io, order, msg).await;
            }
        }
    }
}

/// Everything [`run`] needs besides the handler.
pub struct Socket {
    pub session: Session,
    pub stream: AggregatedMessageStream,
    pub conn: ConnId,
    pub outbox: crate::hub::Outbox,
    pub kill: Arc<Notify>,
    pub frames: DefaultDirectRateLimiter,
}

/// Drive one socket until it closes.
///
/// Not an `async fn`, and nothing is moved out of its arguments up
/// front: this future lives as long as the socket, and an `async fn`
/// keeps its arguments twice (as captures and as locals), as does a
/// destructured argument (whole and in parts). The block below uses the
/// captures in place, so each is held once (docs/BENCHMARKS.md, the idle
/// socket).
#[allow(clippy::manual_async_fn)] // deliberately not `async fn`: see above
pub fn run<H: Handler>(
    mut handler: H,
    mut socket: Socket,
    app: Arc<AppState>,
) -> impl std::future::Future<Output = ()> {
    async move {
        let settings = app.settings.clone();
        let t = &settings.timing;
        let mut io = Io {
            session: socket.session.clone(),
            send_timeout: Duration::from_millis(t.send_timeout_ms),
            app: app.clone(),
            open: true,
        };
        let client_timeout = Duration::from_millis(t.client_timeout_ms);
        let mut heartbeat = tokio::time::interval(Duration::from_millis(t.heartbeat_interval_ms));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_seen = Instant::now();
        let mut refused_in_row = 0u32;
        let mut close: Option<CloseReason> = None;
        // The client closed first (its close frame, or the stream ended): no
        // close of its own to wait for.
        let mut client_closed = false;
        let mut pipeline = Pipeline::<H>::new();
        // Only until the socket is bound (a visitor's `start`): then dropped,
        // so an idle socket does not carry its timer.
        let mut start_deadline = Some(Box::pin(tokio::time::sleep(Duration::from_millis(
            t.start_timeout_ms,
        ))));

        while io.open {
            let unbound = !handler.bound();
            if !unbound {
                start_deadline = None;
            }
            tokio::select! {
                _ = until(&mut start_deadline), if unbound => {
                    close = Some(reason(CloseCode::Policy, "start_timeout"));
                    break;
                }
                Some((conversation, done)) = pipeline.in_flight.next(), if !pipeline.in_flight.is_empty() => {
                    Box::pin(pipeline.finished(&mut handler, &mut io, conversation, done)).await;
                }
                frame = socket.stream.recv(), if pipeline.parked.is_none() => {
                    let Some(frame) = frame else {
                        client_closed = true;
                        break;
                    };
                    last_seen = Instant::now();
                    match frame {
                        Ok(data @ (AggregatedMessage::Text(_) | AggregatedMessage::Binary(_))) => {
                            if let Err(wait) = check_direct(&socket.frames) {
                                // Throttled: the frame is dropped unread and changes nothing.
                                refused_in_row += 1;
                                if refused_in_row > settings.limits.flood_close_after {
                                    close = Some(reason(CloseCode::Policy, "flood"));
                                    break;
                                }
                                let mut e = ErrorBody::new(ErrorCode::RateLimited, "too many messages; slow down");
                                e.retry_after_ms = Some(wait.as_millis() as u64 + 1);
                                if let AggregatedMessage::Text(text) = &data {
                                    // Say which `send` was refused, so the client
                                    // resends that one; nothing else is read.
                                    let (client_id, conversation_id) = refused_send(text);
                                    e.client_id = client_id;
                                    e.conversation_id = conversation_id;
                                }
                                io.error(&e).await;
                            } else {
                                refused_in_row = 0;
                                match data {
                                    AggregatedMessage::Text(text) => match handler.parse(&text) {
                                        Ok(msg) => {
                                            let order = handler.order(&msg);
                                            Box::pin(pipeline.offer(&mut handler, &mut io, order, msg)).await;
                                        }
                                        Err(e) => io.error(&e).await,
                                    },
                                    _ => io.error(&ErrorBody::new(ErrorCode::BinaryNotSupported, "binary frames are not part of the protocol; send JSON text")).await,
                                }
                            }
                        }
                        Ok(AggregatedMessage::Ping(p)) => {
                            let mut s = socket.session.clone();
                            if Box::pin(s.pong(&p)).await.is_err() { break }
                        }
                        Ok(AggregatedMessage::Pong(_)) => {}
                        Ok(AggregatedMessage::Close(c)) => {
                            // Answer the client's close with its code (RFC 6455
                            // 5.5.1), not an empty close (seen as 1005).
                            client_closed = true;
                            close = Some(c.unwrap_or_else(|| reason(CloseCode::Normal, "closed")));
                            break;
                        }
                        // One frame over the limit, or a message split into
                        // continuation frames that adds up to more (actix-ws
                        // reports that as an I/O error with this text).
                        Err(ProtocolError::Overflow) => {
                            io.error(&ErrorBody::new(ErrorCode::FrameTooLarge, format!("frames are limited to {} bytes", settings.limits.max_frame_bytes))).await;
                            close = Some(reason(CloseCode::Size, "frame too large"));
                            break;
                        }
                        Err(ProtocolError::Io(e)) if e.to_string() == CONTINUATION_OVERFLOW => {
                            io.error(&ErrorBody::new(ErrorCode::FrameTooLarge, format!("frames are limited to {} bytes", settings.limits.max_frame_bytes))).await;
                            close = Some(reason(CloseCode::Size, "frame too large"));
                            break;
                        }
                        Err(_) => {
                            close = Some(reason(CloseCode::Protocol, "protocol error"));
                            break;
                        }
                    }
                }
                msg = socket.outbox.recv() => {
                    match msg.map(|m| *m) {
                        None => break,
                        Some(Outbound::Drain) => {
                            close = Some(reason(CloseCode::Restart, "server restarting; reconnect and resume"));
                            break;
                        }
                        Some(Outbound::SessionEnded) => {
                            close = Some(reason(CloseCode::Policy, "session ended; log in again"));
                            break;
                        }
                        Some(Outbound::AccountChanged(change)) => {
                            close = Some(reason(CloseCode::Policy, change.as_str()));
                            break;
                        }
                        Some(msg) => Box::pin(handler.on_outbound(&mut io, msg)).await,
                    }
                }
                _ = heartbeat.tick() => {
                    if last_seen.elapsed() > client_timeout {
                        close = Some(reason(CloseCode::Away, "heartbeat timeout"));
                        break;
                    }
                    if !Box::pin(handler.still_allowed()).await {
                        close = Some(reason(CloseCode::Policy, "session ended; log in again"));
                        break;
                    }
                    let mut s = socket.session.clone();
                    if Box::pin(s.ping(b"")).await.is_err() { break }
                }
                _ = socket.kill.notified() => {
                    // Reconnecting resumes from the log: nothing is lost.
                    close = Some(reason(CloseCode::Again, "too slow; reconnect and resume"));
                    break;
                }
            }
        }
        // Writes already started finish (a client told `sent` need not resend);
        // a write cut off here is safe too: the resend is de-duplicated.
        let finish = async {
            while let Some((conversation, done)) = pipeline.in_flight.next().await {
                pipeline.release(conversation);
                handler.on_done(&mut io, done).await;
            }
        };
        let _ = Box::pin(tokio::time::timeout(
            Duration::from_millis(t.send_timeout_ms),
            finish,
        ))
        .await;
        app.hub.disconnect(socket.conn);
        Box::pin(handler.on_close()).await;
        // Every close frame the server sends carries a code: 1000 when no
        // other applies (the stream ended, a write failed, the hub dropped
        // the socket: usually nobody reads it then; an empty close would read
        // as 1005).
        let close = close.unwrap_or_else(|| reason(CloseCode::Normal, "closed"));
        let _ = Box::pin(socket.session.close(Some(close))).await;
        if !client_closed && io.open {
            // The closing handshake (RFC 6455 7.1.1): the server closed, so
            // read until the client's close comes back (bounded). Returning at
            // once would close the TCP connection with the client's last
            // frames (pongs, its close) unread: the kernel then resets the
            // connection, and a reset can destroy our close frame before the
            // client reads it, which it reports as no code at all (the
            // flakiness once seen in auth::logging_out_closes_the_open_console_socket).
            // `io` still holds a sender, so the response stays open meanwhile.
            let wait = Duration::from_millis(t.send_timeout_ms.min(CLOSE_WAIT_MAX_MS));
            let _ = Box::pin(tokio::time::timeout(wait, async {
                while let Some(Ok(m)) = socket.stream.recv().await {
                    if matches!(m, AggregatedMessage::Close(_)) {
                        break;
                    }
                }
            }))
            .await;
        }
        drop(io);
    }
}

/// Wait for the start deadline, if there still is one.
async fn until(deadline: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>) {
    match deadline {
        Some(d) => d.await,
        None => std::future::pending().await,
    }
}

/// The longest the server waits for the client's close after its own.
const CLOSE_WAIT_MAX_MS: u64 = 2_000;

/// What actix-ws says when continuation frames add up to more than
/// `max_continuation_size` (it has no error variant of its own).
const CONTINUATION_OVERFLOW: &str = "Exceeded maximum continuation size";

/// The `client_id` (and `conversation_id`) of a refused frame if it is a
/// `send`, so the `rate_limited` answer says which message to resend.
/// Only well-formed ids are echoed.
fn refused_send(text: &str) -> (Option<String>, Option<crate::core::ids::ConversationId>) {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(rename = "type")]
        kind: Option<String>,
        client_id: Option<String>,
        conversation_id: Option<crate::core::ids::ConversationId>,
    }
    match serde_json::from_str::<Peek>(text) {
        Ok(p) if p.kind.as_deref() == Some("send") => (
            p.client_id
                .filter(|c| crate::core::ids::ClientMsgId::parse(c).is_ok()),
            p.conversation_id,
        ),
        _ => (None, None),
    }
}

/// The frame limits `welcome` announces: the ones this socket enforces.
pub(crate) fn frame_limits(l: &crate::config::Limits) -> crate::protocol::FrameLimits {
    crate::protocol::FrameLimits {
        max_frame_bytes: l.max_frame_bytes,
        frames_per_sec: l.frames_per_sec,
        frames_burst: l.frames_burst,
    }
}

fn reason(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}

/// Per-conversation delivery position of one socket: everything up to
/// `cursor` has been sent to it. Messages this socket wrote itself were
/// confirmed with `sent` and are not echoed back live.
#[derive(Debug, Default)]
pub struct Cursor {
    pub seq: u64,
    own: HashSet<u64>,
    /// The message this socket is storing right now (one at a time per
    /// conversation): its live event may arrive before the store's answer,
    /// and is not echoed either.
    writing: Option<OwnWrite>,
}

/// Who wrote a message, and with which client id.
#[derive(Debug)]
pub struct OwnWrite {
    pub from: Party,
    pub author: Option<AccountId>,
    pub client_id: String,
}

/// How many messages one catch-up read fetches.
const CATCH_UP_BATCH: usize = 256;

impl Cursor {
    pub fn at(seq: u64) -> Self {
        Self {
            seq,
            own: HashSet::new(),
            writing: None,
        }
    }

    /// This socket is storing a message (until [`Cursor::own`]).
    pub fn writing(&mut self, w: OwnWrite) {
        self.writing = Some(w);
    }

    /// The write has finished: remember the message it stored, if any.
    pub fn own(&mut self, seq: Option<u64>) {
        self.writing = None;
        if let Some(seq) = seq.filter(|s| *s > self.seq) {
            self.own.insert(seq);
        }
    }

    fn is_own(&mut self, msg: &StoredMessage) -> bool {
        if self.own.remove(&msg.seq) {
            return true;
        }
        matches!(&self.writing, Some(w) if w.from == msg.from && w.author == msg.author && w.client_id == msg.client_id.as_str())
    }

    /// Deliver `msg` (from a live event) in order: send it if it is the
    /// next one, skip it if already sent, read the gap from the store if
    /// events were missed.
    pub async fn deliver(
        &mut self,
        io: &mut Io,
        service: &Service,
        conversation: ConversationId,
        msg: &StoredMessage,
        encode: &impl Fn(&StoredMessage) -> String,
    ) {
        if msg.seq <= self.seq {
            return;
        }
        if msg.seq == self.seq + 1 {
            self.emit(io, msg, encode).await;
        } else {
            self.catch_up(io, service, conversation, encode).await;
        }
    }

    /// Send everything after the cursor, read from the log through the
    /// service.
    pub async fn catch_up(
        &mut self,
        io: &mut Io,
        service: &Service,
        conversation: ConversationId,
        encode: &impl Fn(&StoredMessage) -> String,
    ) {
        loop {
            let batch = match service
                .messages_after(conversation, self.seq, CATCH_UP_BATCH)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(code = e.code.as_str(), error = %e.message, "catch-up read failed");
                    return;
                }
            };
            let n = batch.len();
            for m in batch {
                self.emit(io, &m, encode).await;
            }
            if n < CATCH_UP_BATCH || !io.open {
                return;
            }
        }
    }

    async fn emit(
        &mut self,
        io: &mut Io,
        msg: &StoredMessage,
        encode: &impl Fn(&StoredMessage) -> String,
    ) {
        if !self.is_own(msg) {
            io.send_text(encode(msg)).await;
        }
        self.seq = msg.seq;
    }
}
