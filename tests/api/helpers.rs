#![allow(dead_code)] // each test module uses its own part of the harness
//! Test harness: the real server on a free port with an isolated store,
//! real WebSocket clients, real HTTP.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::contract::{check_http_answer, check_received, Socket};
use tsunagu::app::AppState;
use tsunagu::auth;
use tsunagu::config::{Secret, Settings, StoreMode};
use tsunagu::core::ids::AccountId;
use tsunagu::model::Account;
use tsunagu::model::Role;
use tsunagu::startup::{open_store, Application};
use tsunagu::store::Store;

pub const PASSWORD: &str = "test-password-0123";
/// How long any single expected frame may take before the test fails: a
/// liveness bound, not a performance check (the durable store's fsyncs can
/// stall for seconds on a busy virtual disk while crash tests run beside).
pub const RECV_TIMEOUT: Duration = Duration::from_secs(30);

pub fn password_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| auth::hash_password(PASSWORD).unwrap())
}

pub struct TestApp {
    pub addr: String,
    pub state: Arc<AppState>,
    /// The harness's own handle on the app's store, to set up and inspect
    /// state (the app's edges reach it only through the service).
    pub store: Arc<dyn Store>,
    /// With the embedded store: its data directory, removed with the app.
    pub data_dir: Option<TempDir>,
    /// With the Redis store: (url, prefix) whose keys go when the app does.
    pub redis: Option<(String, String)>,
}

/// `TSUNAGU_TEST_STORE=embedded` runs the whole suite on the durable
/// embedded store (a fresh data directory per app); otherwise the suite
/// uses the in-memory store, which is faster.
pub fn suite_on_embedded() -> bool {
    std::env::var("TSUNAGU_TEST_STORE").as_deref() == Ok("embedded")
}

/// A directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tsunagu-{what}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((url, prefix)) = &self.redis {
            purge_blocking(url, prefix);
        }
    }
}

/// The Redis the tests use: `TSUNAGU_TEST_REDIS_URL`, default the local one.
pub fn test_redis_url() -> String {
    std::env::var("TSUNAGU_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `TSUNAGU_TEST_STORE=redis` runs the whole suite on Redis.
pub fn suite_on_redis() -> bool {
    std::env::var("TSUNAGU_TEST_STORE").as_deref() == Ok("redis")
}

/// A key prefix no other test (or run) uses: `<TSUNAGU_TEST_REDIS_PREFIX,
/// default tsunagu-test>-<random>`, so tests never share keys.
pub fn unique_prefix() -> String {
    let base = std::env::var("TSUNAGU_TEST_REDIS_PREFIX").unwrap_or_else(|_| "tsunagu-test".into());
    format!("{base}-{}", uuid::Uuid::new_v4().simple())
}

/// Delete every key under `prefix` (only that prefix: the Redis is shared).
/// Blocking, so it can run in `Drop`.
pub fn purge_blocking(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut con) = client.get_connection() else {
        return;
    };
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut con)
        else {
            return;
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<i64> = redis::cmd("UNLINK").arg(&keys).query(&mut con);
        }
        cursor = next;
        if cursor == 0 {
            return;
        }
    }
}

/// Settings for tests: fast timers, limits high enough not to trip by accident.
pub fn test_settings() -> Settings {
    let mut s = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        web_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/web").into(),
        log: "warn".into(),
        store: StoreMode::Memory,
        ..Settings::default()
    };
    s.limits.upgrades_per_ip_per_min = 100_000;
    s.limits.upgrades_burst = 10_000;
    s.limits.starts_per_ip_per_min = 100_000;
    s.limits.starts_burst = 10_000;
    s.limits.logins_per_ip_per_min = 100_000;
    s.limits.logins_burst = 1_000;
    s.limits.logins_per_account_per_min = 1_000;
    s.limits.frames_per_sec = 10_000;
    s.limits.frames_burst = 10_000;
    s.limits.handoff_links_per_ip_per_min = 100_000;
    s.limits.handoff_links_burst = 10_000;
    // Every test client is on 127.0.0.1: what one address may hold at
    // once is lifted here (tests/api/caps.rs sets the defaults back).
    s.limits.sockets_per_address = 1_000_000;
    s.limits.waiting_per_address = 1_000_000;
    // Likewise what a waiting visitor may write (tests/api/waiting_budget.rs).
    s.limits.waiting_messages_per_conversation = 1_000_000;
    s.limits.waiting_bytes_per_conversation = 1_000_000_000;
    // Required with Redis (every node must hash PINs alike); set for every
    // store so a test that points its app at Redis starts.
    s.handoff.pin_key = Some(Secret::new("test-pin-key-0123456789abcdef"));
    s.timing.queue_update_ms = 20;
    s.timing.sweep_interval_ms = 50;
    // Tests run at any hour; opening hours are tested on their own.
    s.hours.always_open = true;
    // Staff log in with a password alone unless a test asks for a second
    // factor (tests/api/second_factor.rs sets the roles back).
    s.auth.second_factor_roles = Vec::new();
    // The empty-floor alert would otherwise fire in any test that runs
    // longer than its 120 s with nobody available (tests/api/floor_alert.rs
    // turns it on).
    s.alerts.empty_floor_disabled = true;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let mut s = test_settings();
    if let Ok(filter) = std::env::var("TSUNAGU_TEST_LOG") {
        s.log = filter;
        tsunagu::telemetry::init(&s);
    }
    let data_dir = suite_on_embedded().then(|| TempDir::new("suite"));
    if let Some(dir) = &data_dir {
        s.store = StoreMode::Embedded;
        s.data_dir = dir.path().to_owned();
    }
    let redis = suite_on_redis().then(|| (test_redis_url(), unique_prefix()));
    if let Some((url, prefix)) = &redis {
        s.redis_url = Some(Secret::new(url.clone()));
        s.redis_prefix = prefix.clone();
    }
    tweak(&mut s);
    // A test may point its own app at Redis; that wins over the suite's store.
    let tweaked_to_redis = redis.is_none() && s.redis_url.is_some();
    let (store, store_kind) = open_store(&s).await.expect("the store opens");
    let app = Application::build_with_store(s, store.clone(), store_kind)
        .await
        .expect("the app builds");
    let addr = format!("127.0.0.1:{}", app.port());
    let state = app.spawn();
    if data_dir.is_some() && !tweaked_to_redis {
        assert_eq!(state.store_kind, "embedded");
    }
    if redis.is_some() {
        assert_eq!(state.store_kind, "redis");
    }
    TestApp {
        addr,
        state,
        store,
        data_dir,
        redis,
    }
}

impl TestApp {
    /// Another server on this app's store, with this app's settings
    /// changed by `tweak`: a deployment whose configuration changed (a
    /// restart with a revised file) while what it stored stays. Both keep
    /// running; this app keeps the store's cleanup.
    pub async fn another_node(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut s = (*self.state.settings).clone();
        tweak(&mut s);
        let app = Application::build_with_store(s, self.store.clone(), self.state.store_kind)
            .await
            .expect("the app builds");
        let addr = format!("127.0.0.1:{}", app.port());
        TestApp {
            addr,
            state: app.spawn(),
            store: self.store.clone(),
            data_dir: None,
            redis: None,
        }
    }
}

/// An HTTP answer as the tests read it: the status and the JSON body
/// (`Null` when there is none or it is not JSON), after checking the body
/// against the schema docs/openapi.yaml gives for this path, method and
/// status (as every frame a `Ws` receives is checked against
/// docs/asyncapi.yaml). Every helper that reads an API answer goes
/// through here.
pub async fn read_answer(
    method: &reqwest::Method,
    res: reqwest::Response,
) -> (reqwest::StatusCode, Value) {
    let status = res.status();
    let path = res.url().path().to_owned();
    let json = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let bytes = res.bytes().await.unwrap_or_default();
    let body: Option<Value> =
        if json {
            Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("{method} {path}: a JSON content type, but not JSON ({e})")
            }))
        } else {
            None
        };
    check_http_answer(method.as_str(), &path, status.as_u16(), body.as_ref());
    (status, body.unwrap_or(Value::Null))
}

impl TestApp {
    /// The app's clock: `set` or `advance` it to show "a week later"
    /// without waiting (decisions read it; timers keep real time).
    pub fn clock(&self) -> &tsunagu::clock::Clock {
        &self.state.service.clock
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn add_account(&self, username: &str, display_name: &str, role: Role) -> AccountId {
        let id = AccountId::new_random();
        self.store
            .create_account(
                Account {
                    id,
                    username: username.into(),
                    display_name: display_name.into(),
                    role,
                    password_hash: password_hash().into(),
                    deactivated: false,
                    last_login_ms: None,
                    setup: None,
                    session_epoch: 0,
                },
                Vec::new(),
            )
            .await
            .unwrap();
        id
    }

    /// Log in and return the session cookie (`name=value`).
    pub async fn login(&self, username: &str) -> String {
        let r = reqwest::Client::new()
            .post(self.url("/api/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|c| c.to_str().unwrap().to_owned());
        let (status, body) = read_answer(&reqwest::Method::POST, r).await;
        assert_eq!(status, 200, "login of {username}: {body}");
        let cookie = cookie.expect("a session cookie");
        cookie.split(';').next().unwrap().to_owned()
    }

    pub async fn visitor(&self) -> Ws {
        Ws::connect(&self.addr, "/ws/visitor", &[]).await.unwrap()
    }

    /// A new visitor who has sent `start`; returns (socket, welcome).
    pub async fn start_visitor(&self, start: Value) -> (Ws, Value) {
        let mut ws = self.visitor().await;
        ws.send(start).await;
        let welcome = ws.recv_type("welcome").await;
        (ws, welcome)
    }

    /// A new visitor who has sent `start`, matched to `c` (the only one
    /// available); returns (socket, welcome).
    pub async fn served_visitor(&self, c: &mut Counsellor, start: Value) -> (Ws, Value) {
        let (mut v, welcome) = self.start_visitor(start).await;
        wait_matched(&mut v, &welcome).await;
        c.ws.recv_type("assigned").await;
        (v, welcome)
    }

    /// A counsellor account, logged in, socket open, `hello` answered.
    pub async fn counsellor(&self, name: &str) -> Counsellor {
        self.staff(name, Role::Counsellor).await
    }

    /// A supervisor account, logged in, socket open, `hello` answered.
    pub async fn supervisor(&self, name: &str) -> Counsellor {
        self.staff(name, Role::Supervisor).await
    }

    /// An account of `role` (one that counsels), logged in, socket open,
    /// `hello` answered.
    pub async fn staff(&self, name: &str, role: Role) -> Counsellor {
        let id = self.add_account(name, &format!("{name}-san"), role).await;
        let cookie = self.login(name).await;
        let mut ws = Ws::connect(&self.addr, "/ws/counsellor", &[("cookie", &cookie)])
            .await
            .unwrap();
        ws.send(json!({"type": "hello"})).await;
        let welcome = ws.recv_type("welcome").await;
        Counsellor {
            id,
            cookie,
            ws,
            welcome,
        }
    }

    pub async fn reconnect_counsellor(&self, cookie: &str, last_seq: Value) -> (Ws, Value) {
        let mut ws = Ws::connect(&self.addr, "/ws/counsellor", &[("cookie", cookie)])
            .await
            .unwrap();
        ws.send(json!({"type": "hello", "last_seq": last_seq}))
            .await;
        let welcome = ws.recv_type("welcome").await;
        (ws, welcome)
    }
}

/// The counsellor's name once the visitor is matched: from `welcome` if the
/// match happened before the socket was bound, else from `matched`.
pub async fn wait_matched(v: &mut Ws, welcome: &Value) -> String {
    if welcome["state"] == "active" {
        return welcome["counsellor"].as_str().unwrap().to_owned();
    }
    assert_eq!(welcome["state"], "queued");
    v.recv_type("matched").await["counsellor"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub struct Counsellor {
    pub id: AccountId,
    pub cookie: String,
    pub ws: Ws,
    pub welcome: Value,
}

impl Counsellor {
    pub async fn available(&mut self, capacity: u32) {
        self.ws
            .send(json!({"type": "set_capacity", "capacity": capacity}))
            .await;
        self.ws
            .send(json!({"type": "set_status", "status": "available"}))
            .await;
        // An `assigned` can come before the `status` that says available:
        // on the embedded store the matcher may take the new place while
        // `set_status` still waits for its commit, so the event of the
        // assignment is published before the status change's. It is kept
        // for the test's next read rather than skipped (skipping it left a
        // counsellor waiting for an `assigned` it had already been sent).
        let mut assigned = Vec::new();
        let wait = async {
            loop {
                let f = self.ws.recv().await;
                match f["type"].as_str() {
                    Some("status") if f["status"] == "available" && f["capacity"] == capacity => {
                        break
                    }
                    Some("assigned") => assigned.push(f),
                    Some("error") => panic!("unexpected error while becoming available: {f}"),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(RECV_TIMEOUT, wait)
            .await
            .expect("timed out waiting for the status that says available");
        self.ws.unread.extend(assigned);
    }
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Which socket this is: every frame received is checked against its
    /// schema in docs/asyncapi.yaml (`crate::contract`).
    socket: Socket,
    /// The close code of the server's close frame, once one arrived.
    last_close: Option<u16>,
    /// Frames a helper read past while waiting for another, kept for the
    /// next read (see `Counsellor::available`).
    unread: std::collections::VecDeque<Value>,
}

/// An upgrade refused before the socket opened: its HTTP status and body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Ws {
    /// `path`: the socket's path (`/ws/visitor`, `/ws/counsellor`), which
    /// says which schemas its frames must match.
    pub fn from_stream(stream: WebSocketStream<MaybeTlsStream<TcpStream>>, path: &str) -> Ws {
        Ws {
            stream,
            socket: Socket::from_path(path)
                .unwrap_or_else(|| panic!("{path} is not a socket of the contract")),
            last_close: None,
            unread: Default::default(),
        }
    }

    /// A text frame from the server: JSON, and a message of this socket as
    /// docs/asyncapi.yaml describes it (else the test fails, showing the
    /// frame and what the schema says).
    fn frame(&self, text: &str) -> Value {
        let v: Value = serde_json::from_str(text).unwrap_or_else(|e| {
            panic!("the server sent a text frame that is not JSON ({e}): {text}")
        });
        check_received(self.socket, &v);
        v
    }

    pub async fn connect(addr: &str, path: &str, headers: &[(&str, &str)]) -> Result<Ws, Refused> {
        let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
        for (k, v) in headers {
            let name: tokio_tungstenite::tungstenite::http::HeaderName = k.parse().unwrap();
            req.headers_mut()
                .insert(name, HeaderValue::from_str(v).unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((stream, _)) => Ok(Ws::from_stream(stream, path)),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let status = resp.status().as_u16();
                let body = resp
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err(Refused { status, body })
            }
            Err(e) => panic!("connect failed: {e}"),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::text(v.to_string()))
            .await
            .unwrap();
    }

    /// Send, reporting failure instead of panicking (the server may be gone).
    pub async fn try_send(&mut self, v: Value) -> bool {
        self.stream.send(Message::text(v.to_string())).await.is_ok()
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.stream.send(m).await.unwrap();
    }

    /// The next JSON frame, or `None` if the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        if let Some(v) = self.unread.pop_front() {
            return Some(v);
        }
        // One deadline for the whole wait: pings must not restart it.
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for a frame")?;
            match m {
                Ok(Message::Text(t)) => return Some(self.frame(&t)),
                Ok(Message::Close(frame)) => {
                    self.last_close = frame.map(|f| u16::from(f.code));
                    return None;
                }
                Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next JSON frame if one arrives within `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Value> {
        self.next_within(wait)
            .await
            .ok()
            .map(|f| f.expect("socket closed"))
    }

    /// Every frame received until `quiet` passes without one (a close
    /// fails the test, as in `recv_within`).
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(f) = self.recv_within(quiet).await {
            out.push(f);
        }
        out
    }

    /// The next JSON frame within `wait`: `Err(())` on time-out, `Ok(None)`
    /// if the socket closed.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<Value>, ()> {
        if let Some(v) = self.unread.pop_front() {
            return Ok(Some(v));
        }
        loop {
            let m = tokio::time::timeout(wait, self.stream.next())
                .await
                .map_err(|_| ())?;
            match m {
                Some(Ok(Message::Text(t))) => return Ok(Some(self.frame(&t))),
                Some(Ok(Message::Close(frame))) => {
                    self.last_close = frame.map(|f| u16::from(f.code));
                    return Ok(None);
                }
                None | Some(Err(_)) => return Ok(None),
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn recv(&mut self) -> Value {
        self.next()
            .await
            .expect("socket closed while a frame was expected")
    }

    /// Skip frames until one of type `t`, within `RECV_TIMEOUT` in all
    /// (a stream of other frames, such as queue updates, cannot keep a
    /// test waiting forever).
    pub async fn recv_type(&mut self, t: &str) -> Value {
        let wait = async {
            loop {
                let v = self.recv().await;
                if v["type"] == t {
                    return v;
                }
                assert_ne!(
                    v["type"], "error",
                    "unexpected error while waiting for {t}: {v}"
                );
            }
        };
        tokio::time::timeout(RECV_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for a {t} frame"))
    }

    /// The next `error` frame (skipping others); asserts its code.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let e = self.recv_type_allowing_errors("error").await;
        assert_eq!(e["code"], code, "{e}");
        e
    }

    async fn recv_type_allowing_errors(&mut self, t: &str) -> Value {
        let wait = async {
            loop {
                let v = self.recv().await;
                if v["type"] == t {
                    return v;
                }
            }
        };
        tokio::time::timeout(RECV_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for a {t} frame"))
    }

    /// Wait for the server to close the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for close");
            match m {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Text(t))) => {
                    self.frame(&t);
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// After `next`/`next_within` reported a close: the close code, if the
    /// server sent one.
    /// The close frame's code and reason, once the server closes.
    pub async fn closed_with_reason(&mut self) -> Option<(u16, String)> {
        loop {
            let m = tokio::time::timeout(RECV_TIMEOUT, self.stream.next())
                .await
                .expect("timed out waiting for close");
            match m {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub fn closed_code(&self) -> Option<u16> {
        self.last_close
    }

    /// Drop the TCP connection without a close handshake (a network drop).
    pub fn drop_connection(self) {
        drop(self.stream);
    }
}

/// Wait until `f` holds, polling; fails the test after `RECV_TIMEOUT`.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

/// A slot's start `days` days ahead or a little later: `minute` (of the
/// day, Japan time) on the first day from then on whose default weekly
/// office hours (Monday to Friday 9:00-17:00, not a holiday) are open at
/// that minute. Slots must lie within one window of the office hours even
/// when the chat is `always_open`, as in these tests (issue 27).
pub fn office_hours_at(days: u64, minute: u32) -> u64 {
    use tsunagu::core::hours::{jst_date_minute, jst_ms, HoursSpec, Schedule};
    let schedule = Schedule::new(&HoursSpec::default()).unwrap();
    let (mut date, _) = jst_date_minute(tsunagu::clock::now_ms() + days * 86_400_000);
    loop {
        let at = jst_ms(date, minute);
        if schedule.window_closing(at).is_some() {
            return at;
        }
        date = date.next_day().unwrap();
    }
}
