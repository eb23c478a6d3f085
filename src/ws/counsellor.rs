//! The counsellor's socket, `GET /ws/counsellor`: only with a valid session
//! cookie of a role that counsels, checked before the upgrade.
//!
//! The first frame is `hello` with the last sequence seen per conversation.
//! The socket then watches exactly the conversations the store says are
//! this counsellor's, on connect and on every later assignment; replay
//! after a reconnect goes through the same check as live delivery.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::{origin_allowed, run, Cursor, Handler, Io, Socket};
use crate::core::ids::{ConversationId, Party};
use crate::http::{current_account, ApiError};
use crate::hub::{ConnId, ConnKind, Outbound};
use crate::protocol::{
    parse_inbound, ConversationView, CounsellorIn, CounsellorInfo, CounsellorOut, ErrorBody,
    ErrorCode, MessageView, NoteView, PROTOCOL_VERSION,
};
use crate::startup::AppState;
use crate::store::{Account, ConversationRecord, Event, Note, StoredMessage, TokenHash};

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
            account,
            session: session_hash,
            app: app.clone(),
            conn,
            cursors: None,
        };
        run(handler, socket, &app.settings, &app.hub).await;
    });
    Ok(response)
}

struct Counsellor {
    account: Account,
    /// The session this socket was opened with; checked again on every
    /// heartbeat so that logging out (anywhere) or expiry closes the socket.
    session: TokenHash,
    info: CounsellorInfo,
    app: Arc<AppState>,
    conn: ConnId,
    /// `None` until `hello`; then one cursor per watched conversation.
    cursors: Option<HashMap<ConversationId, Cursor>>,
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

impl Counsellor {
    async fn view(&self, rec: &ConversationRecord) -> ConversationView {
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
        ConversationView {
            conversation_id: rec.id,
            state: rec.state.name(),
            pre_chat: rec.pre_chat,
            started_at: rec.started_at_ms,
            last_seq: rec.last_seq,
            delivered_seq: rec.visitor_acked,
            visitor_online: rec.visitor_connections > 0,
            notes,
            ended_by: rec.ended_by,
            outcome: rec.outcome,
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
        let held = service.store.conversations_of(me).await?;
        let mut cursors = HashMap::new();
        let mut views = Vec::with_capacity(held.len());
        for rec in &held {
            app.hub.watch(self.conn, rec.id);
            let from = last_seq
                .get(&rec.id)
                .copied()
                .unwrap_or(0)
                .min(rec.last_seq);
            cursors.insert(rec.id, Cursor::at(from));
            views.push(self.view(rec).await);
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
        })
        .await;
        for (id, cursor) in cursors.iter_mut() {
            cursor
                .catch_up(io, service.store.as_ref(), *id, &encoder(*id))
                .await;
        }
        self.cursors = Some(cursors);
        if let Some(frame) = crate::startup::queue_view_frame(&app).await {
            io.send_text(frame).await;
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

    async fn command(&mut self, io: &mut Io, msg: CounsellorIn) -> Result<(), ErrorBody> {
        let app = self.app.clone();
        let service = &app.service;
        let me = self.account.id;
        let Some(cursors) = self.cursors.as_mut() else {
            return match msg {
                CounsellorIn::Hello { last_seq } => self.hello(io, last_seq).await,
                _ => Err(ErrorBody::new(ErrorCode::NotStarted, "send `hello` first")),
            };
        };
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
            CounsellorIn::Send {
                conversation_id,
                client_id,
                text,
            } => {
                let cid = client_id.as_str().to_owned();
                match service
                    .send(
                        conversation_id,
                        Party::Counsellor,
                        Some(&self.account),
                        client_id,
                        text,
                    )
                    .await
                {
                    Ok(seq) => {
                        if let Some(c) = cursors.get_mut(&conversation_id) {
                            c.own(seq);
                        }
                        io.send(&CounsellorOut::Sent {
                            conversation_id,
                            client_id: &cid,
                            seq,
                        })
                        .await;
                        Ok(())
                    }
                    Err(mut e) => {
                        e.client_id = Some(cid);
                        Err(with_conv(e, conversation_id))
                    }
                }
            }
            CounsellorIn::Ack {
                conversation_id,
                seq,
            } => match service.authorise(conversation_id, me).await {
                Ok(_) => service.ack(conversation_id, Party::Counsellor, seq).await,
                Err(e) => Err(e),
            }
            .map_err(|e| with_conv(e, conversation_id)),
            CounsellorIn::Typing {
                conversation_id,
                active,
            } => match service.authorise_active(conversation_id, me).await {
                Ok(_) => {
                    service
                        .typing(conversation_id, Party::Counsellor, active)
                        .await;
                    Ok(())
                }
                Err(e) => Err(with_conv(e, conversation_id)),
            },
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
            } => service
                .counsellor_end(conversation_id, me, outcome)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
        }
    }

    async fn on_assigned(&mut self, io: &mut Io, id: ConversationId) {
        if self.cursors.as_ref().is_some_and(|c| c.contains_key(&id)) {
            return; // already in `welcome`
        }
        let app = self.app.clone();
        // The same check as on connect: the store must say it is ours.
        let Ok(rec) = app.service.authorise(id, self.account.id).await else {
            return;
        };
        app.hub.watch(self.conn, id);
        let view = self.view(&rec).await;
        io.send(&CounsellorOut::Assigned { conversation: view })
            .await;
        if let Some(cursors) = self.cursors.as_mut() {
            let cursor = cursors.entry(id).or_default();
            cursor
                .catch_up(io, app.service.store.as_ref(), id, &encoder(id))
                .await;
        }
    }
}

impl Handler for Counsellor {
    async fn on_frame(&mut self, io: &mut Io, text: &str) {
        let result = match parse_inbound::<CounsellorIn>(text, CounsellorIn::TYPES) {
            Ok(msg) => self.command(io, msg).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            io.error(&e).await;
        }
    }

    async fn on_outbound(&mut self, io: &mut Io, msg: Outbound) {
        if self.cursors.is_none() {
            return; // nothing is delivered before `hello`
        }
        let me = self.account.id;
        let store = self.app.service.store.clone();
        match msg {
            Outbound::Event(Event::Message {
                conversation,
                message,
            }) => {
                if let Some(c) = self.cursors.as_mut().and_then(|c| c.get_mut(&conversation)) {
                    c.deliver(
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
            Outbound::Event(Event::NoteSaved {
                conversation, note, ..
            }) => {
                io.send(&CounsellorOut::NoteSaved {
                    conversation_id: conversation,
                    note: note_view(note),
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
                .await
            }
            Outbound::Event(Event::Assigned {
                conversation,
                counsellor,
            }) if counsellor == me => self.on_assigned(io, conversation).await,
            Outbound::Event(Event::Requeued {
                conversation,
                counsellor,
            }) if counsellor == me => {
                self.app.hub.unwatch(self.conn, conversation);
                if let Some(c) = self.cursors.as_mut() {
                    c.remove(&conversation);
                }
                io.send(&CounsellorOut::Requeued {
                    conversation_id: conversation,
                })
                .await
            }
            Outbound::Event(Event::CounsellorChanged { counsellor }) if counsellor == me => {
                self.send_status(io).await
            }
            Outbound::Shared(frame) => io.send_text(frame).await,
            Outbound::Resync => {
                // Events may have been missed: take up any assignment the
                // store knows of, then catch every conversation up.
                if let Ok(held) = store.conversations_of(me).await {
                    for rec in held {
                        self.on_assigned(io, rec.id).await;
                    }
                }
                if let Some(cursors) = self.cursors.as_mut() {
                    for (id, c) in cursors.iter_mut() {
                        c.catch_up(io, store.as_ref(), *id, &encoder(*id)).await;
                    }
                }
                self.send_status(io).await
            }
            Outbound::Event(_) | Outbound::QueuePosition { .. } | Outbound::Drain => {}
        }
    }

    async fn still_allowed(&mut self) -> bool {
        match self.app.service.store.session(&self.session).await {
            Ok(Some(s)) => s.expires_at_ms > crate::service::now_ms(),
            Ok(None) => false,
            // The store is unreachable: keep the socket; it cannot do
            // anything the store would not refuse anyway.
            Err(_) => true,
        }
    }

    async fn on_close(&mut self) {
        if self.cursors.is_some() {
            let _ = self
                .app
                .service
                .counsellor_presence(self.account.id, -1)
                .await;
        }
        tracing::info!(counsellor = %self.account.id, "counsellor disconnected");
    }
}
