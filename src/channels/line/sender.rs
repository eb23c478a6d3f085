//! The sender: counsellors' messages and the handoff link out to LINE
//! with the Messaging API, in order and once (the lease, the delivery
//! cursor and the retry keys; see the channel's module doc), and queue
//! notices to waiting LINE visitors.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::texts::handoff_link_text;
use super::{lock, retry_key, LineChannel, LEASE_MS, LINK_RETRY_MS, MAX_BACKOFF_MS};
use crate::core::ids::{ConversationId, Party};
use crate::model::{Channel, LineDelivery, LineDeliveryState, StoredMessage};
use crate::service::{LineOver, LinkDue, Refusal};

/// Why a call to the Messaging API did not deliver.
pub(super) enum CallError {
    /// Try again (429, 5xx, no answer).
    Transient(String),
    /// Will never work (another 4xx).
    Permanent(String),
}

impl LineChannel {
    /// Is this a LINE conversation (cached: a channel never changes)?
    pub(super) async fn line_conversation(&self, conv: ConversationId) -> bool {
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

    pub(super) fn sender_lock(&self, conv: ConversationId) -> Arc<tokio::sync::Mutex<()>> {
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

    pub(super) async fn deliver_locked(&self, conv: ConversationId) -> Result<(), Refusal> {
        let service = &self.service;
        if !service
            .line_lease(conv, &self.node, self.service.now_ms(), LEASE_MS)
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
                    .line_lease(conv, &self.node, self.service.now_ms(), LEASE_MS)
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
        let over = service.line_conversation_over(conv).await?;
        if over != LineOver::No {
            if over == LineOver::Chat {
                let text = "相談は終了しました。ありがとうございました。また話したくなったら、いつでもメッセージを送ってください。\nThe chat has ended. Send a message any time to start a new one.";
                let _ = self
                    .push(&user, vec![text.into()], &retry_key(conv, "ended"))
                    .await;
            }
            service.line_forget_user(conv).await?;
            lock(&self.notices).remove(&conv);
            lock(&self.replies).remove(&conv);
            lock(&self.link_tries).remove(&conv);
        }
        Ok(())
    }

    /// Send the visitor a link to the handoff page if the offer awaiting
    /// their answer has none that was confirmed sent (see the module doc).
    pub(super) async fn send_handoff_link(
        &self,
        conv: ConversationId,
        user: &str,
    ) -> Result<(), Refusal> {
        let Some(LinkDue {
            record: rec,
            retrying,
        }) = self.service.handoff_link_due(conv).await?
        else {
            return Ok(());
        };
        let now = self.service.now_ms();
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

    pub(super) async fn send_message(
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
                    at_ms: self.service.now_ms(),
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
            at_ms: self.service.now_ms(),
        }
    }

    /// Push with retries on 429, 5xx and no answer, always with the same
    /// retry key; LINE answers 409 to a key it already accepted, which
    /// counts as delivered. Returns the tries made.
    pub(super) async fn push(
        &self,
        user: &str,
        texts: Vec<String>,
        key: &str,
    ) -> Result<u32, (String, u32)> {
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

    pub(super) async fn call_push(
        &self,
        user: &str,
        texts: &[String],
        key: &str,
    ) -> Result<(), CallError> {
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

    pub(super) async fn call_reply(&self, token: &str, texts: &[String]) -> Result<(), CallError> {
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
    pub(super) async fn reply_or_push(
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
            Some(c) => retry_key(c, &format!("{what}:{}", self.service.now_ms())),
            None => uuid::Uuid::new_v4().to_string(),
        };
        if let Err((reason, _)) = self.push(user, texts, &key).await {
            tracing::warn!(what, reason = %reason, "LINE notice not delivered");
        }
    }

    /// Push queue places to waiting LINE visitors whose place changed, at
    /// most every `queue_notice_secs`.
    pub(super) async fn queue_notices(&self) {
        let Ok((queue, _)) = self.service.queue_places().await else {
            return;
        };
        let now = self.service.now_ms();
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
}

pub(super) fn text_messages(texts: &[String]) -> Vec<serde_json::Value> {
    texts
        .iter()
        .take(5) // the API takes at most five per call
        .map(|t| json!({ "type": "text", "text": t }))
        .collect()
}

pub(super) fn classify(
    res: reqwest::Result<reqwest::Response>,
    push: bool,
) -> Result<(), CallError> {
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
