//! The LINE channel against a local stand-in of the Messaging API (the
//! real service cannot be reached from the test machine): an HTTP server
//! in the test process that checks the bearer token and the retry key and
//! records what it receives. Runs on every suite store.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;
use tsunagu::config::{Secret, Settings};

pub const SECRET: &str = "test-channel-secret";
pub const TOKEN: &str = "test-access-token";

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    /// `push` or `reply`.
    pub kind: &'static str,
    pub retry_key: Option<String>,
    pub body: Value,
    /// The stand-in took it (2xx), rather than refusing it.
    pub accepted: bool,
}

#[derive(Default)]
struct StandInState {
    received: Vec<Received>,
    accepted_keys: HashSet<String>,
    /// Answer this many pushes with 429 before taking any.
    fail_pushes: u32,
    /// Take this long to answer each call (a slow or hanging API).
    delay_ms: u64,
}

/// The stand-in Messaging API.
pub struct StandIn {
    pub base: String,
    state: Arc<Mutex<StandInState>>,
    _server: actix_web::dev::ServerHandle,
}

async fn endpoint(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<StandInState>>,
    kind: &'static str,
) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {TOKEN}")) {
        return HttpResponse::Unauthorized().json(json!({"message": "bad token"}));
    }
    let key = req
        .headers()
        .get("x-line-retry-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let delay = state.lock().unwrap().delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mut s = state.lock().unwrap();
    let mut rec = Received {
        kind,
        retry_key: key.clone(),
        body: body.into_inner(),
        accepted: false,
    };
    if kind == "push" {
        let Some(key) = key.filter(|k| uuid::Uuid::parse_str(k).is_ok()) else {
            s.received.push(rec);
            return HttpResponse::BadRequest().json(json!({"message": "retry key"}));
        };
        if s.fail_pushes > 0 {
            s.fail_pushes -= 1;
            s.received.push(rec);
            return HttpResponse::TooManyRequests().json(json!({"message": "rate"}));
        }
        if s.accepted_keys.contains(&key) {
            // As LINE: a retry key already accepted is not delivered again.
            s.received.push(rec);
            return HttpResponse::Conflict().json(json!({"message": "accepted before"}));
        }
        s.accepted_keys.insert(key);
    }
    rec.accepted = true;
    s.received.push(rec);
    HttpResponse::Ok().json(json!({}))
}

impl StandIn {
    pub async fn start() -> StandIn {
        let state = Arc::new(Mutex::new(StandInState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/v2/bot/message/push",
                    web::post().to(|r, b, s| endpoint(r, b, s, "push")),
                )
                .route(
                    "/v2/bot/message/reply",
                    web::post().to(|r, b, s| endpoint(r, b, s, "reply")),
                )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        StandIn {
            base: format!("http://127.0.0.1:{port}"),
            state,
            _server: handle,
        }
    }

    pub fn fail_next_pushes(&self, n: u32) {
        self.state.lock().unwrap().fail_pushes = n;
    }

    /// Answer every call only after `ms` (a slow or hanging API).
    pub fn slow_down(&self, ms: u64) {
        self.state.lock().unwrap().delay_ms = ms;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Texts delivered (accepted) to `user`, in order, replies included.
    pub fn delivered_texts(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter(|r| r.accepted)
            .flat_map(|r| {
                r.body["messages"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|m| m["text"].as_str().map(str::to_owned))
            })
            .collect()
    }
}

/// Point `s` at the stand-in with fast retries.
pub fn line_settings(s: &mut Settings, base: &str) {
    s.line.channel_secret = Some(Secret::new(SECRET));
    s.line.access_token = Some(Secret::new(TOKEN));
    s.line.api_base = base.to_owned();
    s.line.retry_base_ms = 20;
    s.line.catch_up_ms = 200;
}

pub fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn text_event(user: &str, event_id: &str, text: &str, redelivery: bool) -> Value {
    json!({
        "type": "message",
        "mode": "active",
        "timestamp": tsunagu::clock::now_ms(),
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": redelivery},
        "source": {"type": "user", "userId": user},
        "message": {"id": format!("m{event_id}"), "type": "text", "text": text}
    })
}

/// POST a webhook with these events, signed (or with `signature`).
pub async fn post_webhook(addr: &str, events: Vec<Value>, signature: Option<&str>) -> u16 {
    let body = serde_json::to_vec(&json!({"destination": "U0", "events": events})).unwrap();
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/channels/line/webhook"))
        .header("content-type", "application/json");
    match signature {
        Some(s) => req = req.header("x-line-signature", s),
        None => req = req.header("x-line-signature", sign(&body)),
    }
    req.body(body).send().await.unwrap().status().as_u16()
}

/// A stand-in and an app pointed at it.
pub(crate) async fn line_app() -> (StandIn, TestApp) {
    let line = StandIn::start().await;
    let app = spawn_app_with(|s| line_settings(s, &line.base)).await;
    (line, app)
}

/// The user sends one text (signed); returns the webhook's status.
pub(crate) async fn say(
    app: &TestApp,
    user: &str,
    event_id: &str,
    text: &str,
    redelivery: bool,
) -> u16 {
    post_webhook(
        &app.addr,
        vec![text_event(user, event_id, text, redelivery)],
        None,
    )
    .await
}

async fn texts_of(app: &TestApp, conv: tsunagu::core::ids::ConversationId) -> Vec<String> {
    let store = &app.store;
    let log = store.messages_after(conv, 0, 100).await.unwrap();
    log.iter().map(|m| m.text.clone()).collect()
}

pub(crate) fn user_id() -> String {
    format!("U{}", uuid::Uuid::new_v4().simple())
}

pub(crate) async fn conversation_of(
    app: &TestApp,
    user: &str,
) -> tsunagu::core::ids::ConversationId {
    for _ in 0..200 {
        if let Some(c) = app.store.line_conversation_of(user).await.unwrap() {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the LINE user got no conversation");
}

#[tokio::test]
async fn a_signed_text_event_is_matched_and_the_replies_reach_line_once_each_in_order() {
    let (line, app) = line_app().await;
    let mut c = app.counsellor("line-aoki").await;
    c.available(2).await;
    let user = user_id();
    assert_eq!(
        post_webhook(
            &app.addr,
            vec![text_event(&user, "01EV1", "話を聞いてほしいです", false)],
            None
        )
        .await,
        200
    );
    let assigned = c.ws.recv_type("assigned").await;
    let view = &assigned["conversation"];
    assert_eq!(view["channel"], "line");
    let name = view["visitor_name"].as_str().unwrap();
    assert!(name.starts_with("LINE-") && name.len() == 9, "{name}");
    assert!(
        !assigned.to_string().contains(&user),
        "counsellors never see the LINE user id"
    );
    let conv = view["conversation_id"].as_str().unwrap().to_owned();
    let first = c.ws.recv_type("message").await;
    assert_eq!(first["text"], "話を聞いてほしいです");

    let replies = [
        "こんにちは",
        "どんなことがありましたか",
        "ゆっくりで大丈夫です",
    ];
    for (i, text) in replies.iter().enumerate() {
        c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": format!("l{i}"), "text": text}))
            .await;
    }
    // `sent` and `line_delivery` frames interleave: read both kinds.
    let (mut sent, mut states) = (0, Vec::new());
    while sent < replies.len() || states.len() < replies.len() {
        let f = c.ws.recv().await;
        match f["type"].as_str() {
            Some("sent") => sent += 1,
            Some("line_delivery") => {
                assert_eq!(f["state"], "sent", "{f}");
                states.push(f["seq"].as_u64().unwrap());
            }
            Some("error") => panic!("{f}"),
            _ => {}
        }
    }
    assert_eq!(states, vec![2, 3, 4]);
    let delivered: Vec<String> = line
        .delivered_texts()
        .into_iter()
        .filter(|t| replies.contains(&t.as_str()))
        .collect();
    assert_eq!(delivered, replies, "each once, in order");
    // Pushes went to the user with the token (checked by the stand-in).
    assert!(line
        .received()
        .iter()
        .filter(|r| r.kind == "push")
        .all(|r| r.body["to"] == user.as_str()));
}

#[tokio::test]
async fn a_redelivered_event_adds_nothing() {
    let (_line, app) = line_app().await;
    let user = user_id();
    say(&app, &user, "01RD1", "一通目", false).await;
    let conv = conversation_of(&app, &user).await;
    say(&app, &user, "01RD2", "二通目", false).await;
    // LINE redelivers both (one of them in a batch with a new one).
    say(&app, &user, "01RD1", "一通目", true).await;
    post_webhook(
        &app.addr,
        vec![
            text_event(&user, "01RD2", "二通目", true),
            json!({"type": "message", "webhookEventId": "01RD3", "deliveryContext": {"isRedelivery": false},
                   "source": {"type": "user", "userId": user}, "message": {"id": "s", "type": "sticker"}}),
        ],
        None,
    )
    .await;
    for _ in 0..200 {
        if texts_of(&app, conv).await.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Time for a late double to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts = texts_of(&app, conv).await;
    let store = &app.store;
    assert_eq!(texts, vec!["一通目", "二通目", "(sticker)"]);
    assert_eq!(
        store.line_conversation_of(&user).await.unwrap(),
        Some(conv),
        "still one conversation"
    );
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_stored() {
    let (line, app) = line_app().await;
    let user = user_id();
    let ev = || vec![text_event(&user, "01BAD", "偽物", false)];
    let wrong = sign(b"another body");
    assert_eq!(post_webhook(&app.addr, ev(), Some(&wrong)).await, 401);
    assert_eq!(post_webhook(&app.addr, ev(), Some("")).await, 401);
    let r = reqwest::Client::new()
        .post(format!("http://{}/channels/line/webhook", app.addr))
        .body(serde_json::to_vec(&json!({"events": ev()})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no signature at all");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_signature");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let store = &app.store;
    assert_eq!(store.line_conversation_of(&user).await.unwrap(), None);
    assert!(store.queue().await.unwrap().is_empty());
    assert!(line.received().is_empty(), "nothing was sent either");
}

#[tokio::test]
async fn a_429_is_retried_with_the_same_retry_key_and_delivered_once() {
    let (line, app) = line_app().await;
    let mut c = app.counsellor("line-ito").await;
    c.available(1).await;
    let user = user_id();
    say(&app, &user, "01RT1", "こんばんは", false).await;
    let assigned = c.ws.recv_type("assigned").await;
    let conv = assigned["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Let any welcome notice go first, then fail the next two pushes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    line.fail_next_pushes(2);
    c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": "r1", "text": "お待たせしました"}))
        .await;
    let d = c.ws.recv_type("line_delivery").await;
    assert_eq!(d["state"], "sent", "{d}");
    assert_eq!(d["attempts"], 3);
    let tries: Vec<Received> = line
        .received()
        .into_iter()
        .filter(|r| r.body["messages"][0]["text"] == "お待たせしました")
        .collect();
    assert_eq!(tries.len(), 3, "two 429s, then taken");
    assert!(tries.iter().all(|r| r.kind == "push"));
    let keys: HashSet<_> = tries.iter().map(|r| r.retry_key.clone()).collect();
    assert_eq!(keys.len(), 1, "one retry key for every try");
    assert_eq!(tries.iter().filter(|r| r.accepted).count(), 1);
}

#[tokio::test]
async fn unfollow_ends_the_conversation_and_forgets_the_line_user() {
    let (_line, app) = line_app().await;
    let user = user_id();
    say(&app, &user, "01UF1", "やっぱりいいです", false).await;
    let conv = conversation_of(&app, &user).await;
    post_webhook(
        &app.addr,
        vec![json!({"type": "unfollow", "webhookEventId": "01UF2", "source": {"type": "user", "userId": user}})],
        None,
    )
    .await;
    let store = app.store.clone();
    let mut forgotten = false;
    for _ in 0..200 {
        let link = store.line_link(conv).await.unwrap().unwrap();
        if link.user_id.is_none() {
            forgotten = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        forgotten,
        "the LINE user id is gone with the conversation's end"
    );
    assert_eq!(store.line_conversation_of(&user).await.unwrap(), None);
    let rec = store.conversation(conv).await.unwrap().unwrap();
    assert_eq!(rec.state.name(), "ended");
}

#[tokio::test]
async fn without_secrets_the_webhook_does_not_exist() {
    let app = spawn_app().await;
    let status = post_webhook(&app.addr, vec![], None).await;
    assert_eq!(status, 404);
}

/// The store's LINE contract, on the suite's backend.
#[tokio::test]
async fn the_store_keeps_links_leases_and_deliveries_per_conversation() {
    use tsunagu::clock::now_ms;
    use tsunagu::model::{LineDelivery, LineDeliveryState, LineLink};
    use tsunagu::store::StoreError;
    let app = spawn_app().await;
    let store = app.store.clone();
    let unknown = tsunagu::core::ids::ConversationId::new_random();
    let link = |conversation, user: &str| LineLink {
        conversation,
        user_id: Some(user.to_owned()),
        opened_by_event: "01E".into(),
        created_at_ms: now_ms(),
    };
    assert_eq!(
        store.line_open(link(unknown, "Ux")).await,
        Err(StoreError::NotFound)
    );
    let (a, _) = app
        .state
        .service
        .start(Default::default(), None, None, None)
        .await
        .unwrap();
    let (b, _) = app
        .state
        .service
        .start(Default::default(), None, None, None)
        .await
        .unwrap();
    let user = user_id();
    store.line_open(link(a.id, &user)).await.unwrap();
    store.line_open(link(b.id, &user)).await.unwrap();
    assert_eq!(store.line_conversation_of(&user).await.unwrap(), Some(b.id));
    // Forgetting the older conversation keeps the newer one's index.
    store.line_forget_user(a.id).await.unwrap();
    assert_eq!(store.line_link(a.id).await.unwrap().unwrap().user_id, None);
    assert_eq!(store.line_conversation_of(&user).await.unwrap(), Some(b.id));
    store.line_forget_user(b.id).await.unwrap();
    assert_eq!(store.line_conversation_of(&user).await.unwrap(), None);

    let now = now_ms();
    assert!(store.line_lease(b.id, "node-a", now, 300).await.unwrap());
    assert!(!store.line_lease(b.id, "node-b", now, 300).await.unwrap());
    assert!(store.line_lease(b.id, "node-a", now, 300).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store
        .line_lease(b.id, "node-b", now_ms(), 300)
        .await
        .unwrap());

    for seq in [3, 1, 2] {
        let state = if seq == 2 {
            LineDeliveryState::Failed {
                reason: "http 400".into(),
            }
        } else {
            LineDeliveryState::Sent
        };
        store
            .line_delivered(
                b.id,
                LineDelivery {
                    seq,
                    state,
                    attempts: 1,
                    at_ms: now,
                },
            )
            .await
            .unwrap();
    }
    let seqs: Vec<u64> = store
        .line_deliveries(b.id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert!(store.line_deliveries(a.id).await.unwrap().is_empty());
    let lone = LineDelivery {
        seq: 1,
        state: LineDeliveryState::Sent,
        attempts: 1,
        at_ms: now,
    };
    assert_eq!(
        store.line_delivered(unknown, lone).await,
        Err(StoreError::NotFound)
    );
}

/// Issue 22: a LINE visitor is continuous without a code. The same LINE
/// user writing again after their chat ended is the same case: matched to
/// the counsellor they last talked with (another has waited longer), who
/// reads the earlier conversation. Another LINE user is a case of their
/// own, and a user who leaves (unfollow) takes the link with them.
#[tokio::test]
async fn a_line_user_writing_again_is_the_same_case_with_the_same_counsellor() {
    use crate::return_code::{assigned, case_of, texts_of};
    let (_line, app) = line_app().await;
    let mut a = app.counsellor("line-cont-a").await;
    a.available(1).await;
    let user = user_id();
    assert_eq!(
        say(&app, &user, "01CT1", "最近、家から出られません", false).await,
        200
    );
    let first = assigned(&mut a).await;
    a.ws.send(json!({"type": "send", "conversation_id": first, "client_id": "a1", "text": "話してくれてありがとう"}))
        .await;
    a.ws.recv_type("sent").await;
    a.ws.send(json!({"type": "end", "conversation_id": first, "outcome": "listened"}))
        .await;
    a.ws.recv_type("ended").await;
    let store = app.store.clone();
    let first_id = first.parse().unwrap();
    let case = store.case_of(first_id).await.unwrap().expect("a case");
    assert_eq!(case.conversations, vec![first_id]);

    // Idle longer than Aoki: without the preference, Baba would be next.
    let mut b = app.counsellor("line-cont-b").await;
    b.available(1).await;
    assert_eq!(
        say(&app, &user, "01CT2", "また話を聞いてほしいです", false).await,
        200
    );
    let second = assigned(&mut a).await;
    assert_ne!(second, first);
    let (status, body) = case_of(&app, &a.cookie, &second).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let earlier = body["case"]["earlier"].as_array().unwrap();
    assert_eq!(earlier.len(), 1, "{body}");
    assert_eq!(earlier[0]["conversation_id"], first.as_str());
    assert_eq!(earlier[0]["channel"], "line");
    assert_eq!(
        texts_of(&earlier[0]),
        ["最近、家から出られません", "話してくれてありがとう"]
    );
    assert!(
        !body.to_string().contains(&user),
        "counsellors never see the LINE user id"
    );

    // Another LINE user: a case of their own, with nothing earlier.
    let other = user_id();
    say(&app, &other, "01CT3", "はじめまして", false).await;
    let third = assigned(&mut b).await;
    let (_, body) = case_of(&app, &b.cookie, &third).await;
    assert_eq!(body["case"]["earlier"], json!([]), "{body}");
    let theirs = store
        .case_of(third.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(theirs.id, case.id);

    // The first user leaves: their conversations stay (retention), but
    // nothing ties them together any more.
    post_webhook(
        &app.addr,
        vec![json!({"type": "unfollow", "webhookEventId": "01CT4", "source": {"type": "user", "userId": user}})],
        None,
    )
    .await;
    eventually("the case is forgotten with the LINE user", || {
        let store = store.clone();
        let second = second.parse().unwrap();
        async move { store.case_of(second).await.unwrap().is_none() }
    })
    .await;
    assert!(store.conversation(first_id).await.unwrap().is_some());
}
