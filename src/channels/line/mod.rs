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
//!
//! Every store step goes through the service (`service/line.rs`). This
//! file takes the webhook and runs the node's loop; `sender` sends to
//! LINE, `texts` holds what the channel says.

mod sender;
mod texts;

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
use crate::core::ids::{ClientMsgId, ConversationId, Party};
use crate::core::prechat::PreChat;
use crate::http::ApiError;
use crate::model::{Channel, Event};
use crate::protocol::ErrorCode;
use crate::service::{LineCurrent, Refusal, Service};

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
    /// When it happened, ms since the epoch (0 if absent).
    #[serde(default)]
    timestamp: u64,
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
        // Counted in /metrics (tsunagu_refusals_total{code="invalid_signature"},
        // by the refusal middleware); logged at most once a minute, so a
        // flood of unsigned requests cannot flood the logs.
        static REFUSED_LOG: crate::telemetry::LogThrottle =
            crate::telemetry::LogThrottle::new(60_000);
        if let Some(not_logged) = REFUSED_LOG.check(crate::clock::now_ms()) {
            tracing::warn!(
                not_logged,
                "LINE webhook refused: bad or missing signature (logged at most once a minute; all are counted in /metrics)"
            );
        }
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
            // A replayed or stale signed event changes nothing: older than
            // the window by its timestamp, or handled within it.
            let window = self.cfg.event_window_secs.saturating_mul(1000);
            let now = crate::clock::now_ms();
            if ev.timestamp != 0 && now.abs_diff(ev.timestamp) > window {
                self.service.metrics.refused(ErrorCode::LineEventStale);
                tracing::debug!("LINE event outside the window; ignored");
                continue;
            }
            let id = ev.event_id.clone();
            if !id.is_empty() {
                match self.service.line_event_seen(&id).await {
                    Ok(true) => {
                        self.service.metrics.refused(ErrorCode::LineEventSeen);
                        tracing::debug!("LINE event already handled; ignored");
                        continue;
                    }
                    Ok(false) => {}
                    // Not known: handled as before (the store de-duplicates messages).
                    Err(_) => {}
                }
            }
            match self.handle(ev).await {
                Ok(()) if !id.is_empty() => self.service.line_event_handled(&id).await,
                Ok(()) => {}
                Err(e) => tracing::warn!(code = e.code.as_str(), "LINE event not handled"),
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
    ///
    /// The node-wide `opening` lock covers only the store steps (finding
    /// or opening the user's conversation, adding the message); what is
    /// then said to the user over the LINE API (the welcome with the queue
    /// place, a refusal) is sent after it is released, so a slow or
    /// unreachable API delays that user's notice and nobody else's
    /// conversation.
    async fn visitor_wrote(
        &self,
        user: &str,
        event_id: &str,
        reply_token: Option<String>,
        text: String,
    ) -> Result<(), Refusal> {
        let (result, notice) = self
            .visitor_wrote_in_store(user, event_id, reply_token, text)
            .await;
        match notice {
            Notice::None => {}
            Notice::Welcome { conv, token, text } => {
                self.reply_or_push(Some(conv), user, token, vec![text], "welcome")
                    .await;
            }
            Notice::Refused { token, text } => {
                self.reply_or_push(None, user, token, vec![text], "refused")
                    .await;
            }
            Notice::TellRefusal(conv) => {
                if let Err(r) = &result {
                    self.tell_refusal(conv, user, r).await;
                }
            }
        }
        result
    }

    /// The store steps of [`Self::visitor_wrote`], one at a time per node;
    /// no network call to LINE is made while the lock is held.
    async fn visitor_wrote_in_store(
        &self,
        user: &str,
        event_id: &str,
        reply_token: Option<String>,
        text: String,
    ) -> (Result<(), Refusal>, Notice) {
        let client_id = match ClientMsgId::parse(&format!("line-{event_id}")) {
            Ok(c) => c,
            Err(_) => {
                let r = Refusal::new(ErrorCode::InvalidMessage, "no usable webhookEventId");
                return (Err(r), Notice::None);
            }
        };
        let _one = self.opening.lock().await;
        match self.service.line_current(user, event_id).await {
            Err(r) => return (Err(r), Notice::None),
            Ok(LineCurrent::Redelivered) => return (Ok(()), Notice::None), // the redelivered first message
            Ok(LineCurrent::Live(conv)) => {
                self.keep_reply_token(conv, reply_token);
                return match self
                    .service
                    .send(conv, Party::Visitor, None, client_id, text)
                    .await
                {
                    Ok(_) => (Ok(()), Notice::None),
                    Err(r) => (Err(r), Notice::TellRefusal(conv)),
                };
            }
            Ok(LineCurrent::New) => {}
        }
        match self
            .service
            .start_on(
                Channel::Line,
                PreChat::default(),
                Some(text.clone()),
                Some(self.service.line_case_key(user)),
            )
            .await
        {
            Ok((rec, _resume_token)) => {
                // A LINE visitor never resumes: the resume token is dropped.
                if let Err(r) = self.service.line_open(rec.id, user, event_id).await {
                    return (Err(r), Notice::None);
                }
                lock(&self.is_line).insert(rec.id, true);
                let notice = match self.queue_notice(rec.id).await {
                    Some((position, text)) => {
                        lock(&self.notices).insert(rec.id, (position, now_ms()));
                        Notice::Welcome {
                            conv: rec.id,
                            token: reply_token,
                            text,
                        }
                    }
                    None => Notice::None,
                };
                (Ok(()), notice)
            }
            Err(r) if matches!(r.code, ErrorCode::Closed | ErrorCode::QueueFull) => {
                // Closed or full: the message becomes a letter (issue 22).
                match self.service.write_line_letter(user, event_id, text).await {
                    Some(Ok(receipt)) => (
                        Ok(()),
                        Notice::Refused {
                            token: reply_token,
                            text: self.letter_text(&receipt),
                        },
                    ),
                    Some(Err(letter)) if letter.code == ErrorCode::RateLimited => (
                        Ok(()),
                        Notice::Refused {
                            token: reply_token,
                            text: self.letter_waiting_text(&r),
                        },
                    ),
                    Some(Err(letter)) => self.refused(letter, reply_token),
                    None => self.refused(r, reply_token),
                }
            }
            Err(r) => self.refused(r, reply_token),
        }
    }

    /// A new conversation (or letter) refused: say why.
    fn refused(&self, r: Refusal, token: Option<String>) -> (Result<(), Refusal>, Notice) {
        let text = self.refusal_text(&r);
        (Err(r), Notice::Refused { token, text })
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

/// What `visitor_wrote` tells the user once the `opening` lock is released.
enum Notice {
    None,
    /// The welcome with the queue place, for a conversation just opened.
    Welcome {
        conv: ConversationId,
        token: Option<String>,
        text: String,
    },
    /// A new conversation was refused (queue full, closed, ...), or
    /// taken as a letter: what to tell the user.
    Refused {
        token: Option<String>,
        text: String,
    },
    /// A message into the live conversation was refused.
    TellRefusal(ConversationId),
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
