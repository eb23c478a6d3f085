//! What this node pushes to its sockets without being asked: queue places
//! and the counsellors' queue view when the queue changes, colleagues and
//! the floor, and the `closing` notice when the queue closes.

use std::sync::Arc;
use std::time::Duration;

use bytestring::ByteString;

use crate::app::AppState;
use crate::config::Settings;
use crate::core::hours::iso_jst;
use crate::hub::{ConnKind, Outbound};
use crate::model::ConversationRecord;
use crate::protocol::{encode, reason_views, CounsellorOut, QueueItem};

/// The counsellors' queue view: the head of the queue, encoded once.
pub fn queue_view(settings: &Settings, queue: &[ConversationRecord]) -> ByteString {
    let entries: Vec<QueueItem> = queue
        .iter()
        .take(settings.limits.queue_view_entries)
        .map(|r| QueueItem {
            channel: r.channel,
            conversation_id: r.id,
            priority: r.priority,
            requeued: r.requeued,
            queued_at: r.queued_since_ms,
            pre_chat: r.pre_chat,
            first_message: r.first_message.clone(),
            lang: r.lang,
            risk: r.risk,
            risk_reasons: reason_views(&r.risk_reasons),
        })
        .collect();
    encode(&CounsellorOut::Queue {
        queue_length: queue.len() as u32,
        entries: &entries,
    })
    .into()
}

pub async fn queue_view_frame(app: &AppState) -> Option<ByteString> {
    let queue = app.service.queue().await.ok()?;
    Some(queue_view(&app.settings, &queue))
}

/// Waiting visitors told their place per step of a queue update.
const QUEUE_UPDATE_CHUNK: usize = 64;

/// Whenever the queue changes (at most every `queue_update_ms`), tell each
/// waiting visitor on this node their place (in chunks, paced) and every
/// counsellor the queue.
pub async fn run_queue_broadcaster(app: Arc<AppState>) {
    let pause = Duration::from_millis(app.settings.timing.queue_update_ms);
    loop {
        app.hub.queue_changed().await;
        match app.service.queue_places().await {
            Ok((queue, places)) => {
                for (i, (rec, place)) in queue.iter().zip(places).enumerate() {
                    if i > 0 && i % QUEUE_UPDATE_CHUNK == 0 {
                        // Let the socket tasks write this chunk, and a
                        // `matched` or a message queued behind it, before
                        // waking the next: with thousands waiting, one
                        // update at once stalled everything behind it.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    app.hub.to_conversation(
                        rec.id,
                        Some(|k| k == ConnKind::Visitor),
                        Outbound::QueuePosition {
                            position: place.position,
                            queue_length: place.queue_length,
                            estimated_wait_secs: place.estimated_wait_secs,
                        },
                    );
                }
                app.hub
                    .to_all_counsellors(Outbound::Shared(queue_view(&app.settings, &queue)));
            }
            Err(e) => tracing::warn!(code = e.code.as_str(), "queue update failed"),
        }
        // The same changes move counsellors' loads and the floor.
        if let Some(frame) = colleagues_frame(&app).await {
            app.hub.to_all_counsellors(Outbound::Shared(frame));
        }
        if app.hub.has_supervisors() {
            if let Some(frame) = floor_frame(&app).await {
                app.hub.to_all_supervisors(Outbound::Shared(frame));
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// The counsellors' list of colleagues (for transfers), encoded once.
pub async fn colleagues_frame(app: &AppState) -> Option<ByteString> {
    let list = app.service.colleagues().await.ok()?;
    Some(encode(&CounsellorOut::Colleagues { counsellors: &list }).into())
}

/// The supervisors' floor view, encoded once.
pub async fn floor_frame(app: &AppState) -> Option<ByteString> {
    let floor = app.service.floor().await.ok()?;
    Some(encode(&CounsellorOut::Floor(&floor)).into())
}

/// When the queue closes to new visitors (last entry, or closing), tell
/// each visitor still waiting on this node, once: they are still served.
pub async fn run_closing_notices(app: Arc<AppState>) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(app.settings.timing.sweep_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut accepting = app.service.hours_status().accepts_new_visitors();
    loop {
        tick.tick().await;
        let status = app.service.hours_status();
        let now_accepting = status.accepts_new_visitors();
        if accepting && !now_accepting {
            tracing::info!("the queue closed to new visitors; telling those waiting");
            let notice = closing_notice(status);
            for conversation in app.hub.visitor_conversations() {
                app.hub.to_conversation(
                    conversation,
                    Some(|k| k == ConnKind::Visitor),
                    notice.clone(),
                );
            }
            // Floors show the hours too.
            app.hub.mark_queue_changed();
        } else if !accepting && now_accepting {
            app.hub.mark_queue_changed();
        }
        accepting = now_accepting;
    }
}

/// The `closing` notice for a status that no longer accepts visitors.
pub fn closing_notice(status: crate::core::hours::Status) -> Outbound {
    use crate::core::hours::Status;
    let closes_at = match status {
        Status::LastEntryPassed { closes_at, .. } => Some(iso_jst(closes_at)),
        _ => None,
    };
    Outbound::Closing {
        closes_at,
        next_opening: status.next_opening().map(iso_jst),
    }
}
