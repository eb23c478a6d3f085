//! The empty-floor alert's outbound webhook: each episode's raise and
//! clear, POSTed to the operator's own receiver (`[alerts] webhook_url`),
//! signed, retried with back-off, at least once.
//!
//! A delivery is queued in the store in the same step that raised or
//! cleared the episode (`FloorStore`), so a crash or restart loses none:
//! the sender (every node runs one) claims the oldest due delivery for a
//! lease, tries it, and deletes it once the receiver answered 2xx (or the
//! attempts ran out), else sets its next try. A delivery whose answer was
//! lost is sent again with the same `id`: receivers dedupe on it.
//!
//! The request:
//!
//! ```text
//! POST <webhook_url>
//! Content-Type: application/json
//! Tsunagu-Delivery: <id>
//! Tsunagu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret, "<t>.<body>")>
//!
//! {"id":"…","kind":"empty_floor.raised","episode":"…","cause":"no_counsellor",
//!  "since":"2026-12-03T21:00:00+09:00","waiting":2,"centre":"…"}
//! ```
//!
//! A receiver recomputes `v1` over the raw body with the shared secret,
//! compares in constant time, and refuses a `t` more than five minutes
//! from its clock (a replay). Nothing personal is ever sent: the kind, the
//! episode's id, since when, how many wait, and the centre's name. Only
//! the configured URL is called, and redirects are not followed.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::clock::now_ms;
use crate::config::Secret;
use crate::core::hours::iso_jst;
use crate::model::{FloorAlert, FloorChange, FloorWebhook};
use crate::service::Service;

/// Back-off never grows beyond this.
const MAX_BACKOFF_MS: u64 = 300_000;

pub struct FloorWebhookSender {
    service: Arc<Service>,
    http: reqwest::Client,
    url: String,
    secret: Secret,
}

/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], t: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .expect("HMAC-SHA256 takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// The body of one delivery: no personal data.
pub fn payload(w: &FloorWebhook, a: &FloorAlert, centre: &str) -> String {
    let mut v = json!({
        "id": w.id,
        "kind": format!("empty_floor.{}", w.change.as_str()),
        "episode": a.id,
        "cause": a.cause.as_str(),
        "since": iso_jst(a.since_ms),
        "waiting": a.waiting,
        "centre": centre,
    });
    if w.change == FloorChange::Cleared {
        if let (Some(at), Some(why)) = (a.cleared_at_ms, a.cleared) {
            v["cleared_at"] = json!(iso_jst(at));
            v["cleared"] = json!(why.as_str());
        }
    }
    v.to_string()
}

impl FloorWebhookSender {
    /// `None` unless `[alerts] webhook_url` and `webhook_secret` are set.
    pub fn new(service: Arc<Service>) -> Option<Arc<Self>> {
        let alerts = &service.settings.alerts;
        let (url, secret) = alerts.webhook()?;
        let (url, secret) = (url.to_owned(), secret.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(alerts.webhook_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        Some(Arc::new(Self {
            service,
            http,
            url,
            secret,
        }))
    }

    /// Send what is due, every sweep interval (at most every second),
    /// until the process ends.
    pub async fn run(self: Arc<Self>) {
        let every = self
            .service
            .settings
            .timing
            .sweep_interval_ms
            .clamp(1, 1_000);
        let mut tick = tokio::time::interval(Duration::from_millis(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Drain what is due, one at a time.
            loop {
                match self.send_next().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(code = e.code.as_str(), "empty-floor webhook paused");
                        break;
                    }
                }
            }
        }
    }

    /// Claim and try one due delivery; false when none was due.
    async fn send_next(&self) -> Result<bool, crate::service::Refusal> {
        let cfg = &self.service.settings.alerts;
        // Held for one try's time-out and a margin: no other node sends it
        // meanwhile; after a crash it is due again when the lease ends.
        let lease_ms = cfg.webhook_timeout_ms + 5_000;
        let Some((w, alert)) = self.service.claim_floor_webhook(lease_ms).await? else {
            return Ok(false);
        };
        let body = payload(&w, &alert, &self.service.settings.site.name_ja);
        let t = now_ms() / 1000;
        let sent = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("tsunagu-delivery", w.id.to_string())
            .header(
                "tsunagu-signature",
                signature(self.secret.expose().as_bytes(), t, &body),
            )
            .body(body)
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("status {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err("timeout".to_owned()),
            Err(_) => Err("no answer".to_owned()),
        };
        let metrics = &self.service.metrics;
        match outcome {
            Ok(()) => {
                tracing::info!(delivery = %w.id, alert = %w.alert, attempts = w.attempts, "empty-floor webhook delivered");
                metrics.floor_webhook("delivered");
                self.service.floor_webhook_done(w.id, None).await?;
            }
            Err(why) if w.attempts >= cfg.webhook_max_attempts => {
                tracing::warn!(delivery = %w.id, alert = %w.alert, attempts = w.attempts, why, "empty-floor webhook given up");
                metrics.floor_webhook("given_up");
                self.service.floor_webhook_done(w.id, None).await?;
            }
            Err(why) => {
                let shift = w.attempts.saturating_sub(1).min(20);
                let backoff = cfg
                    .webhook_retry_base_ms
                    .saturating_mul(1u64 << shift)
                    .min(MAX_BACKOFF_MS);
                tracing::info!(delivery = %w.id, attempts = w.attempts, backoff_ms = backoff, why, "empty-floor webhook will be retried");
                metrics.floor_webhook("retried");
                self.service
                    .floor_webhook_done(w.id, Some(self.service.now_ms() + backoff))
                    .await?;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::floor::{FloorCause, FloorCleared};
    use crate::core::ids::AlertId;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231-style check against an independently computed value:
        // HMAC-SHA256(key "key", "1700000000.{}").
        let s = signature(b"key", 1_700_000_000, "{}");
        assert!(s.starts_with("t=1700000000,v1="));
        let hex = &s["t=1700000000,v1=".len()..];
        assert_eq!(hex.len(), 64);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000.{}");
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, want);
        assert_ne!(
            signature(b"key", 1_700_000_001, "{}"),
            s,
            "the time is signed"
        );
        assert_ne!(
            signature(b"key", 1_700_000_000, "{ }"),
            s,
            "the body is signed"
        );
    }

    #[test]
    fn the_payload_carries_only_counts_times_and_ids() {
        let a = FloorAlert {
            id: AlertId(uuid::Uuid::from_u128(7)),
            cause: FloorCause::NoCounsellor,
            since_ms: 1_700_000_000_000,
            raised_at_ms: 1_700_000_120_000,
            waiting: 2,
            cleared_at_ms: Some(1_700_000_300_000),
            cleared: Some(FloorCleared::CounsellorAvailable),
            acked_by: Some(crate::core::ids::AccountId(uuid::Uuid::from_u128(9))),
            acked_at_ms: Some(1),
        };
        let w = FloorWebhook {
            id: uuid::Uuid::from_u128(8),
            alert: a.id,
            change: FloorChange::Cleared,
            created_at_ms: 0,
            attempts: 1,
            next_at_ms: 0,
        };
        let v: serde_json::Value = serde_json::from_str(&payload(&w, &a, "Centre")).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cause",
                "centre",
                "cleared",
                "cleared_at",
                "episode",
                "id",
                "kind",
                "since",
                "waiting"
            ]
        );
        assert_eq!(v["kind"], "empty_floor.cleared");
        assert_eq!(v["waiting"], 2);
        assert!(
            !v.to_string()
                .contains(&uuid::Uuid::from_u128(9).to_string()),
            "no staff id"
        );
    }
}
