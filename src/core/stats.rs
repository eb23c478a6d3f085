//! The statistics a support centre publishes, pure: one anonymous facts
//! record per conversation, the reporting periods (month, quarter, fiscal
//! year April-March, all in Japan time) and the aggregation with
//! small-cell suppression.
//!
//! A [`ConversationFacts`] has no conversation id, no text and no time
//! finer than the date and hour of the start, so it may be kept after the
//! conversation itself is purged (promise 7) and the yearly report
//! survives the purge. The random id of the anonymous case it belonged to
//! (if any) ties one person's contacts together, so that people are
//! counted, not only contacts (issue 22: [`people`]).
//! Everything in it is either what the visitor chose to answer before the
//! chat, or what the counsellor recorded when it ended (`shared/DOMAIN.md`,
//! "Statistics the centres publish").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::conversation::Outcome;
use super::hours::jst_date_minute;
use super::ids::{CaseId, Channel};
use super::partners::OfferSet;
use super::prechat::{AgeBand, Gender, PreChat, WhoIsWriting};

/// How long the person has been withdrawn (the centres' table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalBand {
    UnderSixMonths,
    UnderOneYear,
    UnderThreeYears,
    UnderFiveYears,
    UnderTenYears,
    TenYearsPlus,
    Unknown,
}

/// State 1 (mild) to state 4 (severe), as in the centres' table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[serde(rename = "state_1")]
    State1,
    #[serde(rename = "state_2")]
    State2,
    #[serde(rename = "state_3")]
    State3,
    #[serde(rename = "state_4")]
    State4,
    Unknown,
}

/// What the counsellor may record with the outcome; all optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<WithdrawalBand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Referred to another agency.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub referral: bool,
    /// The kinds of the named partners referred to (issue 23), taken
    /// from the directory when the counsellor recorded them: the report
    /// counts contacts with other agencies by kind, whatever becomes of
    /// the directory's entries.
    #[serde(default, skip_serializing_if = "OfferSet::is_empty")]
    pub referred_to: OfferSet,
}

/// How far a conversation's handoff went (for the statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffFacts {
    pub offered: bool,
    pub consented: bool,
    pub booked: bool,
    pub attended: bool,
}

/// A Japan-time calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Month {
    pub year: i32,
    /// 1-12.
    pub month: u8,
}

/// One conversation, anonymously: no id, no text, its date and hour only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationFacts {
    /// When it started (Japan time).
    pub month: Month,
    /// The day of `month` it started, 1-31 (Japan time): when the case
    /// of a person whose last contact it was counts as ended. 0 in facts
    /// kept before it was: read as the 1st.
    #[serde(default)]
    pub day: u8,
    /// 0-23, Japan time.
    pub hour: u8,
    /// How the visitor reached us (contacts by channel).
    #[serde(default)]
    pub channel: Channel,
    /// A letter (issue 22): counted under the channel `letter`, never as
    /// a chat's wait or abandonment; `served` is "answered" and
    /// `wait_secs` the time to answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub letter: bool,
    /// The anonymous case it belonged to when its facts were taken (a
    /// return code's, or a LINE user's): what ties one person's contacts
    /// together in the count of people. A random id that nothing else
    /// names once the case is gone; `None`: a contact of its own, one
    /// person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseId>,
    /// Seconds in the queue: until a counsellor took it (served) or until
    /// it left the queue (abandoned).
    pub wait_secs: u32,
    /// A counsellor took it.
    pub served: bool,
    /// It left the queue before anyone took it.
    pub abandoned: bool,
    #[serde(default)]
    pub who: Option<WhoIsWriting>,
    #[serde(default)]
    pub age_band: Option<AgeBand>,
    #[serde(default)]
    pub gender: Option<Gender>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub assessment: Assessment,
    #[serde(default)]
    pub handoff: HandoffFacts,
    /// The visitor used the quick exit at least once.
    #[serde(default)]
    pub left_quickly: bool,
    /// The visitor erased the conversation.
    #[serde(default)]
    pub erased: bool,
    /// The kinds of the partners the visitor consented to relay their
    /// answers to (issue 23; a relay sheet), kept like `referred_to`.
    #[serde(default, skip_serializing_if = "OfferSet::is_empty")]
    pub relayed_to: OfferSet,
}

/// What a conversation's record says, for [`ConversationFacts::of`].
#[derive(Clone, Copy, Debug)]
pub struct FactsInput {
    pub started_at_ms: u64,
    pub channel: Channel,
    pub letter: bool,
    pub case: Option<CaseId>,
    pub queued_since_ms: u64,
    /// When a counsellor first took it.
    pub assigned_at_ms: Option<u64>,
    pub ended_at_ms: Option<u64>,
    pub pre_chat: PreChat,
    pub outcome: Option<Outcome>,
    pub assessment: Assessment,
    pub handoff: HandoffFacts,
    pub left_quickly: bool,
    pub erased: bool,
    pub relayed_to: OfferSet,
}

impl ConversationFacts {
    /// The facts of one conversation. A conversation still waiting counts
    /// neither as served nor abandoned.
    pub fn of(i: FactsInput) -> ConversationFacts {
        let (date, minute) = jst_date_minute(i.started_at_ms);
        let served = i.assigned_at_ms.is_some();
        // A letter waits for its answer: nobody left a queue.
        let abandoned = !served && !i.letter && i.ended_at_ms.is_some();
        let left = if served {
            i.assigned_at_ms
        } else {
            i.ended_at_ms
        };
        let wait_ms = left.map_or(0, |t| t.saturating_sub(i.queued_since_ms));
        ConversationFacts {
            month: Month {
                year: date.year(),
                month: u8::from(date.month()),
            },
            day: date.day(),
            hour: (minute / 60) as u8,
            channel: i.channel,
            letter: i.letter,
            case: i.case,
            wait_secs: u32::try_from(wait_ms / 1000).unwrap_or(u32::MAX),
            served,
            abandoned,
            who: i.pre_chat.who,
            age_band: i.pre_chat.age_band,
            gender: i.pre_chat.gender,
            outcome: i.outcome,
            assessment: i.assessment,
            handoff: i.handoff,
            left_quickly: i.left_quickly,
            erased: i.erased,
            relayed_to: i.relayed_to,
        }
    }

    /// The `channel` table's category: `letter` for a letter (whichever
    /// way it came), else the channel's name.
    pub fn contact_channel(&self) -> &'static str {
        if self.letter {
            "letter"
        } else {
            self.channel.name()
        }
    }

    /// How the visitor left, as the `exit` table counts it: `erased`
    /// (whatever else happened), else `left_quickly`, else `other` (the
    /// chat ended in any other way, or has not ended).
    pub fn exit(&self) -> &'static str {
        if self.erased {
            "erased"
        } else if self.left_quickly {
            "left_quickly"
        } else {
            "other"
        }
    }
}

// -------------------------------------------------------------- periods

/// A reporting period: a month, a quarter, or a fiscal year (April to
/// March, as Japanese public bodies report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Period {
    Month {
        year: i32,
        month: u8,
    },
    /// Calendar quarter 1-4 (Q1 = January-March).
    Quarter {
        year: i32,
        quarter: u8,
    },
    /// FY2026 = April 2026 to March 2027.
    FiscalYear {
        year: i32,
    },
}

impl Period {
    /// `2026-11`, `2026-Q3` or `FY2026`.
    pub fn parse(s: &str) -> Option<Period> {
        let s = s.trim();
        if let Some(y) = s.strip_prefix("FY").or_else(|| s.strip_prefix("fy")) {
            return year(y).map(|year| Period::FiscalYear { year });
        }
        let (y, rest) = s.split_once('-')?;
        let year = year(y)?;
        if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
            let quarter: u8 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            return (q.len() == 1).then_some(Period::Quarter { year, quarter });
        }
        let month: u8 = rest.parse().ok().filter(|m| (1..=12).contains(m))?;
        (rest.len() == 2).then_some(Period::Month { year, month })
    }

    pub fn label(&self) -> String {
        match self {
            Period::Month { year, month } => format!("{year}-{month:02}"),
            Period::Quarter { year, quarter } => format!("{year}-Q{quarter}"),
            Period::FiscalYear { year } => format!("FY{year}"),
        }
    }

    /// The months in it, in order.
    pub fn months(&self) -> Vec<Month> {
        let (start, n) = match *self {
            Period::Month { year, month } => (Month { year, month }, 1),
            Period::Quarter { year, quarter } => (
                Month {
                    year,
                    month: (quarter - 1) * 3 + 1,
                },
                3,
            ),
            Period::FiscalYear { year } => (Month { year, month: 4 }, 12),
        };
        (0..n).map(|k| start.plus(k)).collect()
    }

    pub fn contains(&self, m: Month) -> bool {
        self.months().contains(&m)
    }
}

fn year(s: &str) -> Option<i32> {
    (s.len() == 4)
        .then(|| s.parse().ok())
        .flatten()
        .filter(|y| (2000..=2099).contains(y))
}

impl Month {
    fn plus(self, k: u8) -> Month {
        let idx = i32::from(self.month - 1) + i32::from(k);
        Month {
            year: self.year + idx / 12,
            month: (idx % 12) as u8 + 1,
        }
    }
}

// ---------------------------------------------------------- aggregation

/// A count as published: exact, or hidden because it is below the
/// threshold (but not zero), so that nobody is recognisable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    /// Fewer than the threshold (and more than zero).
    Below(u64),
}

impl Cell {
    /// Suppress `n` below `min` (zero is shown: it identifies nobody).
    pub fn of(n: u64, min: u64) -> Cell {
        if n > 0 && n < min {
            Cell::Below(min)
        } else {
            Cell::Count(n)
        }
    }

    /// `"12"` or `"<3"`.
    pub fn text(&self) -> String {
        match self {
            Cell::Count(n) => n.to_string(),
            Cell::Below(min) => format!("<{min}"),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Count(n) => s.serialize_u64(*n),
            Cell::Below(_) => s.serialize_str(&self.text()),
        }
    }
}

/// Exact counts per category, before suppression.
pub type Counts = BTreeMap<String, u64>;

/// The raw (unsuppressed) figures of one period. Only [`Raw::publish`]'s
/// output leaves the server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Raw {
    pub started: u64,
    pub served: u64,
    pub abandoned: u64,
    /// Each table: category -> count, over every conversation in the
    /// period (so each table's counts sum to `started`).
    pub tables: BTreeMap<&'static str, Counts>,
    /// Waits of served conversations (chats, not letters), seconds,
    /// sorted.
    pub waits: Vec<u32>,
    /// Conversations that referred to a named partner of each kind
    /// (issue 23; a conversation counts once per kind).
    pub referrals_by_offer: Counts,
    /// Conversations whose answers were relayed, with consent, to a
    /// partner of each kind (issue 23; once per kind).
    pub relays_by_offer: Counts,
    /// Letters written in the period, and answered (of those).
    pub letters_received: u64,
    pub letters_answered: u64,
    /// Time from writing to answer of the answered letters, seconds,
    /// sorted.
    pub letter_answers: Vec<u32>,
    /// The people of the period ([`people`], over every contact ever:
    /// set apart from `aggregate`, which reads the period's only).
    pub people: People,
}

/// The tables of the report, in the order shown.
pub const TABLES: &[&str] = &[
    "channel",
    "who",
    "age_band",
    "gender",
    "withdrawal",
    "severity",
    "outcome",
    "referral",
    "handoff",
    "hour",
    "exit",
];

fn wire<T: Serialize>(v: &Option<T>) -> String {
    match v {
        None => "not_answered".into(),
        Some(v) => serde_json::to_value(v)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// Add up the facts of conversations that started in `period`.
pub fn aggregate<'a>(
    period: &Period,
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
) -> Raw {
    let mut raw = Raw::default();
    for t in TABLES {
        raw.tables.insert(t, Counts::new());
    }
    let months = period.months();
    for f in facts.into_iter().filter(|f| months.contains(&f.month)) {
        raw.started += 1;
        raw.served += u64::from(f.served);
        raw.abandoned += u64::from(f.abandoned);
        if f.letter {
            raw.letters_received += 1;
            if f.served {
                raw.letters_answered += 1;
                raw.letter_answers.push(f.wait_secs);
            }
        } else if f.served {
            raw.waits.push(f.wait_secs);
        }
        let mut add = |table: &'static str, key: String| {
            *raw.tables.entry(table).or_default().entry(key).or_default() += 1;
        };
        add("channel", f.contact_channel().into());
        for o in f.assessment.referred_to.iter() {
            *raw.referrals_by_offer.entry(wire(&Some(o))).or_default() += 1;
        }
        for o in f.relayed_to.iter() {
            *raw.relays_by_offer.entry(wire(&Some(o))).or_default() += 1;
        }
        add("who", wire(&f.who));
        add("age_band", wire(&f.age_band));
        add("gender", wire(&f.gender));
        add("withdrawal", wire(&f.assessment.withdrawal));
        add("severity", wire(&f.assessment.severity));
        add("outcome", wire(&f.outcome));
        add(
            "referral",
            if f.assessment.referral { "yes" } else { "no" }.into(),
        );
        let h = f.handoff;
        let stage = if h.attended {
            "attended"
        } else if h.booked {
            "booked"
        } else if h.consented {
            "consented"
        } else if h.offered {
            "offered"
        } else {
            "none"
        };
        add("handoff", stage.into());
        add("hour", format!("{:02}", f.hour));
        add("exit", f.exit().into());
    }
    raw.waits.sort_unstable();
    raw.letter_answers.sort_unstable();
    raw
}

/// The people of a period, as the centres count them (相談者の状況): a
/// person is an anonymous case (contacts tied by
/// [`ConversationFacts::case`]) or a contact of no case. Only served
/// contacts count: someone who left the queue was not supported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct People {
    /// 実支援者数（継続含）: people with a served contact in the period.
    pub supported: u64,
    /// 新規（人数）: of those, people whose first served contact ever is
    /// in the period.
    pub new: u64,
    /// 継続: of those, people first served before the period.
    pub continuing: u64,
    /// 終了: people whose case counts as ended in the period: on the day
    /// `ends_after_days` after their last served contact, if that day has
    /// come (`today` or before).
    pub ended: u64,
    /// The rule `ended` was counted by.
    pub ends_after_days: u32,
}

/// A contact's date (Japan time); facts kept before the day was read as
/// the month's 1st.
fn date_of(f: &ConversationFacts) -> Option<time::Date> {
    let month = time::Month::try_from(f.month.month).ok()?;
    time::Date::from_calendar_date(f.month.year, month, f.day.max(1))
        .or_else(|_| time::Date::from_calendar_date(f.month.year, month, 1))
        .ok()
}

fn month_of(d: time::Date) -> Month {
    Month {
        year: d.year(),
        month: u8::from(d.month()),
    }
}

/// Count the people of `period` over every contact ever (`facts`: the
/// earlier ones decide who is new; the later ones, who has not ended).
pub fn people<'a>(
    period: &Period,
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
    ends_after_days: u32,
    today: time::Date,
) -> People {
    /// One person's first and last served contact, and whether one was in
    /// the period.
    struct Span {
        first: time::Date,
        last: time::Date,
        in_period: bool,
    }
    let months = period.months();
    let mut cases: BTreeMap<CaseId, Span> = BTreeMap::new();
    let mut alone: Vec<Span> = Vec::new();
    for f in facts.into_iter().filter(|f| f.served) {
        let Some(d) = date_of(f) else { continue };
        let in_period = months.contains(&f.month);
        match f.case {
            Some(id) => {
                let span = cases.entry(id).or_insert(Span {
                    first: d,
                    last: d,
                    in_period: false,
                });
                span.first = span.first.min(d);
                span.last = span.last.max(d);
                span.in_period |= in_period;
            }
            None => alone.push(Span {
                first: d,
                last: d,
                in_period,
            }),
        }
    }
    let mut p = People {
        ends_after_days,
        ..People::default()
    };
    for span in cases.values().chain(alone.iter()) {
        if span.in_period {
            p.supported += 1;
            if months.contains(&month_of(span.first)) {
                p.new += 1;
            } else {
                p.continuing += 1;
            }
        }
        let ends = span
            .last
            .checked_add(time::Duration::days(i64::from(ends_after_days)));
        if ends.is_some_and(|e| e <= today && months.contains(&month_of(e))) {
            p.ended += 1;
        }
    }
    p
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank; `None` if empty.
pub fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The published report: every count suppressed below `min_cell`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub period: String,
    pub min_cell: u64,
    pub started: Cell,
    pub served: Cell,
    pub abandoned: Cell,
    pub tables: BTreeMap<&'static str, BTreeMap<String, Cell>>,
    /// Handoffs that reached at least each stage (offered >= consented >=
    /// booked >= attended).
    pub handoffs: BTreeMap<&'static str, Cell>,
    /// People, not contacts: `supported` (new and continuing) and
    /// `ended` ([`People`]).
    pub people: BTreeMap<&'static str, Cell>,
    /// A person counts as ended this many days after their last served
    /// contact (`report.case_ends_after_days`).
    pub case_ends_after_days: u32,
    /// Wait of served conversations, seconds; `None` when fewer than
    /// `min_cell` were served (a median of two is someone's wait).
    pub wait_median_secs: Option<u32>,
    pub wait_p90_secs: Option<u32>,
    /// Letters (issue 22): `received` in the period and `answered` of
    /// those.
    pub letters: BTreeMap<&'static str, Cell>,
    /// Contacts with other agencies (issue 23): conversations that
    /// referred to a named partner, by the partner's kind (a conversation
    /// once per kind: the kinds need not sum to `served`).
    pub referrals_by_offer: BTreeMap<String, Cell>,
    /// Contacts with other agencies by relay sheet (issue 23): the
    /// conversations whose answers went, with consent, to a partner of
    /// each kind.
    pub relays_by_offer: BTreeMap<String, Cell>,
    /// Median time from a letter's writing to its answer, seconds; `None`
    /// when fewer than `min_cell` were answered.
    pub letter_answer_median_secs: Option<u32>,
    /// The busiest hours (Japan time, by conversations started), most
    /// first, at most three; only hours with at least `min_cell`.
    pub busiest_hours: Vec<u8>,
}

impl Raw {
    pub fn publish(&self, period: &Period, min_cell: u64) -> Report {
        let cell = |n| Cell::of(n, min_cell);
        let tables = self
            .tables
            .iter()
            .map(|(t, counts)| {
                (
                    *t,
                    counts.iter().map(|(k, n)| (k.clone(), cell(*n))).collect(),
                )
            })
            .collect();
        let stage = self.tables.get("handoff");
        let at_least = |stages: &[&str]| {
            stages
                .iter()
                .map(|s| stage.and_then(|c| c.get(*s)).copied().unwrap_or(0))
                .sum::<u64>()
        };
        let mut handoffs = BTreeMap::new();
        handoffs.insert(
            "offered",
            cell(at_least(&["offered", "consented", "booked", "attended"])),
        );
        handoffs.insert(
            "consented",
            cell(at_least(&["consented", "booked", "attended"])),
        );
        handoffs.insert("booked", cell(at_least(&["booked", "attended"])));
        handoffs.insert("attended", cell(at_least(&["attended"])));
        let p = self.people;
        let people = BTreeMap::from([
            ("supported", cell(p.supported)),
            ("new", cell(p.new)),
            ("continuing", cell(p.continuing)),
            ("ended", cell(p.ended)),
        ]);
        let enough = self.waits.len() as u64 >= min_cell.max(1);
        let letters = BTreeMap::from([
            ("received", cell(self.letters_received)),
            ("answered", cell(self.letters_answered)),
        ]);
        let enough_letters = self.letter_answers.len() as u64 >= min_cell.max(1);
        let mut hours: Vec<(u64, u8)> = self
            .tables
            .get("hour")
            .into_iter()
            .flatten()
            .filter(|(_, n)| **n >= min_cell.max(1))
            .filter_map(|(h, n)| h.parse().ok().map(|h| (*n, h)))
            .collect();
        hours.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Report {
            period: period.label(),
            min_cell,
            started: cell(self.started),
            served: cell(self.served),
            abandoned: cell(self.abandoned),
            tables,
            handoffs,
            people,
            case_ends_after_days: p.ends_after_days,
            wait_median_secs: enough.then(|| quantile(&self.waits, 0.5)).flatten(),
            wait_p90_secs: enough.then(|| quantile(&self.waits, 0.9)).flatten(),
            letters,
            referrals_by_offer: self
                .referrals_by_offer
                .iter()
                .map(|(k, n)| (k.clone(), cell(*n)))
                .collect(),
            relays_by_offer: self
                .relays_by_offer
                .iter()
                .map(|(k, n)| (k.clone(), cell(*n)))
                .collect(),
            letter_answer_median_secs: enough_letters
                .then(|| quantile(&self.letter_answers, 0.5))
                .flatten(),
            busiest_hours: hours.into_iter().take(3).map(|(_, h)| h).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-03 10:15 JST.
    const NOV3_1015: u64 = 1_793_668_500_000;

    fn input() -> FactsInput {
        FactsInput {
            started_at_ms: NOV3_1015,
            queued_since_ms: NOV3_1015,
            assigned_at_ms: Some(NOV3_1015 + 95_000),
            ended_at_ms: Some(NOV3_1015 + 900_000),
            pre_chat: PreChat::default(),
            outcome: Some(Outcome::Listened),
            assessment: Assessment::default(),
            handoff: HandoffFacts::default(),
            left_quickly: false,
            erased: false,
            channel: Channel::Web,
            letter: false,
            case: None,
            relayed_to: OfferSet::default(),
        }
    }

    #[test]
    fn leaving_quickly_and_erasing_are_exits_of_their_own() {
        let period = Period::parse("2026-11").unwrap();
        let facts = [
            ConversationFacts::of(input()),
            ConversationFacts::of(FactsInput {
                left_quickly: true,
                ..input()
            }),
            ConversationFacts::of(FactsInput {
                left_quickly: true,
                ..input()
            }),
            // Left quickly, came back, then erased: counted as erased.
            ConversationFacts::of(FactsInput {
                left_quickly: true,
                erased: true,
                ..input()
            }),
        ];
        let raw = aggregate(&period, &facts);
        let exit = &raw.tables["exit"];
        assert_eq!(exit.get("left_quickly"), Some(&2));
        assert_eq!(exit.get("erased"), Some(&1));
        assert_eq!(exit.get("other"), Some(&1));
        assert_eq!(exit.values().sum::<u64>(), raw.started);
        // Old facts (kept before these fields existed) read as "other".
        let old = r#"{"month":{"year":2026,"month":11},"hour":10,"wait_secs":5,"served":true,"abandoned":false}"#;
        let f: ConversationFacts = serde_json::from_str(old).unwrap();
        assert_eq!(f.exit(), "other");
    }

    #[test]
    fn referrals_to_named_partners_count_once_per_kind() {
        use crate::core::partners::PartnerOffer;
        let period = Period::parse("2026-11").unwrap();
        let referred = |offers: &[PartnerOffer]| {
            ConversationFacts::of(FactsInput {
                assessment: Assessment {
                    referral: true,
                    referred_to: offers.iter().copied().collect(),
                    ..Assessment::default()
                },
                ..input()
            })
        };
        let facts = [
            referred(&[PartnerOffer::Medical, PartnerOffer::Welfare]),
            referred(&[PartnerOffer::Medical]),
            ConversationFacts::of(input()),
        ];
        let raw = aggregate(&period, &facts);
        assert_eq!(raw.referrals_by_offer["medical"], 2);
        assert_eq!(raw.referrals_by_offer["welfare"], 1);
        assert_eq!(raw.referrals_by_offer.len(), 2);
        let report = raw.publish(&period, 2);
        assert_eq!(report.referrals_by_offer["medical"], Cell::of(2, 2));
        assert_eq!(report.referrals_by_offer["welfare"], Cell::of(1, 2));
    }

    #[test]
    fn letters_count_apart_from_chats() {
        let period = Period::parse("2026-11").unwrap();
        let letter = |answered_after: Option<u64>| {
            ConversationFacts::of(FactsInput {
                letter: true,
                assigned_at_ms: answered_after.map(|ms| NOV3_1015 + ms),
                ended_at_ms: Some(NOV3_1015),
                outcome: None,
                ..input()
            })
        };
        let facts = [
            ConversationFacts::of(input()), // a chat, waited 95 s
            letter(Some(3_600_000)),        // answered in 1 h
            letter(Some(10_800_000)),       // in 3 h
            letter(Some(7_200_000)),        // in 2 h
            letter(None),                   // waiting
        ];
        let raw = aggregate(&period, &facts);
        assert_eq!((raw.letters_received, raw.letters_answered), (4, 3));
        assert_eq!(raw.letter_answers, vec![3600, 7200, 10800]);
        assert_eq!(raw.waits, vec![95], "a letter is no chat's wait");
        assert_eq!(raw.abandoned, 0, "a waiting letter left no queue");
        assert_eq!(raw.tables["channel"]["letter"], 4);
        assert_eq!(raw.tables["channel"]["web"], 1);
        let report = raw.publish(&period, 3);
        assert_eq!(report.letter_answer_median_secs, Some(7200));
        assert_eq!(report.letters["received"], Cell::of(4, 3));
        // Below min_cell answered: no median (it would be someone's).
        let few = aggregate(&period, &facts[..2]).publish(&period, 3);
        assert_eq!(few.letter_answer_median_secs, None);
    }

    #[test]
    fn facts_keep_the_date_hour_and_wait_and_no_timestamp() {
        let f = ConversationFacts::of(input());
        assert_eq!(
            f.month,
            Month {
                year: 2026,
                month: 11
            }
        );
        assert_eq!((f.day, f.hour), (3, 10));
        assert_eq!(f.wait_secs, 95);
        assert!(f.served && !f.abandoned);
        let json = serde_json::to_string(&f).unwrap();
        assert!(!json.contains("1793"), "no timestamps: {json}");
    }

    #[test]
    fn leaving_the_queue_is_an_abandonment_with_its_wait() {
        let f = ConversationFacts::of(FactsInput {
            assigned_at_ms: None,
            ended_at_ms: Some(NOV3_1015 + 30_000),
            outcome: None,
            ..input()
        });
        assert!(!f.served && f.abandoned);
        assert_eq!(f.wait_secs, 30);
    }

    #[test]
    fn periods_parse_and_the_fiscal_year_runs_april_to_march() {
        let fy = Period::parse("FY2026").unwrap();
        let m = fy.months();
        assert_eq!(m.len(), 12);
        assert_eq!(
            m[0],
            Month {
                year: 2026,
                month: 4
            }
        );
        assert_eq!(
            m[11],
            Month {
                year: 2027,
                month: 3
            }
        );
        assert!(!fy.contains(Month {
            year: 2026,
            month: 3
        }));
        assert_eq!(
            Period::parse("2026-Q3").unwrap().months(),
            vec![
                Month {
                    year: 2026,
                    month: 7
                },
                Month {
                    year: 2026,
                    month: 8
                },
                Month {
                    year: 2026,
                    month: 9
                }
            ]
        );
        assert_eq!(
            Period::parse("2026-11"),
            Some(Period::Month {
                year: 2026,
                month: 11
            })
        );
        for bad in ["2026-13", "2026-Q5", "FY26", "2026-1", "x", "2026-Q03", ""] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        assert_eq!(Period::parse("2026-Q3").unwrap().label(), "2026-Q3");
    }

    #[test]
    fn a_start_at_midnight_jst_counts_in_the_japanese_month() {
        // 2026-03-31 15:00 UTC = 2026-04-01 00:00 JST: FY2026, not FY2025.
        let f = ConversationFacts::of(FactsInput {
            started_at_ms: 1_774_969_200_000,
            queued_since_ms: 1_774_969_200_000,
            ..input()
        });
        assert_eq!(
            f.month,
            Month {
                year: 2026,
                month: 4
            }
        );
        assert_eq!(f.hour, 0);
    }

    #[test]
    fn small_cells_read_below_the_threshold_and_zero_stays_zero() {
        assert_eq!(Cell::of(0, 3).text(), "0");
        assert_eq!(Cell::of(2, 3).text(), "<3");
        assert_eq!(Cell::of(3, 3).text(), "3");
        assert_eq!(serde_json::to_string(&Cell::of(1, 5)).unwrap(), "\"<5\"");
        assert_eq!(serde_json::to_string(&Cell::of(7, 5)).unwrap(), "7");
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let w = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(quantile(&w, 0.5), Some(50));
        assert_eq!(quantile(&w, 0.9), Some(90));
        assert_eq!(quantile(&[], 0.5), None);
    }

    fn arb_facts() -> impl Strategy<Value = ConversationFacts> {
        (
            0u8..24,
            1u8..=12,
            any::<bool>(),
            0u32..3600,
            0usize..6,
            0usize..7,
            0usize..4,
            (
                1u8..=28,
                any::<bool>(),
                proptest::option::of(0u128..6),
                2025i32..=2027,
            ),
        )
            .prop_map(
                |(hour, month, served, wait, who, sev, stage, (day, line, case, year))| {
                    let whos = [
                        None,
                        Some(WhoIsWriting::Myself),
                        Some(WhoIsWriting::FamilyTogether),
                        Some(WhoIsWriting::FamilyApart),
                        Some(WhoIsWriting::Supporter),
                        Some(WhoIsWriting::RatherNotSay),
                    ];
                    let sevs = [
                        None,
                        Some(Severity::State1),
                        Some(Severity::State2),
                        Some(Severity::State3),
                        Some(Severity::State4),
                        Some(Severity::Unknown),
                        None,
                    ];
                    ConversationFacts {
                        month: Month { year, month },
                        day,
                        hour,
                        channel: if line { Channel::Line } else { Channel::Web },
                        letter: false,
                        case: case.map(|n| CaseId(uuid::Uuid::from_u128(n + 1))),
                        wait_secs: wait,
                        served,
                        abandoned: !served,
                        who: whos[who],
                        age_band: None,
                        gender: None,
                        outcome: served.then_some(Outcome::Listened),
                        assessment: Assessment {
                            severity: sevs[sev],
                            ..Assessment::default()
                        },
                        relayed_to: OfferSet::default(),
                        handoff: HandoffFacts {
                            offered: stage >= 1,
                            consented: stage >= 2,
                            booked: stage >= 3,
                            attended: false,
                        },
                        left_quickly: wait % 3 == 0,
                        erased: wait % 5 == 0,
                    }
                },
            )
    }

    /// A date in Japan time, as epoch ms at 10:00 JST.
    fn jst(y: i32, m: u8, d: u8) -> u64 {
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        let secs = date.midnight().assume_utc().unix_timestamp() + 3600; // 10:00 JST = 01:00 UTC
        secs as u64 * 1000
    }

    fn contact(
        at_ms: u64,
        channel: Channel,
        case: Option<u128>,
        served: bool,
    ) -> ConversationFacts {
        ConversationFacts::of(FactsInput {
            started_at_ms: at_ms,
            queued_since_ms: at_ms,
            assigned_at_ms: served.then_some(at_ms + 60_000),
            ended_at_ms: Some(at_ms + 600_000),
            channel,
            case: case.map(|n| CaseId(uuid::Uuid::from_u128(n))),
            ..input()
        })
    }

    fn day(y: i32, m: u8, d: u8) -> time::Date {
        time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap()
    }

    /// Counted by hand: four people in FY2026 (April 2026 - March 2027),
    /// 90 days to end.
    /// - Case 1: served 2026-02-10 (FY2025) and 2026-05-01: continuing;
    ///   ends 2026-07-30.
    /// - Case 2 (LINE): 2026-06-15 and 2026-06-20: new; ends 2026-09-18.
    /// - Case 3: 2027-03-20 only: new; would end 2027-06-18, after the
    ///   year (and after "today").
    /// - One contact of no case, 2026-11-03: new; ends 2027-02-01.
    /// - Case 4 left the queue on 2026-08-01 and was never served: nobody.
    #[test]
    fn people_are_counted_new_continuing_and_ended_as_by_hand() {
        let facts = [
            contact(jst(2026, 2, 10), Channel::Web, Some(1), true),
            contact(jst(2026, 5, 1), Channel::Web, Some(1), true),
            contact(jst(2026, 6, 15), Channel::Line, Some(2), true),
            contact(jst(2026, 6, 20), Channel::Line, Some(2), true),
            contact(jst(2027, 3, 20), Channel::Web, Some(3), true),
            contact(jst(2026, 11, 3), Channel::Web, None, true),
            contact(jst(2026, 8, 1), Channel::Web, Some(4), false),
        ];
        let today = day(2027, 4, 10);
        let fy = Period::FiscalYear { year: 2026 };
        assert_eq!(
            people(&fy, &facts, 90, today),
            People {
                supported: 4,
                new: 3,
                continuing: 1,
                ended: 3,
                ends_after_days: 90,
            }
        );
        let june = Period::Month {
            year: 2026,
            month: 6,
        };
        assert_eq!(
            people(&june, &facts, 90, today),
            People {
                supported: 1,
                new: 1,
                continuing: 0,
                ended: 0,
                ends_after_days: 90,
            }
        );
        let july = Period::Month {
            year: 2026,
            month: 7,
        };
        assert_eq!(people(&july, &facts, 90, today).ended, 1, "case 1");
        // Not yet ended: the day has not come.
        let sept = Period::Month {
            year: 2026,
            month: 9,
        };
        assert_eq!(people(&sept, &facts, 90, day(2026, 9, 17)).ended, 0);
        assert_eq!(people(&sept, &facts, 90, day(2026, 9, 18)).ended, 1);
        // Contacts by channel, and the people in the report.
        let mut raw = aggregate(&fy, &facts);
        raw.people = people(&fy, &facts, 90, today);
        assert_eq!(raw.tables["channel"]["web"], 4);
        assert_eq!(raw.tables["channel"]["line"], 2);
        let report = raw.publish(&fy, 1);
        assert_eq!(report.people["supported"], Cell::Count(4));
        assert_eq!(report.people["continuing"], Cell::Count(1));
        assert_eq!(raw.publish(&fy, 3).people["continuing"], Cell::Below(3));
    }

    #[test]
    fn facts_kept_before_the_day_and_channel_read_as_the_first_and_web() {
        let old = r#"{"month":{"year":2026,"month":5},"hour":9,"wait_secs":3,"served":true,"abandoned":false}"#;
        let f: ConversationFacts = serde_json::from_str(old).unwrap();
        assert_eq!((f.day, f.channel, f.case), (0, Channel::Web, None));
        assert_eq!(date_of(&f), Some(day(2026, 5, 1)));
    }

    proptest! {
        /// Supported people are new or continuing, never more than the
        /// served contacts; over a fiscal year, new and ended people add up
        /// month by month (each person is new once, ends once).
        #[test]
        fn people_add_up_month_by_month(
            facts in proptest::collection::vec(arb_facts(), 0..150),
            ends_after in 1u32..400,
            today_days in 0i64..1200,
        ) {
            let today = day(2025, 1, 1) + time::Duration::days(today_days);
            let fy = Period::FiscalYear { year: 2026 };
            let whole = people(&fy, &facts, ends_after, today);
            prop_assert_eq!(whole.new + whole.continuing, whole.supported);
            let served = facts.iter().filter(|f| f.served && fy.contains(f.month)).count() as u64;
            prop_assert!(whole.supported <= served);
            let (mut new, mut ended, mut most) = (0, 0, 0);
            for m in fy.months() {
                let p = people(&Period::Month { year: m.year, month: m.month }, &facts, ends_after, today);
                prop_assert_eq!(p.new + p.continuing, p.supported);
                new += p.new;
                ended += p.ended;
                most = most.max(p.supported);
            }
            prop_assert_eq!(new, whole.new);
            prop_assert_eq!(ended, whole.ended);
            prop_assert!(most <= whole.supported);
        }
        #[test]
        fn every_table_sums_to_the_conversations_started(
            facts in proptest::collection::vec(arb_facts(), 0..200),
        ) {
            let p = Period::Quarter { year: 2026, quarter: 2 };
            let raw = aggregate(&p, &facts);
            let in_period = facts.iter().filter(|f| p.contains(f.month)).count() as u64;
            prop_assert_eq!(raw.started, in_period);
            prop_assert_eq!(raw.served + raw.abandoned, raw.started);
            for t in TABLES {
                let sum: u64 = raw.tables[t].values().sum();
                prop_assert_eq!(sum, raw.started, "table {}", t);
            }
            prop_assert_eq!(raw.waits.len() as u64, raw.served);
        }

        #[test]
        fn suppression_never_reveals_a_count_below_the_threshold(
            facts in proptest::collection::vec(arb_facts(), 0..120),
            min in 1u64..8,
        ) {
            let p = Period::FiscalYear { year: 2025 };
            let raw = aggregate(&p, &facts);
            let report = raw.publish(&p, min);
            let json = serde_json::to_value(&report).unwrap();
            fn walk(v: &serde_json::Value, min: u64, key: &str) -> Result<(), String> {
                match v {
                    serde_json::Value::Number(n) if key != "min_cell" && !key.starts_with("wait") => {
                        let n = n.as_u64().unwrap_or(0);
                        if n != 0 && n < min { return Err(format!("{key}: {n} < {min}")); }
                        Ok(())
                    }
                    serde_json::Value::Object(m) => m.iter().try_for_each(|(k, v)| walk(v, min, k)),
                    serde_json::Value::Array(a) if key == "busiest_hours" => { let _ = a; Ok(()) }
                    serde_json::Value::Array(a) => a.iter().try_for_each(|v| walk(v, min, key)),
                    _ => Ok(()),
                }
            }
            prop_assert!(walk(&json, min, "").is_ok(), "{:?}", walk(&json, min, ""));
            if raw.served < min {
                prop_assert!(report.wait_median_secs.is_none());
            }
        }
    }
}
