//! One worker process: its share of the sockets, driven by the
//! coordinator's commands on standard input.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::report::{hist_to_vec, WorkerReport};
use crate::{Args, Target};

type Ws = WebSocketStream<TcpStream>;

/// Unix time in nanoseconds: one clock for every process on the machine,
/// so a message sent by one worker can be timed by another.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The measurement window, set by `go`.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    /// Traffic may flow (warm-up and measurement).
    running: bool,
    start: u64,
    end: u64,
}

impl Window {
    fn counts(&self, t: u64) -> bool {
        self.running && t >= self.start && t < self.end
    }
    fn sending(&self, t: u64) -> bool {
        self.running && t < self.end
    }
}

const SHARDS: usize = 16;

fn new_hist() -> Histogram<u64> {
    // 1 us .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// What this worker counted.
struct Stats {
    latency: Vec<Mutex<Histogram<u64>>>,
    burst: Mutex<Histogram<u64>>,
    sent: AtomicU64,
    delivered: AtomicU64,
    confirmed: AtomicU64,
    /// Text frames received and sent in the measurement window, all kinds:
    /// what the server handled, for its CPU time per frame.
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    skipped: AtomicU64,
    open: AtomicU64,
    idle_told: AtomicU64,
    idle_failed: AtomicU64,
    pairs_matched: AtomicU64,
    counsellors_ready: AtomicU64,
    burst_told: AtomicU64,
    /// Visitor sends refused because the counsellor had just ended (churn).
    late_sends: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Conversation -> when its counsellor's place was freed (churn).
    frees: Mutex<Vec<(String, u64)>>,
    /// Conversation -> when its visitor was told `matched`.
    matches: Mutex<Vec<(String, u64)>>,
}

impl Stats {
    fn new() -> Self {
        Self {
            latency: (0..SHARDS).map(|_| Mutex::new(new_hist())).collect(),
            burst: Mutex::new(new_hist()),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            open: AtomicU64::new(0),
            idle_told: AtomicU64::new(0),
            idle_failed: AtomicU64::new(0),
            pairs_matched: AtomicU64::new(0),
            counsellors_ready: AtomicU64::new(0),
            burst_told: AtomicU64::new(0),
            late_sends: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            frees: Mutex::new(Vec::new()),
            matches: Mutex::new(Vec::new()),
        }
    }

    fn error(&self, what: impl Into<String>) {
        *self
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(what.into())
            .or_default() += 1;
    }
}

/// Shared by every task of this worker.
struct Ctx {
    args: Args,
    index: usize,
    stats: Stats,
    window: watch::Receiver<Window>,
    pad: String,
    flows: Mutex<HashMap<String, Arc<Flow>>>,
}

/// A socket counted in `open` while it lives.
struct OpenGuard<'a>(&'a Stats);
impl<'a> OpenGuard<'a> {
    fn new(s: &'a Stats) -> Self {
        s.open.fetch_add(1, Relaxed);
        Self(s)
    }
}
impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

pub fn main(args: Args) {
    let threads = args.threads.max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(run(args));
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn run(args: Args) {
    let index = args.worker_index.unwrap_or(0);
    let (window_tx, window) = watch::channel(Window::default());
    let pad: String = "お話を聞かせてください。ゆっくりで大丈夫です。"
        .chars()
        .cycle()
        .take(args.text_chars.saturating_sub(22).max(1))
        .collect();
    let ctx = Arc::new(Ctx {
        args,
        index,
        stats: Stats::new(),
        window,
        pad,
        flows: Mutex::new(HashMap::new()),
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("pairs") => match setup_pairs(&ctx).await {
                Ok(()) => say("ok pairs"),
                Err(e) => say(&format!("fail {e}")),
            },
            Some("idle") => match setup_idle(&ctx).await {
                Ok(()) => say(&format!("ok idle {}", ctx.stats.open.load(Relaxed))),
                Err(e) => say(&format!("fail {e}")),
            },
            Some("go") => {
                let start = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let end = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let _ = window_tx.send(Window {
                    running: true,
                    start,
                    end,
                });
                if ctx.index == 0 && ctx.args.burst > 0 {
                    tokio::spawn(burst(ctx.clone()));
                }
                let wait = end.saturating_sub(now_ns());
                tokio::time::sleep(Duration::from_nanos(wait) + Duration::from_millis(500)).await;
                say(&format!(
                    "report {}",
                    serde_json::to_string(&worker_report(&ctx)).unwrap_or_default()
                ));
            }
            Some("exit") | None => break,
            Some(other) => say(&format!("fail unknown command {other}")),
        }
    }
    // Dropping the runtime closes every socket.
    std::process::exit(0);
}

fn worker_report(ctx: &Ctx) -> WorkerReport {
    let s = &ctx.stats;
    let mut latency = new_hist();
    for h in &s.latency {
        latency
            .add(&*h.lock().unwrap_or_else(|p| p.into_inner()))
            .ok();
    }
    WorkerReport {
        index: ctx.index,
        open: s.open.load(Relaxed),
        idle_told: s.idle_told.load(Relaxed),
        idle_failed: s.idle_failed.load(Relaxed),
        pairs_matched: s.pairs_matched.load(Relaxed),
        sent: s.sent.load(Relaxed),
        delivered: s.delivered.load(Relaxed),
        confirmed: s.confirmed.load(Relaxed),
        frames_in: s.frames_in.load(Relaxed),
        frames_out: s.frames_out.load(Relaxed),
        skipped: s.skipped.load(Relaxed),
        burst_told: s.burst_told.load(Relaxed),
        late_sends: s.late_sends.load(Relaxed),
        errors: s.errors.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        latency_us: hist_to_vec(&latency),
        burst_us: hist_to_vec(&s.burst.lock().unwrap_or_else(|p| p.into_inner())),
        frees: std::mem::take(&mut *s.frees.lock().unwrap_or_else(|p| p.into_inner())),
        matches: std::mem::take(&mut *s.matches.lock().unwrap_or_else(|p| p.into_inner())),
    }
}

// ------------------------------------------------------------ connecting

fn source(ctx: &Ctx, n: usize) -> IpAddr {
    let k = (n % ctx.args.sources as usize) as u8;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + k))
}

async fn tcp(ctx: &Ctx, n: usize) -> Result<TcpStream, String> {
    let addr = ctx.args.addr;
    let sock = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    if addr.is_ipv4() {
        sock.bind(SocketAddr::new(source(ctx, n), 0))
            .map_err(|e| format!("bind: {e}"))?;
    }
    let stream = sock
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    stream.set_nodelay(true).ok();
    Ok(stream)
}

async fn connect(ctx: &Ctx, n: usize, path: &str, cookie: Option<&str>) -> Result<Ws, String> {
    let stream = tcp(ctx, n).await?;
    let mut req = format!("ws://{}{}", ctx.args.addr, path)
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(c) = cookie {
        req.headers_mut().insert(
            "cookie",
            HeaderValue::from_str(c).map_err(|e| e.to_string())?,
        );
    }
    // tungstenite's default 128 KiB read buffer per socket would cost the
    // generator gigabytes at tens of thousands of sockets.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    match tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            Err(format!("upgrade refused {}", resp.status().as_u16()))
        }
        Err(e) => Err(format!("handshake: {e}")),
    }
}

/// `POST /api/login`, tried again after `retry_after_ms` while the server
/// answers 503 `busy` (every password check it allows at once is running:
/// hundreds of counsellors logging in together meet it, as a real client
/// would), for up to two minutes; returns the `Cookie` value.
async fn login(ctx: &Ctx, n: usize, username: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match login_once(ctx, n, username).await? {
            Ok(cookie) => return Ok(cookie),
            Err(wait) if Instant::now() + wait < deadline => tokio::time::sleep(wait).await,
            Err(_) => return Err(format!("login of {username} still busy after 120 s")),
        }
    }
}

/// One login over a plain socket: the cookie, or how long to wait when the
/// server is busy.
async fn login_once(
    ctx: &Ctx,
    n: usize,
    username: &str,
) -> Result<Result<String, Duration>, String> {
    let mut stream = tcp(ctx, n).await?;
    let body = json!({"username": username, "password": ctx.args.password}).to_string();
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        ctx.args.addr,
        body.len(),
        body
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut resp))
        .await
        .map_err(|_| "login timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status == "503" {
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        let ms = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["retry_after_ms"].as_u64())
            .unwrap_or(500);
        return Ok(Err(Duration::from_millis(ms)));
    }
    if status != "200" {
        return Err(format!("login of {username} answered {status}"));
    }
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie")
                .then(|| v.trim().split(';').next().unwrap_or("").to_owned())
        })
        .map(Ok)
        .ok_or_else(|| "no session cookie".to_string())
}

// ------------------------------------------------------------ frames

/// The send time carried in a message's text (`T` + 20 digits).
fn stamp(frame: &str) -> Option<u64> {
    let i = frame.find("\"text\":\"T")? + 9;
    frame.get(i..i + 20)?.parse().ok()
}

fn record_receipt(ctx: &Ctx, shard: usize, frame: &str) {
    let Some(sent) = stamp(frame) else { return };
    let now = now_ns();
    if !ctx.window.borrow().counts(now) {
        return;
    }
    ctx.stats.delivered.fetch_add(1, Relaxed);
    let us = (now.saturating_sub(sent) / 1000).max(1);
    ctx.stats.latency[shard % SHARDS]
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .saturating_record(us);
}

/// A text frame received from the server, counted in the window.
fn frame_in(ctx: &Ctx) {
    if ctx.window.borrow().counts(now_ns()) {
        ctx.stats.frames_in.fetch_add(1, Relaxed);
    }
}

/// Sends a text frame, counted in the window when it went out.
async fn send_frame(ctx: &Ctx, ws: &mut Ws, frame: String) -> bool {
    let ok = ws.send(Message::text(frame)).await.is_ok();
    if ok && ctx.window.borrow().counts(now_ns()) {
        ctx.stats.frames_out.fetch_add(1, Relaxed);
    }
    ok
}

/// A `send` frame. Written directly: the pad, the digits and the ids
/// need no JSON escaping, and building a `serde_json::Value` per message
/// would cost the generator CPU the server then lacks.
fn text_frame(ctx: &Ctx, conversation: Option<&str>, n: u64) -> String {
    let t = now_ns();
    match conversation {
        Some(c) => format!(
            r#"{{"type":"send","conversation_id":"{c}","client_id":"c{n}","text":"T{t:020} {}"}}"#,
            ctx.pad
        ),
        None => format!(
            r#"{{"type":"send","client_id":"v{n}","text":"T{t:020} {}"}}"#,
            ctx.pad
        ),
    }
}

/// Messages of one pair in flight, per direction (0: visitor or first
/// socket to its peer, 1: back). A sender with `--window` messages not
/// yet received by its peer skips its tick: at saturation the offered
/// load adapts instead of piling up in the server's buffers.
#[derive(Default)]
struct Flow {
    sent: [AtomicU64; 2],
    received: [AtomicU64; 2],
    /// After a refusal with `retry_after_ms`, that direction sends nothing
    /// until then (ns, `now_ns`), as the web client does.
    resume_at: [AtomicU64; 2],
}

impl Flow {
    fn may_send(&self, ctx: &Ctx, dir: usize) -> bool {
        let w = ctx.args.window;
        let in_window =
            w == 0 || self.sent[dir].load(Relaxed) - self.received[dir].load(Relaxed) < w;
        in_window && now_ns() >= self.resume_at[dir].load(Relaxed)
    }

    /// A send in direction `dir` was refused (an error naming its
    /// `client_id`): it will never be received, so it leaves the window,
    /// and the direction waits the `retry_after_ms` the server asked for.
    /// The refused message itself is not resent (it is counted as an
    /// error); the offered rate resumes after the wait.
    fn refused(&self, dir: usize, frame: &str) {
        self.sent[dir].fetch_sub(1, Relaxed);
        if let Some(ms) = serde_json::from_str::<Value>(frame)
            .ok()
            .and_then(|v| v["retry_after_ms"].as_u64())
        {
            self.resume_at[dir].fetch_max(now_ns() + ms * 1_000_000, Relaxed);
        }
    }
}

/// Is this error frame the answer to one of our sends?
fn refuses_a_send(frame: &str) -> bool {
    frame.contains("\"client_id\":\"")
}

fn flow(ctx: &Ctx, key: &str) -> Arc<Flow> {
    ctx.flows
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key.to_owned())
        .or_default()
        .clone()
}

/// The conversation a counsellor-side frame is about.
fn conversation_of(frame: &str) -> Option<&str> {
    let i = frame.find("\"conversation_id\":\"")? + 19;
    frame.get(i..i + 36)
}

fn kind(frame: &str) -> &str {
    // Every server frame starts with its type: {"type":"...",
    frame
        .strip_prefix("{\"type\":\"")
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
}

fn error_code(frame: &str) -> String {
    serde_json::from_str::<Value>(frame)
        .ok()
        .and_then(|v| v["code"].as_str().map(|s| format!("error {s}")))
        .unwrap_or_else(|| "error ?".into())
}

/// Half the pair's rate: each side sends this many per second.
fn side_period(ctx: &Ctx) -> Duration {
    let per_side = (ctx.args.rate / 2.0).max(0.001);
    Duration::from_secs_f64(1.0 / per_side)
}

/// A sender's clock, started at its own phase within the period.
///
/// Every sender starts when `go` arrives; with the same phase they would
/// all fire in the same instant, once per period, and each message would
/// wait behind the whole burst (the first full run showed it: match and
/// relay latencies clustered under one 20 ms period). Spreading the phases
/// evenly (golden-ratio sequence over the sender's number) gives the
/// steady, uncorrelated traffic of people typing independently.
fn interval(ctx: &Ctx, n: usize) -> tokio::time::Interval {
    let period = side_period(ctx);
    let phase = (n as f64 * 0.618_033_988_749_895).fract();
    let start = tokio::time::Instant::now() + period.mul_f64(phase);
    let mut i = tokio::time::interval_at(start, period);
    // A sender that falls behind skips ticks (counted) instead of bursting.
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    i
}

// ------------------------------------------------------------ visitors

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// One side of a pair: waits to be matched, then chats.
    Pair,
    /// Waits in the queue; chats if matched (churn scenario).
    Idle,
    /// Joins during the measurement; times how fast it is told its place.
    Burst,
}

/// A Tsunagu visitor. Returns when its socket closes.
async fn visitor(ctx: Arc<Ctx>, n: usize, role: Role, ready: Option<OwnedSemaphorePermit>) {
    let mut role = role;
    let mut ready = ready;
    loop {
        let t0 = now_ns();
        let mut ws = match connect(&ctx, n, "/ws/visitor", None).await {
            Ok(ws) => ws,
            Err(e) => {
                ctx.stats.error(e);
                if role == Role::Idle {
                    ctx.stats.idle_failed.fetch_add(1, Relaxed);
                }
                drop(ready.take());
                return;
            }
        };
        let _open = OpenGuard::new(&ctx.stats);
        if ws.send(Message::text(r#"{"type":"start"}"#)).await.is_err() {
            ctx.stats.error("send start failed");
            return;
        }
        let rejoin = chat_as_visitor(&ctx, &mut ws, n, role, t0, &mut ready).await;
        if !rejoin {
            return;
        }
        // Churn: the chat ended; a new visitor joins at the back.
        role = Role::Idle;
    }
}

/// Returns true to join again with a new socket.
async fn chat_as_visitor(
    ctx: &Ctx,
    ws: &mut Ws,
    n: usize,
    role: Role,
    t0: u64,
    ready: &mut Option<OwnedSemaphorePermit>,
) -> bool {
    let mut conversation = String::new();
    let mut pair_flow: Option<Arc<Flow>> = None;
    let mut told = false;
    let mut active = false;
    let mut sent_n = 0u64;
    let mut tick = interval(ctx, n);
    let mut window = ctx.window.clone();
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => { frame_in(ctx); t }
                    Some(Ok(Message::Close(_))) | None => {
                        if !ctx.window.borrow().running || now_ns() < ctx.window.borrow().end {
                            ctx.stats.error("visitor closed by server");
                        }
                        return false;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => { ctx.stats.error(format!("visitor socket: {e}")); return false; }
                };
                match kind(&text) {
                    "message" => {
                        record_receipt(ctx, n, &text);
                        if let Some(f) = &pair_flow {
                            f.received[1].fetch_add(1, Relaxed);
                        }
                        if ctx.args.ack {
                            if let Some(seq) = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["seq"].as_u64()) {
                                send_frame(ctx, ws, format!(r#"{{"type":"ack","seq":{seq}}}"#)).await;
                            }
                        }
                    }
                    "sent" => { ctx.stats.confirmed.fetch_add(1, Relaxed); }
                    "welcome" => {
                        let v: Value = serde_json::from_str(&text).unwrap_or_default();
                        conversation = v["conversation_id"].as_str().unwrap_or("").to_owned();
                        pair_flow = Some(flow(ctx, &conversation));
                        if v["state"] == "active" {
                            active = true;
                            matched(ctx, role, &conversation);
                            drop(ready.take());
                        }
                    }
                    "queue" if !told => {
                        told = true;
                        match role {
                            Role::Idle => {
                                ctx.stats.idle_told.fetch_add(1, Relaxed);
                            }
                            Role::Burst => {
                                ctx.stats.burst_told.fetch_add(1, Relaxed);
                                let us = (now_ns().saturating_sub(t0) / 1000).max(1);
                                ctx.stats
                                    .burst
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .saturating_record(us);
                            }
                            Role::Pair => {}
                        }
                        drop(ready.take());
                    }
                    "matched" => {
                        active = true;
                        matched(ctx, role, &conversation);
                        drop(ready.take());
                    }
                    "ended" => {
                        active = false;
                        if ctx.args.rejoin && ctx.window.borrow().sending(now_ns()) {
                            return true;
                        }
                    }
                    "error" => {
                        let code = error_code(&text);
                        if ctx.args.churn_after > 0 && code == "error conversation_ended" {
                            // A send that crossed the counsellor's `end` on
                            // the wire: the protocol's answer, not a fault.
                            ctx.stats.late_sends.fetch_add(1, Relaxed);
                        } else {
                            ctx.stats.error(code);
                        }
                        if let Some(f) = pair_flow.as_ref().filter(|_| refuses_a_send(&text)) {
                            f.refused(0, &text);
                        }
                    }
                    _ => {}
                }
            }
            _ = tick.tick(), if active && window.borrow().sending(now_ns()) => {
                if let Some(f) = &pair_flow {
                    if !f.may_send(ctx, 0) {
                        ctx.stats.skipped.fetch_add(1, Relaxed);
                        continue;
                    }
                    f.sent[0].fetch_add(1, Relaxed);
                }
                sent_n += 1;
                let frame = text_frame(ctx, None, sent_n);
                if !send_frame(ctx, ws, frame).await {
                    ctx.stats.error("visitor send failed");
                    return false;
                }
                if ctx.window.borrow().counts(now_ns()) {
                    ctx.stats.sent.fetch_add(1, Relaxed);
                }
            }
            changed = window.changed() => {
                if changed.is_err() { return false; }
                // Start the sender's clock (at its own phase) when traffic begins.
                tick = interval(ctx, n);
            }
        }
    }
}

fn matched(ctx: &Ctx, role: Role, conversation: &str) {
    if role == Role::Pair {
        ctx.stats.pairs_matched.fetch_add(1, Relaxed);
    }
    if ctx.window.borrow().counts(now_ns()) {
        ctx.stats
            .matches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((conversation.to_owned(), now_ns()));
    }
}

// ------------------------------------------------------------ counsellors

async fn counsellor(ctx: Arc<Ctx>, k: usize) {
    if let Err(e) = counsellor_inner(&ctx, k).await {
        ctx.stats.error(e);
    }
}

async fn counsellor_inner(ctx: &Ctx, k: usize) -> Result<(), String> {
    let username = format!("{}{k}", ctx.args.counsellor_prefix);
    let cookie = login(ctx, k, &username).await?;
    let mut ws = connect(ctx, k, "/ws/counsellor", Some(&cookie)).await?;
    let _open = OpenGuard::new(&ctx.stats);
    let cap = ctx.args.capacity;
    for frame in [
        r#"{"type":"hello"}"#.to_string(),
        format!(r#"{{"type":"set_capacity","capacity":{cap}}}"#),
        r#"{"type":"set_status","status":"available"}"#.to_string(),
    ] {
        ws.send(Message::text(frame))
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut ready = false;
    // Conversation -> messages this counsellor sent in it.
    let mut convs: Vec<(String, u32, Arc<Flow>)> = Vec::new();
    // When each freed place was freed (oldest first).
    let mut freed: VecDeque<u64> = VecDeque::new();
    let mut sent_n = 0u64;
    let mut tick = interval(ctx, k);
    let mut window = ctx.window.clone();
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => { frame_in(ctx); t }
                    Some(Ok(Message::Close(_))) | None => return Err("counsellor closed by server".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(format!("counsellor socket: {e}")),
                };
                match kind(&text) {
                    "message" => {
                        record_receipt(ctx, k, &text);
                        if let Some(c) = conversation_of(&text) {
                            if let Some((_, _, f)) = convs.iter().find(|(id, _, _)| id == c) {
                                f.received[0].fetch_add(1, Relaxed);
                            }
                        }
                        if ctx.args.ack {
                            let v: Value = serde_json::from_str(&text).unwrap_or_default();
                            if let (Some(c), Some(seq)) = (v["conversation_id"].as_str(), v["seq"].as_u64()) {
                                send_frame(ctx, &mut ws, json!({"type":"ack","conversation_id":c,"seq":seq}).to_string()).await;
                            }
                        }
                    }
                    "sent" => { ctx.stats.confirmed.fetch_add(1, Relaxed); }
                    "status" if !ready && text.contains("\"available\"") => {
                        ready = true;
                        ctx.stats.counsellors_ready.fetch_add(1, Relaxed);
                    }
                    "assigned" => {
                        let v: Value = serde_json::from_str(&text).unwrap_or_default();
                        let c = v["conversation"]["conversation_id"].as_str().unwrap_or("").to_owned();
                        if let Some(t) = freed.pop_front() {
                            ctx.stats.frees.lock().unwrap_or_else(|p| p.into_inner()).push((c.clone(), t));
                        }
                        let f = flow(ctx, &c);
                        convs.push((c, 0, f));
                    }
                    "error" => {
                        ctx.stats.error(error_code(&text));
                        if refuses_a_send(&text) {
                            if let Some(c) = conversation_of(&text) {
                                flow(ctx, c).refused(1, &text);
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ = tick.tick(), if !convs.is_empty() && window.borrow().sending(now_ns()) => {
                let counting = ctx.window.borrow().counts(now_ns());
                let mut ended = Vec::new();
                for (i, (c, n, f)) in convs.iter_mut().enumerate() {
                    if !f.may_send(ctx, 1) {
                        ctx.stats.skipped.fetch_add(1, Relaxed);
                        continue;
                    }
                    f.sent[1].fetch_add(1, Relaxed);
                    sent_n += 1;
                    *n += 1;
                    ws.feed(Message::text(text_frame(ctx, Some(c), sent_n))).await.map_err(|e| e.to_string())?;
                    if counting {
                        ctx.stats.sent.fetch_add(1, Relaxed);
                        ctx.stats.frames_out.fetch_add(1, Relaxed);
                    }
                    if ctx.args.churn_after > 0 && *n >= ctx.args.churn_after {
                        ended.push(i);
                    }
                }
                for i in ended.into_iter().rev() {
                    let (c, _, _) = convs.remove(i);
                    ctx.flows.lock().unwrap_or_else(|p| p.into_inner()).remove(&c);
                    ws.feed(Message::text(json!({"type":"end","conversation_id":c,"outcome":"listened"}).to_string())).await.map_err(|e| e.to_string())?;
                    if counting {
                        ctx.stats.frames_out.fetch_add(1, Relaxed);
                    }
                    freed.push_back(now_ns());
                }
                ws.flush().await.map_err(|e| e.to_string())?;
            }
            changed = window.changed() => {
                if changed.is_err() { return Ok(()); }
                tick = interval(ctx, k);
            }
        }
    }
}

// ------------------------------------------------------------ relay baselines

/// One side of a relay pair: forwards through the relay to its peer.
async fn relay_peer(ctx: Arc<Ctx>, n: usize, pair: usize, permit: OwnedSemaphorePermit) {
    let side = n % 2;
    let pair_flow = flow(&ctx, &pair.to_string());
    let mut ws = match connect(&ctx, n, &format!("/relay?pair={pair}"), None).await {
        Ok(ws) => ws,
        Err(e) => {
            ctx.stats.error(e);
            return;
        }
    };
    let _open = OpenGuard::new(&ctx.stats);
    ctx.stats.pairs_matched.fetch_add(1, Relaxed);
    drop(permit);
    let mut sent_n = 0u64;
    let mut tick = interval(&ctx, n);
    let mut window = ctx.window.clone();
    loop {
        tokio::select! {
            frame = ws.next() => {
                match frame {
                    Some(Ok(Message::Text(t))) => {
                        frame_in(&ctx);
                        if kind(&t) == "sent" {
                            ctx.stats.confirmed.fetch_add(1, Relaxed);
                        } else if stamp(&t).is_some() {
                            record_receipt(&ctx, n, &t);
                            pair_flow.received[1 - side].fetch_add(1, Relaxed);
                            // --ack: acknowledge a message that carries a
                            // sequence number (the Node relays' `message`;
                            // the forwarding relays pass `send` frames on
                            // unnumbered, so there is nothing to ack).
                            if ctx.args.ack {
                                if let Some(seq) = serde_json::from_str::<Value>(&t).ok().and_then(|v| v["seq"].as_u64()) {
                                    send_frame(&ctx, &mut ws, format!(r#"{{"type":"ack","seq":{seq}}}"#)).await;
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => { ctx.stats.error("relay closed"); return; }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => { ctx.stats.error(format!("relay socket: {e}")); return; }
                }
            }
            _ = tick.tick(), if window.borrow().sending(now_ns()) => {
                if !pair_flow.may_send(&ctx, side) {
                    ctx.stats.skipped.fetch_add(1, Relaxed);
                    continue;
                }
                pair_flow.sent[side].fetch_add(1, Relaxed);
                sent_n += 1;
                if !send_frame(&ctx, &mut ws, text_frame(&ctx, None, sent_n)).await {
                    ctx.stats.error("relay send failed");
                    return;
                }
                if ctx.window.borrow().counts(now_ns()) {
                    ctx.stats.sent.fetch_add(1, Relaxed);
                }
            }
            changed = window.changed() => {
                if changed.is_err() { return; }
                tick = interval(&ctx, n);
            }
        }
    }
}

/// An idle socket on a relay: connects and holds.
async fn relay_idle(ctx: Arc<Ctx>, n: usize, ready: OwnedSemaphorePermit) {
    let mut ws = match connect(&ctx, n, "/relay", None).await {
        Ok(ws) => ws,
        Err(e) => {
            ctx.stats.error(e);
            ctx.stats.idle_failed.fetch_add(1, Relaxed);
            drop(ready);
            return;
        }
    };
    let _open = OpenGuard::new(&ctx.stats);
    ctx.stats.idle_told.fetch_add(1, Relaxed);
    drop(ready);
    while let Some(frame) = ws.next().await {
        if frame.is_err() {
            break;
        }
    }
}

// ------------------------------------------------------------ phases

async fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out: {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn setup_pairs(ctx: &Arc<Ctx>) -> Result<(), String> {
    if ctx.index != 0 || ctx.args.pairs == 0 {
        return Ok(());
    }
    let pairs = ctx.args.pairs;
    let timeout = Duration::from_secs(60) + Duration::from_millis(30 * pairs as u64);
    match ctx.args.target {
        Target::Relay => {
            let gate = Arc::new(Semaphore::new(ctx.args.connect_concurrency));
            for p in 0..pairs {
                for side in 0..2 {
                    let permit = gate
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::spawn(relay_peer(ctx.clone(), 2 * p + side, p, permit));
                }
            }
            let s = &ctx.stats;
            wait_until("relay pairs connected", timeout, || {
                s.pairs_matched.load(Relaxed) as usize + error_total(s) >= 2 * pairs
            })
            .await?;
        }
        Target::Tsunagu => {
            let counsellors = ctx.args.counsellors();
            // Logins are argon2-verified by the server: a few at a time.
            let gate = Arc::new(Semaphore::new(4));
            for k in 0..counsellors {
                let permit = gate
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| e.to_string())?;
                let ctx2 = ctx.clone();
                tokio::spawn(async move {
                    let before = ctx2.stats.counsellors_ready.load(Relaxed);
                    let c = ctx2.clone();
                    tokio::spawn(counsellor(c, k));
                    let s = &ctx2.stats;
                    let _ = wait_until("counsellor ready", Duration::from_secs(60), || {
                        s.counsellors_ready.load(Relaxed) > before || error_total(s) > 0
                    })
                    .await;
                    drop(permit);
                });
            }
            let s = &ctx.stats;
            wait_until("counsellors available", timeout, || {
                s.counsellors_ready.load(Relaxed) as usize >= counsellors || error_total(s) > 0
            })
            .await?;
            if error_total(s) > 0 {
                return Err(format!(
                    "counsellors could not start: {:?}",
                    s.errors.lock().unwrap_or_else(|p| p.into_inner())
                ));
            }
            let gate = Arc::new(Semaphore::new(ctx.args.connect_concurrency));
            for p in 0..pairs {
                // The permit is given back once the visitor is matched.
                let permit = gate
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(visitor(
                    ctx.clone(),
                    counsellors + p,
                    Role::Pair,
                    Some(permit),
                ));
            }
            wait_until("pairs matched", timeout, || {
                s.pairs_matched.load(Relaxed) as usize >= pairs
            })
            .await?;
        }
    }
    Ok(())
}

fn error_total(s: &Stats) -> usize {
    s.errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .sum::<u64>() as usize
}

async fn setup_idle(ctx: &Arc<Ctx>) -> Result<(), String> {
    let share = ctx.args.idle_share(ctx.index);
    if share == 0 {
        return Ok(());
    }
    // Socket numbers distinct across workers (they pick the source address).
    let base = 1_000_000 * (ctx.index + 1);
    let gate = Arc::new(Semaphore::new(ctx.args.connect_concurrency));
    for i in 0..share {
        // The permit is given back once the socket is set up (told its place).
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        match ctx.args.target {
            Target::Tsunagu => {
                tokio::spawn(visitor(ctx.clone(), base + i, Role::Idle, Some(permit)));
            }
            Target::Relay => {
                tokio::spawn(relay_idle(ctx.clone(), base + i, permit));
            }
        }
    }
    let s = &ctx.stats;
    let timeout = Duration::from_secs(60) + Duration::from_millis(20 * share as u64);
    wait_until("idle visitors told their place", timeout, || {
        (s.idle_told.load(Relaxed) + s.idle_failed.load(Relaxed)) as usize >= share
    })
    .await?;
    Ok(())
}

// ------------------------------------------------------------ burst

async fn burst(ctx: Arc<Ctx>) {
    let n = ctx.args.burst;
    let spacing = Duration::from_secs_f64(ctx.args.burst_secs / n.max(1) as f64);
    let start = ctx.window.borrow().start;
    // Joins begin when counting begins.
    tokio::time::sleep(Duration::from_nanos(start.saturating_sub(now_ns()))).await;
    let mut tick = tokio::time::interval(spacing);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let base = 10_000_000;
    for i in 0..n {
        tick.tick().await;
        tokio::spawn(visitor(ctx.clone(), base + i, Role::Burst, None));
    }
}
