//! Relay sheets (issue 23; つなぐシート). The counsellor who holds (or
//! held) a conversation prepares a relay from its hearing sheet: which
//! answers go to which partner, and why. The visitor reads exactly that,
//! per partner, and agrees or not for each (`POST /api/visitor/relays/…`
//! with the resume token); they may withdraw at any time. Only a partner
//! consented to gets anything: a link the counsellor passes on (its token
//! shown once; it expires; every view is audited) or a printed sheet (for
//! centres that hand over on paper; printing is audited too).
//!
//! Logs and the audit log carry ids, never an answer or the purpose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{refuse, Refusal, Service};
use crate::core::handoff::{AuditAction, AuditEntry};
use crate::core::ids::{AccountId, Channel, ConversationId, PartnerId, RelayId};
use crate::core::relay::{self, Consent, PartChoice, Relay, RelayError, RelayLink, SharedField};
use crate::model::{Account, ConversationRecord, Event};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// How often a step is tried again when someone changed the relays at
/// the same moment (compare-and-set).
const CAS_TRIES: usize = 5;

/// What the counsellor prepares: the purpose, and per partner the
/// questions whose answers go to them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareRelay {
    pub purpose: String,
    pub partners: Vec<PartnerScope>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerScope {
    pub partner_id: PartnerId,
    pub questions: Vec<String>,
}

/// A relay as the counsellor and the visitor read it: the consent wording
/// and, per partner, exactly what would go (or went) to them.
#[derive(Clone, Debug, Serialize)]
pub struct RelayView {
    pub relay_id: RelayId,
    pub created_at: u64,
    pub purpose: String,
    pub wording_version: String,
    pub notice_ja: String,
    pub notice_en: String,
    pub parts: Vec<RelayPartView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RelayPartView {
    pub partner_id: PartnerId,
    pub name_ja: String,
    pub name_en: String,
    pub offers: crate::core::partners::OfferSet,
    pub fields: Vec<SharedField>,
    pub consent: Consent,
    /// When the partner's link stops working, if one was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<u64>,
    /// Times the partner read it.
    pub views: u32,
}

/// What a partner's page (or the printed sheet) shows: the centre, the
/// purpose, and the consented answers. Nothing else.
#[derive(Clone, Debug, Serialize)]
pub struct PartnerSheetView {
    pub centre_ja: String,
    pub centre_en: String,
    pub partner_ja: String,
    pub partner_en: String,
    pub purpose: String,
    pub fields: Vec<SharedField>,
    pub consented_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// The account an audit entry names for a step with no staff account (the
/// visitor's consent, a partner's view): the nil id; `detail` says who.
const NOBODY: AccountId = AccountId(uuid::Uuid::nil());

fn refusal(e: RelayError) -> Refusal {
    match e {
        RelayError::Invalid(m) => refuse(ErrorCode::BadRequest, m),
        RelayError::NotAccepting(p) => refuse(
            ErrorCode::PartnerNotAccepting,
            format!("partner {p} does not take relays: refer without sharing instead"),
        ),
        RelayError::Changed => refuse(
            ErrorCode::OfferChanged,
            "this relay was answered already, or its wording changed: read it again",
        ),
        RelayError::NoSuchPartner => refuse(ErrorCode::BadRequest, "no such partner in this relay"),
        RelayError::NotConsented => refuse(
            ErrorCode::OutsideConsent,
            "the visitor has not consented to relay this to that partner",
        ),
        RelayError::Withdrawn => refuse(
            ErrorCode::RelayWithdrawn,
            "the person withdrew their consent: nothing is shown any more",
        ),
        RelayError::Expired => refuse(ErrorCode::LinkExpired, "this link has expired"),
        RelayError::NoSuchLink => link_failed(),
    }
}

/// An unknown, replaced or purged link: like a wrong token.
fn link_failed() -> Refusal {
    refuse(ErrorCode::ResumeFailed, "this link leads nowhere")
}

impl Service {
    fn relay_view(&self, r: &Relay) -> RelayView {
        let s = &self.settings.relay;
        RelayView {
            relay_id: r.id,
            created_at: r.created_at_ms,
            purpose: r.purpose.clone(),
            wording_version: r.wording_version.clone(),
            notice_ja: s.notice_ja.clone(),
            notice_en: s.notice_en.clone(),
            parts: r
                .parts
                .iter()
                .map(|p| RelayPartView {
                    partner_id: p.partner,
                    name_ja: p.name_ja.clone(),
                    name_en: p.name_en.clone(),
                    offers: p.offers,
                    fields: p.fields.clone(),
                    consent: p.consent,
                    link_expires_at: p.link.map(|l| l.expires_at_ms),
                    views: p.views,
                })
                .collect(),
        }
    }

    fn partner_sheet(&self, r: &Relay, partner: PartnerId) -> Result<PartnerSheetView, Refusal> {
        let p = r
            .part(partner)
            .ok_or_else(|| refusal(RelayError::NoSuchPartner))?;
        let Consent::Given { at_ms } = p.consent else {
            return Err(refusal(match p.consent {
                Consent::Withdrawn { .. } => RelayError::Withdrawn,
                _ => RelayError::NotConsented,
            }));
        };
        Ok(PartnerSheetView {
            centre_ja: self.settings.site.name_ja.clone(),
            centre_en: self.settings.site.name_en.clone(),
            partner_ja: p.name_ja.clone(),
            partner_en: p.name_en.clone(),
            purpose: r.purpose.clone(),
            fields: p.fields.clone(),
            consented_at: at_ms,
            expires_at: p.link.map(|l| l.expires_at_ms),
        })
    }

    /// Apply `step` to the conversation's relays and save the result if
    /// nobody changed them meanwhile (tried again a few times otherwise).
    async fn change_relays<T>(
        &self,
        id: ConversationId,
        mut step: impl FnMut(&mut Vec<Relay>) -> Result<(T, Option<RelayLink>), Refusal>,
    ) -> Result<(T, ConversationRecord), Refusal> {
        for _ in 0..CAS_TRIES {
            let rec = self.store.conversation(id).await?.ok_or_else(link_failed)?;
            if rec.erased_at_ms.is_some() {
                return Err(Self::erased_refusal());
            }
            let mut relays = rec.relays.clone();
            let (out, link) = step(&mut relays)?;
            match self.store.save_relays(id, &rec.relays, relays, link).await {
                Ok(rec) => return Ok((out, rec)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(refuse(
            ErrorCode::Conflict,
            "the relay changed at the same moment, again and again: try again",
        ))
    }

    fn find(relays: &mut [Relay], id: RelayId) -> Result<&mut Relay, Refusal> {
        relays
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| refuse(ErrorCode::NotFound, "no such relay"))
    }

    async fn audit_relay(
        &self,
        account: AccountId,
        action: AuditAction,
        conversation: ConversationId,
        detail: String,
    ) -> Result<(), Refusal> {
        let mut e = AuditEntry::access(self.now_ms(), account, action, conversation, None);
        e.detail = Some(detail);
        self.store.append_audit(e).await?;
        Ok(())
    }

    /// The counsellor prepares a relay (see the module doc). A relay the
    /// visitor has not answered yet is replaced by the new one.
    pub async fn prepare_relay(
        &self,
        id: ConversationId,
        who: &Account,
        body: PrepareRelay,
    ) -> Result<RelayView, Refusal> {
        Self::only_counsellors(who)?;
        let rec = self.authorise(id, who.id).await?;
        if rec.channel != Channel::Web {
            return Err(refuse(
                ErrorCode::BadRequest,
                "a relay sheet needs the web page to be read and agreed to",
            ));
        }
        let Some(sheet) = rec.hearing.as_deref() else {
            return Err(refuse(
                ErrorCode::BadRequest,
                "save the hearing sheet first: a relay passes on its answers",
            ));
        };
        let sheets = self.settings.hearing.sheets();
        let def = sheets.get(sheet.version).ok_or_else(|| {
            refuse(
                ErrorCode::BadRequest,
                "the hearing sheet's version is no longer defined",
            )
        })?;
        // Before reading the partners (`relay::prepare` refuses it too).
        if body.partners.is_empty() || body.partners.len() > relay::MAX_PARTNERS {
            return Err(refusal(RelayError::Invalid(format!(
                "partners: 1 to {}",
                relay::MAX_PARTNERS
            ))));
        }
        let mut choices = Vec::with_capacity(body.partners.len());
        for scope in &body.partners {
            let p = self.store.partner(scope.partner_id).await?.ok_or_else(|| {
                refuse(
                    ErrorCode::BadRequest,
                    format!("no partner {}", scope.partner_id),
                )
            })?;
            let name_en = if p.fields.name_en.is_empty() {
                p.fields.name_ja.clone()
            } else {
                p.fields.name_en.clone()
            };
            choices.push(PartChoice {
                partner: p.id,
                name_ja: p.fields.name_ja.clone(),
                name_en,
                offers: p.fields.offers.iter().copied().collect(),
                accepts_relays: p.fields.accepts_relays,
                questions: scope.questions.clone(),
            });
        }
        let relay = relay::prepare(
            RelayId::new_random(),
            who.id,
            self.now_ms(),
            &body.purpose,
            &self.settings.relay.wording_version,
            def,
            &sheet.answers,
            &sheet.texts,
            choices,
        )
        .map_err(refusal)?;
        let view = self.relay_view(&relay);
        let relay_id = relay.id;
        self.change_relays(id, move |relays| {
            relays.retain(|r| r.answered());
            relays.push(relay.clone());
            Ok(((), None))
        })
        .await?;
        self.audit_relay(who.id, AuditAction::RelayPrepared, id, relay_id.to_string())
            .await?;
        tracing::info!(conversation = %id, relay = %relay_id, partners = view.parts.len(), "a counsellor prepared a relay");
        self.publish(Event::Relay { conversation: id }).await;
        Ok(view)
    }

    /// The conversation's relays, for the counsellor who holds or held it.
    pub async fn counsellor_relays(
        &self,
        id: ConversationId,
        who: &Account,
    ) -> Result<Vec<RelayView>, Refusal> {
        Self::only_counsellors(who)?;
        let rec = self.authorise(id, who.id).await?;
        Ok(rec.relays.iter().map(|r| self.relay_view(r)).collect())
    }

    /// A new link for a consented partner: the token, shown once (the last
    /// link stops working), and when it expires.
    pub async fn issue_relay_link(
        &self,
        id: ConversationId,
        who: &Account,
        relay_id: RelayId,
        partner: PartnerId,
    ) -> Result<(String, u64), Refusal> {
        Self::only_counsellors(who)?;
        self.authorise(id, who.id).await?;
        let (token, hash) = crate::auth::new_token();
        let now = self.now_ms();
        let valid = u64::from(self.settings.relay.link_valid_days) * 86_400_000;
        let (expires, _) = self
            .change_relays(id, |relays| {
                let r = Self::find(relays, relay_id)?;
                r.issue_link(partner, hash, now, valid).map_err(refusal)?;
                let link = r.part(partner).and_then(|p| p.link);
                Ok((now + valid, link))
            })
            .await?;
        self.audit_relay(
            who.id,
            AuditAction::RelayLinkIssued,
            id,
            format!("{relay_id} partner:{partner}"),
        )
        .await?;
        tracing::info!(conversation = %id, relay = %relay_id, partner = %partner, "a relay link was issued");
        self.publish(Event::Relay { conversation: id }).await;
        Ok((token, expires))
    }

    /// The printed sheet for a consented partner (the counsellor prints it
    /// for centres that hand over on paper); audited like a view.
    pub async fn print_relay(
        &self,
        id: ConversationId,
        who: &Account,
        relay_id: RelayId,
        partner: PartnerId,
    ) -> Result<PartnerSheetView, Refusal> {
        Self::only_counsellors(who)?;
        let mut rec = self.authorise(id, who.id).await?;
        let r = Self::find(&mut rec.relays, relay_id)?;
        let sheet = self.partner_sheet(r, partner)?;
        self.audit_relay(
            who.id,
            AuditAction::RelayPrinted,
            id,
            format!("{relay_id} partner:{partner}"),
        )
        .await?;
        Ok(sheet)
    }

    /// The visitor's relays (with the resume token, checked by the caller).
    pub fn visitor_relays(&self, rec: &ConversationRecord) -> Vec<RelayView> {
        rec.relays.iter().map(|r| self.relay_view(r)).collect()
    }

    /// The visitor answers a relay: yes or no for every partner, under the
    /// wording version they read. Once.
    pub async fn answer_relay(
        &self,
        rec: &ConversationRecord,
        relay_id: RelayId,
        wording_version: &str,
        consents: &BTreeMap<PartnerId, bool>,
    ) -> Result<RelayView, Refusal> {
        let now = self.now_ms();
        let (view, _) = self
            .change_relays(rec.id, |relays| {
                let r = Self::find(relays, relay_id)?;
                r.answer(wording_version, consents, now).map_err(refusal)?;
                Ok((self.relay_view(r), None))
            })
            .await?;
        let given = consents.values().filter(|y| **y).count();
        // The record of the agreement (promise 4), kept in the audit log
        // after the relay itself is erased or purged: which wording, and
        // per partner yes or no and which questions (ids, never answers).
        let parts: Vec<String> = view
            .parts
            .iter()
            .map(|p| {
                let questions: Vec<&str> = p.fields.iter().map(|f| f.question.as_str()).collect();
                let answer = if consents[&p.partner_id] {
                    "given"
                } else {
                    "refused"
                };
                format!("partner:{}={answer}[{}]", p.partner_id, questions.join(","))
            })
            .collect();
        self.audit_relay(
            NOBODY,
            AuditAction::RelayAnswered,
            rec.id,
            format!(
                "{relay_id} visitor wording:{wording_version} {}",
                parts.join(" ")
            ),
        )
        .await?;
        tracing::info!(conversation = %rec.id, relay = %relay_id, given, "the visitor answered a relay");
        self.publish(Event::Relay {
            conversation: rec.id,
        })
        .await;
        Ok(view)
    }

    /// The visitor withdraws their consent (for one partner, or all): the
    /// links stop at once.
    pub async fn withdraw_relay(
        &self,
        rec: &ConversationRecord,
        relay_id: RelayId,
        partner: Option<PartnerId>,
    ) -> Result<RelayView, Refusal> {
        let now = self.now_ms();
        let (view, _) = self
            .change_relays(rec.id, |relays| {
                let r = Self::find(relays, relay_id)?;
                r.withdraw(partner, now).map_err(refusal)?;
                Ok((self.relay_view(r), None))
            })
            .await?;
        let whom = partner.map_or_else(|| "all".to_owned(), |p| format!("partner:{p}"));
        self.audit_relay(
            NOBODY,
            AuditAction::RelayWithdrawn,
            rec.id,
            format!("{relay_id} visitor {whom}"),
        )
        .await?;
        tracing::info!(conversation = %rec.id, relay = %relay_id, "the visitor withdrew a relay consent");
        self.publish(Event::Relay {
            conversation: rec.id,
        })
        .await;
        Ok(view)
    }

    /// A partner opens their link: exactly their consented answers, while
    /// the consent is in force and the link has not expired. Every view
    /// is counted and audited before anything is shown.
    pub async fn view_relay_link(&self, token: &str) -> Result<PartnerSheetView, Refusal> {
        let hash = crate::model::hash_token(token);
        let now = self.now_ms();
        let id = self
            .store
            .relay_link(&hash)
            .await?
            .ok_or_else(link_failed)?;
        let viewed = self
            .change_relays(id, |relays| {
                for r in relays.iter_mut() {
                    let relay_id = r.id;
                    match r.view(&hash, now) {
                        Ok(p) => return Ok(((relay_id, p.partner), None)),
                        Err(RelayError::NoSuchLink) => continue,
                        Err(e) => return Err(refusal(e)),
                    }
                }
                Err(link_failed())
            })
            .await;
        let ((relay_id, partner), rec) = match viewed {
            // Erased by the visitor: the link leads nowhere.
            Err(e) if e.code == ErrorCode::ConversationErased => return Err(link_failed()),
            other => other?,
        };
        self.audit_relay(
            NOBODY,
            AuditAction::RelayViewed,
            id,
            format!("{relay_id} partner:{partner}"),
        )
        .await?;
        tracing::info!(conversation = %id, relay = %relay_id, partner = %partner, "a partner read a relay");
        self.publish(Event::Relay { conversation: id }).await;
        let r = rec
            .relays
            .iter()
            .find(|r| r.id == relay_id)
            .ok_or_else(link_failed)?;
        self.partner_sheet(r, partner)
    }
}
