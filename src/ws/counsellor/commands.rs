//! A counsellor's frames after `hello`: messages, acks and typing as
//! writes that run while the socket goes on (see `ws` on pipelining), and
//! every other command as one service call, its refusal tagged with the
//! conversation it was about.

use futures_util::future::LocalBoxFuture;

use super::{Counsellor, Io, OwnWrite};
use crate::core::ids::{ConversationId, Party};
use crate::core::stats::Assessment;
use crate::model::{Closing, SupervisionMode};
use crate::protocol::{CounsellorIn, ErrorBody, ErrorCode};
use crate::ws::Handler;

/// A counsellor's store write, finished.
pub(super) enum Done {
    Sent {
        conversation_id: ConversationId,
        client_id: String,
        result: Result<u64, ErrorBody>,
    },
    Other(Result<(), ErrorBody>),
}

pub(super) fn is_write(msg: &CounsellorIn) -> Option<ConversationId> {
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

impl Counsellor {
    /// A message, ack or typing signal as a store write that can run while
    /// the socket goes on (`None` for any other frame).
    pub(super) fn write(
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

    pub(super) async fn command(
        &mut self,
        io: &mut Io,
        msg: CounsellorIn,
    ) -> Result<(), ErrorBody> {
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
                referred_to,
            } => {
                let referred_to = service
                    .referred_offers(&referred_to)
                    .await
                    .map_err(|e| with_conv(e, conversation_id))?;
                service
                    .counsellor_end(
                        conversation_id,
                        me,
                        Closing {
                            outcome,
                            assessment: Assessment {
                                withdrawal,
                                severity,
                                referral: referral || !referred_to.is_empty(),
                                referred_to,
                            },
                        },
                    )
                    .await
                    .map_err(|e| with_conv(e, conversation_id))
            }
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
            // Only supervisors observing or joined may: the service checks.
            CounsellorIn::Whisper {
                conversation_id,
                text,
            } => service
                .whisper(conversation_id, &self.account, text)
                .await
                .map_err(|e| with_conv(e, conversation_id)),
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
}
