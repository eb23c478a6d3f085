//! Safety and supervision: risk levels set by hand, alerts, transfers and
//! hand-backs to the queue, and what supervisors do (observe, join, take
//! over).

use super::{refuse, Refusal, Service};
use crate::core::conversation::{ConversationState, TransitionError};
use crate::core::handoff::AuditAction;
use crate::core::ids::{AccountId, AlertId, ConversationId};
use crate::core::triage::RiskLevel;
use crate::model::Role;
use crate::model::{Account, Event, Note, ReleaseReason, RiskChange, SupervisionMode, Whisper};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// Observing, joining, taking over and acknowledging alerts are for
/// supervisors only.
fn only_supervisors(who: &Account) -> Result<AccountId, Refusal> {
    match who.role {
        Role::Supervisor => Ok(who.id),
        _ => Err(refuse(ErrorCode::Forbidden, "only supervisors may do this")),
    }
}

impl Service {
    /// Raise or lower a conversation's risk level by hand. Anyone who
    /// counsels may do it on a waiting visitor (they see the queue); on an
    /// active conversation, its counsellor, a joined or observing
    /// supervisor, or any supervisor.
    pub async fn set_risk(
        &self,
        id: ConversationId,
        who: &Account,
        level: RiskLevel,
    ) -> Result<(), Refusal> {
        let rec = self
            .store
            .conversation(id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let allowed = match rec.state {
            ConversationState::Ended => {
                return Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            ConversationState::Queued => true,
            ConversationState::Active { counsellor } => {
                counsellor == who.id || who.role == Role::Supervisor
            }
        };
        if !allowed {
            return Err(StoreError::NotYours.into());
        }
        let now = self.now_ms();
        let change = RiskChange::Staff {
            level,
            by: who.id,
            alert: AlertId::new_random(),
        };
        let update = self.store.set_risk(id, change, now).await?;
        tracing::info!(conversation = %id, by = %who.id, from = ?update.was, to = ?level, "risk level set by hand");
        self.publish(Event::RiskChanged {
            conversation: id,
            level: update.record.risk,
            counsellor: update.record.counsellor,
        })
        .await;
        if let Some(alert) = update.alert {
            self.publish(Event::Alert {
                alert: Box::new(alert),
            })
            .await;
        }
        self.wake_matcher();
        Ok(())
    }

    /// A supervisor acknowledges an alert (only supervisors may).
    pub async fn ack_alert(&self, id: AlertId, who: &Account) -> Result<(), Refusal> {
        let supervisor = only_supervisors(who)?;
        // One command for both kinds: a risk alert, else an empty-floor
        // episode (their ids never collide: random UUIDs).
        let alert = match self.store.ack_alert(id, supervisor, self.now_ms()).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => {
                return match self.ack_floor(id, supervisor).await? {
                    Some(()) => Ok(()),
                    None => Err(super::floor::no_such_alert()),
                };
            }
            Err(e) => return Err(e.into()),
        };
        self.publish(Event::AlertAcked {
            alert: Box::new(alert),
        })
        .await;
        Ok(())
    }

    fn optional_note(
        &self,
        author: AccountId,
        note: Option<String>,
    ) -> Result<Option<Note>, Refusal> {
        match note {
            Some(t) if !t.trim().is_empty() => Ok(Some(Note {
                author,
                text: self.text(t)?.into_string(),
                at_ms: self.now_ms(),
            })),
            _ => Ok(None),
        }
    }

    /// Hand an active conversation to a colleague (`to`) or back to the
    /// front of the queue (`None`), with an optional note. Only its
    /// counsellor may. The visitor's log is untouched: messages continue by
    /// sequence number with whoever has it next.
    pub async fn transfer(
        &self,
        id: ConversationId,
        from: AccountId,
        to: Option<AccountId>,
        note: Option<String>,
    ) -> Result<(), Refusal> {
        let note = self.optional_note(from, note)?;
        let rec = self.authorise(id, from).await?;
        if rec.state == ConversationState::Ended {
            return Err(StoreError::Transition(TransitionError::AlreadyEnded).into());
        }
        let not_active = |e: StoreError| match e {
            StoreError::Transition(TransitionError::NotActive) => {
                refuse(ErrorCode::NotActive, "the conversation is not active")
            }
            e => e.into(),
        };
        let now = self.now_ms();
        match to {
            Some(to) => {
                if to == from {
                    return Err(refuse(
                        ErrorCode::InvalidMessage,
                        "choose a colleague other than yourself",
                    ));
                }
                let target = self.store.account(to).await?;
                if !target.is_some_and(|a| a.role.counsels()) {
                    return Err(refuse(
                        ErrorCode::NotAvailable,
                        "that colleague is not taking chats",
                    ));
                }
                self.store
                    .reassign(id, from, to, true, note.clone(), None, now)
                    .await
                    .map_err(not_active)?;
                tracing::info!(conversation = %id, from = %from, to = %to, "conversation transferred");
                self.after_handover(id, from, Some(to), ReleaseReason::Transferred, note)
                    .await;
            }
            None => {
                self.store
                    .requeue(id, from, note.clone(), now)
                    .await
                    .map_err(not_active)?;
                tracing::info!(conversation = %id, from = %from, "conversation handed back to the queue");
                self.after_handover(id, from, None, ReleaseReason::ReturnedToQueue, note)
                    .await;
            }
        }
        Ok(())
    }

    async fn after_handover(
        &self,
        id: ConversationId,
        from: AccountId,
        to: Option<AccountId>,
        reason: ReleaseReason,
        note: Option<Note>,
    ) {
        if let Some(note) = note {
            // Before the hand-over events: the next counsellor reads the
            // notes with the conversation.
            self.publish(Event::NoteSaved {
                conversation: id,
                counsellor: from,
                note: Box::new(note),
            })
            .await;
        }
        match to {
            Some(to) => {
                self.publish(Event::Assigned {
                    conversation: id,
                    counsellor: to,
                })
                .await;
                self.publish(Event::Released {
                    conversation: id,
                    counsellor: from,
                    to,
                    reason,
                })
                .await;
                self.publish(Event::CounsellorChanged { counsellor: to })
                    .await;
            }
            None => {
                self.publish(Event::Requeued {
                    conversation: id,
                    counsellor: from,
                    by_transfer: true,
                })
                .await;
            }
        }
        self.publish(Event::CounsellorChanged { counsellor: from })
            .await;
        self.publish(Event::QueueChanged).await;
        self.wake_matcher();
    }

    /// A supervisor becomes the conversation's counsellor: a waiting one is
    /// assigned to them, an active one is taken from its counsellor. Their
    /// capacity holds either way. Taking an active one over is audited in
    /// the same step (`take_over`); taking a waiting visitor is the
    /// ordinary assignment any counsellor gets, not access to a colleague's
    /// conversation, and is not.
    pub async fn take_over(&self, id: ConversationId, who: &Account) -> Result<(), Refusal> {
        let supervisor = only_supervisors(who)?;
        let rec = self
            .store
            .conversation(id)
            .await?
            .ok_or(StoreError::NotFound)?;
        match rec.state {
            ConversationState::Ended => {
                Err(StoreError::Transition(TransitionError::AlreadyEnded).into())
            }
            ConversationState::Queued => {
                self.assign(id, supervisor).await?;
                tracing::info!(conversation = %id, supervisor = %supervisor, "supervisor took a waiting visitor");
                self.publish(Event::QueueChanged).await;
                Ok(())
            }
            ConversationState::Active { counsellor } if counsellor == supervisor => Ok(()),
            ConversationState::Active { counsellor } => {
                self.store
                    .reassign(
                        id,
                        counsellor,
                        supervisor,
                        false,
                        None,
                        Some(AuditAction::TakeOver),
                        self.now_ms(),
                    )
                    .await?;
                tracing::info!(conversation = %id, from = %counsellor, supervisor = %supervisor, "supervisor took over");
                self.after_handover(
                    id,
                    counsellor,
                    Some(supervisor),
                    ReleaseReason::TakenOver,
                    None,
                )
                .await;
                Ok(())
            }
        }
    }

    /// Observe (`Some(Observe)`), join (`Some(Join)`) or leave (`None`).
    /// Each change is audited by the store in the same step.
    pub async fn supervise(
        &self,
        id: ConversationId,
        who: &Account,
        mode: Option<SupervisionMode>,
    ) -> Result<(), Refusal> {
        let supervisor = only_supervisors(who)?;
        self.change_supervision(id, supervisor, mode, false).await
    }

    /// A supervisor's last console socket closed: every observation or
    /// join of theirs ends (audited as `leave_by_disconnect`, with its
    /// duration). Failures are logged; the next connect shows what holds.
    pub async fn end_supervision_on_disconnect(&self, supervisor: AccountId) {
        self.end_supervision_begun_before(supervisor, u64::MAX)
            .await;
    }

    /// Supervisors with no console socket anywhere who still hold an
    /// observation or a join: their node crashed (SIGKILL, power loss) and
    /// never said the socket closed, or a single node restarted after a
    /// crash with nobody connected. Their accesses end as at a disconnect
    /// (audited `leave_by_disconnect`, with the duration up to now), so the
    /// audit never shows a minor's conversation watched by nobody until it
    /// ends. Run by the sweeper on every node; ending twice changes nothing.
    pub async fn end_orphaned_supervision(&self) {
        let accounts = match self.store.accounts().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "could not read accounts for the supervision check");
                return;
            }
        };
        for a in accounts.iter().filter(|a| a.role == Role::Supervisor) {
            // Only accesses begun before the presence was read: a
            // supervisor who connects and observes between the two reads
            // keeps what they just began.
            let checked_at = self.now_ms();
            match self.store.counsellor(a.id).await {
                Ok(Some(r)) if r.connections > 0 => continue,
                Ok(_) => {}
                Err(_) => continue,
            }
            self.end_supervision_begun_before(a.id, checked_at).await;
        }
    }

    async fn end_supervision_begun_before(&self, supervisor: AccountId, before_ms: u64) {
        let supervised = match self.store.supervised_by(supervisor).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(supervisor = %supervisor, error = %e, "could not read supervised conversations on disconnect");
                return;
            }
        };
        for (rec, _) in supervised {
            if rec
                .supervision_entry(supervisor)
                .is_none_or(|s| s.since_ms >= before_ms)
            {
                continue;
            }
            if let Err(e) = self
                .change_supervision(rec.id, supervisor, None, true)
                .await
            {
                tracing::warn!(conversation = %rec.id, supervisor = %supervisor, code = e.code.as_str(), "could not end supervision on disconnect");
            }
        }
    }

    /// A supervisor writes to the counsellor(s) of a conversation they
    /// observe or joined, never to the visitor. Stored apart from the log
    /// and audited in one step; delivered to the conversation's staff only.
    pub async fn whisper(
        &self,
        id: ConversationId,
        who: &Account,
        text: String,
    ) -> Result<(), Refusal> {
        let supervisor = only_supervisors(who)?;
        let text = self.text(text)?.into_string();
        let whisper = Whisper {
            conversation: id,
            supervisor,
            text,
            at_ms: self.now_ms(),
        };
        self.store
            .whisper(whisper.clone())
            .await
            .map_err(|e| match e {
                StoreError::NotYours => refuse(
                    ErrorCode::NotYourConversation,
                    "observe or join the conversation before whispering",
                ),
                e => e.into(),
            })?;
        tracing::info!(conversation = %id, supervisor = %supervisor, "whisper stored");
        self.publish(Event::Whisper {
            whisper: Box::new(whisper),
        })
        .await;
        Ok(())
    }

    async fn change_supervision(
        &self,
        id: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
        by_disconnect: bool,
    ) -> Result<(), Refusal> {
        let (_, previous) = self
            .store
            .supervise(id, supervisor, mode, by_disconnect, self.now_ms())
            .await
            .map_err(|e| match e {
                StoreError::Transition(TransitionError::NotActive) => refuse(
                    ErrorCode::NotActive,
                    "a waiting visitor cannot be joined; take them over instead",
                ),
                StoreError::NotYours => refuse(
                    ErrorCode::InvalidMessage,
                    "this conversation is already yours",
                ),
                e => e.into(),
            })?;
        if previous != mode {
            tracing::info!(conversation = %id, supervisor = %supervisor, mode = ?mode, "supervision changed");
            self.publish(Event::Supervision {
                conversation: id,
                supervisor,
                mode,
                previous,
            })
            .await;
            self.publish(Event::QueueChanged).await;
        }
        Ok(())
    }
}
