//! The counsellor's socket, `GET /ws/counsellor`: only with a valid session
//! cookie of a role that counsels, checked before the upgrade.
//!
//! The first frame is `hello` with the last sequence seen per conversation.
//! The socket then watches exactly the conversations the store says are
//! this counsellor's (or, for a supervisor, that the store says they
//! observe or joined), on connect and on every later assignment or
//! supervision change; replay after a reconnect goes through the same check
//! as live delivery.
//!
//! Supervisors use the same socket: they also receive alerts and the floor
//! view, and may observe, join and take over conversations.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::{run, Cursor, Handler, Io, Order, OwnWrite, Pending, Socket};
use crate::app::AppState;
use crate::core::ids::{ConversationId, Party};
use crate::core::stats::Assessment;
use crate::http::request::origin_allowed;
use crate::http::{current_account, ApiError};
use crate::hub::{ConnId, ConnKind, Outbound};
use crate::model::Role;
use crate::model::{
    Account, Closing, Event, ReleaseReason, StoredMessage, SupervisionMode, TokenHash,
};
use crate::protocol::{
    parse_inbound, AlertView, CounsellorIn, CounsellorInfo, CounsellorOut, ErrorBody, ErrorCode,
    MessageView, PROTOCOL_VERSION,
};
use crate::service::{note_view, Access, Recheck};

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if app.draining() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "this server is restarting; connect again",
        ));
    }
    if !origin_allowed(&req, &app.settings) {
        return Err(ApiError::new(
            ErrorCode::OriginForbidden,
            "this origin may not open the console",
        ));
    }
    let (account, session_hash) = current_account(&req, &app).await?;
    if !account.role.counsels() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this account does not take chats",
        ));
    }
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "a WebSocket upgrade is required"))?;
    let limits = &app.settings.limits;
    let stream = stream
        .max_frame_size(limits.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(limits.max_frame_bytes);
    let (conn, outbox, kill) = app.hub.connect(ConnKind::Counsellor(account.id));
    if account.role == Role::Supervisor {
        app.hub.mark_supervisor(conn);
    }
    let socket = Socket {
        session,
        stream,
        conn,
        outbox,
        kill,
        frames: app.limits.frames(),
    };
    let app = app.into_inner();
    actix_web::rt::spawn(async move {
        tracing::info!(counsellor = %account.id, "counsellor connected");
        let handler = Counsellor {
            info: CounsellorInfo {
                id: account.id,
                display_name: account.display_name.clone(),
                role: account.role,
            },
            account: Arc::new(account),
            session: session_hash,
            app: app.clone(),
            conn,
            watched: None,
        };
        run(handler, socket, app).await;
    });
    Ok(response)
}

struct Counsellor {
    /// Shared with the socket's writes in flight.
    account: Arc<Account>,
    /// The session this socket was opened with; checked again on every
    /// heartbeat so that logging out (anywhere) or expiry closes the socket.
    session: TokenHash,
    info: CounsellorInfo,
    app: Arc<AppState>,
    conn: ConnId,
    /// `None` until `hello`; then every conversation this socket watches.
    watched: Option<HashMap<ConversationId, Watched>>,
}

/// One watched conversation: what has been sent, and why we may see it.
struct Watched {
    cursor: Cursor,
    access: Access,
}

fn encoder(conversation_id: ConversationId) -> impl Fn(&StoredMessage) -> String {
    move |m| {
        crate::protocol::encode(&CounsellorOut::Message {
            conversation_id,
            message: MessageView {
                seq: m.seq,
                from: m.from,
                name: m.author_name.as_deref(),
                client_id: (m.from == Party::Counsellor).then_some(m.client_id.as_str()),
                text: &m.text,
                sent_at: m.at_ms,
            },
        })
    }
}

impl Counsellor {
    fn is_supervisor(&self) -> bool {
        self.account.role == Role::Supervisor
    }

    async fn hello(
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
            matching: app.settings.matching,
            max_text_chars: app.settings.limits.max_text_chars,
            max_capacity: app.settings.limits.max_capacity,
            conversations: views,
            alerts: welcome.alerts,
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

    async fn send_status(&self, io: &mut Io) {
        if let Ok(c) = self.app.service.counsellor_record(self.account.id).await {
            io.send(&CounsellorOut::Status {
                status: c.status,
                capacity: c.capacity,
                active: c.active,
            })
            .await;
        }
    }

    /// A message, ack or typing signal as a store write that can run while
    /// the socket goes on (`None` for any other frame).
    fn write(
        &mut self,
        msg: CounsellorIn,
    ) -> Option<(ConversationId, LocalBoxFuture<'static, Done>)> {
        let app = self.app.clone();
        let me = self.account.id;
        let with_conv = move |mut e: ErrorBody, id: ConversationId| {
            e.conversation_id = Some(id);
            e
        };
        match msg {
            CounsellorIn::Send {
                conversation_id,
                client_id,
                text,
            } => {
                let cid = client_id.as_str().to_owned();
                if let Some(w) = self
                    .watched
                    .as_mut()
                    .and_then(|w| w.get_mut(&conversation_id))
                {
                    w.cursor.writing(OwnWrite {
                        from: Party::Counsellor,
                        author: Some(me),
                        client_id: cid.clone(),
                    });
                }
                let account = self.account.clone();
                Some((
                    conversation_id,
                    Box::pin(async move {
                        let result = app
                            .service
                            .send(
                                conversation_id,
                                Party::Counsellor,
                                Some(&account),
                                client_id,
                                text,
                            )
                            .await
                            .map_err(|mut e| {
                                e.client_id = Some(cid.clone());
                                with_conv(e, conversation_id)
                            });
                        Done::Sent {
                            conversation_id,
                            client_id: cid,
                            result,
                        }
                    }),
                ))
            }
            CounsellorIn::Ack {
                conversation_id,
                seq,
            } => Some((
                conversation_id,
                Box::pin(async move {
                    let result = app.service.counsellor_ack(conversation_id, me, seq).await;
                    Done::Other(result.map_err(|e| with_conv(e, conversation_id)))
                }),
            )),
            CounsellorIn::Typing {
                conversation_id,
                active,
            } => Some((
                conversation_id,
                Box::pin(async move {
                    let result = app
                        .service
                        .counsellor_typing(conversation_id, me, active)
                        .await;
                    Done::Other(result.map_err(|e| with_conv(e, conversation_id)))
                }),
            )),
            _ => None,
        }
    }

    async fn command(&mut self, io: &mut Io, msg: CounsellorIn) -> Result<(), ErrorBody> {
        let app = self.app.clone();
        let service = &app.service;
        let me = self.account.id;
        if self.watched.is_none() {
            return match msg {
                CounsellorIn::Hello { last_seq } => self.hello(io, last_seq).await,
                _ => Err(ErrorBody::new(ErrorCode::NotStarted, "send `hello` first")),
            };
        }
        let with_conv = |mut e: ErrorBody, id: ConversationId| {
            e.conversation_id = Some(id);
            e
        };
        match msg {
            CounsellorIn::Hello { .. } => Err(ErrorBody::new(
                ErrorCode::AlreadyStarted,
                "`hello` was already sent",
            )),
            CounsellorIn::SetStatus { status } => service.set_status(me, status).await,
            CounsellorIn::SetCapacity { capacity } => service.set_capacity(me, capacity).await,
            CounsellorIn::Pick { conversation_id } => service
                .pick(conversation_id, me)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            // Started by `on_frame` without waiting (see `ws` on
            // pipelining); this path only runs them in line.
            msg @ (CounsellorIn::Send { .. }
            | CounsellorIn::Ack { .. }
            | CounsellorIn::Typing { .. }) => {
                if let Some((_, work)) = self.write(msg) {
                    let done = work.await;
                    self.on_done(io, done).await;
                }
                Ok(())
            }
            CounsellorIn::Note {
                conversation_id,
                text,
            } => service
                .note(conversation_id, me, text)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::End {
                conversation_id,
                outcome,
                withdrawal,
                severity,
                referral,
            } => service
                .counsellor_end(
                    conversation_id,
                    me,
                    Closing {
                        outcome,
                        assessment: Assessment {
                            withdrawal,
                            severity,
                            referral,
                        },
                    },
                )
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::SetRisk {
                conversation_id,
                level,
            } => service
                .set_risk(conversation_id, &self.account, level)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::Transfer {
                conversation_id,
                to,
                note,
            } => service
                .transfer(conversation_id, me, to, note)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            // Only supervisors may: the service checks.
            CounsellorIn::Observe { conversation_id } => service
                .supervise(
                    conversation_id,
                    &self.account,
                    Some(SupervisionMode::Observe),
                )
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::Join { conversation_id } => service
                .supervise(conversation_id, &self.account, Some(SupervisionMode::Join))
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::Leave { conversation_id } => service
                .supervise(conversation_id, &self.account, None)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::TakeOver { conversation_id } => service
                .take_over(conversation_id, &self.account)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::AckAlert { alert_id } => service.ack_alert(alert_id, &self.account).await,
            CounsellorIn::OfferHandoff {
                conversation_id,
                summary,
                include_transcript,
            } => service
                .offer_handoff(conversation_id, me, summary, include_transcript)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
        }
    }

    /// Tell the client where a conversation's handoff stands (if it has
    /// one). Read from the store, so a lost event or a reconnect costs
    /// nothing.
    async fn send_handoff(&self, io: &mut Io, id: ConversationId) {
        if let Ok(Some(handoff)) = self.app.service.handoff_of(id, false).await {
            io.send(&CounsellorOut::Handoff {
                conversation_id: id,
                handoff: &handoff,
            })
            .await;
        }
    }

    /// Stop watching a conversation.
    fn forget(&mut self, id: ConversationId) {
        self.app.hub.unwatch(self.conn, id);
        if let Some(w) = self.watched.as_mut() {
            w.remove(&id);
        }
    }

    fn access(&self, id: ConversationId) -> Option<Access> {
        self.watched.as_ref()?.get(&id).map(|w| w.access)
    }

    /// A conversation became ours (assignment, transfer, takeover).
    async fn on_assigned(&mut self, io: &mut Io, id: ConversationId) {
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
    async fn on_own_supervision(
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
    async fn resync(&mut self, io: &mut Io) {
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

/// A counsellor's store write, finished.
enum Done {
    Sent {
        conversation_id: ConversationId,
        client_id: String,
        result: Result<u64, ErrorBody>,
    },
    Other(Result<(), ErrorBody>),
}

fn is_write(msg: &CounsellorIn) -> Option<ConversationId> {
    match msg {
        CounsellorIn::Send {
            conversation_id, ..
        }
        | CounsellorIn::Ack {
            conversation_id, ..
        }
        | CounsellorIn::Typing {
            conversation_id, ..
        } => Some(*conversation_id),
        _ => None,
    }
}

impl Handler for Counsellor {
    type In = CounsellorIn;
    type Done = Done;

    fn parse(&self, text: &str) -> Result<CounsellorIn, ErrorBody> {
        parse_inbound::<CounsellorIn>(text, CounsellorIn::TYPES)
    }

    fn order(&self, msg: &CounsellorIn) -> Order {
        match is_write(msg) {
            Some(id) if self.watched.is_some() => Order::Conversation(id),
            _ => Order::Barrier,
        }
    }

    async fn on_frame(&mut self, io: &mut Io, msg: CounsellorIn) -> Option<Pending<Done>> {
        if self.watched.is_some() && is_write(&msg).is_some() {
            let (conversation, work) = self.write(msg)?;
            return Some(Pending { conversation, work });
        }
        if let Err(e) = self.command(io, msg).await {
            io.error(&e).await;
        }
        None
    }

    async fn on_done(&mut self, io: &mut Io, done: Done) {
        match done {
            Done::Sent {
                conversation_id,
                client_id,
                result,
            } => {
                if let Some(w) = self
                    .watched
                    .as_mut()
                    .and_then(|w| w.get_mut(&conversation_id))
                {
                    w.cursor.own(result.as_ref().ok().copied());
                }
                match result {
                    Ok(seq) => {
                        io.send(&CounsellorOut::Sent {
                            conversation_id,
                            client_id: &client_id,
                            seq,
                        })
                        .await
                    }
                    Err(e) => io.error(&e).await,
                }
            }
            Done::Other(Err(e)) => io.error(&e).await,
            Done::Other(Ok(())) => {}
        }
    }

    async fn on_outbound(&mut self, io: &mut Io, msg: Outbound) {
        if self.watched.is_none() {
            return; // nothing is delivered before `hello`
        }
        let me = self.account.id;
        let app = self.app.clone();
        match msg {
            Outbound::Event(Event::Message {
                conversation,
                message,
            }) => {
                if let Some(w) = self.watched.as_mut().and_then(|w| w.get_mut(&conversation)) {
                    w.cursor
                        .deliver(
                            io,
                            &app.service,
                            conversation,
                            &message,
                            &encoder(conversation),
                        )
                        .await
                }
            }
            Outbound::Event(Event::Acked {
                conversation,
                by: Party::Visitor,
                seq,
            }) => {
                io.send(&CounsellorOut::Delivered {
                    conversation_id: conversation,
                    seq,
                })
                .await
            }
            Outbound::Event(Event::Typing {
                conversation,
                from: Party::Visitor,
                active,
            }) => {
                io.send(&CounsellorOut::Typing {
                    conversation_id: conversation,
                    active,
                })
                .await
            }
            Outbound::Event(Event::VisitorPresence {
                conversation,
                online,
                ..
            }) => {
                io.send(&CounsellorOut::Presence {
                    conversation_id: conversation,
                    visitor_online: online,
                })
                .await
            }
            Outbound::Event(Event::Handoff { conversation }) => {
                if self.access(conversation).is_some() {
                    self.send_handoff(io, conversation).await
                }
            }
            Outbound::Event(Event::NoteSaved {
                conversation, note, ..
            }) => {
                io.send(&CounsellorOut::NoteSaved {
                    conversation_id: conversation,
                    note: note_view(*note),
                })
                .await
            }
            Outbound::Event(Event::Ended {
                conversation,
                by,
                outcome,
                ..
            }) => {
                io.send(&CounsellorOut::Ended {
                    conversation_id: conversation,
                    by,
                    outcome,
                })
                .await;
                // A supervisor's view ends with the conversation; a holder
                // keeps it until the outcome is recorded.
                if matches!(self.access(conversation), Some(Access::Supervising(_))) {
                    self.forget(conversation);
                }
            }
            Outbound::Event(Event::Assigned {
                conversation,
                counsellor,
            }) if counsellor == me => self.on_assigned(io, conversation).await,
            Outbound::Event(Event::Requeued {
                conversation,
                counsellor,
                by_transfer,
            }) if counsellor == me => {
                self.forget(conversation);
                if by_transfer {
                    io.send(&CounsellorOut::Released {
                        conversation_id: conversation,
                        reason: ReleaseReason::ReturnedToQueue,
                        to: None,
                    })
                    .await
                } else {
                    io.send(&CounsellorOut::Requeued {
                        conversation_id: conversation,
                    })
                    .await
                }
            }
            Outbound::Event(Event::Released {
                conversation,
                counsellor,
                to,
                reason,
            }) if counsellor == me => {
                if self.access(conversation) == Some(Access::Holder) {
                    self.forget(conversation);
                }
                let to = app.service.staff_ref(to).await;
                io.send(&CounsellorOut::Released {
                    conversation_id: conversation,
                    reason,
                    to: Some(to),
                })
                .await
            }
            Outbound::Event(Event::RiskChanged { conversation, .. }) => {
                if self.access(conversation).is_some() {
                    if let Ok(Some((level, reasons))) = app.service.risk_view(conversation).await {
                        io.send(&CounsellorOut::Risk {
                            conversation_id: conversation,
                            level,
                            reasons,
                        })
                        .await
                    }
                }
            }
            Outbound::Event(Event::Silent {
                conversation,
                since_ms,
            }) => {
                if self.access(conversation).is_some() {
                    io.send(&CounsellorOut::Silent {
                        conversation_id: conversation,
                        since: since_ms,
                    })
                    .await
                }
            }
            Outbound::Event(Event::LineDelivery {
                conversation,
                delivery,
            }) => {
                if self.access(conversation).is_some() {
                    io.send(&CounsellorOut::LineDelivery {
                        conversation_id: conversation,
                        seq: delivery.seq,
                        state: delivery.state,
                        attempts: delivery.attempts,
                    })
                    .await
                }
            }
            Outbound::Event(Event::Alert { alert }) => {
                io.send(&CounsellorOut::Alert {
                    alert: AlertView::from(&*alert),
                })
                .await
            }
            Outbound::Event(Event::AlertAcked { alert }) => {
                io.send(&CounsellorOut::AlertAcked {
                    alert: AlertView::from(&*alert),
                })
                .await
            }
            Outbound::Event(Event::Supervision {
                conversation,
                supervisor,
                mode,
                ..
            }) => {
                if supervisor == me {
                    self.on_own_supervision(io, conversation, mode).await
                } else if self.access(conversation).is_some() {
                    let supervisor = app.service.staff_ref(supervisor).await;
                    io.send(&CounsellorOut::Supervision {
                        conversation_id: conversation,
                        supervisor,
                        mode,
                    })
                    .await
                }
            }
            Outbound::Event(Event::CounsellorChanged { counsellor }) if counsellor == me => {
                self.send_status(io).await
            }
            Outbound::Shared(frame) => io.send_text(frame).await,
            Outbound::Resync => self.resync(io).await,
            Outbound::Event(_)
            | Outbound::QueuePosition { .. }
            | Outbound::Closing { .. }
            | Outbound::Drain => {}
        }
    }

    async fn still_allowed(&mut self) -> bool {
        self.app.service.session_alive(&self.session).await
    }

    async fn on_close(&mut self) {
        if self.watched.is_some() {
            let _ = self
                .app
                .service
                .counsellor_presence(self.account.id, -1)
                .await;
        }
        tracing::info!(counsellor = %self.account.id, "counsellor disconnected");
    }
}
