//! The visitor's socket, `GET /ws/visitor`: anonymous, no account.
//!
//! The first frame is `start` (new conversation) or `resume` (resume token
//! and the last sequence seen). After that the socket is bound to that one
//! conversation: nothing the client sends can name another.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::{run, Cursor, Handler, Io, Order, OwnWrite, Pending, Socket};
use crate::app::AppState;
use crate::core::conversation::ConversationState;
use crate::core::ids::{ConversationId, Party};
use crate::http::request::{client_ip, origin_allowed};
use crate::http::ApiError;
use crate::hub::{ConnId, ConnKind, Outbound};
use crate::limits::{check_keyed, SocketHold};
use crate::model::{Event, StoredMessage, SupervisionMode};
use crate::protocol::{
    parse_inbound, ErrorBody, ErrorCode, MessageView, VisitorIn, VisitorOut, PROTOCOL_VERSION,
};
use crate::service::{KeepLongerStep, QueuePlace};

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let settings = &app.settings;
    if app.draining() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "this server is restarting; connect again",
        ));
    }
    if !origin_allowed(&req, settings) {
        return Err(ApiError::new(
            ErrorCode::OriginForbidden,
            "this origin may not open a chat",
        ));
    }
    let ip = client_ip(&req, settings);
    let mut hold = None;
    if let Some(ip) = ip {
        if let Err(wait) = check_keyed(&app.limits.upgrades, &ip) {
            return Err(ApiError::rate_limited(wait));
        }
        hold = Some(
            app.limits
                .visitor_sockets
                .hold(ip, settings.limits.sockets_per_address)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::TooManySockets,
                        "too many chat windows open from here; close one and try again",
                    )
                })?,
        );
    }
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "a WebSocket upgrade is required"))?;
    let stream = stream
        .max_frame_size(settings.limits.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(settings.limits.max_frame_bytes);
    let (conn, outbox, kill) = app.hub.connect(ConnKind::Visitor);
    let socket = Socket {
        session,
        stream,
        conn,
        outbox,
        kill,
        frames: app.limits.frames(),
    };
    let app = app.into_inner();
    let handler = Visitor {
        app: app.clone(),
        conn,
        ip,
        chat: None,
        _hold: hold,
    };
    // `run`'s future alone, not wrapped: a wrapper would hold the
    // arguments a second time for the socket's whole life.
    actix_web::rt::spawn(run(handler, socket, app));
    Ok(response)
}

struct Visitor {
    app: Arc<AppState>,
    conn: ConnId,
    ip: Option<std::net::IpAddr>,
    chat: Option<Chat>,
    /// This socket's place among its address's (given back when the
    /// handler is dropped, i.e. the socket closed).
    _hold: Option<SocketHold>,
}

/// The conversation this socket is bound to.
struct Chat {
    id: ConversationId,
    state: ConversationState,
    cursor: Cursor,
    last_place: Option<QueuePlace>,
    /// This socket has shown the safety information (a triage match):
    /// after a resync (events may have been lost) it is shown if the
    /// record is flagged and this is still false.
    safety_shown: bool,
}

fn encode_message(m: &StoredMessage) -> String {
    crate::protocol::encode(&VisitorOut::Message(MessageView {
        seq: m.seq,
        from: m.from,
        name: m.author_name.as_deref(),
        client_id: (m.from == Party::Visitor).then_some(m.client_id.as_str()),
        text: &m.text,
        sent_at: m.at_ms,
    }))
}

impl Visitor {
    /// Bind this socket to a conversation. Watch first, then read the
    /// record: whatever happened before the watch is in the record, whatever
    /// happens after arrives as an event, so nothing falls in between.
    async fn bind(&mut self, io: &mut Io, id: ConversationId, token: Option<&str>, last_seq: u64) {
        let app = self.app.clone();
        app.hub.watch(self.conn, id);
        if let Err(e) = app.service.visitor_presence(id, 1).await {
            io.error(&e).await;
        }
        let (rec, counsellor_name) = match app.service.visitor_welcome(id).await {
            Ok(Some(w)) => (w.record, w.counsellor),
            Ok(None) => {
                let e = ErrorBody::new(ErrorCode::ResumeFailed, "cannot resume that conversation");
                return io.error(&e).await;
            }
            Err(e) => return io.error(&e).await,
        };
        io.send(&VisitorOut::Welcome {
            protocol: PROTOCOL_VERSION,
            conversation_id: rec.id,
            resume_token: token,
            state: rec.state.name(),
            counsellor: counsellor_name.as_deref(),
            last_seq: rec.last_seq,
            delivered_seq: rec.counsellor_acked,
            max_text_chars: app.settings.limits.max_text_chars,
            limits: crate::ws::frame_limits(&app.settings.limits),
        })
        .await;
        let mut chat = Chat {
            id: rec.id,
            state: rec.state,
            cursor: Cursor::at(last_seq.min(rec.last_seq)),
            last_place: None,
            safety_shown: false,
        };
        chat.cursor
            .catch_up(io, &app.service, rec.id, &encode_message)
            .await;
        // Triage matched something they wrote (the first message, or
        // before a reload): the safety information again, unasked.
        if rec.state != ConversationState::Ended && crate::service::Service::triage_flagged(&rec) {
            send_safety_info(io, &app).await;
            chat.safety_shown = true;
        }
        // Only a conversation that has been with a counsellor can have a
        // handoff (an offer needs an active chat): a new visitor joining
        // the queue costs no extra store read.
        if rec.state != ConversationState::Queued || rec.requeued {
            send_handoff(io, &app, rec.id).await;
        }
        if rec.state == ConversationState::Queued {
            // The broadcaster computes every place in one pass; asking it
            // (coalesced) keeps a burst of joins O(n), not O(n^2).
            app.hub.mark_queue_changed();
            // Waiting after the queue closed to new visitors: say so now.
            let status = app.service.hours_status();
            if !status.accepts_new_visitors() {
                if let Outbound::Closing {
                    closes_at,
                    next_opening,
                } = crate::ws::broadcast::closing_notice(status)
                {
                    send_closing(io, &app, &chat, closes_at, next_opening).await;
                }
            }
        }
        self.chat = Some(chat);
    }

    fn start_allowed(&self) -> Result<(), ErrorBody> {
        match self.ip {
            Some(ip) => check_keyed(&self.app.limits.starts, &ip).map_err(|wait| {
                let mut e = ErrorBody::new(
                    ErrorCode::RateLimited,
                    "too many chats started from here; please wait",
                );
                e.retry_after_ms = Some(wait.as_millis() as u64 + 1);
                e
            }),
            None => Ok(()),
        }
    }
}

/// Tell the visitor about a new state, once: `matched`, `requeued` (then
/// their place) or `ended`. A state already known is not told again.
async fn change_state(
    io: &mut Io,
    app: &AppState,
    chat: &mut Chat,
    next: ConversationState,
    by: Option<crate::core::conversation::EndedBy>,
) {
    if chat.state == next || chat.state == ConversationState::Ended {
        return;
    }
    chat.state = next;
    chat.last_place = None;
    match next {
        ConversationState::Active { counsellor } => {
            let name = app.service.display_name(counsellor).await;
            io.send(&VisitorOut::Matched { counsellor: &name }).await
        }
        ConversationState::Queued => {
            io.send(&VisitorOut::Requeued).await;
            // Their place follows from the queue broadcaster.
            app.hub.mark_queue_changed();
        }
        ConversationState::Ended => {
            let by = by.unwrap_or(crate::core::conversation::EndedBy::System);
            io.send(&VisitorOut::Ended { by }).await
        }
    }
}

/// Where the conversation's handoff stands, read from the store (so a lost
/// event or a reload costs nothing).
async fn send_handoff(io: &mut Io, app: &AppState, id: ConversationId) {
    if let Ok(Some(handoff)) = app.service.handoff_of(id, true).await {
        io.send(&VisitorOut::Handoff { handoff: &handoff }).await;
    }
}

async fn send_safety_info(io: &mut Io, app: &AppState) {
    io.send(&VisitorOut::SafetyInfo {
        services: &app.service.alternatives(),
    })
    .await
}

async fn send_closing(
    io: &mut Io,
    app: &AppState,
    chat: &Chat,
    closes_at: Option<String>,
    next_opening: Option<String>,
) {
    if chat.state != ConversationState::Queued {
        return;
    }
    io.send(&VisitorOut::Closing {
        closes_at: closes_at.as_deref(),
        next_opening: next_opening.as_deref(),
        alternatives: &app.service.alternatives(),
    })
    .await
}

async fn send_place(io: &mut Io, chat: &mut Chat, place: QueuePlace) {
    // Only changes are pushed; estimates are compared by the minute so a
    // visitor is not woken by seconds of drift.
    let minute = |p: &QueuePlace| {
        (
            p.position,
            p.queue_length,
            p.estimated_wait_secs.map(|s| s / 60),
        )
    };
    if chat.last_place.as_ref().map(minute) == Some(minute(&place)) {
        return;
    }
    chat.last_place = Some(place);
    io.send(&VisitorOut::Queue {
        position: place.position,
        queue_length: place.queue_length,
        estimated_wait_secs: place.estimated_wait_secs,
    })
    .await;
}

/// A visitor's store write, finished.
enum Done {
    Sent {
        client_id: String,
        result: Result<u64, ErrorBody>,
    },
    Other(Result<(), ErrorBody>),
}

impl Handler for Visitor {
    type In = VisitorIn;
    type Done = Done;

    fn parse(&self, text: &str) -> Result<VisitorIn, ErrorBody> {
        parse_inbound::<VisitorIn>(text, VisitorIn::TYPES)
    }

    fn bound(&self) -> bool {
        self.chat.is_some()
    }

    fn order(&self, msg: &VisitorIn) -> Order {
        match (&self.chat, msg) {
            (
                Some(chat),
                VisitorIn::Send { .. } | VisitorIn::Ack { .. } | VisitorIn::Typing { .. },
            ) => Order::Conversation(chat.id),
            _ => Order::Barrier,
        }
    }

    async fn on_frame(&mut self, io: &mut Io, msg: VisitorIn) -> Option<Pending<Done>> {
        let app = self.app.clone();
        let service = &app.service;
        let Some(chat) = self.chat.as_mut() else {
            let bound = match msg {
                VisitorIn::Start {
                    pre_chat,
                    first_message,
                    idempotency_key,
                    lang,
                    return_code,
                } => match self.start_allowed() {
                    Err(e) => Err(e),
                    Ok(()) => service
                        .start_with(
                            pre_chat,
                            first_message,
                            crate::service::StartOptions {
                                idempotency_key,
                                lang,
                                return_code,
                                continues: None,
                            },
                            self.ip,
                        )
                        .await
                        .map(|(rec, token)| {
                            let seq = rec.last_seq;
                            (rec, Some(token), seq)
                        }),
                },
                VisitorIn::Resume {
                    conversation_id,
                    token,
                    last_seq,
                } => match self.start_allowed() {
                    Err(e) => Err(e),
                    Ok(()) => service
                        .resume(conversation_id, &token)
                        .await
                        .map(|rec| (rec, None, last_seq)),
                },
                _ => Err(ErrorBody::new(
                    ErrorCode::NotStarted,
                    "send `start` or `resume` first",
                )),
            };
            match bound {
                Ok((rec, token, seq)) => self.bind(io, rec.id, token.as_deref(), seq).await,
                Err(e) => io.error(&e).await,
            }
            return None;
        };
        let id = chat.id;
        let work: LocalBoxFuture<'static, Done> = match msg {
            VisitorIn::Send { client_id, text } => {
                let cid = client_id.as_str().to_owned();
                let waiting = chat.state == ConversationState::Queued;
                chat.cursor.writing(OwnWrite {
                    from: Party::Visitor,
                    author: None,
                    client_id: cid.clone(),
                });
                Box::pin(async move {
                    let result = app.service.visitor_send(id, client_id, text, waiting).await;
                    Done::Sent {
                        client_id: cid,
                        result,
                    }
                })
            }
            VisitorIn::Ack { seq } => {
                Box::pin(async move { Done::Other(app.service.ack(id, Party::Visitor, seq).await) })
            }
            VisitorIn::Typing { active } => {
                if !matches!(chat.state, ConversationState::Active { .. }) {
                    return None;
                }
                Box::pin(async move {
                    app.service.typing(id, Party::Visitor, active).await;
                    Done::Other(Ok(()))
                })
            }
            VisitorIn::Start { .. } | VisitorIn::Resume { .. } => {
                io.error(&ErrorBody::new(
                    ErrorCode::AlreadyStarted,
                    "this socket already has a conversation",
                ))
                .await;
                return None;
            }
            VisitorIn::End => {
                if let Err(e) = service.visitor_end(id).await {
                    io.error(&e).await;
                }
                return None;
            }
            VisitorIn::LeaveQuickly => {
                // The page is already leaving: the answer is for a page
                // that is still there (a test, a slow navigation).
                match service.visitor_leave_quickly(id).await {
                    Ok(()) => io.send(&VisitorOut::LeftQuickly).await,
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
            VisitorIn::EraseCase => {
                match service.erase_case(id).await {
                    Ok(n) => io.send(&VisitorOut::CaseErased { conversations: n }).await,
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
            VisitorIn::KeepLonger {
                wording_version,
                lang,
            } => {
                let step = KeepLongerStep::Give { lang };
                match service.keep_longer(id, step, &wording_version).await {
                    Ok(v) => {
                        io.send(&VisitorOut::CaseRetention { case_retention: &v })
                            .await
                    }
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
            VisitorIn::WithdrawKeepLonger => {
                match service.keep_longer(id, KeepLongerStep::Withdraw, "").await {
                    Ok(v) => {
                        io.send(&VisitorOut::CaseRetention { case_retention: &v })
                            .await
                    }
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
            VisitorIn::ReturnCode => {
                match service.take_return_code(id).await {
                    Ok(r) => {
                        io.send(&VisitorOut::ReturnCode {
                            code: &r.code,
                            retention_days: r.retention_days,
                            case_retention: &r.case_retention,
                        })
                        .await
                    }
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
            VisitorIn::WayBackCode => {
                match service.way_back_code(id).await {
                    Ok(w) => {
                        io.send(&VisitorOut::WayBackCode {
                            code: &w.code,
                            expires_at_ms: w.expires_at_ms,
                        })
                        .await
                    }
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
            VisitorIn::Erase => {
                match service.visitor_erase(id).await {
                    Ok(()) => io.send(&VisitorOut::Erased).await,
                    Err(e) => io.error(&e).await,
                }
                return None;
            }
        };
        Some(Pending {
            conversation: id,
            work,
        })
    }

    async fn on_done(&mut self, io: &mut Io, done: Done) {
        match done {
            Done::Sent { client_id, result } => {
                if let Some(chat) = self.chat.as_mut() {
                    chat.cursor.own(result.as_ref().ok().copied());
                }
                match result {
                    Ok(seq) => {
                        io.send(&VisitorOut::Sent {
                            client_id: &client_id,
                            seq,
                        })
                        .await
                    }
                    Err(mut e) => {
                        e.client_id = Some(client_id);
                        io.error(&e).await
                    }
                }
            }
            Done::Other(Err(e)) => io.error(&e).await,
            Done::Other(Ok(())) => {}
        }
    }

    async fn on_outbound(&mut self, io: &mut Io, msg: Outbound) {
        let Some(chat) = self.chat.as_mut() else {
            return;
        };
        let service = &self.app.service;
        match msg {
            Outbound::Event(Event::Message { message, .. }) => {
                chat.cursor
                    .deliver(io, service, chat.id, &message, &encode_message)
                    .await
            }
            Outbound::Event(Event::Acked {
                by: Party::Counsellor,
                seq,
                ..
            }) => io.send(&VisitorOut::Delivered { seq }).await,
            Outbound::Event(Event::Typing {
                from: Party::Counsellor,
                active,
                ..
            }) => io.send(&VisitorOut::Typing { active }).await,
            Outbound::Event(Event::Assigned { counsellor, .. }) => {
                let app = self.app.clone();
                change_state(
                    io,
                    &app,
                    chat,
                    ConversationState::Active { counsellor },
                    None,
                )
                .await
            }
            Outbound::Event(Event::Requeued { .. }) => {
                let app = self.app.clone();
                change_state(io, &app, chat, ConversationState::Queued, None).await
            }
            Outbound::Event(Event::Ended { by, .. }) => {
                let app = self.app.clone();
                change_state(io, &app, chat, ConversationState::Ended, Some(by)).await
            }
            Outbound::Event(Event::Handoff { .. }) => {
                let app = self.app.clone();
                send_handoff(io, &app, chat.id).await
            }
            Outbound::Event(Event::Relay { .. }) => io.send(&VisitorOut::RelayChanged).await,
            Outbound::Event(Event::SafetyInfo { .. }) => {
                let app = self.app.clone();
                send_safety_info(io, &app).await;
                chat.safety_shown = true;
            }
            Outbound::QueuePosition {
                position,
                queue_length,
                estimated_wait_secs,
            } => {
                if chat.state == ConversationState::Queued {
                    let place = QueuePlace {
                        position,
                        queue_length,
                        estimated_wait_secs,
                    };
                    send_place(io, chat, place).await
                }
            }
            Outbound::Closing {
                closes_at,
                next_opening,
            } => {
                let app = self.app.clone();
                send_closing(io, &app, chat, closes_at, next_opening).await
            }
            Outbound::Event(Event::Supervision {
                supervisor,
                mode,
                previous,
                ..
            }) => {
                // A joined supervisor is a second counsellor: the visitor
                // sees their name. An observer is shown only if the
                // deployment says so.
                let app = self.app.clone();
                let join = Some(SupervisionMode::Join);
                let observe = Some(SupervisionMode::Observe);
                if mode == join && previous != join {
                    let name = app.service.display_name(supervisor).await;
                    io.send(&VisitorOut::CounsellorJoined { name: &name }).await;
                } else if previous == join && mode != join {
                    let name = app.service.display_name(supervisor).await;
                    io.send(&VisitorOut::CounsellorLeft { name: &name }).await;
                }
                if app.settings.supervision.tell_visitor_when_observed {
                    if mode == observe && previous != observe {
                        io.send(&VisitorOut::Observed { active: true }).await;
                    } else if previous == observe && mode != observe {
                        io.send(&VisitorOut::Observed { active: false }).await;
                    }
                }
            }
            Outbound::Resync => {
                // Events may have been missed: the record says where we are.
                let app = self.app.clone();
                if let Ok(Some(rec)) = service.conversation_record(chat.id).await {
                    change_state(io, &app, chat, rec.state, rec.ended_by).await;
                    // A triage match whose `safety_info` event was lost.
                    if !chat.safety_shown
                        && rec.state != ConversationState::Ended
                        && crate::service::Service::triage_flagged(&rec)
                    {
                        send_safety_info(io, &app).await;
                        chat.safety_shown = true;
                    }
                }
                chat.cursor
                    .catch_up(io, service, chat.id, &encode_message)
                    .await
            }
            // Not for visitors: presence, notes, counsellor status, queue views.
            Outbound::Event(_)
            | Outbound::Shared(_)
            | Outbound::Drain
            | Outbound::SessionEnded
            | Outbound::AccountChanged(_) => {}
        }
    }

    async fn on_close(&mut self) {
        if let Some(chat) = &self.chat {
            let _ = self.app.service.visitor_presence(chat.id, -1).await;
        }
    }
}
