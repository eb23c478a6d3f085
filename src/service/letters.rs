//! Letters (issue 22): what a visitor leaves for the centre while it is
//! closed (or its queue is full), answered by a counsellor from the
//! letters queue during opening hours, and read with the return code (web)
//! or pushed to the writer (LINE).
//!
//! A letter is a conversation that never enters the live queue
//! (`LetterStore`): its text is message 1 and the answer message 2, so
//! erase, retention, the case and the report treat it as any other. Its
//! text is triaged like a first message: an urgent letter shows the
//! writer the safety information at once, and its alert is stored, so
//! the supervisors see it when they sign in at the next opening.
//!
//! Bounded: one letter of at most `letters.max_chars`; at most
//! `letters.per_address` per client address per window (a LINE user: one
//! waiting at a time); at most `letters.max_waiting` waiting in all.
//!
//! Never logged: the letter, its answer, the return code.

use std::net::IpAddr;

use super::way_back::address_guard_key;
use super::{refuse, Refusal, Service};
use crate::auth;
use crate::core::hours::iso_jst;
use crate::core::ids::{ClientMsgId, ConversationId, Lang, MessageText, Party};
use crate::core::letters::{self, LetterEntry};
use crate::core::prechat::PreChat;

use crate::model::{
    Account, Appended, CaseRecord, Channel, ConversationRecord, NewConversation, NewMessage,
};
use crate::protocol::{reason_views, ErrorCode, RiskReasonView};
use crate::store::StoreError;

/// What the writer of a letter is told.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LetterReceipt {
    pub letter_id: ConversationId,
    /// A new return code (five groups of four), shown once, when the
    /// writer gave none: they read the answer with it. `None` when they
    /// wrote with their code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_code: Option<String>,
    /// How long the letter and its answer are kept after the answer.
    pub retention_days: u32,
    /// Letters before this one in the letters queue.
    pub ahead: usize,
    /// When the answer can be expected (ISO 8601, Japan time): an
    /// estimate, not a promise; absent when no opening is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_expected_at: Option<String>,
    /// Triage matched the letter: show the safety information now.
    pub safety_info: bool,
    /// With `safety_info`: the services to show (the socket's
    /// `safety_info` carries the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<crate::model::Alternative>>,
}

/// A letter as its writer reads it, with the answer once there is one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LetterView {
    pub letter_id: ConversationId,
    pub written_at: u64,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<LetterAnswerView>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LetterAnswerView {
    pub text: String,
    /// The counsellor's display name at the time of writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub answered_at: u64,
}

/// A waiting letter as the console lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WaitingLetterView {
    pub letter_id: ConversationId,
    pub written_at: u64,
    pub channel: Channel,
    pub lang: Lang,
    pub risk: crate::core::triage::RiskLevel,
    pub risk_reasons: Vec<RiskReasonView>,
    pub text: String,
    /// The writer came back with a return code (or as the same LINE user):
    /// the case has earlier conversations.
    pub returning: bool,
}

impl Service {
    fn letters_off() -> Refusal {
        refuse(ErrorCode::Closed, "this centre does not take letters")
    }

    /// A web visitor writes a letter, with their return code if they have
    /// one (a wrong code is refused like a wrong resume token, and counts
    /// against `address`). Without one, a new code is made and shown once.
    pub async fn write_letter(
        &self,
        text: String,
        lang: Option<Lang>,
        return_code: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<LetterReceipt, Refusal> {
        let lt = &self.settings.letters;
        if !lt.enabled {
            return Err(Self::letters_off());
        }
        let now = self.now_ms();
        let key = address_guard_key("letter_ip", address);
        let window_ms = u64::from(lt.per_address_window_secs) * 1000;
        if self.store.failures(&key, now).await? >= lt.per_address {
            return Err(Refusal {
                retry_after_ms: Some(window_ms),
                ..refuse(
                    ErrorCode::RateLimited,
                    "this address has written as many letters as it may for now; try again after retry_after_ms",
                )
            });
        }
        let case = match return_code.map(str::trim) {
            Some(raw) if !raw.is_empty() => Some(self.returning_case(raw, address).await?),
            _ => None,
        };
        let text = MessageText::parse(text, lt.max_chars)?.into_string();
        let rec = self
            .store_letter(Channel::Web, text, lang.unwrap_or_default(), now)
            .await?;
        self.store.record_failure(&key, now, window_ms).await?;
        let return_code = match &case {
            Some(case) => {
                self.join_case(case, rec.id).await;
                None
            }
            None => Some(self.take_return_code(rec.id).await?.code),
        };
        self.receipt(&rec, return_code).await
    }

    /// Triage and store a letter, and tell the supervisors if it matched.
    async fn store_letter(
        &self,
        channel: Channel,
        text: String,
        lang: Lang,
        now: u64,
    ) -> Result<ConversationRecord, Refusal> {
        let triage = self.triage_first(Some(&text), now);
        // Nobody resumes a letter: its token is made and dropped.
        let (_, token_hash) = auth::new_token();
        let new = NewConversation {
            id: ConversationId::new_random(),
            channel,
            token_hash,
            pre_chat: PreChat::default(),
            risk: triage.risk,
            risk_reasons: triage.reasons.clone(),
            alert: triage.alert,
            first_message: Some(text),
            lang,
            now_ms: now,
            start_key: None,
            prefers: None,
        };
        let rec = self
            .store
            .write_letter(new, self.settings.letters.max_waiting)
            .await
            .map_err(|e| {
                let mut r = Refusal::from(e);
                if r.code == ErrorCode::LettersFull {
                    r.alternatives = Some(self.alternatives().to_vec().into());
                }
                r
            })?;
        tracing::info!(conversation = %rec.id, channel = channel.name(), "a letter was written");
        self.publish_first_alert(rec.id, triage, now).await;
        Ok(rec)
    }

    /// The waiting letters in the letters queue's order.
    async fn letters_queue(&self) -> Result<Vec<ConversationRecord>, Refusal> {
        let mut waiting = self.store.waiting_letters().await?;
        letters::sort(&mut waiting, |r| LetterEntry {
            id: r.id,
            priority: r.priority,
            written_at_ms: r.started_at_ms,
        });
        Ok(waiting)
    }

    /// What the writer of `rec` is told: its place and the estimate.
    async fn receipt(
        &self,
        rec: &ConversationRecord,
        return_code: Option<String>,
    ) -> Result<LetterReceipt, Refusal> {
        let now = self.now_ms();
        let queue = self.letters_queue().await?;
        let ahead = queue.iter().position(|r| r.id == rec.id).unwrap_or(0);
        let status = self.schedule.status(now);
        let expected = letters::answer_expected(
            now,
            status.accepts_new_visitors(),
            status.next_opening(),
            ahead,
            self.settings.letters.minutes_per_letter,
        );
        let safety_info = !rec.risk_reasons.is_empty();
        Ok(LetterReceipt {
            letter_id: rec.id,
            return_code,
            retention_days: self.settings.retention.conversation_days,
            ahead,
            answer_expected_at: expected.map(iso_jst),
            // Any triage match, as in a chat (`Service::apply_triage`).
            safety_info,
            services: safety_info.then(|| self.alternatives().to_vec()),
        })
    }

    /// The letters of the case a return code leads to, with their
    /// answers, oldest first. A wrong code is refused as at the start
    /// (`resume_failed`, counted against `address`). Reading marks each
    /// answer read (the visitor's acknowledgement).
    pub async fn read_letters(
        &self,
        raw_code: &str,
        address: Option<IpAddr>,
    ) -> Result<Vec<LetterView>, Refusal> {
        let case = self.returning_case(raw_code, address).await?;
        let views = self.letters_of(&case).await?;
        tracing::info!(case = %case.id, letters = views.len(), "a visitor read their letters");
        Ok(views)
    }

    async fn letters_of(&self, case: &CaseRecord) -> Result<Vec<LetterView>, Refusal> {
        let mut views = Vec::new();
        for id in &case.conversations {
            let Some(rec) = self.store.conversation(*id).await? else {
                continue; // purged
            };
            if !rec.letter || rec.erased_at_ms.is_some() {
                continue;
            }
            let messages = self.store.messages_after(rec.id, 0, 10).await?;
            let Some(letter) = messages.iter().find(|m| m.from == Party::Visitor) else {
                continue;
            };
            let answer = messages.iter().find(|m| m.from == Party::Counsellor);
            if let Some(a) = answer {
                if rec.visitor_acked < a.seq {
                    self.store.ack(rec.id, Party::Visitor, a.seq).await?;
                }
            }
            views.push(LetterView {
                letter_id: rec.id,
                written_at: rec.started_at_ms,
                text: letter.text.clone(),
                answer: answer.map(|a| LetterAnswerView {
                    text: a.text.clone(),
                    name: a.author_name.clone(),
                    answered_at: a.at_ms,
                }),
            });
        }
        views.sort_by_key(|v| v.written_at);
        Ok(views)
    }

    /// The letters queue as the console shows it (counsellors and
    /// supervisors).
    pub async fn waiting_letters(&self) -> Result<Vec<WaitingLetterView>, Refusal> {
        let mut out = Vec::new();
        for rec in self.letters_queue().await? {
            let text = match self.store.messages_after(rec.id, 0, 1).await {
                Ok(m) => m.first().map(|m| m.text.clone()).unwrap_or_default(),
                Err(StoreError::NotFound) => continue, // purged meanwhile
                Err(e) => return Err(e.into()),
            };
            let returning = self
                .store
                .case_of(rec.id)
                .await?
                .is_some_and(|c| c.conversations.len() > 1);
            out.push(WaitingLetterView {
                letter_id: rec.id,
                written_at: rec.started_at_ms,
                channel: rec.channel,
                lang: rec.lang,
                risk: rec.risk,
                risk_reasons: reason_views(&rec.risk_reasons),
                text,
                returning,
            });
        }
        Ok(out)
    }

    /// `who` answers a waiting letter. `letter_answered` if it was
    /// answered (by anyone) or erased meanwhile; `not_found` for an id
    /// that is no letter. The same `client_id` again answers with the
    /// first answer's sequence number and stores nothing.
    pub async fn answer_letter(
        &self,
        letter: ConversationId,
        who: &Account,
        client_id: ClientMsgId,
        text: String,
    ) -> Result<u64, Refusal> {
        if !who.role.counsels() {
            return Err(refuse(
                ErrorCode::Forbidden,
                "only counsellors and supervisors answer letters",
            ));
        }
        let text = MessageText::parse(text, self.settings.letters.max_chars)?.into_string();
        let answer = NewMessage {
            from: Party::Counsellor,
            author: Some(who.id),
            author_name: Some(who.display_name.clone()),
            client_id,
            text,
            now_ms: self.now_ms(),
            require_counsellor: None,
        };
        match self.store.answer_letter(letter, answer).await {
            Ok((_, Appended::New(m))) => {
                tracing::info!(conversation = %letter, counsellor = %who.id, "a counsellor answered a letter");
                Ok(m.seq)
            }
            Ok((_, Appended::Duplicate(seq))) => Ok(seq),
            Err(StoreError::NotFound) => Err(refuse(ErrorCode::NotFound, "no such letter")),
            Err(StoreError::Conflict) => Err(refuse(
                ErrorCode::LetterAnswered,
                "this letter was answered already, or its writer erased it",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A LINE user writes while the centre does not take chats: their
    /// message (webhook event `event_id`) becomes a letter in their case,
    /// tied to them so that its answer is pushed. `None` when letters are
    /// off. One waiting letter per user: a message while theirs waits is
    /// not stored (`rate_limited`).
    pub async fn write_line_letter(
        &self,
        user: &str,
        event_id: &str,
        text: String,
    ) -> Option<Result<LetterReceipt, Refusal>> {
        if !self.settings.letters.enabled {
            return None;
        }
        Some(self.line_letter(user, event_id, text).await)
    }

    async fn line_letter(
        &self,
        user: &str,
        event_id: &str,
        text: String,
    ) -> Result<LetterReceipt, Refusal> {
        if let Some(id) = self.store.line_conversation_of(user).await? {
            if self.letter_waiting(id).await? {
                return Err(refuse(
                    ErrorCode::RateLimited,
                    "your letter is waiting for its answer",
                ));
            }
        }
        let text = MessageText::parse(text, self.settings.letters.max_chars)?.into_string();
        let now = self.now_ms();
        let rec = self
            .store_letter(Channel::Line, text, Lang::Ja, now)
            .await?;
        self.line_open(rec.id, user, event_id).await?;
        let key = self.line_case_key(user);
        match self.store.case_by_code(&key).await? {
            Some(case) => self.join_case(&case, rec.id).await,
            None => self.begin_case(rec.id, key).await,
        }
        self.receipt(&rec, None).await
    }

    /// Is `id` a letter waiting for its answer?
    pub async fn letter_waiting(&self, id: ConversationId) -> Result<bool, Refusal> {
        Ok(self
            .store
            .conversation(id)
            .await?
            .is_some_and(|r| r.letter_waiting()))
    }
}
