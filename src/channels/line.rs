//! The LINE edge: a LINE official account's visitors join the same queue.
//!
//! It only translates. Inbound, `POST /channels/line/webhook` checks the
//! `x-line-signature` (HMAC-SHA256 of the raw body with the channel
//! secret) before anything else, answers at once, and turns each event
//! into the use cases a web visitor uses: `Service::start_on` with the
//! first message, `Service::send` with a client id made from the
//! `webhookEventId` (so a redelivered event is de-duplicated by the store's
//! client-id rule), `Service::visitor_end` on unfollow. Outbound, one task
//! per node sends counsellors' messages with the Messaging API, reading
//! the log by sequence number like a socket does: events are the fast
//! path, a periodic catch-up makes a lost event cost latency, never a
//! message. A store lease per conversation makes one node at a time the
//! sender, so messages leave in order and once; the retry key is derived
//! from (conversation, seq), so a retry by any node is never delivered
//! twice.
//!
//! A handoff offer cannot be shown in LINE, so the sender also sends the
//! visitor a one-time link to the handoff page (`/handoff/#<token>`) for
//! each offer version: made and stored (hashed) by
//! `Service::issue_handoff_link`, pushed with a retry key derived from the
//! token, then marked sent. A link whose push was never confirmed is
//! replaced by a fresh one on a later pass (its token exists nowhere
//! else), at most every `LINK_RETRY_MS`.
//!
//! Never logged: message text, LINE user ids, reply tokens, handoff link
//! tokens, the secrets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use crate::clock::now_ms;
use crate::config::Line as LineSettings;
use crate::core::hours::iso_jst;
use crate::core::ids::{ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::http::ApiError;
use crate::model::{Channel, Event, LineDelivery, LineDeliveryState, StoredMessage};
use crate::protocol::ErrorCode;
use crate::service::{LineCurrent, LinkDue, Refusal, Service};

/// The largest webhook body read (LINE's are far smaller).
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;
/// How long a node holds a conversation's sending lease without renewing.
const LEASE_MS: u64 = 30_000;
const MAX_BACKOFF_MS: u64 = 30_000;
/// A handoff link whose push failed is tried again (as a fresh link) at
/// most this often per conversation.
const LINK_RETRY_MS: u64 = 30_000;

/// Is `signature` (the header, base64) the HMAC-SHA256 of `body` under
/// `secret`? Compared in constant time.
pub fn signature_valid(secret: &str, body: &[u8], signature: Option<&str>) -> bool {
    let Some(given) = signature.and_then(|s| BASE64.decode(s.trim()).ok()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The `X-Line-Retry-Key` of one outgoing message: a UUID derived from
/// what is sent, so every retry, by any node, carries the same key.
pub fn retry_key(conversation: ConversationId, what: &str) -> String {
    let h = Sha256::digest(format!("tsunagu-line:{conversation}:{what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

// ------------------------------------------------------------ webhook

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(default)]
    events: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct WebhookEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "webhookEventId", default)]
    event_id: String,
    #[serde(rename = "replyToken", default)]
    reply_token: Option<String>,
    source: Source,
    #[serde(default)]
    message: Option<EventMessage>,
    #[serde(default)]
    postback: Option<Postback>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "userId", default)]
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct EventMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    #[serde(default)]
    data: String,
}

/// `POST /channels/line/webhook`.
pub async fn webhook(
    req: HttpRequest,
    body: web::Bytes,
    line: Option<web::Data<LineChannel>>,
) -> Result<HttpResponse, ApiError> {
    let Some(line) = line.map(|l| l.into_inner()) else {
        return Err(ApiError::new(ErrorCode::NotFound, "no such endpoint"));
    };
    let signature = req
        .headers()
        .get("x-line-signature")
        .and_then(|v| v.to_str().ok());
    if !signature_valid(line.secret(), &body, signature) {
        tracing::warn!("LINE webhook refused: bad or missing signature");
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "the x-line-signature does not match the body",
        ));
    }
    let parsed: WebhookBody = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "not a LINE webhook body"))?;
    // Answer at once; LINE redelivers what it thinks we did not take.
    tokio::spawn(async move { line.handle_events(parsed.events).await });
    Ok(HttpResponse::Ok().json(json!({})))
}

// ------------------------------------------------------------ channel

/// One node's LINE channel: the webhook's use cases and the sender.
pub struct LineChannel {
    service: Arc<Service>,
    cfg: LineSettings,
    http: reqwest::Client,
    /// This node, as a lease holder.
    node: String,
    /// The newest unused reply token of a conversation, with when it came.
    replies: Mutex<HashMap<ConversationId, (String, u64)>>,
    /// One sender at a time per conversation on this node.
    senders: Mutex<HashMap<ConversationId, Arc<tokio::sync::Mutex<()>>>>,
    /// Channels never change: which conversations are LINE ones.
    is_line: Mutex<HashMap<ConversationId, bool>>,
    /// The last queue notice of a conversation: (position, when).
    notices: Mutex<HashMap<ConversationId, (u32, u64)>>,
    /// Finding or opening a user's conversation is one step per node.
    opening: tokio::sync::Mutex<()>,
    /// When this node last tried to send a conversation's handoff link.
    link_tries: Mutex<HashMap<ConversationId, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a call to the Messaging API did not deliver.
enum CallError {
    /// Try again (429, 5xx, no answer).
    Transient(String),
    /// Will never work (another 4xx).
    Permanent(String),
}

impl LineChannel {
    /// `None` unless both the channel secret and the access token are set.
    pub fn new(service: Arc<Service>) -> Option<Arc<Self>> {
        let cfg = service.settings.line.clone();
        if cfg.channel_secret.is_none() || cfg.access_token.is_none() {
            return None;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.request_timeout_ms))
            .build()
            .ok()?;
        Some(Arc::new(Self {
            service,
            cfg,
            http,
            node: uuid::Uuid::new_v4().to_string(),
            replies: Mutex::default(),
            senders: Mutex::default(),
            is_line: Mutex::default(),
            notices: Mutex::default(),
            opening: tokio::sync::Mutex::new(()),
            link_tries: Mutex::default(),
        }))
    }

    fn secret(&self) -> &str {
        self.cfg
            .channel_secret
            .as_ref()
            .map(|s| s.expose())
            .unwrap_or("")
    }

    fn token(&self) -> &str {
        self.cfg
            .access_token
            .as_ref()
            .map(|s| s.expose())
            .unwrap_or("")
    }

    async fn handle_events(self: Arc<Self>, events: Vec<serde_json::Value>) {
        // In order: LINE sends one user's events in the order they happened.
        for raw in events {
            let Ok(ev) = serde_json::from_value::<WebhookEvent>(raw) else {
                tracing::debug!("LINE event not understood; skipped");
                continue;
            };
            if let Err(e) = self.handle(ev).await {
                tracing::warn!(code = e.code.as_str(), "LINE event not handled");
            }
        }
    }

    async fn handle(&self, ev: WebhookEvent) -> Result<(), Refusal> {
        let Some(user) = ev.source.user_id.filter(|_| ev.source.kind == "user") else {
            return Ok(()); // groups and rooms are not a counselling channel
        };
        match ev.kind.as_str() {
            "follow" => {
                let text = self.greeting();
                self.reply_or_push(None, &user, ev.reply_token, vec![text], "follow")
                    .await;
                Ok(())
            }
            "unfollow" => self.visitor_left(&user).await,
            "postback" => match ev.postback.map(|p| p.data).as_deref() {
                Some("end") => self.visitor_left(&user).await,
                _ => Ok(()),
            },
            "message" => {
                let Some(m) = ev.message else { return Ok(()) };
                let text = match m.kind.as_str() {
                    "text" => m.text.unwrap_or_default(),
                    // Media are not kept: the counsellor learns one came.
                    other => placeholder(other).to_owned(),
                };
                self.visitor_wrote(&user, &ev.event_id, ev.reply_token, text)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// A message from the user: into their conversation, or a new one.
    async fn visitor_wrote(
        &self,
        user: &str,
        event_id: &str,
        reply_token: Option<String>,
        text: String,
    ) -> Result<(), Refusal> {
        let client_id = ClientMsgId::parse(&format!("line-{event_id}"))
            .map_err(|_| Refusal::new(ErrorCode::InvalidMessage, "no usable webhookEventId"))?;
        let _one = self.opening.lock().await;
        match self.service.line_current(user, event_id).await? {
            LineCurrent::Redelivered => return Ok(()), // the redelivered first message
            LineCurrent::Live(conv) => {
                self.keep_reply_token(conv, reply_token);
                return match self
                    .service
                    .send(conv, Party::Visitor, None, client_id, text)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(r) => {
                        self.tell_refusal(conv, user, &r).await;
                        Err(r)
                    }
                };
            }
            LineCurrent::New => {}
        }
        match self
            .service
            .start_on(Channel::Line, PreChat::default(), Some(text))
            .await
        {
            Ok((rec, _resume_token)) => {
                // A LINE visitor never resumes: the resume token is dropped.
                self.service.line_open(rec.id, user, event_id).await?;
                lock(&self.is_line).insert(rec.id, true);
                let notice = self.queue_notice(rec.id).await;
                if let Some((position, text)) = notice {
                    lock(&self.notices).insert(rec.id, (position, now_ms()));
                    self.reply_or_push(Some(rec.id), user, reply_token, vec![text], "welcome")
                        .await;
                }
                Ok(())
            }
            Err(r) => {
                let text = self.refusal_text(&r);
                self.reply_or_push(None, user, reply_token, vec![text], "refused")
                    .await;
                Err(r)
            }
        }
    }

    async fn visitor_left(&self, user: &str) -> Result<(), Refusal> {
        let _one = self.opening.lock().await;
        self.service.line_visitor_left(user).await
    }

    fn keep_reply_token(&self, conv: ConversationId, token: Option<String>) {
        if let Some(t) = token {
            lock(&self.replies).insert(conv, (t, now_ms()));
        }
    }

    fn take_reply_token(&self, conv: ConversationId) -> Option<String> {
        let (t, at) = lock(&self.replies).remove(&conv)?;
        (now_ms().saturating_sub(at) < self.cfg.reply_token_secs * 1000).then_some(t)
    }

    // ------------------------------------------------------- texts

    fn greeting(&self) -> String {
        let site = &self.service.settings.site;
        format!(
            "{}\nメッセージを送ると相談員につながります（匿名です）。\n受付時間: {}\n\nSend a message to chat with a counsellor (anonymously).\nHours: {}",
            site.name_ja, site.hours_ja, site.hours_en
        )
    }

    fn alternatives_text(&self) -> String {
        let alts = &self.service.settings.alternatives;
        if alts.is_empty() {
            return String::new();
        }
        let mut s = String::from("\n\n24時間の相談先 / Round-the-clock services:");
        for a in alts {
            s.push_str(&format!("\n・{} {}", a.name, a.contact));
            if !a.hours.is_empty() {
                s.push_str(&format!(" ({})", a.hours));
            }
        }
        s
    }

    fn refusal_text(&self, r: &Refusal) -> String {
        let site = &self.service.settings.site;
        let head = match r.code {
            ErrorCode::Closed => format!(
                "ただいま受付時間外です。受付時間: {}\nChat is closed now. Hours: {}",
                site.hours_ja, site.hours_en
            ),
            ErrorCode::QueueFull => "ただいま混み合っていて、お待ちいただける人数を超えています。時間をおいてもう一度お送りください。\nEveryone is busy and the queue is full; please try again later.".into(),
            ErrorCode::TextTooLong => "メッセージが長すぎます。分けて送ってください。\nThat message is too long; please split it.".into(),
            _ => "うまく受け取れませんでした。もう一度お送りください。\nThat did not go through; please send it again.".into(),
        };
        let next = r
            .next_opening
            .as_ref()
            .map(|t| format!("\n次の受付開始 / Next opening: {t}"))
            .unwrap_or_default();
        format!("{head}{next}{}", self.alternatives_text())
    }

    async fn tell_refusal(&self, conv: ConversationId, user: &str, r: &Refusal) {
        let text = self.refusal_text(r);
        let token = self.take_reply_token(conv);
        self.reply_or_push(Some(conv), user, token, vec![text], "refused")
            .await;
    }

    /// The visitor's place and estimate as a message, if they are waiting.
    async fn queue_notice(&self, conv: ConversationId) -> Option<(u32, String)> {
        let (queue, places) = self.service.queue_places().await.ok()?;
        let i = queue.iter().position(|r| r.id == conv)?;
        let p = places.get(i)?;
        let wait = match p.estimated_wait_secs {
            Some(s) => format!(
                "目安の待ち時間: 約{}分 / About {} min",
                s.div_ceil(60).max(1),
                s.div_ceil(60).max(1)
            ),
            None => "待ち時間の目安はまだ出せません / No estimate yet".into(),
        };
        let mut text = format!(
            "受け付けました。相談員につながるまでお待ちください。\n順番: {}番目 / You are number {} in the queue\n{}",
            p.position, p.position, wait
        );
        if !self.service.hours_status().accepts_new_visitors() {
            let site = &self.service.settings.site;
            text.push_str(&format!(
                "\nまもなく受付終了です。受付時間: {} / Closing soon. Hours: {}",
                site.hours_ja, site.hours_en
            ));
            text.push_str(&self.alternatives_text());
        }
        Some((p.position, text))
    }

    // ------------------------------------------------------- sending

    /// Is this a LINE conversation (cached: a channel never changes)?
    async fn line_conversation(&self, conv: ConversationId) -> bool {
        if let Some(b) = lock(&self.is_line).get(&conv).copied() {
            return b;
        }
        match self.service.channel_of(conv).await {
            Ok(Some(channel)) => {
                let b = channel == Channel::Line;
                lock(&self.is_line).insert(conv, b);
                b
            }
            _ => false,
        }
    }

    fn sender_lock(&self, conv: ConversationId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.senders).entry(conv).or_default().clone()
    }

    /// Send every counsellor message of `conv` not yet delivered, in
    /// order, if this node holds the conversation's lease; after the end,
    /// say so and forget the LINE user.
    pub async fn deliver(&self, conv: ConversationId) {
        if !self.line_conversation(conv).await {
            return;
        }
        let lock = self.sender_lock(conv);
        let _one = lock.lock().await;
        if let Err(e) = self.deliver_locked(conv).await {
            tracing::warn!(conversation = %conv, code = e.code.as_str(), error = %e.message, "LINE delivery paused; retried on the next catch-up");
        }
    }

    async fn deliver_locked(&self, conv: ConversationId) -> Result<(), Refusal> {
        let service = &self.service;
        if !service
            .line_lease(conv, &self.node, now_ms(), LEASE_MS)
            .await?
        {
            return Ok(()); // another node sends this conversation's messages
        }
        let Some(user) = service.line_user(conv).await? else {
            return Ok(());
        };
        // The cursor: the last message with a recorded delivery.
        let mut cursor = service.line_cursor(conv).await?;
        loop {
            let batch = service.messages_after(conv, cursor, 50).await?;
            if batch.is_empty() {
                break;
            }
            for m in batch {
                cursor = m.seq;
                if m.from != Party::Counsellor {
                    continue;
                }
                if !service
                    .line_lease(conv, &self.node, now_ms(), LEASE_MS)
                    .await?
                {
                    return Ok(());
                }
                let delivery = self.send_message(conv, &user, &m).await;
                let failed = match &delivery.state {
                    LineDeliveryState::Failed { reason } => Some(reason.clone()),
                    _ => None,
                };
                service.line_delivered(conv, delivery).await?;
                if let Some(reason) = failed {
                    tracing::warn!(conversation = %conv, seq = m.seq, reason = %reason, "LINE message not delivered");
                }
            }
        }
        // Before the end's goodbye: an offer made just before the end
        // still reaches the visitor, who can answer it afterwards.
        self.send_handoff_link(conv, &user).await?;
        if service.line_conversation_over(conv).await? {
            let text = "相談は終了しました。ありがとうございました。また話したくなったら、いつでもメッセージを送ってください。\nThe chat has ended. Send a message any time to start a new one.";
            let _ = self
                .push(&user, vec![text.into()], &retry_key(conv, "ended"))
                .await;
            service.line_forget_user(conv).await?;
            lock(&self.notices).remove(&conv);
            lock(&self.replies).remove(&conv);
            lock(&self.link_tries).remove(&conv);
        }
        Ok(())
    }

    /// Send the visitor a link to the handoff page if the offer awaiting
    /// their answer has none that was confirmed sent (see the module doc).
    async fn send_handoff_link(&self, conv: ConversationId, user: &str) -> Result<(), Refusal> {
        let Some(LinkDue {
            record: rec,
            retrying,
        }) = self.service.handoff_link_due(conv).await?
        else {
            return Ok(());
        };
        let now = now_ms();
        // A first try for this offer goes at once; a failed one waits.
        if retrying
            && lock(&self.link_tries)
                .get(&conv)
                .is_some_and(|at| now.saturating_sub(*at) < LINK_RETRY_MS)
        {
            return Ok(());
        }
        lock(&self.link_tries).insert(conv, now);
        let made = match self.service.issue_handoff_link(&rec).await {
            Ok(Some(made)) => made,
            Ok(None) => {
                tracing::warn!(conversation = %conv, "no handoff link sent to the LINE visitor: public_url is not set");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(conversation = %conv, code = e.code.as_str(), "handoff link not made");
                return Ok(());
            }
        };
        let text = handoff_link_text(&made.url, made.link.expires_at_ms);
        let h = Sha256::digest(made.link.token_hash);
        let key = retry_key(
            conv,
            &format!(
                "handoff-link:{:02x}{:02x}{:02x}{:02x}",
                h[0], h[1], h[2], h[3]
            ),
        );
        match self.push(user, vec![text], &key).await {
            Ok(_) => {
                self.service
                    .handoff_link_sent(conv, &made.link.token_hash)
                    .await?;
                tracing::info!(conversation = %conv, version = rec.offer.version, "handoff link sent to the LINE visitor");
            }
            Err((reason, _)) => {
                tracing::warn!(conversation = %conv, reason = %reason, "handoff link not delivered; a fresh one is tried later");
            }
        }
        Ok(())
    }

    async fn send_message(
        &self,
        conv: ConversationId,
        user: &str,
        m: &StoredMessage,
    ) -> LineDelivery {
        let texts = vec![m.text.clone()];
        // A reply token costs no quota, but a reply has no retry key: it is
        // tried once, and anything but success falls back to a push.
        if let Some(token) = self.take_reply_token(conv) {
            if self.call_reply(&token, &texts).await.is_ok() {
                return LineDelivery {
                    seq: m.seq,
                    state: LineDeliveryState::Sent,
                    attempts: 1,
                    at_ms: now_ms(),
                };
            }
        }
        let key = retry_key(conv, &format!("seq:{}", m.seq));
        let (state, attempts) = match self.push(user, texts, &key).await {
            Ok(n) => (LineDeliveryState::Sent, n),
            Err((reason, n)) => (LineDeliveryState::Failed { reason }, n),
        };
        LineDelivery {
            seq: m.seq,
            state,
            attempts,
            at_ms: now_ms(),
        }
    }

    /// Push with retries on 429, 5xx and no answer, always with the same
    /// retry key; LINE answers 409 to a key it already accepted, which
    /// counts as delivered. Returns the tries made.
    async fn push(&self, user: &str, texts: Vec<String>, key: &str) -> Result<u32, (String, u32)> {
        let attempts = self.cfg.max_attempts.max(1);
        let mut last = String::new();
        for n in 1..=attempts {
            match self.call_push(user, &texts, key).await {
                Ok(()) => return Ok(n),
                Err(CallError::Permanent(r)) => return Err((r, n)),
                Err(CallError::Transient(r)) => last = r,
            }
            if n < attempts {
                let backoff = self
                    .cfg
                    .retry_base_ms
                    .saturating_mul(1 << (n - 1).min(16))
                    .min(MAX_BACKOFF_MS);
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
        }
        Err((last, attempts))
    }

    async fn call_push(&self, user: &str, texts: &[String], key: &str) -> Result<(), CallError> {
        let body = json!({ "to": user, "messages": text_messages(texts) });
        let res = self
            .http
            .post(format!("{}/v2/bot/message/push", self.cfg.api_base))
            .bearer_auth(self.token())
            .header("X-Line-Retry-Key", key)
            .json(&body)
            .send()
            .await;
        classify(res, true)
    }

    async fn call_reply(&self, token: &str, texts: &[String]) -> Result<(), CallError> {
        let body = json!({ "replyToken": token, "messages": text_messages(texts) });
        let res = self
            .http
            .post(format!("{}/v2/bot/message/reply", self.cfg.api_base))
            .bearer_auth(self.token())
            .json(&body)
            .send()
            .await;
        classify(res, false)
    }

    /// A system message (greeting, queue place, refusal): the reply token
    /// when there is one, else a push (when the user is known).
    async fn reply_or_push(
        &self,
        conv: Option<ConversationId>,
        user: &str,
        token: Option<String>,
        texts: Vec<String>,
        what: &str,
    ) {
        if let Some(t) = token {
            if self.call_reply(&t, &texts).await.is_ok() {
                return;
            }
        }
        let key = match conv {
            Some(c) => retry_key(c, &format!("{what}:{}", now_ms())),
            None => uuid::Uuid::new_v4().to_string(),
        };
        if let Err((reason, _)) = self.push(user, texts, &key).await {
            tracing::warn!(what, reason = %reason, "LINE notice not delivered");
        }
    }

    /// Push queue places to waiting LINE visitors whose place changed, at
    /// most every `queue_notice_secs`.
    async fn queue_notices(&self) {
        let Ok((queue, _)) = self.service.queue_places().await else {
            return;
        };
        let now = now_ms();
        let every = self.cfg.queue_notice_secs * 1000;
        for rec in queue.iter().filter(|r| r.channel == Channel::Line) {
            let due = match lock(&self.notices).get(&rec.id) {
                Some((_, at)) => now.saturating_sub(*at) >= every,
                None => true,
            };
            if !due {
                continue;
            }
            let Some((position, text)) = self.queue_notice(rec.id).await else {
                continue;
            };
            if lock(&self.notices)
                .get(&rec.id)
                .is_some_and(|(p, _)| *p == position)
            {
                continue; // nothing new to say
            }
            if !matches!(
                self.service
                    .line_lease(rec.id, &self.node, now, LEASE_MS)
                    .await,
                Ok(true)
            ) {
                continue;
            }
            let Ok(Some(user)) = self.service.line_user(rec.id).await else {
                continue;
            };
            lock(&self.notices).insert(rec.id, (position, now));
            let key = retry_key(rec.id, &format!("queue:{position}"));
            if let Err((reason, _)) = self.push(&user, vec![text], &key).await {
                tracing::warn!(conversation = %rec.id, reason = %reason, "LINE queue notice not delivered");
            }
        }
    }

    /// Every live LINE conversation: send what is pending.
    async fn catch_up(self: &Arc<Self>) {
        let Ok(live) = self.service.live_line_conversations().await else {
            return;
        };
        for conv in live {
            lock(&self.is_line).insert(conv, true);
            let me = self.clone();
            tokio::spawn(async move { me.deliver(conv).await });
        }
    }

    /// The node's sender: counsellor messages on events, everything
    /// pending on each catch-up tick.
    pub async fn run(self: Arc<Self>) {
        let mut events = self.service.subscribe();
        let mut tick = tokio::time::interval(Duration::from_millis(self.cfg.catch_up_ms.max(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(Event::Message { conversation, message }) if message.from == Party::Counsellor => {
                        let me = self.clone();
                        tokio::spawn(async move { me.deliver(conversation).await });
                    }
                    Ok(Event::Handoff { conversation }) => {
                        let me = self.clone();
                        tokio::spawn(async move { me.deliver(conversation).await });
                    }
                    Ok(Event::Ended { conversation, .. }) => {
                        let me = self.clone();
                        tokio::spawn(async move { me.deliver(conversation).await });
                    }
                    Ok(Event::Resync) | Err(RecvError::Lagged(_)) => self.catch_up().await,
                    Ok(_) => {}
                    Err(RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    self.catch_up().await;
                    self.queue_notices().await;
                }
            }
        }
    }
}

/// The message carrying a handoff link: Japanese first, then English.
fn handoff_link_text(url: &str, expires_at_ms: u64) -> String {
    let iso = iso_jst(expires_at_ms);
    let until = format!("{} {}", &iso[..10], &iso[11..16]);
    format!(
        "相談員から初回相談のご提案が届きました。\n下のリンクを開くと、センターに渡す内容を読んで、同意するかどうかを選べます。同意したら、そのまま予約もできます。\n{url}\nこのリンクはあなた専用です。ほかの人には送らないでください。{until}（日本時間）まで使えます。予約をすると使えなくなります。\n\nThe counsellor has proposed a first consultation. Open the link to read what would be passed on to the centre and choose whether to agree; then you can book.\n{url}\nThis link is for you only; please do not share it. It works until {until} Japan time, or until you book."
    )
}

fn text_messages(texts: &[String]) -> Vec<serde_json::Value> {
    texts
        .iter()
        .take(5) // the API takes at most five per call
        .map(|t| json!({ "type": "text", "text": t }))
        .collect()
}

fn classify(res: reqwest::Result<reqwest::Response>, push: bool) -> Result<(), CallError> {
    match res {
        Ok(r) if r.status().is_success() => Ok(()),
        // The retry key was accepted before: delivered already.
        Ok(r) if push && r.status().as_u16() == 409 => Ok(()),
        Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => Err(
            CallError::Transient(format!("http {}", r.status().as_u16())),
        ),
        Ok(r) => Err(CallError::Permanent(format!(
            "http {}",
            r.status().as_u16()
        ))),
        Err(e) if e.is_timeout() => Err(CallError::Transient("timeout".into())),
        Err(_) => Err(CallError::Transient("unreachable".into())),
    }
}

fn placeholder(kind: &str) -> &'static str {
    match kind {
        "sticker" => "(sticker)",
        "image" => "(image)",
        "video" => "(video)",
        "audio" => "(audio)",
        "file" => "(file)",
        "location" => "(location)",
        _ => "(message)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_against_the_raw_body() {
        let body = br#"{"events":[]}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let good = BASE64.encode(mac.finalize().into_bytes());
        assert!(signature_valid("s3cret", body, Some(&good)));
        assert!(!signature_valid("other", body, Some(&good)));
        assert!(!signature_valid(
            "s3cret",
            br#"{"events":[1]}"#,
            Some(&good)
        ));
        assert!(!signature_valid("s3cret", body, None));
        assert!(!signature_valid("s3cret", body, Some("not base64!")));
    }

    #[test]
    fn a_retry_key_is_the_same_for_the_same_message_only() {
        let c = ConversationId(uuid::Uuid::from_u128(7));
        let k = retry_key(c, "seq:3");
        assert_eq!(k, retry_key(c, "seq:3"));
        assert_ne!(k, retry_key(c, "seq:4"));
        assert!(uuid::Uuid::parse_str(&k).is_ok());
    }
}
