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
use crate::core::conversation::ConversationState;
use crate::core::ids::{AccountId, ConversationId, Party};
use crate::core::stats::Assessment;
use crate::http::request::origin_allowed;
use crate::http::{current_account, ApiError};
use crate::hub::{ConnId, ConnKind, Outbound};
use crate::model::Role;
use crate::model::{
    Account, Channel, Closing, ConversationRecord, Event, Note, ReleaseReason, StoredMessage,
    SupervisionMode, TokenHash,
};
use crate::protocol::{
    parse_inbound, reason_views, AlertView, ConversationView, CounsellorIn, CounsellorInfo,
    CounsellorOut, ErrorBody, ErrorCode, MessageView, NoteView, StaffRef, SupervisorView,
    PROTOCOL_VERSION,
};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Ours: active with us, or ended and waiting for our outcome.
    Holder,
    /// A supervisor observing or joined.
    Supervising(SupervisionMode),
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

fn note_view(n: Note) -> NoteView {
    NoteView {
        text: n.text,
        author: n.author,
        at: n.at_ms,
    }
}

fn forbidden() -> ErrorBody {
    ErrorBody::new(ErrorCode::Forbidden, "only supervisors may do this")
}

impl Counsellor {
    fn is_supervisor(&self) -> bool {
        self.account.role == Role::Supervisor
    }

    async fn staff_ref(&self, id: AccountId) -> StaffRef {
        let display_name = self
            .app
            .service
            .store
            .account(id)
            .await
            .ok()
            .flatten()
            .map(|a| a.display_name)
            .unwrap_or_default();
        StaffRef { id, display_name }
    }

    async fn view(
        &self,
        rec: &ConversationRecord,
        supervision: Option<SupervisionMode>,
    ) -> ConversationView {
        let notes = self
            .app
            .service
            .store
            .notes(rec.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(note_view)
            .collect();
        let counsellor = match rec.state.counsellor() {
            Some(c) => Some(self.staff_ref(c).await),
            None => None,
        };
        let mut supervisors = Vec::with_capacity(rec.supervisors.len());
        for s in &rec.supervisors {
            let r = self.staff_ref(s.supervisor).await;
            supervisors.push(SupervisorView {
                id: r.id,
                display_name: r.display_name,
                mode: s.mode,
            });
        }
        ConversationView {
            conversation_id: rec.id,
            state: rec.state.name(),
            channel: rec.channel,
            visitor_name: crate::model::pseudonym(rec),
            pre_chat: rec.pre_chat,
            started_at: rec.started_at_ms,
            last_seq: rec.last_seq,
            delivered_seq: rec.visitor_acked,
            // A LINE visitor is always reachable through LINE.
            visitor_online: rec.visitor_connections > 0 || rec.channel == Channel::Line,
            notes,
            ended_by: rec.ended_by,
            outcome: rec.outcome,
            risk: rec.risk,
            risk_reasons: reason_views(&rec.risk_reasons),
            counsellor,
            supervisors,
            transfers: rec.transfers,
            silent_since: rec.silent_since_ms,
            supervision,
        }
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
        // Watch first, then read each record: anything before the watch is
        // in the record, anything after arrives as an event (as for
        // visitors). Everything the store says we may see, and nothing else.
        let mut ids: Vec<(ConversationId, Access)> = service
            .store
            .conversations_of(me)
            .await?
            .iter()
            .map(|r| (r.id, Access::Holder))
            .collect();
        if self.is_supervisor() {
            for (rec, mode) in service.store.supervised_by(me).await? {
                if !ids.iter().any(|(id, _)| *id == rec.id) {
                    ids.push((rec.id, Access::Supervising(mode)));
                }
            }
        }
        for (id, _) in &ids {
            app.hub.watch(self.conn, *id);
        }
        let mut held: Vec<(ConversationRecord, Access)> = Vec::with_capacity(ids.len());
        for (id, access) in ids {
            let now = match access {
                Access::Holder => service.authorise(id, me).await.ok().map(|r| (r, access)),
                Access::Supervising(_) => match service.store.conversation(id).await? {
                    Some(r) if r.state != ConversationState::Ended => r
                        .supervision_of(me)
                        .map(Access::Supervising)
                        .map(|a| (r, a)),
                    _ => None,
                },
            };
            match now {
                Some(pair) => held.push(pair),
                // Requeued or moved between the two reads: not ours any more.
                None => app.hub.unwatch(self.conn, id),
            }
        }
        let mut watched = HashMap::new();
        let mut views = Vec::with_capacity(held.len());
        for (rec, access) in &held {
            let from = last_seq
                .get(&rec.id)
                .copied()
                .unwrap_or(0)
                .min(rec.last_seq);
            watched.insert(
                rec.id,
                Watched {
                    cursor: Cursor::at(from),
                    access: *access,
                },
            );
            let supervision = match access {
                Access::Supervising(m) => Some(*m),
                Access::Holder => None,
            };
            views.push(self.view(rec, supervision).await);
        }
        let alerts = if self.is_supervisor() {
            Some(
                service
                    .store
                    .alerts(true)
                    .await?
                    .iter()
                    .map(AlertView::from)
                    .collect(),
            )
        } else {
            None
        };
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
            alerts,
        })
        .await;
        for (id, w) in watched.iter_mut() {
            w.cursor
                .catch_up(io, service.store.as_ref(), *id, &encoder(*id))
                .await;
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
                    let service = &app.service;
                    let result = match service
                        .authorise_holder_or_writer(conversation_id, me)
                        .await
                    {
                        Ok(_) => service.ack(conversation_id, Party::Counsellor, seq).await,
                        Err(e) => Err(e),
                    };
                    Done::Other(result.map_err(|e| with_conv(e, conversation_id)))
                }),
            )),
            CounsellorIn::Typing {
                conversation_id,
                active,
            } => Some((
                conversation_id,
                Box::pin(async move {
                    let service = &app.service;
                    let result = match service.authorise_writer(conversation_id, me).await {
                        Ok(_) => {
                            service
                                .typing(conversation_id, Party::Counsellor, active)
                                .await;
                            Ok(())
                        }
                        Err(e) => Err(with_conv(e, conversation_id)),
                    };
                    Done::Other(result)
                }),
            )),
            _ => None,
        }
    }

    async fn command(&mut self, io: &mut Io, msg: CounsellorIn) -> Result<(), ErrorBody> {
        let app = self.app.clone();
        let service = &app.service;
        let me = self.account.id;
        let supervisor = self.is_supervisor();
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
            CounsellorIn::Observe { conversation_id }
            | CounsellorIn::Join { conversation_id }
            | CounsellorIn::Leave { conversation_id }
            | CounsellorIn::TakeOver { conversation_id }
                if !supervisor =>
            {
                Err(with_conv(forbidden(), conversation_id))
            }
            CounsellorIn::AckAlert { .. } if !supervisor => Err(forbidden()),
            CounsellorIn::Observe { conversation_id } => service
                .supervise(conversation_id, me, Some(SupervisionMode::Observe))
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::Join { conversation_id } => service
                .supervise(conversation_id, me, Some(SupervisionMode::Join))
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::Leave { conversation_id } => service
                .supervise(conversation_id, me, None)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::TakeOver { conversation_id } => service
                .take_over(conversation_id, me)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::AckAlert { alert_id } => service.ack_alert(alert_id, me).await,
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
        // connect: the store must say it is ours.
        app.hub.watch(self.conn, id);
        let Ok(rec) = app.service.authorise(id, self.account.id).await else {
            app.hub.unwatch(self.conn, id);
            return;
        };
        let view = self.view(&rec, None).await;
        io.send(&CounsellorOut::Assigned { conversation: view })
            .await;
        if let Some(watched) = self.watched.as_mut() {
            // A supervisor taking over keeps their cursor: nothing twice.
            let w = watched.entry(id).or_insert_with(|| Watched {
                cursor: Cursor::default(),
                access: Access::Holder,
            });
            w.access = Access::Holder;
            w.cursor
                .catch_up(io, app.service.store.as_ref(), id, &encoder(id))
                .await;
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
        // Ask the store, not the event: events may be stale or reordered.
        let rec = match app.service.store.conversation(id).await {
            Ok(Some(rec)) => rec,
            _ => return,
        };
        let now = if rec.state == ConversationState::Ended {
            None
        } else {
            rec.supervision_of(me)
        };
        match now {
            Some(m) => {
                if current == Some(Access::Supervising(m)) {
                    return;
                }
                app.hub.watch(self.conn, id);
                let view = self.view(&rec, Some(m)).await;
                io.send(&CounsellorOut::Supervising { conversation: view })
                    .await;
                if let Some(watched) = self.watched.as_mut() {
                    let w = watched.entry(id).or_insert_with(|| Watched {
                        cursor: Cursor::default(),
                        access: Access::Supervising(m),
                    });
                    w.access = Access::Supervising(m);
                    w.cursor
                        .catch_up(io, app.service.store.as_ref(), id, &encoder(id))
                        .await;
                }
            }
            None => {
                if current.is_none() {
                    return;
                }
                self.forget(id);
                io.send(&CounsellorOut::Supervision {
                    conversation_id: id,
                    supervisor: self.staff_ref(me).await,
                    mode: None,
                })
                .await;
            }
        }
    }

    /// After a lag: take up whatever the store says we may see.
    async fn resync(&mut self, io: &mut Io) {
        let store = self.app.service.store.clone();
        let me = self.account.id;
        if let Ok(held) = store.conversations_of(me).await {
            for rec in held {
                self.on_assigned(io, rec.id).await;
            }
        }
        if self.is_supervisor() {
            if let Ok(list) = store.supervised_by(me).await {
                for (rec, mode) in list {
                    self.on_own_supervision(io, rec.id, Some(mode)).await;
                }
            }
        }
        // Conversations we watch that are no longer ours.
        let ids: Vec<(ConversationId, Access)> = self
            .watched
            .iter()
            .flatten()
            .map(|(id, w)| (*id, w.access))
            .collect();
        for (id, access) in ids {
            let rec = store.conversation(id).await.ok().flatten();
            let keep = match &rec {
                Some(rec) => match access {
                    Access::Holder => {
                        rec.counsellor == Some(me) && rec.state != ConversationState::Queued
                    }
                    Access::Supervising(_) => {
                        rec.state != ConversationState::Ended && rec.supervision_of(me).is_some()
                    }
                },
                None => false,
            };
            if keep {
                continue;
            }
            self.forget(id);
            // A conversation we held that lives on without us: say so, as
            // the missed event would have.
            if access == Access::Holder {
                match rec.map(|r| r.state) {
                    Some(ConversationState::Queued) => {
                        io.send(&CounsellorOut::Requeued {
                            conversation_id: id,
                        })
                        .await
                    }
                    Some(ConversationState::Active { counsellor }) => {
                        let to = self.staff_ref(counsellor).await;
                        io.send(&CounsellorOut::Released {
                            conversation_id: id,
                            reason: ReleaseReason::Transferred,
                            to: Some(to),
                        })
                        .await
                    }
                    _ => {}
                }
            }
        }
        if let Some(watched) = self.watched.as_mut() {
            for (id, w) in watched.iter_mut() {
                w.cursor
                    .catch_up(io, store.as_ref(), *id, &encoder(*id))
                    .await;
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
        let store = self.app.service.store.clone();
        match msg {
            Outbound::Event(Event::Message {
                conversation,
                message,
            }) => {
                if let Some(w) = self.watched.as_mut().and_then(|w| w.get_mut(&conversation)) {
                    w.cursor
                        .deliver(
                            io,
                            store.as_ref(),
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
                let to = self.staff_ref(to).await;
                io.send(&CounsellorOut::Released {
                    conversation_id: conversation,
                    reason,
                    to: Some(to),
                })
                .await
            }
            Outbound::Event(Event::RiskChanged { conversation, .. }) => {
                if self.access(conversation).is_some() {
                    if let Ok(Some(rec)) = store.conversation(conversation).await {
                        io.send(&CounsellorOut::Risk {
                            conversation_id: conversation,
                            level: rec.risk,
                            reasons: reason_views(&rec.risk_reasons),
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
                    let supervisor = self.staff_ref(supervisor).await;
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
        match self.app.service.store.session(&self.session).await {
            Ok(Some(s)) => s.expires_at_ms > crate::clock::now_ms(),
            Ok(None) => false,
            // The store is unreachable: keep the socket; it cannot do
            // anything the store would not refuse anyway.
            Err(_) => true,
        }
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
