//! What a counsellor's socket watches: the welcome after `hello`, a
//! conversation that becomes theirs, their own supervision starting or
//! ending, and the resynchronisation after a lag. The service says what
//! they may see; the socket watches it first, then catches up from the log.

use std::collections::HashMap;

use super::{encoder, Counsellor, Watched};
use crate::core::ids::ConversationId;
use crate::model::{ReleaseReason, SupervisionMode};
use crate::protocol::{CounsellorOut, ErrorBody, PROTOCOL_VERSION};
use crate::service::{Access, Recheck};
use crate::ws::{Cursor, Io};

impl Counsellor {
    pub(super) async fn hello(
        &mut self,
        io: &mut Io,
        last_seq: HashMap<ConversationId, u64>,
    ) -> Result<(), ErrorBody> {
        let app = self.app.clone();
        let service = &app.service;
        let me = self.account.id;
        let record = service.counsellor_presence(me, 1).await?;
        // Watch first, then read each record (see `Service::counsellor_welcome`):
        // everything the service says we may see, and nothing else.
        let (hub, conn) = (&app.hub, self.conn);
        let welcome = service
            .counsellor_welcome(
                &self.account,
                |id| hub.watch(conn, id),
                |id| hub.unwatch(conn, id),
            )
            .await?;
        let mut watched = HashMap::new();
        let mut views = Vec::with_capacity(welcome.conversations.len());
        for (view, access) in welcome.conversations {
            let from = last_seq
                .get(&view.conversation_id)
                .copied()
                .unwrap_or(0)
                .min(view.last_seq);
            watched.insert(
                view.conversation_id,
                Watched {
                    cursor: Cursor::at(from),
                    access,
                },
            );
            views.push(view);
        }
        io.send(&CounsellorOut::Welcome {
            protocol: PROTOCOL_VERSION,
            counsellor: &self.info,
            status: record.status,
            capacity: record.capacity,
            active: record.active,
            activity: record.activity(),
            matching: app.settings.matching,
            max_text_chars: app.settings.limits.max_text_chars,
            max_capacity: app.settings.limits.max_capacity,
            visitor_grace_secs: app.settings.timing.visitor_grace_secs,
            limits: crate::ws::frame_limits(&app.settings.limits),
            conversations: views,
            alerts: welcome.alerts,
            floor_alerts: welcome.floor_alerts,
        })
        .await;
        for (id, w) in watched.iter_mut() {
            w.cursor.catch_up(io, service, *id, &encoder(*id)).await;
        }
        for id in watched.keys() {
            self.send_handoff(io, *id).await;
        }
        self.watched = Some(watched);
        if let Some(frame) = crate::ws::broadcast::queue_view_frame(&app).await {
            io.send_text(frame).await;
        }
        if let Some(frame) = crate::ws::broadcast::colleagues_frame(&app).await {
            io.send_text(frame).await;
        }
        if self.is_supervisor() {
            if let Some(frame) = crate::ws::broadcast::floor_frame(&app).await {
                io.send_text(frame).await;
            }
        }
        Ok(())
    }
    /// A conversation became ours (assignment, transfer, takeover).
    pub(super) async fn on_assigned(&mut self, io: &mut Io, id: ConversationId) {
        if self.access(id) == Some(Access::Holder) {
            return; // already in `welcome`
        }
        let app = self.app.clone();
        // Watch first, then read (see `hello`); the same check as on
        // connect: the service must say it is ours.
        app.hub.watch(self.conn, id);
        let Ok(view) = app.service.assigned_view(id, self.account.id).await else {
            app.hub.unwatch(self.conn, id);
            return;
        };
        io.send(&CounsellorOut::Assigned { conversation: view })
            .await;
        if let Some(watched) = self.watched.as_mut() {
            // A supervisor taking over keeps their cursor: nothing twice.
            let w = watched.entry(id).or_insert_with(|| Watched {
                cursor: Cursor::default(),
                access: Access::Holder,
            });
            w.access = Access::Holder;
            w.cursor.catch_up(io, &app.service, id, &encoder(id)).await;
        }
        self.send_handoff(io, id).await;
    }

    /// Our own supervision of a conversation started, changed or ended.
    pub(super) async fn on_own_supervision(
        &mut self,
        io: &mut Io,
        id: ConversationId,
        _hint: Option<SupervisionMode>,
    ) {
        let app = self.app.clone();
        let me = self.account.id;
        let current = self.access(id);
        if current == Some(Access::Holder) {
            return;
        }
        // Ask the service, not the event: events may be stale or reordered.
        let Ok(Some((rec, now))) = app.service.own_supervision(id, me).await else {
            return;
        };
        match now {
            Some(m) => {
                if current == Some(Access::Supervising(m)) {
                    return;
                }
                app.hub.watch(self.conn, id);
                let view = app.service.conversation_view(&rec, Some(m)).await;
                io.send(&CounsellorOut::Supervising { conversation: view })
                    .await;
                if let Some(watched) = self.watched.as_mut() {
                    let w = watched.entry(id).or_insert_with(|| Watched {
                        cursor: Cursor::default(),
                        access: Access::Supervising(m),
                    });
                    w.access = Access::Supervising(m);
                    w.cursor.catch_up(io, &app.service, id, &encoder(id)).await;
                }
            }
            None => {
                if current.is_none() {
                    return;
                }
                self.forget(id);
                io.send(&CounsellorOut::Supervision {
                    conversation_id: id,
                    supervisor: app.service.staff_ref(me).await,
                    mode: None,
                })
                .await;
            }
        }
    }

    /// After a lag: take up whatever the service says we may see, and let
    /// go of what we may no longer see.
    pub(super) async fn resync(&mut self, io: &mut Io) {
        let app = self.app.clone();
        let service = &app.service;
        let me = self.account.id;
        if let Ok(held) = service.held_conversations(me).await {
            for id in held {
                self.on_assigned(io, id).await;
            }
        }
        if let Ok(list) = service.supervised_conversations(&self.account).await {
            for (id, mode) in list {
                self.on_own_supervision(io, id, Some(mode)).await;
            }
        }
        // Conversations we watch that are no longer ours.
        let ids: Vec<(ConversationId, Access)> = self
            .watched
            .iter()
            .flatten()
            .map(|(id, w)| (*id, w.access))
            .collect();
        for (id, check) in service.recheck(me, &ids).await {
            if matches!(check, Recheck::Keep) {
                continue;
            }
            self.forget(id);
            // A conversation we held that lives on without us: say so, as
            // the missed event would have.
            match check {
                Recheck::Requeued => {
                    io.send(&CounsellorOut::Requeued {
                        conversation_id: id,
                    })
                    .await
                }
                Recheck::Released { to } => {
                    io.send(&CounsellorOut::Released {
                        conversation_id: id,
                        reason: ReleaseReason::Transferred,
                        to: Some(to),
                    })
                    .await
                }
                Recheck::Keep | Recheck::Drop => {}
            }
        }
        if let Some(watched) = self.watched.as_mut() {
            for (id, w) in watched.iter_mut() {
                w.cursor.catch_up(io, service, *id, &encoder(*id)).await;
            }
        }
        self.send_status(io).await
    }
}
