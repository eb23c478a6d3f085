//! The counsellor console's read models. Which conversations a counsellor
//! may see is decided here, and nowhere else: the ones they hold (active
//! with them, or ended and waiting for their outcome) and, for a
//! supervisor, the ones they observe or joined. Here too: the welcome
//! after `hello`, a conversation's view with every name resolved from one
//! read of the accounts (not one read per person per conversation), and
//! the check after a lag of what a socket may still see. The socket only
//! watches what it is told and translates.

use std::collections::HashMap;

use super::{Refusal, Service};
use crate::core::conversation::ConversationState;
use crate::core::ids::{AccountId, ConversationId};
use crate::core::triage::RiskLevel;
use crate::model::Channel;
use crate::model::{Account, ConversationRecord, Note, Role, SupervisionMode};
use crate::protocol::{
    reason_views, AlertView, ConversationView, FloorAlertView, NoteView, RiskReasonView, StaffRef,
    SupervisorView, WhisperView,
};

/// Why a counsellor may see a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Theirs: active with them, or ended and waiting for their outcome.
    Holder,
    /// A supervisor observing or joined.
    Supervising(SupervisionMode),
}

impl Access {
    /// The `supervision` a view carries (`None` for a holder).
    pub fn supervision(self) -> Option<SupervisionMode> {
        match self {
            Access::Holder => None,
            Access::Supervising(m) => Some(m),
        }
    }
}

/// What a counsellor's socket shows after `hello`.
pub struct CounsellorWelcome {
    /// Every conversation they may see, in view, with why.
    pub conversations: Vec<(ConversationView, Access)>,
    /// Supervisors only: every alert not yet acknowledged, oldest first.
    pub alerts: Option<Vec<AlertView>>,
    /// Supervisors only: empty-floor episodes not yet acknowledged.
    pub floor_alerts: Option<Vec<FloorAlertView>>,
}

/// A watched conversation, checked again after a lag.
#[derive(Clone, Debug)]
pub enum Recheck {
    /// Still visible with the same access.
    Keep,
    /// No longer visible; nothing to tell.
    Drop,
    /// It was theirs and is back in the queue.
    Requeued,
    /// It was theirs and is now with someone else.
    Released { to: StaffRef },
}

/// A note as the console shows it (in a view, or a `note_saved` frame).
pub fn note_view(n: Note) -> NoteView {
    NoteView {
        text: n.text,
        author: n.author,
        at: n.at_ms,
    }
}

impl Service {
    /// The conversations `who` holds (active with them, or ended and
    /// waiting for their outcome).
    pub async fn held_conversations(&self, who: AccountId) -> Result<Vec<ConversationId>, Refusal> {
        Ok(self
            .store
            .conversations_of(who)
            .await?
            .iter()
            .map(|r| r.id)
            .collect())
    }

    /// The conversations a supervisor observes or joined, with how (none
    /// for anyone else).
    pub async fn supervised_conversations(
        &self,
        who: &Account,
    ) -> Result<Vec<(ConversationId, SupervisionMode)>, Refusal> {
        if who.role != Role::Supervisor {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .supervised_by(who.id)
            .await?
            .into_iter()
            .map(|(r, mode)| (r.id, mode))
            .collect())
    }

    /// A counsellor's `hello`: every conversation they may see, and
    /// nothing else. Each is watched (`watch`) before its record is read
    /// again: whatever happened before the watch is in the record, whatever
    /// happens after arrives as an event. One that is no longer theirs by
    /// the second read (requeued or moved in between) is unwatched
    /// (`unwatch`) and left out.
    pub async fn counsellor_welcome(
        &self,
        who: &Account,
        watch: impl Fn(ConversationId),
        unwatch: impl Fn(ConversationId),
    ) -> Result<CounsellorWelcome, Refusal> {
        let me = who.id;
        let mut ids: Vec<(ConversationId, Access)> = self
            .held_conversations(me)
            .await?
            .into_iter()
            .map(|id| (id, Access::Holder))
            .collect();
        for (id, mode) in self.supervised_conversations(who).await? {
            if !ids.iter().any(|(i, _)| *i == id) {
                ids.push((id, Access::Supervising(mode)));
            }
        }
        for (id, _) in &ids {
            watch(*id);
        }
        let mut held: Vec<(ConversationRecord, Access)> = Vec::with_capacity(ids.len());
        for (id, access) in ids {
            let now = match access {
                Access::Holder => self.authorise(id, me).await.ok().map(|r| (r, access)),
                Access::Supervising(_) => match self.store.conversation(id).await? {
                    Some(r) if r.state != ConversationState::Ended => r
                        .supervision_of(me)
                        .map(Access::Supervising)
                        .map(|a| (r, a)),
                    _ => None,
                },
            };
            match now {
                Some(pair) => held.push(pair),
                None => unwatch(id),
            }
        }
        let items: Vec<(&ConversationRecord, Option<SupervisionMode>)> =
            held.iter().map(|(r, a)| (r, a.supervision())).collect();
        let views = self.conversation_views(&items).await;
        let conversations = views
            .into_iter()
            .zip(held.iter().map(|(_, a)| *a))
            .collect();
        let alerts = if who.role == Role::Supervisor {
            Some(
                self.store
                    .alerts(true)
                    .await?
                    .iter()
                    .map(AlertView::from)
                    .collect(),
            )
        } else {
            None
        };
        let floor_alerts = if who.role == Role::Supervisor {
            Some(
                self.store
                    .floor_alerts(true)
                    .await?
                    .iter()
                    .map(FloorAlertView::from)
                    .collect(),
            )
        } else {
            None
        };
        Ok(CounsellorWelcome {
            conversations,
            alerts,
            floor_alerts,
        })
    }

    /// The conversation's view, if it is `who`'s (see `authorise`): what
    /// a counsellor is shown when a conversation becomes theirs.
    pub async fn assigned_view(
        &self,
        id: ConversationId,
        who: AccountId,
    ) -> Result<ConversationView, Refusal> {
        let rec = self.authorise(id, who).await?;
        Ok(self.conversation_view(&rec, None).await)
    }

    /// How `who` supervises the conversation now (`None` once it ended or
    /// they left), read from the store rather than from an event, which
    /// may be stale or reordered; with the record for its view. `None`
    /// if there is no such conversation.
    pub async fn own_supervision(
        &self,
        id: ConversationId,
        who: AccountId,
    ) -> Result<Option<(ConversationRecord, Option<SupervisionMode>)>, Refusal> {
        let Some(rec) = self.store.conversation(id).await? else {
            return Ok(None);
        };
        let mode = if rec.state == ConversationState::Ended {
            None
        } else {
            rec.supervision_of(who)
        };
        Ok(Some((rec, mode)))
    }

    /// After a lag: whether `who` may still see each conversation their
    /// socket watches with the access it was given, and, for one they
    /// held that lives on without them, where it went (as the missed event
    /// would have said). One record read per conversation; the names of
    /// those it went to in one read of the accounts.
    pub async fn recheck(
        &self,
        who: AccountId,
        watched: &[(ConversationId, Access)],
    ) -> Vec<(ConversationId, Recheck)> {
        let mut out = Vec::with_capacity(watched.len());
        let mut released_to = Vec::new();
        for &(id, access) in watched {
            let rec = self.store.conversation(id).await.ok().flatten();
            let keep = match &rec {
                Some(rec) => match access {
                    Access::Holder => {
                        rec.counsellor == Some(who) && rec.state != ConversationState::Queued
                    }
                    Access::Supervising(_) => {
                        rec.state != ConversationState::Ended && rec.supervision_of(who).is_some()
                    }
                },
                None => false,
            };
            let check = match (keep, access, rec.map(|r| r.state)) {
                (true, _, _) => Recheck::Keep,
                (false, Access::Holder, Some(ConversationState::Queued)) => Recheck::Requeued,
                (false, Access::Holder, Some(ConversationState::Active { counsellor })) => {
                    released_to.push(counsellor);
                    Recheck::Released {
                        to: StaffRef {
                            id: counsellor,
                            display_name: String::new(),
                        },
                    }
                }
                _ => Recheck::Drop,
            };
            out.push((id, check));
        }
        if !released_to.is_empty() {
            let names = self.names().await.unwrap_or_default();
            for (_, check) in &mut out {
                if let Recheck::Released { to } = check {
                    if let Some(a) = names.get(&to.id) {
                        to.display_name = a.display_name.clone();
                    }
                }
            }
        }
        out
    }

    /// A conversation's risk level and why (for a counsellor who sees it).
    pub async fn risk_view(
        &self,
        id: ConversationId,
    ) -> Result<Option<(RiskLevel, Vec<RiskReasonView>)>, Refusal> {
        Ok(self
            .store
            .conversation(id)
            .await?
            .map(|r| (r.risk, reason_views(&r.risk_reasons))))
    }

    /// One conversation as a counsellor sees it: its notes, and the names
    /// of its counsellor and supervisors.
    pub async fn conversation_view(
        &self,
        rec: &ConversationRecord,
        supervision: Option<SupervisionMode>,
    ) -> ConversationView {
        let mut views = self.conversation_views(&[(rec, supervision)]).await;
        views.pop().expect("one view per record")
    }

    /// Views of several conversations: each one's notes, and every name
    /// from one read of the accounts (none if no name is needed). A name
    /// that cannot be read is shown empty, a note list that cannot be read
    /// as none: a view is never refused for them.
    async fn conversation_views(
        &self,
        items: &[(&ConversationRecord, Option<SupervisionMode>)],
    ) -> Vec<ConversationView> {
        let mut notes = Vec::with_capacity(items.len());
        let mut whispers = Vec::with_capacity(items.len());
        for (rec, _) in items {
            notes.push(self.store.notes(rec.id).await.unwrap_or_default());
            whispers.push(self.store.whispers(rec.id).await.unwrap_or_default());
        }
        let named = items.iter().zip(&whispers).any(|((r, _), w)| {
            r.state.counsellor().is_some() || !r.supervisors.is_empty() || !w.is_empty()
        });
        let names: HashMap<AccountId, Account> = match named {
            true => self.names().await.unwrap_or_default(),
            false => HashMap::new(),
        };
        let name = |id: AccountId| {
            names
                .get(&id)
                .map(|a| a.display_name.clone())
                .unwrap_or_default()
        };
        items
            .iter()
            .zip(notes)
            .zip(whispers)
            .map(|(((rec, supervision), notes), whispers)| ConversationView {
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
                notes: notes.into_iter().map(note_view).collect(),
                whispers: whispers
                    .into_iter()
                    .map(|w| WhisperView {
                        supervisor: StaffRef {
                            id: w.supervisor,
                            display_name: name(w.supervisor),
                        },
                        text: w.text,
                        at: w.at_ms,
                    })
                    .collect(),
                ended_by: rec.ended_by,
                outcome: rec.outcome,
                risk: rec.risk,
                risk_reasons: reason_views(&rec.risk_reasons),
                counsellor: rec.state.counsellor().map(|id| StaffRef {
                    id,
                    display_name: name(id),
                }),
                supervisors: rec
                    .supervisors
                    .iter()
                    .map(|s| SupervisorView {
                        id: s.supervisor,
                        display_name: name(s.supervisor),
                        mode: s.mode,
                    })
                    .collect(),
                transfers: rec.transfers,
                silent_since: rec.silent_since_ms,
                supervision: *supervision,
                left_quickly_at: rec.left_quickly_at_ms,
                erased: rec.erased_at_ms.is_some(),
                lang: rec.lang,
                visitor_offline_since: match rec.channel {
                    Channel::Web if rec.visitor_connections == 0 => rec.visitor_offline_since_ms,
                    _ => None,
                },
            })
            .collect()
    }
}
