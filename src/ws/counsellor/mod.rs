//! The counsellor's socket, `GET /ws/counsellor`: only with a valid session
//! cookie of a role that counsels, checked before the upgrade.
//!
//! The first frame is `hello` with the last sequence seen per conversation.
//! The socket then watches exactly the conversations the service says are
//! this counsellor's (or, for a supervisor, that they observe or joined),
//! on connect and on every later assignment or supervision change; replay
//! after a reconnect goes through the same check as live delivery.
//!
//! Supervisors use the same socket: they also receive alerts and the floor
//! view, and may observe, join and take over conversations.
//!
//! This file upgrades the socket and translates the hub's events;
//! `commands` runs the client's frames, `watching` keeps what the socket
//! watches (welcome, assignment, supervision, resync).

mod commands;
mod watching;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use self::commands::{is_write, Done};
use super::{run, Cursor, Handler, Io, Order, OwnWrite, Pending, Socket};
use crate::app::AppState;
use crate::core::ids::{ConversationId, Party};
use crate::http::request::origin_allowed;
use crate::http::{current_account, ApiError};
use crate::hub::{ConnId, ConnKind, Outbound};
use crate::model::Role;
use crate::model::{Account, Event, ReleaseReason, StoredMessage, TokenHash};
use crate::protocol::{
    parse_inbound, AlertView, CounsellorIn, CounsellorInfo, CounsellorOut, ErrorBody, ErrorCode,
    FloorAlertView, MessageView, WhisperView,
};
use crate::service::{note_view, Access};

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
    app.hub.mark_session(conn, session_hash);
    let socket = Socket {
        session,
        stream,
        conn,
        outbox,
        kill,
        frames: app.limits.frames(),
    };
    let app = app.into_inner();
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
    // `run`'s future alone (see the visitor's upgrade).
    actix_web::rt::spawn(run(handler, socket, app));
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

    async fn send_status(&self, io: &mut Io) {
        if let Ok(c) = self.app.service.counsellor_record(self.account.id).await {
            io.send(&CounsellorOut::Status {
                status: c.status,
                capacity: c.capacity,
                active: c.active,
                activity: c.activity(),
            })
            .await;
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
            Outbound::Event(Event::Relay { conversation }) => {
                if self.access(conversation).is_some() {
                    io.send(&CounsellorOut::RelayChanged {
                        conversation_id: conversation,
                    })
                    .await
                }
            }
            Outbound::Event(Event::LeftQuickly {
                conversation,
                at_ms,
                ..
            }) => {
                if self.access(conversation).is_some() {
                    io.send(&CounsellorOut::LeftQuickly {
                        conversation_id: conversation,
                        at: at_ms,
                    })
                    .await
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
                erased,
                ..
            }) => {
                io.send(&CounsellorOut::Ended {
                    conversation_id: conversation,
                    by,
                    outcome,
                    erased,
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
            Outbound::Event(Event::FloorAlert { alert }) => {
                io.send(&CounsellorOut::FloorAlert {
                    alert: FloorAlertView::from(&*alert),
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
            Outbound::Event(Event::Whisper { whisper }) => {
                // The hub sends it to the conversation's staff sockets
                // only; checked again against what this socket may see.
                if self.access(whisper.conversation).is_some() {
                    let supervisor = app.service.staff_ref(whisper.supervisor).await;
                    io.send(&CounsellorOut::Whisper {
                        conversation_id: whisper.conversation,
                        whisper: WhisperView {
                            supervisor,
                            text: whisper.text.clone(),
                            at: whisper.at_ms,
                        },
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
            | Outbound::Drain
            | Outbound::SessionEnded
            | Outbound::AccountChanged(_) => {}
        }
    }

    async fn still_allowed(&mut self) -> bool {
        self.app.service.session_alive(&self.session).await
    }

    async fn on_close(&mut self) {
        if self.watched.is_some() {
            let left = self
                .app
                .service
                .counsellor_presence(self.account.id, -1)
                .await;
            // A supervisor's last console closed: what they observed or
            // joined ends, audited with its duration (issue 20).
            if self.is_supervisor() && left.is_ok_and(|r| r.connections == 0) {
                self.app
                    .service
                    .end_supervision_on_disconnect(self.account.id)
                    .await;
            }
        }
        tracing::info!(counsellor = %self.account.id, "counsellor disconnected");
    }
}
