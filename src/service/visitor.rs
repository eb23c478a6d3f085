//! The visitor's use cases: start (or, for a LINE visitor, start on that
//! channel), resume, presence, messages with triage, acknowledgements,
//! typing and ending. A web visitor's socket and the LINE edge both come
//! through here.

use std::time::Duration;

use super::{resume_failed, Refusal, Service};
use crate::auth;
use crate::core::conversation::{ConversationState, EndedBy};
use crate::core::ids::{AlertId, ClientMsgId, ConversationId, IdempotencyKey, Lang, Party};
use crate::core::prechat::PreChat;
use crate::core::triage::{self};
use crate::model::{
    Account, Alert, Appended, Channel, ConversationRecord, Event, NewConversation, NewMessage,
    RiskChange, RiskReason, RiskSource, StartKey, TokenHash,
};
use crate::protocol::ErrorCode;

/// A triage hit as a stored reason (the rule, never the text).
fn triage_reasons(hits: &[triage::Hit], now_ms: u64) -> Vec<RiskReason> {
    hits.iter()
        .map(|h| RiskReason {
            level: h.level,
            source: RiskSource::Triage {
                rule: h.rule.clone(),
                category: h.category.clone(),
            },
            at_ms: now_ms,
        })
        .collect()
}

/// The rule ids of reasons, for logs.
fn rule_ids(reasons: &[RiskReason]) -> String {
    reasons
        .iter()
        .filter_map(|r| match &r.source {
            RiskSource::Triage { rule, .. } => Some(rule.as_str()),
            RiskSource::Staff { .. } => None,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Triage of a conversation's (or letter's) first message, before it is
/// stored.
pub(super) struct FirstTriage {
    pub risk: triage::RiskLevel,
    pub reasons: Vec<RiskReason>,
    /// The id of the alert to store with it, when a rule matched.
    pub alert: Option<AlertId>,
}

/// What a `start` may carry besides the pre-chat answers and the first
/// message.
#[derive(Debug, Default)]
pub struct StartOptions {
    /// Chosen by the client: a `start` sent again takes up the same
    /// waiting conversation (issue 27).
    pub idempotency_key: Option<IdempotencyKey>,
    /// The page's language (Japanese when not given).
    pub lang: Option<Lang>,
    /// A return code: the conversation continues the visitor's anonymous
    /// case (issue 22).
    pub return_code: Option<String>,
    /// The keyed hash of a channel's own identity of the visitor (a LINE
    /// user, `Service::line_case_key`): the conversation continues that
    /// identity's case, or begins one, with no code (issue 22).
    pub continues: Option<TokenHash>,
}

/// See [`Service::visitor_welcome`].
pub struct VisitorWelcome {
    pub record: ConversationRecord,
    pub counsellor: Option<String>,
}

impl Service {
    /// Triage of a first message (none: nothing to match).
    pub(super) fn triage_first(&self, text: Option<&str>, now: u64) -> FirstTriage {
        let hits = text.map(|t| self.rules.check(t)).unwrap_or_default();
        FirstTriage {
            risk: triage::level_of(&hits),
            reasons: triage_reasons(&hits, now),
            alert: (!hits.is_empty()).then(AlertId::new_random),
        }
    }

    /// Tell the supervisors of the alert stored with a new conversation
    /// (or letter), if triage matched its first message.
    pub(super) async fn publish_first_alert(
        &self,
        conversation: ConversationId,
        t: FirstTriage,
        now: u64,
    ) {
        let Some(id) = t.alert else { return };
        // The rule ids only: never the text.
        tracing::info!(conversation = %conversation, rules = %rule_ids(&t.reasons), level = ?t.risk, "triage matched the first message");
        self.publish(Event::Alert {
            alert: Box::new(Alert {
                id,
                conversation,
                level: t.risk,
                reasons: t.reasons,
                at_ms: now,
                acked_by: None,
                acked_at_ms: None,
            }),
        })
        .await;
    }

    /// Start a conversation and join the queue. Returns the record and the
    /// resume token (shown to the visitor once, stored only as a hash).
    /// `lang` is the page's language (Japanese when not given).
    /// With a `return_code` (issue 22) the conversation continues the
    /// visitor's anonymous case; a wrong code is refused like a wrong
    /// resume token and nothing is started.
    pub async fn start(
        &self,
        pre_chat: PreChat,
        first_message: Option<String>,
        lang: Option<Lang>,
        address: Option<std::net::IpAddr>,
    ) -> Result<(ConversationRecord, String), Refusal> {
        let options = StartOptions {
            lang,
            ..StartOptions::default()
        };
        self.start_with(pre_chat, first_message, options, address)
            .await
    }

    /// [`Service::start`] with what a web `start` may carry besides
    /// (`StartOptions`). With an `idempotency_key`: while the
    /// conversation that key started waits for its first counsellor, the
    /// same `start` again answers with that conversation and its resume
    /// token (the same token: it is kept sealed under the key), creating
    /// nothing, holding no second waiting place, ignoring the new
    /// `pre_chat` and `first_message`. After that the key is spent and a
    /// `start` with it starts a new conversation.
    pub async fn start_with(
        &self,
        pre_chat: PreChat,
        first_message: Option<String>,
        options: StartOptions,
        address: Option<std::net::IpAddr>,
    ) -> Result<(ConversationRecord, String), Refusal> {
        self.start_from(Channel::Web, pre_chat, first_message, options, address)
            .await
    }

    /// The conversation `key` started and its token, if it still waits
    /// for its first counsellor.
    async fn started_with(
        &self,
        key: &IdempotencyKey,
        rec: Option<ConversationRecord>,
    ) -> Result<Option<(ConversationRecord, String)>, Refusal> {
        let hash = auth::start_key_hash(key.as_str());
        let rec = match rec {
            Some(r) => Some(r),
            None => self.store.started_with(&hash).await?,
        };
        let Some(rec) = rec.filter(|r| r.started_with(&hash)) else {
            return Ok(None);
        };
        let token = rec
            .start_key
            .as_ref()
            .and_then(|k| auth::unseal_token(&k.sealed, key.as_str()))
            .filter(|t| auth::same_hash(&crate::model::hash_token(t), &rec.token_hash));
        match token {
            Some(t) => {
                tracing::info!(conversation = %rec.id, "start repeated with its idempotency key");
                Ok(Some((rec, t)))
            }
            // Its token was replaced since (a way-back code): the key no
            // longer opens it.
            None => Err(Refusal::new(
                ErrorCode::ResumeFailed,
                "this idempotency_key's conversation can no longer be taken up with it",
            )),
        }
    }

    /// [`Service::start`] for a visitor on `channel` (the LINE edge starts
    /// its conversations here: same hours, triage, queue and limits).
    /// `continues`: the case key of the channel's own identity of the
    /// visitor (`StartOptions::continues`).
    pub async fn start_on(
        &self,
        channel: Channel,
        pre_chat: PreChat,
        first_message: Option<String>,
        continues: Option<TokenHash>,
    ) -> Result<(ConversationRecord, String), Refusal> {
        // LINE does not tell us the user's language: Japanese.
        let options = StartOptions {
            lang: Some(Lang::Ja),
            continues,
            ..StartOptions::default()
        };
        self.start_from(channel, pre_chat, first_message, options, None)
            .await
    }

    /// [`Service::start_on`] from a client `address` (its address key),
    /// which may have at most `limits.waiting_per_address` conversations
    /// waiting (`address_caps`).
    async fn start_from(
        &self,
        channel: Channel,
        pre_chat: PreChat,
        first_message: Option<String>,
        options: StartOptions,
        address: Option<std::net::IpAddr>,
    ) -> Result<(ConversationRecord, String), Refusal> {
        let StartOptions {
            idempotency_key: key,
            lang,
            return_code,
            continues,
        } = options;
        let lang = lang.unwrap_or_default();
        // The same start again: before the hours and the caps, which
        // the first one passed (and whose place it holds).
        if let Some(k) = &key {
            if let Some(found) = self.started_with(k, None).await? {
                return Ok(found);
            }
        }
        let now = self.now_ms();
        let status = self.schedule.status(now);
        if !status.accepts_new_visitors() {
            return Err(self.closed_refusal(status));
        }
        let case = match (return_code.as_deref().map(str::trim), &continues) {
            (Some(raw), _) if !raw.is_empty() => Some(self.returning_case(raw, address).await?),
            (_, Some(key)) => self.store.case_by_code(key).await?,
            _ => None,
        };
        let prefers = match &case {
            Some(c) => self.preferred_counsellor(c).await?,
            None => None,
        };
        let first_message = match first_message {
            Some(t) if !t.trim().is_empty() => Some(self.text(t)?.into_string()),
            _ => None,
        };
        let triage = self.triage_first(first_message.as_deref(), now);
        let (token, token_hash) = auth::new_token();
        let start_key = key.as_ref().map(|k| StartKey {
            hash: auth::start_key_hash(k.as_str()),
            sealed: auth::seal_token(&token, k.as_str()).expect("a fresh token seals"),
        });
        let id = ConversationId::new_random();
        let place = match address {
            Some(a) => Some(self.hold_waiting_place(a, id).await?),
            None => None,
        };
        let new = NewConversation {
            lang,
            channel,
            id,
            token_hash,
            pre_chat,
            risk: triage.risk,
            risk_reasons: triage.reasons.clone(),
            alert: triage.alert,
            first_message,
            now_ms: now,
            start_key,
            prefers,
        };
        let created = self
            .store
            .create_conversation(new, self.settings.limits.max_queue)
            .await;
        // Refused, or another `start` with the same key won the race (it
        // created nothing): the place held for this one goes back.
        let lost = matches!(&created, Ok(r) if r.id != id);
        if created.is_err() || lost {
            if let Some(place) = place {
                self.release_waiting_place(place).await;
            }
        }
        let rec = created.map_err(|e| {
                let mut r = Refusal::from(e);
                if r.code == ErrorCode::QueueFull {
                    r.message = "everyone is busy right now and the queue is full; please try again later or contact one of these services".into();
                    r.alternatives = Some(self.alternatives().to_vec().into());
                }
                r
            })?;
        if rec.id != id {
            // Take up the one the other `start` made.
            let k = key.as_ref().expect("only a keyed start finds another");
            return match self.started_with(k, Some(rec)).await? {
                Some(found) => Ok(found),
                None => Err(Refusal::new(
                    ErrorCode::Internal,
                    "the start key named another conversation",
                )),
            };
        }
        tracing::info!(conversation = %rec.id, "conversation started");
        match (&case, continues) {
            (Some(case), _) => self.join_case(case, rec.id).await,
            (None, Some(key)) => self.begin_case(rec.id, key).await,
            (None, None) => {}
        }
        self.metrics.conversation_started();
        self.publish_first_alert(rec.id, triage, now).await;
        self.publish(Event::QueueChanged).await;
        self.wake_matcher();
        Ok((rec, token))
    }

    /// Check a resume token. Unknown conversation and wrong token give the
    /// same answer, so ids cannot be probed; a conversation purged after
    /// the retention period no longer exists, so it answers the same.
    pub async fn resume(
        &self,
        id: ConversationId,
        token: &str,
    ) -> Result<ConversationRecord, Refusal> {
        let failed = resume_failed;
        let rec = self.store.conversation(id).await?.ok_or_else(failed)?;
        if !auth::same_hash(&rec.token_hash, &crate::model::hash_token(token)) {
            return Err(failed());
        }
        if rec.erased_at_ms.is_some() {
            return Err(Self::erased_refusal());
        }
        Ok(rec)
    }

    pub async fn visitor_presence(&self, id: ConversationId, delta: i32) -> Result<(), Refusal> {
        let rec = self
            .store
            .visitor_connections(id, delta, self.now_ms())
            .await?;
        let online = rec.visitor_connections > 0;
        // Only the first socket in and the last one out change presence.
        if (delta > 0 && rec.visitor_connections == 1) || (delta < 0 && !online) {
            self.publish(Event::VisitorPresence {
                conversation: id,
                online,
                counsellor: rec.state.counsellor(),
            })
            .await;
        }
        Ok(())
    }

    /// Store a message from `party`; returns its sequence number (the same
    /// one again for a resend of the same client id).
    pub async fn send(
        &self,
        id: ConversationId,
        party: Party,
        author: Option<&Account>,
        client_id: ClientMsgId,
        text: String,
    ) -> Result<u64, Refusal> {
        let text = self.text(text)?;
        // Triage looks at what a visitor writes, while waiting and mid-chat
        // (the store refuses only an ended conversation).
        let hits = match party {
            Party::Visitor => self.rules.check(text.as_str()),
            Party::Counsellor => Vec::new(),
        };
        let msg = NewMessage {
            from: party,
            author: author.map(|a| a.id),
            author_name: author.map(|a| a.display_name.clone()),
            client_id,
            text: text.into_string(),
            now_ms: self.now_ms(),
            require_counsellor: match party {
                Party::Counsellor => author.map(|a| a.id),
                Party::Visitor => None,
            },
        };
        match self.store.append(id, msg).await? {
            Appended::New(message) => {
                // The store has published it (see `Store::append`).
                self.metrics.message_stored();
                let seq = message.seq;
                let at = message.at_ms;
                if !hits.is_empty() {
                    self.apply_triage(id, &hits, at).await;
                }
                Ok(seq)
            }
            Appended::Duplicate(seq) => Ok(seq),
        }
    }

    /// Raise a visitor's risk after a triage hit (waiting or mid-chat):
    /// the counsellor who has it hears the new level (`RiskChanged`), the
    /// supervisors get an alert, and the visitor's page shows the safety
    /// information (never the level or the rule). Failure to raise it is
    /// logged, never shown to the visitor.
    pub(super) async fn apply_triage(&self, id: ConversationId, hits: &[triage::Hit], now: u64) {
        let change = RiskChange::Triage {
            hits: triage_reasons(hits, now),
            alert: AlertId::new_random(),
        };
        // Part of the message's own write, which was admitted and stored:
        // never shed by the store's admission control, or a busy node
        // would drop the escalation of exactly the message that needs it.
        match crate::store::background(self.store.set_risk(id, change, now)).await {
            Ok(update) => {
                if let Some(alert) = update.alert {
                    let state = update.record.state.name();
                    tracing::info!(conversation = %id, rules = %rule_ids(&alert.reasons), level = ?update.record.risk, state, "triage matched a message");
                    self.publish(Event::RiskChanged {
                        conversation: id,
                        level: update.record.risk,
                        counsellor: update.record.counsellor,
                    })
                    .await;
                    self.publish(Event::Alert {
                        alert: Box::new(alert),
                    })
                    .await;
                    self.publish(Event::SafetyInfo { conversation: id }).await;
                    self.wake_matcher();
                }
            }
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "triage could not raise the risk level")
            }
        }
    }

    pub async fn ack(&self, id: ConversationId, party: Party, seq: u64) -> Result<(), Refusal> {
        // No read of the record first: on Redis that was a whole hash
        // fetched and decoded for every message (docs/BENCHMARKS.md).
        let acked = self.store.ack(id, party, seq).await?;
        if acked.raised {
            self.publish(Event::Acked {
                conversation: id,
                by: party,
                seq: acked.seq,
            })
            .await;
        }
        Ok(())
    }

    pub async fn typing(&self, id: ConversationId, from: Party, active: bool) {
        self.publish(Event::Typing {
            conversation: id,
            from,
            active,
        })
        .await;
    }

    /// The quick exit: the visitor's page is leaving at once. The
    /// conversation is marked "left quickly" and stays where it is (queue
    /// place or counsellor); it waits for the visitor like any whose
    /// visitor went offline, and resumes with the resume token.
    pub async fn visitor_leave_quickly(&self, id: ConversationId) -> Result<(), Refusal> {
        let rec = self.store.leave_quickly(id, self.now_ms()).await?;
        tracing::info!(conversation = %id, state = rec.state.name(), "visitor left quickly");
        self.publish(Event::LeftQuickly {
            conversation: id,
            counsellor: rec.state.counsellor(),
            at_ms: rec.left_quickly_at_ms.unwrap_or_default(),
        })
        .await;
        Ok(())
    }

    /// Has triage ever matched what this visitor wrote? (Their page then
    /// shows the safety information again after a reload.)
    pub fn triage_flagged(rec: &ConversationRecord) -> bool {
        rec.risk_reasons
            .iter()
            .any(|r| matches!(r.source, RiskSource::Triage { .. }))
    }

    pub async fn visitor_end(&self, id: ConversationId) -> Result<(), Refusal> {
        let ended = self
            .store
            .end(id, EndedBy::Visitor, None, self.now_ms())
            .await?;
        self.after_end(&ended.record, ended.was, EndedBy::Visitor)
            .await;
        Ok(())
    }

    pub(super) async fn after_end(
        &self,
        rec: &ConversationRecord,
        was: ConversationState,
        by: EndedBy,
    ) {
        tracing::info!(conversation = %rec.id, ended_by = ?by, outcome = ?rec.outcome, "conversation ended");
        self.metrics.conversation_ended();
        if let (ConversationState::Active { .. }, Some(start), Some(end)) =
            (was, rec.assigned_at_ms, rec.ended_at_ms)
        {
            self.observe_handle_time(Duration::from_millis(end.saturating_sub(start)));
        }
        // The matcher reads the freed place from the store, not from these
        // events: it need not wait for their round trips.
        self.wake_matcher();
        self.publish(Event::Ended {
            conversation: rec.id,
            by,
            outcome: rec.outcome,
            counsellor: rec.counsellor,
            erased: rec.erased_at_ms.is_some(),
        })
        .await;
        if let ConversationState::Active { counsellor } = was {
            self.publish(Event::CounsellorChanged { counsellor }).await;
        }
        self.publish(Event::QueueChanged).await;
    }

    /// What a visitor's socket shows when it binds to the conversation:
    /// the record, and the name of the counsellor who has it (`None` while
    /// nobody has it, or if the name cannot be read). `None` if there is
    /// no such conversation.
    pub async fn visitor_welcome(
        &self,
        id: ConversationId,
    ) -> Result<Option<VisitorWelcome>, Refusal> {
        let Some(record) = self.store.conversation(id).await? else {
            return Ok(None);
        };
        let counsellor = match record.state {
            ConversationState::Active { counsellor } => self
                .store
                .account(counsellor)
                .await
                .ok()
                .flatten()
                .map(|a| a.display_name),
            _ => None,
        };
        Ok(Some(VisitorWelcome { record, counsellor }))
    }

    /// The conversation's record: where it stands, who ended it, whether
    /// triage flagged it (after a lag, a visitor's socket re-reads this
    /// instead of the events it missed).
    pub async fn conversation_record(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, Refusal> {
        Ok(self.store.conversation(id).await?)
    }
}
