//! Anonymous cases and the return code (issue 22).
//!
//! A visitor may take a return code in a conversation (during it or after
//! it ended, while their page still holds the resume token). The code
//! links the conversation into an anonymous case; given on a later
//! `start`, it adds the new conversation to that case, and matching
//! prefers the counsellor they last talked with for at most
//! `timing.return_preference_max_wait_secs` (`core::matching`). The
//! counsellor who holds a conversation of a case reads the case's
//! earlier conversations still within retention.
//!
//! The code is stored only as its keyed hash (HMAC-SHA256 under
//! `handoff.pin_key`, the domain apart from the way-back code's) and never
//! logged. A wrong code is answered exactly as a wrong resume token
//! (`resume_failed`, same message, one store read and one guard write),
//! and counts one failure against the client address (`GuardStore`);
//! past `limits.return_code_failures` the address is refused
//! `return_code_locked` for up to `limits.return_code_lockout_secs`.

use std::net::IpAddr;

use super::console::note_view;
use super::handoff::random;
use super::way_back::address_guard_key;
use super::{refuse, resume_failed, Refusal, Service};
use crate::core::case_retention::{self, CaseRetention, KeepLongerError};
use crate::core::ids::Lang;
use crate::core::ids::{AccountId, CaseId, ConversationId};
use crate::core::return_code::ReturnCode;
use crate::model::{Account, CaseRecord, TokenHash};
use crate::protocol::{
    reason_views, CaseMessageView, CaseRetentionView, CaseView, EarlierConversationView, ErrorCode,
    KeepLongerView,
};
use crate::store::StoreError;

/// A return code as shown to the visitor (once; only its hash is kept).
#[derive(Clone)]
pub struct ReturnCodeShown {
    /// Five groups of four: `K7QP-M3XW-2ABC-DEFG-HJKM`.
    pub code: String,
    /// How long the case's conversations are kept after they end.
    pub retention_days: u32,
    /// Which retention applies (the keep-longer consent).
    pub case_retention: CaseRetentionView,
}

/// Giving or withdrawing the keep-longer consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepLongerStep {
    /// Agree, having been shown the wording in this language (`None`:
    /// the conversation's).
    Give {
        lang: Option<Lang>,
    },
    Withdraw,
}

/// Attempts of the consent's compare-and-set before giving up.
const KEEP_ATTEMPTS: usize = 5;

/// Messages read per earlier conversation at most (a case view is a
/// reading aid, not an export).
const CASE_MESSAGES_MAX: usize = 2_000;

impl Service {
    fn return_code_hash(&self, code: &ReturnCode) -> TokenHash {
        self.keyed_hash(b"tsunagu return code v1\0", code.as_str())
    }

    /// A new return code for conversation `id` (the visitor's, checked by
    /// the caller): a new case, or a new code for its case (the earlier
    /// code stops working). Refused for an erased conversation.
    pub async fn take_return_code(&self, id: ConversationId) -> Result<ReturnCodeShown, Refusal> {
        let rec = self
            .store
            .conversation(id)
            .await?
            .ok_or_else(resume_failed)?;
        if rec.erased_at_ms.is_some() {
            return Err(Self::erased_refusal());
        }
        let code = ReturnCode::from_random(random());
        let case = self
            .store
            .take_return_code(
                id,
                CaseId::new_random(),
                self.return_code_hash(&code),
                rec.counsellor,
                self.now_ms(),
            )
            .await?;
        // Ids only: never the code.
        tracing::info!(conversation = %id, case = %case.id, "a visitor took a return code");
        Ok(ReturnCodeShown {
            code: code.display(),
            retention_days: self.settings.retention.conversation_days,
            case_retention: self.case_retention_view(&case),
        })
    }

    /// Which retention applies to `case`, as shown.
    pub fn case_retention_view(&self, case: &CaseRecord) -> CaseRetentionView {
        let r = &self.settings.retention;
        let applies = case.retention();
        CaseRetentionView {
            retention: applies.name(),
            retention_days: r.conversation_days,
            case_keep_days: r.case_keep_days,
            wording_version: r.case_keep_wording_version.clone(),
            keep_longer: case.keep_longer.last().map(|c| KeepLongerView {
                wording_version: c.wording_version.clone(),
                keep_days: c.keep_days,
                at: c.at_ms,
                withdrawn_at: c.withdrawn_at_ms,
            }),
            keep_until: match applies {
                CaseRetention::KeepLonger { until_ms } => Some(until_ms),
                CaseRetention::Normal => None,
            },
        }
    }

    /// The keep-longer consent of the case conversation `id` (the
    /// visitor's) belongs to: given (`wording_version` is what their
    /// screen showed; another than the deployment's is refused
    /// `offer_changed`) or withdrawn (at once: the next purge applies the
    /// normal retention). `no_case` when the visitor took no return code.
    pub async fn keep_longer(
        &self,
        id: ConversationId,
        step: KeepLongerStep,
        wording_version: &str,
    ) -> Result<CaseRetentionView, Refusal> {
        let r = &self.settings.retention;
        for _ in 0..KEEP_ATTEMPTS {
            let Some(case) = self.store.case_of(id).await? else {
                return Err(refuse(
                    ErrorCode::NoCase,
                    "this conversation has no case: take a return code first",
                ));
            };
            let now = self.now_ms();
            let next = match step {
                KeepLongerStep::Give { lang } => {
                    let lang = match lang {
                        Some(l) => l,
                        None => self
                            .store
                            .conversation(id)
                            .await?
                            .map_or(Lang::Ja, |c| c.lang),
                    };
                    let shown = format!("{wording_version}/{}", lang.tag());
                    case_retention::give(
                        &case.keep_longer,
                        &shown,
                        &r.case_keep_wording_version,
                        r.case_keep_days,
                        now,
                    )
                    .map_err(|KeepLongerError::WordingChanged| {
                        refuse(
                            ErrorCode::OfferChanged,
                            "the keep-longer wording changed; show the new one and ask again",
                        )
                    })?
                }
                KeepLongerStep::Withdraw => case_retention::withdraw(&case.keep_longer, now),
            };
            if next == case.keep_longer {
                return Ok(self.case_retention_view(&case));
            }
            match self
                .store
                .set_keep_longer(case.id, &case.keep_longer, next)
                .await
            {
                Ok(after) => {
                    let given = matches!(step, KeepLongerStep::Give { .. });
                    tracing::info!(conversation = %id, case = %case.id, given, "a visitor changed their case's keep-longer consent");
                    return Ok(self.case_retention_view(&after));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(refuse(
            ErrorCode::Conflict,
            "the case kept changing; try again",
        ))
    }

    /// The case a code typed on the start screen leads to. Anything that
    /// does not lead to one (malformed, wrong, replaced) is answered
    /// `resume_failed`, like a wrong resume token, and counts one failure
    /// against `client`; an address over the limit is answered
    /// `return_code_locked` whatever it sends.
    pub async fn returning_case(
        &self,
        raw: &str,
        client: Option<IpAddr>,
    ) -> Result<CaseRecord, Refusal> {
        let key = address_guard_key("return_code_ip", client);
        let limit = self.settings.limits.return_code_failures;
        let window_ms = u64::from(self.settings.limits.return_code_lockout_secs) * 1000;
        let now = self.now_ms();
        if self.store.failures(&key, now).await? >= limit {
            return Err(Refusal {
                retry_after_ms: Some(window_ms),
                ..refuse(
                    ErrorCode::ReturnCodeLocked,
                    "too many wrong return codes from this address; try again after retry_after_ms",
                )
            });
        }
        // A malformed code is hashed and looked up all the same, so that it
        // takes as long as a well-formed wrong one.
        let hash = match ReturnCode::parse(raw) {
            Some(code) => self.return_code_hash(&code),
            None => self.keyed_hash(b"tsunagu return code v1\0", "-"),
        };
        let found = self.store.case_by_code(&hash).await?;
        match found {
            Some(case) if ReturnCode::parse(raw).is_some() => Ok(case),
            _ => {
                let n = self.store.record_failure(&key, now, window_ms).await?;
                if n == limit {
                    tracing::warn!("a client address is refused after too many wrong return codes");
                }
                Err(resume_failed())
            }
        }
    }

    /// "Erase my case": erase every conversation of the case conversation
    /// `id` belongs to (each as the visitor's "erase my chat": ended if
    /// live, its text deleted at once), then forget the case, so its code
    /// stops working. A conversation of no case is erased alone. Returns
    /// how many conversations were erased (one already purged is gone
    /// already and not counted). After a failure part way, erasing again
    /// completes it.
    pub async fn erase_case(&self, id: ConversationId) -> Result<usize, Refusal> {
        let Some(case) = self.store.case_of(id).await? else {
            self.visitor_erase(id).await?;
            return Ok(1);
        };
        let mut erased = 0;
        for c in &case.conversations {
            match self.visitor_erase(*c).await {
                Ok(()) => erased += 1,
                Err(e)
                    if e.code == ErrorCode::NotFound
                        || e.code == ErrorCode::NotYourConversation => {}
                Err(e) => return Err(e),
            }
        }
        match self.store.delete_case(case.id).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(conversation = %id, case = %case.id, conversations = erased, "a visitor erased their case");
        Ok(erased)
    }

    /// Whom matching should prefer for a visitor returning to `case`: the
    /// counsellor of its latest conversation that had one (still within
    /// retention), else the one the case remembers. `None` when the
    /// deployment sets no preference.
    pub(super) async fn preferred_counsellor(
        &self,
        case: &CaseRecord,
    ) -> Result<Option<AccountId>, Refusal> {
        if self.settings.timing.return_preference_max_wait_secs == 0 {
            return Ok(None);
        }
        let mut latest: Option<(u64, AccountId)> = None;
        for id in &case.conversations {
            if let Some(rec) = self.store.conversation(*id).await? {
                if let Some(c) = rec.counsellor {
                    if latest.is_none_or(|(t, _)| rec.started_at_ms >= t) {
                        latest = Some((rec.started_at_ms, c));
                    }
                }
            }
        }
        Ok(latest.map(|(_, c)| c).or(case.last_counsellor))
    }

    /// The key under which a LINE user's case is found (issue 22): the
    /// keyed hash of their LINE user id, in a domain apart from return
    /// codes, so neither can ever name the other's case. LINE visitors are
    /// continuous without a code: the same user is the same case.
    pub fn line_case_key(&self, user: &str) -> TokenHash {
        self.keyed_hash(b"tsunagu line user v1\0", user)
    }

    /// Begin a case for conversation `id`, found later by `key` (a
    /// channel's identity of the visitor, `StartOptions::continues`). The
    /// conversation stands on its own if this fails: the visitor is still
    /// served, and their next conversation begins the case.
    pub(super) async fn begin_case(&self, id: ConversationId, key: TokenHash) {
        match self
            .store
            .take_return_code(id, CaseId::new_random(), key, None, self.now_ms())
            .await
        {
            Ok(case) => tracing::info!(conversation = %id, case = %case.id, "a case began"),
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "a conversation could not begin its case")
            }
        }
    }

    /// Forget the case `key` finds (a LINE user who left: nothing may tie
    /// their conversations together any more). Its conversations stay,
    /// each on its own, until their retention ends.
    pub(super) async fn forget_case(&self, key: &TokenHash) -> Result<(), Refusal> {
        if let Some(case) = self.store.case_by_code(key).await? {
            match self.store.delete_case(case.id).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(case = %case.id, "a case was forgotten with its channel identity");
        }
        Ok(())
    }

    /// Add a returning visitor's new conversation to their case. The
    /// conversation stands on its own if this fails (the case was erased
    /// meanwhile): the visitor is still served.
    pub(super) async fn join_case(&self, case: &CaseRecord, id: ConversationId) {
        match self.store.join_case(case.id, id, self.now_ms()).await {
            Ok(_) => {
                tracing::info!(conversation = %id, case = %case.id, "a visitor came back to their case")
            }
            Err(e) => {
                tracing::warn!(conversation = %id, case = %case.id, error = %e, "a returning visitor's conversation could not join its case")
            }
        }
    }

    /// The case of conversation `id` as `who` sees it: only while they
    /// hold the conversation (`not_your_conversation` otherwise, also for
    /// a conversation of no case: `None`). The earlier conversations
    /// still within retention, with their messages, notes, risk history
    /// and handoff state.
    pub async fn case_view(
        &self,
        id: ConversationId,
        who: AccountId,
    ) -> Result<Option<CaseView>, Refusal> {
        self.authorise(id, who).await?;
        self.read_case(id, who).await
    }

    /// The case of a waiting letter, for whoever may answer it (anyone
    /// who counsels: the letters queue is everyone's), so that the answer
    /// is written knowing the story. `not_found` unless `id` is a letter
    /// still waiting (an answered one is read like any conversation).
    pub async fn letter_case_view(
        &self,
        id: ConversationId,
        who: &Account,
    ) -> Result<Option<CaseView>, Refusal> {
        if !who.role.counsels() {
            return Err(refuse(
                ErrorCode::Forbidden,
                "only counsellors and supervisors answer letters",
            ));
        }
        if !self.letter_waiting(id).await? {
            return Err(refuse(ErrorCode::NotFound, "no such letter waiting"));
        }
        self.read_case(id, who.id).await
    }

    /// The case of conversation `id`, read by `who` (already allowed).
    async fn read_case(
        &self,
        id: ConversationId,
        who: AccountId,
    ) -> Result<Option<CaseView>, Refusal> {
        let Some(case) = self.store.case_of(id).await? else {
            return Ok(None);
        };
        let names = self.names().await.unwrap_or_default();
        let staff = |a: AccountId| crate::protocol::StaffRef {
            id: a,
            display_name: names
                .get(&a)
                .map(|x| x.display_name.clone())
                .unwrap_or_default(),
        };
        let mut earlier = Vec::new();
        for other in case.conversations.iter().filter(|c| **c != id) {
            let Some(rec) = self.store.conversation(*other).await? else {
                continue; // purged: past retention
            };
            let messages = if rec.erased_at_ms.is_some() {
                Vec::new()
            } else {
                self.store
                    .messages_after(rec.id, 0, CASE_MESSAGES_MAX)
                    .await?
                    .iter()
                    .map(|m| CaseMessageView {
                        seq: m.seq,
                        from: m.from,
                        name: m.author_name.clone(),
                        text: m.text.clone(),
                        sent_at: m.at_ms,
                    })
                    .collect()
            };
            let notes = self.store.notes(rec.id).await.unwrap_or_default();
            let handoff = self.store.handoff(rec.id).await?.map(|h| h.state.name());
            earlier.push(EarlierConversationView {
                conversation_id: rec.id,
                channel: rec.channel,
                started_at: rec.started_at_ms,
                ended_at: rec.ended_at_ms,
                counsellor: rec.counsellor.map(staff),
                outcome: rec.outcome,
                risk: rec.risk,
                risk_reasons: reason_views(&rec.risk_reasons),
                notes: notes.into_iter().map(note_view).collect(),
                handoff,
                erased: rec.erased_at_ms.is_some(),
                messages,
                hearing: rec
                    .hearing
                    .as_deref()
                    .map(|h| super::hearing::hearing_view(h, &names)),
            });
        }
        earlier.sort_by_key(|e| e.started_at);
        tracing::info!(conversation = %id, case = %case.id, counsellor = %who, "a counsellor read a case");
        Ok(Some(CaseView {
            case_id: case.id,
            created_at: case.created_at_ms,
            last_contact_at: case.last_contact_ms,
            last_counsellor: case.last_counsellor.map(staff),
            earlier,
            case_retention: self.case_retention_view(&case),
        }))
    }
}
