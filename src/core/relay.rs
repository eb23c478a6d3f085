//! The relay sheet (issue 23; つなぐシート): with the person's consent, the
//! counsellor passes chosen answers of the hearing sheet on to named
//! partner services, each partner its own scope. Pure: what a relay
//! holds, rendering the chosen answers word for word, and the consent's
//! rules (each partner answered on its own, versioned wording, withdrawal
//! at any time, a link per consented partner that expires and stops at
//! once on withdrawal).
//!
//! A relay is prepared from the sheet as it is then: the lines the visitor
//! reads are exactly the lines the partner reads (a snapshot, never
//! re-rendered), so what was consented to is what is shown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hearing::{Answer, AnswerKind, SheetDef};
pub use super::ids::RelayId;
use super::ids::{AccountId, PartnerId};
use super::partners::OfferSet;

/// Partners one relay names at most.
pub const MAX_PARTNERS: usize = 5;
/// The purpose the counsellor writes, at most (characters).
pub const PURPOSE_MAX_CHARS: usize = 300;

/// One answer as shared: the question and the answer, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedField {
    pub question: String,
    pub label_ja: String,
    pub label_en: String,
    pub answer_ja: String,
    pub answer_en: String,
}

/// Where a partner's part of a relay stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Consent {
    /// The visitor has not answered yet.
    Asked,
    Given {
        at_ms: u64,
    },
    Refused {
        at_ms: u64,
    },
    /// Given, then taken back: no link works any more.
    Withdrawn {
        given_at_ms: u64,
        at_ms: u64,
    },
}

impl Consent {
    /// Was it ever given (a relay that happened, for the statistics)?
    pub fn was_given(self) -> bool {
        matches!(self, Consent::Given { .. } | Consent::Withdrawn { .. })
    }
}

/// A partner's link: its token's hash (the token is shown once, to the
/// counsellor who passes it on) and when it stops working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayLink {
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
    pub issued_at_ms: u64,
    pub expires_at_ms: u64,
}

/// One partner's part: who, what goes to them, and their consent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPart {
    pub partner: PartnerId,
    /// The partner's names and kinds when the relay was prepared.
    pub name_ja: String,
    pub name_en: String,
    pub offers: OfferSet,
    pub fields: Vec<SharedField>,
    pub consent: Consent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<RelayLink>,
    /// Times the partner's page was read.
    #[serde(default)]
    pub views: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    pub id: RelayId,
    pub counsellor: AccountId,
    pub created_at_ms: u64,
    /// Why it is passed on, in the counsellor's words, shown to both.
    pub purpose: String,
    /// The consent wording's version the visitor is asked under.
    pub wording_version: String,
    pub parts: Vec<RelayPart>,
}

/// Why a relay step is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayError {
    /// The request itself is wrong (names what).
    Invalid(String),
    /// A partner the directory does not mark as taking relays.
    NotAccepting(PartnerId),
    /// The visitor answered under other wording, or the relay was answered
    /// already.
    Changed,
    /// No such partner in this relay.
    NoSuchPartner,
    /// A link or a withdrawal for a partner the visitor did not consent to.
    NotConsented,
    /// The link's consent was withdrawn.
    Withdrawn,
    /// No part has this link (never issued, or replaced by a newer one).
    NoSuchLink,
    Expired,
}

/// What the counsellor asks to share with one partner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartChoice {
    pub partner: PartnerId,
    pub name_ja: String,
    pub name_en: String,
    pub offers: OfferSet,
    pub accepts_relays: bool,
    pub questions: Vec<String>,
}

/// Prepare a relay from the conversation's sheet (`def`, its `answers` and
/// `texts`): each partner must accept relays, be named once, and get at
/// least one answered question; at most [`MAX_PARTNERS`].
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    id: RelayId,
    counsellor: AccountId,
    now_ms: u64,
    purpose: &str,
    wording_version: &str,
    def: &SheetDef,
    answers: &BTreeMap<String, Answer>,
    texts: &BTreeMap<String, String>,
    choices: Vec<PartChoice>,
) -> Result<Relay, RelayError> {
    let bad = |m: String| Err(RelayError::Invalid(m));
    let purpose = purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > PURPOSE_MAX_CHARS {
        return bad(format!("purpose: 1 to {PURPOSE_MAX_CHARS} characters"));
    }
    if choices.is_empty() || choices.len() > MAX_PARTNERS {
        return bad(format!("partners: 1 to {MAX_PARTNERS}"));
    }
    let mut parts: Vec<RelayPart> = Vec::with_capacity(choices.len());
    for c in choices {
        if parts.iter().any(|p| p.partner == c.partner) {
            return bad(format!("partner {} named twice", c.partner));
        }
        if !c.accepts_relays {
            return Err(RelayError::NotAccepting(c.partner));
        }
        if c.questions.is_empty() {
            return bad(format!("partner {}: choose at least one answer", c.partner));
        }
        let mut fields = Vec::with_capacity(c.questions.len());
        for q in &c.questions {
            if fields.iter().any(|f: &SharedField| &f.question == q) {
                return bad(format!("question `{q}` chosen twice"));
            }
            let field = shared(def, answers, texts, q).ok_or_else(|| {
                RelayError::Invalid(format!("question `{q}` has no answer to share"))
            })?;
            fields.push(field);
        }
        parts.push(RelayPart {
            partner: c.partner,
            name_ja: c.name_ja,
            name_en: c.name_en,
            offers: c.offers,
            fields,
            consent: Consent::Asked,
            link: None,
            views: 0,
        });
    }
    Ok(Relay {
        id,
        counsellor,
        created_at_ms: now_ms,
        purpose: purpose.to_owned(),
        wording_version: wording_version.to_owned(),
        parts,
    })
}

/// Every answered question of a sheet as a relay would share it, in the
/// sheet's order: what the counsellor chooses from.
pub fn shareable(
    def: &SheetDef,
    answers: &BTreeMap<String, Answer>,
    texts: &BTreeMap<String, String>,
) -> Vec<SharedField> {
    def.questions()
        .filter_map(|q| shared(def, answers, texts, &q.id))
        .collect()
}

/// One answered question as it is shared, word for word.
fn shared(
    def: &SheetDef,
    answers: &BTreeMap<String, Answer>,
    texts: &BTreeMap<String, String>,
    id: &str,
) -> Option<SharedField> {
    let q = def.question(id)?;
    let label = |o: &str, en: bool| {
        q.options
            .iter()
            .find(|x| x.id == o)
            .map(|x| {
                if en {
                    x.label_en.clone()
                } else {
                    x.label_ja.clone()
                }
            })
            .unwrap_or_else(|| o.to_owned())
    };
    let (ja, en) = match (q.kind, answers.get(id), texts.get(id)) {
        (AnswerKind::Text, _, Some(t)) => (t.clone(), t.clone()),
        (AnswerKind::Choice, Some(Answer::Choice(o)), _) => (label(o, false), label(o, true)),
        (AnswerKind::Choices, Some(Answer::Choices(os)), _) => (
            os.iter()
                .map(|o| label(o, false))
                .collect::<Vec<_>>()
                .join("、"),
            os.iter()
                .map(|o| label(o, true))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (AnswerKind::Scale, Some(Answer::Scale(n)), _) => {
            // "2（1：とてもつらい〜5：落ち着いている）", "2 (1 = Very hard, 5 = Settled)";
            // without the ends' words, "2（1〜5）", "2 (of 1-5)".
            let (lo, hi) = q.scale_range();
            let named = |a: &str, b: &str| !a.is_empty() && !b.is_empty();
            let ja = if named(&q.min_label_ja, &q.max_label_ja) {
                format!("{n}（{lo}：{}〜{hi}：{}）", q.min_label_ja, q.max_label_ja)
            } else {
                format!("{n}（{lo}〜{hi}）")
            };
            let en = if named(&q.min_label_en, &q.max_label_en) {
                format!("{n} ({lo} = {}, {hi} = {})", q.min_label_en, q.max_label_en)
            } else {
                format!("{n} (of {lo}-{hi})")
            };
            (ja, en)
        }
        _ => return None,
    };
    Some(SharedField {
        question: id.to_owned(),
        label_ja: q.label_ja.clone(),
        label_en: q.label_en.clone(),
        answer_ja: ja,
        answer_en: en,
    })
}

impl Relay {
    pub fn part(&self, partner: PartnerId) -> Option<&RelayPart> {
        self.parts.iter().find(|p| p.partner == partner)
    }

    fn part_mut(&mut self, partner: PartnerId) -> Result<&mut RelayPart, RelayError> {
        self.parts
            .iter_mut()
            .find(|p| p.partner == partner)
            .ok_or(RelayError::NoSuchPartner)
    }

    /// Has the visitor answered it?
    pub fn answered(&self) -> bool {
        self.parts.iter().any(|p| p.consent != Consent::Asked)
    }

    /// The visitor's answer: every partner of the relay yes or no, under
    /// the wording they were shown. Once only.
    pub fn answer(
        &mut self,
        wording_version: &str,
        consents: &BTreeMap<PartnerId, bool>,
        now_ms: u64,
    ) -> Result<(), RelayError> {
        if self.answered() || wording_version != self.wording_version {
            return Err(RelayError::Changed);
        }
        if consents.len() != self.parts.len()
            || self
                .parts
                .iter()
                .any(|p| !consents.contains_key(&p.partner))
        {
            return Err(RelayError::Invalid(
                "answer every partner of the relay, and only those".into(),
            ));
        }
        for p in &mut self.parts {
            p.consent = if consents[&p.partner] {
                Consent::Given { at_ms: now_ms }
            } else {
                Consent::Refused { at_ms: now_ms }
            };
        }
        Ok(())
    }

    /// The visitor takes their consent back, for one partner or for all
    /// it was given to: their links stop at once (a link of a withdrawn
    /// part answers [`RelayError::Withdrawn`]). Withdrawing what is
    /// already withdrawn changes nothing.
    pub fn withdraw(&mut self, partner: Option<PartnerId>, now_ms: u64) -> Result<(), RelayError> {
        if let Some(x) = partner {
            self.part_mut(x)?;
        }
        let mut touched = false;
        for p in &mut self.parts {
            if partner.is_some_and(|x| x != p.partner) {
                continue;
            }
            match p.consent {
                Consent::Given { at_ms } => {
                    p.consent = Consent::Withdrawn {
                        given_at_ms: at_ms,
                        at_ms: now_ms,
                    };
                    touched = true;
                }
                Consent::Withdrawn { .. } => touched = true,
                _ => {}
            }
        }
        if touched {
            Ok(())
        } else {
            Err(RelayError::NotConsented)
        }
    }

    /// A new link for a consented partner (the last one stops working);
    /// the replaced link's hash, if any.
    pub fn issue_link(
        &mut self,
        partner: PartnerId,
        hash: [u8; 32],
        now_ms: u64,
        valid_ms: u64,
    ) -> Result<Option<[u8; 32]>, RelayError> {
        let p = self.part_mut(partner)?;
        if !matches!(p.consent, Consent::Given { .. }) {
            return Err(RelayError::NotConsented);
        }
        let old = p.link.replace(RelayLink {
            hash,
            issued_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(valid_ms),
        });
        Ok(old.map(|l| l.hash))
    }

    /// The part a link opens, counted as one more view: only while the
    /// consent is in force and the link has not expired.
    pub fn view(&mut self, hash: &[u8; 32], now_ms: u64) -> Result<&RelayPart, RelayError> {
        let p = self
            .parts
            .iter_mut()
            .find(|p| p.link.is_some_and(|l| &l.hash == hash))
            .ok_or(RelayError::NoSuchLink)?;
        let link = p.link.expect("found by it");
        if now_ms >= link.expires_at_ms {
            return Err(RelayError::Expired);
        }
        if !matches!(p.consent, Consent::Given { .. }) {
            return Err(RelayError::Withdrawn);
        }
        p.views += 1;
        Ok(p)
    }

    /// The kinds of the partners it was relayed to (consent given, even if
    /// withdrawn later: the contact happened).
    pub fn relayed_to(&self) -> OfferSet {
        self.parts
            .iter()
            .filter(|p| p.consent.was_given())
            .fold(OfferSet::default(), |acc, p| acc.union(p.offers))
    }
}

/// `[u8; 32]` as 64 hex characters in JSON.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| serde::de::Error::custom("not hex"))?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("not 32 bytes"))
    }
}

#[cfg(test)]
mod tests;
