//! The hearing sheet (issue 23; ヒアリングシート, 相談受付票): the form a
//! deployment defines in its configuration so that whoever answers asks
//! the right questions, filled by the counsellor during or after a
//! conversation and read again at the person's later conversations, so
//! that change over time shows side by side. Centres revise their sheet:
//! each definition has a version, and the older ones stay defined so that
//! answers given under them can still be read.
//!
//! Pure: the definitions and their rules, reading a counsellor's answers
//! against a definition, and the statistics an answer maps to (who
//! contacted, age band, gender, withdrawal length, state ①-④), so that the
//! counsellor records them once. Free-text answers are kept apart from the
//! rest ([`Filled::texts`]): they are personal data, erased with the
//! counsellor's notes and never counted.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::prechat::{AgeBand, Gender, PreChat, WhoIsWriting};
use super::stats::{Assessment, Severity, WithdrawalBand};

/// Questions a sheet holds at most (all sections together).
pub const MAX_QUESTIONS: usize = 80;
/// Options a choice question offers at most.
pub const MAX_OPTIONS: usize = 30;
/// A short-text answer's length at most, whatever a question allows.
pub const TEXT_MAX_CHARS: u32 = 2000;
/// A short-text answer's length when the question does not say.
pub const TEXT_DEFAULT_MAX_CHARS: u32 = 400;
/// A label's or title's length at most (each language).
pub const LABEL_MAX_CHARS: usize = 200;

/// One version of the sheet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetDef {
    /// 1, 2, ...: a revised sheet gets a higher number; the highest is the
    /// one filled from now on.
    pub version: u32,
    pub sections: Vec<SectionDef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDef {
    pub id: String,
    pub title_ja: String,
    pub title_en: String,
    pub questions: Vec<QuestionDef>,
}

/// How a question is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// One of the options.
    Choice,
    /// Any number of the options.
    Choices,
    /// A whole number from `min` to `max` (a feeling, 1-5).
    Scale,
    /// A few words (personal data: never counted, erased with the notes).
    Text,
}

/// Which statistics field a choice question's options record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsField {
    Who,
    AgeBand,
    Gender,
    Withdrawal,
    Severity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionDef {
    /// Stable across versions: a question with the same id in two versions
    /// is the same question, so its answers line up side by side.
    pub id: String,
    pub label_ja: String,
    pub label_en: String,
    pub kind: AnswerKind,
    /// Choice and choices: what may be chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionDef>,
    /// Scale: the lowest and highest answer (default 1 and 5), and what
    /// the two ends mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min_label_ja: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min_label_en: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max_label_ja: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max_label_en: String,
    /// Text: the longest answer (default [`TEXT_DEFAULT_MAX_CHARS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u32>,
    /// Choice only: the statistics field its options record (each option
    /// then names its value in `stats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsField>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    pub id: String,
    pub label_ja: String,
    pub label_en: String,
    /// With the question's `stats`: the value this option records, in the
    /// report's own words (`under_one_year`, `state_2`, `family_together`).
    /// None: the option records nothing (e.g. "not asked").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
}

impl QuestionDef {
    pub fn scale_range(&self) -> (i64, i64) {
        (self.min.unwrap_or(1), self.max.unwrap_or(5))
    }

    pub fn text_max_chars(&self) -> u32 {
        self.max_chars.unwrap_or(TEXT_DEFAULT_MAX_CHARS)
    }

    fn option(&self, id: &str) -> Option<&OptionDef> {
        self.options.iter().find(|o| o.id == id)
    }
}

/// A chosen option, several, or a point on a scale: the answers that are
/// not free text. Free text is kept apart ([`Filled::texts`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Scale(i64),
    Choices(Vec<String>),
    Choice(String),
}

/// The statistics fields a sheet's answers record (each only if a mapped
/// question was answered with an option that names a value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<WhoIsWriting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_band: Option<AgeBand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<WithdrawalBand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl SheetStats {
    pub fn is_empty(&self) -> bool {
        *self == SheetStats::default()
    }

    /// What the report counts for a conversation: the visitor's own
    /// answers before the chat and the counsellor's end dialog come first;
    /// the sheet fills what they left empty or "rather not say"/"unknown".
    /// So recording a field once, in the sheet or in the end dialog, counts
    /// the same.
    pub fn fill(&self, pre: PreChat, a: Assessment) -> (PreChat, Assessment) {
        fn gap<T: Copy>(have: Option<T>, empty: impl Fn(T) -> bool, sheet: Option<T>) -> Option<T> {
            match have {
                Some(v) if !empty(v) => Some(v),
                _ => sheet.or(have),
            }
        }
        let pre = PreChat {
            who: gap(pre.who, |v| v == WhoIsWriting::RatherNotSay, self.who),
            age_band: gap(pre.age_band, |v| v == AgeBand::RatherNotSay, self.age_band),
            gender: gap(pre.gender, |v| v == Gender::RatherNotSay, self.gender),
            topic: pre.topic,
        };
        let a = Assessment {
            withdrawal: gap(
                a.withdrawal,
                |v| v == WithdrawalBand::Unknown,
                self.withdrawal,
            ),
            severity: gap(a.severity, |v| v == Severity::Unknown, self.severity),
            ..a
        };
        (pre, a)
    }

    fn set(&mut self, field: StatsField, value: &str) -> Result<(), String> {
        fn parse<T: serde::de::DeserializeOwned>(v: &str) -> Result<T, String> {
            serde_json::from_value(Value::String(v.to_owned()))
                .map_err(|_| format!("`{v}` is not a value of this statistics field"))
        }
        match field {
            StatsField::Who => self.who = Some(parse(value)?),
            StatsField::AgeBand => self.age_band = Some(parse(value)?),
            StatsField::Gender => self.gender = Some(parse(value)?),
            StatsField::Withdrawal => self.withdrawal = Some(parse(value)?),
            StatsField::Severity => self.severity = Some(parse(value)?),
        }
        Ok(())
    }
}

/// A counsellor's answers read against a definition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filled {
    pub answers: BTreeMap<String, Answer>,
    /// Free-text answers (personal data).
    pub texts: BTreeMap<String, String>,
    pub stats: SheetStats,
}

/// Why answers were refused: which question, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerError {
    pub question: String,
    pub reason: String,
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "question `{}`: {}", self.question, self.reason)
    }
}

impl SheetDef {
    pub fn questions(&self) -> impl Iterator<Item = &QuestionDef> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }

    pub fn question(&self, id: &str) -> Option<&QuestionDef> {
        self.questions().find(|q| q.id == id)
    }

    /// Read answers given as one JSON object, question id to answer (an
    /// option id, a list of option ids, a number, or text; `null` or an
    /// empty text: not answered). A sheet may be saved with questions
    /// unanswered: it is filled over time. Anything else is refused,
    /// naming the question.
    pub fn read(&self, raw: &serde_json::Map<String, Value>) -> Result<Filled, AnswerError> {
        let mut out = Filled::default();
        for (id, value) in raw {
            let refuse = |reason: String| AnswerError {
                question: id.clone(),
                reason,
            };
            let q = self
                .question(id)
                .ok_or_else(|| refuse(format!("no such question in version {}", self.version)))?;
            if value.is_null() {
                continue;
            }
            match q.kind {
                AnswerKind::Choice => {
                    let chosen = value
                        .as_str()
                        .and_then(|v| q.option(v))
                        .ok_or_else(|| refuse("expected one of the question's options".into()))?;
                    if let (Some(field), Some(v)) = (q.stats, &chosen.stats) {
                        out.stats.set(field, v).map_err(refuse)?;
                    }
                    out.answers
                        .insert(id.clone(), Answer::Choice(chosen.id.clone()));
                }
                AnswerKind::Choices => {
                    let list = value.as_array().ok_or_else(|| {
                        refuse("expected a list of the question's options".into())
                    })?;
                    let mut seen = BTreeSet::new();
                    for v in list {
                        let o = v.as_str().and_then(|v| q.option(v)).ok_or_else(|| {
                            refuse("expected a list of the question's options".into())
                        })?;
                        if !seen.insert(o.id.as_str()) {
                            return Err(refuse(format!("option `{}` chosen twice", o.id)));
                        }
                    }
                    // In the definition's order, whatever order they came in.
                    let chosen: Vec<String> = q
                        .options
                        .iter()
                        .filter(|o| seen.contains(o.id.as_str()))
                        .map(|o| o.id.clone())
                        .collect();
                    if !chosen.is_empty() {
                        out.answers.insert(id.clone(), Answer::Choices(chosen));
                    }
                }
                AnswerKind::Scale => {
                    let (lo, hi) = q.scale_range();
                    let n = value
                        .as_i64()
                        .filter(|n| (lo..=hi).contains(n))
                        .ok_or_else(|| {
                            refuse(format!("expected a whole number from {lo} to {hi}"))
                        })?;
                    out.answers.insert(id.clone(), Answer::Scale(n));
                }
                AnswerKind::Text => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| refuse("expected text".into()))?;
                    let max = q.text_max_chars();
                    if text.chars().count() > max as usize {
                        return Err(refuse(format!("at most {max} characters")));
                    }
                    if text
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\t')
                    {
                        return Err(refuse("control characters are not allowed".into()));
                    }
                    let text = text.trim();
                    if !text.is_empty() {
                        out.texts.insert(id.clone(), text.to_owned());
                    }
                }
            }
        }
        Ok(out)
    }

    /// The rules a definition keeps (checked when the configuration loads).
    pub fn check(&self) -> Result<(), String> {
        let at = |what: String| format!("hearing sheet version {}: {what}", self.version);
        if self.version == 0 {
            return Err(at("versions start at 1".into()));
        }
        let mut sections = BTreeSet::new();
        let mut questions = BTreeSet::new();
        let mut count = 0;
        for s in &self.sections {
            check_id(&s.id).map_err(|e| at(format!("section id `{}`: {e}", s.id)))?;
            if !sections.insert(s.id.as_str()) {
                return Err(at(format!("section `{}` twice", s.id)));
            }
            check_labels(&s.title_ja, &s.title_en)
                .map_err(|e| at(format!("section `{}`: {e}", s.id)))?;
            if s.questions.is_empty() {
                return Err(at(format!("section `{}` has no questions", s.id)));
            }
            for q in &s.questions {
                count += 1;
                check_id(&q.id).map_err(|e| at(format!("question id `{}`: {e}", q.id)))?;
                if !questions.insert(q.id.as_str()) {
                    return Err(at(format!("question `{}` twice", q.id)));
                }
                check_question(q).map_err(|e| at(format!("question `{}`: {e}", q.id)))?;
            }
        }
        if count == 0 {
            return Err(at("no questions".into()));
        }
        if count > MAX_QUESTIONS {
            return Err(at(format!("more than {MAX_QUESTIONS} questions")));
        }
        Ok(())
    }
}

fn check_id(id: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("1-40 characters of a-z, 0-9 and _".into())
    }
}

fn check_labels(ja: &str, en: &str) -> Result<(), String> {
    for l in [ja, en] {
        if l.trim().is_empty() || l.chars().count() > LABEL_MAX_CHARS {
            return Err(format!(
                "every label needs Japanese and English, each 1-{LABEL_MAX_CHARS} characters"
            ));
        }
    }
    Ok(())
}

fn check_question(q: &QuestionDef) -> Result<(), String> {
    check_labels(&q.label_ja, &q.label_en)?;
    let choice = matches!(q.kind, AnswerKind::Choice | AnswerKind::Choices);
    let has_options = !q.options.is_empty();
    if choice != has_options {
        return Err("options go with choice and choices, and only there".into());
    }
    if q.options.len() > MAX_OPTIONS {
        return Err(format!("more than {MAX_OPTIONS} options"));
    }
    let mut ids = BTreeSet::new();
    for o in &q.options {
        check_id(&o.id).map_err(|e| format!("option `{}`: {e}", o.id))?;
        if !ids.insert(o.id.as_str()) {
            return Err(format!("option `{}` twice", o.id));
        }
        check_labels(&o.label_ja, &o.label_en).map_err(|e| format!("option `{}`: {e}", o.id))?;
        match (q.stats, &o.stats) {
            (Some(field), Some(v)) => {
                SheetStats::default()
                    .set(field, v)
                    .map_err(|e| format!("option `{}`: {e}", o.id))?;
            }
            (None, Some(_)) => {
                return Err(format!(
                    "option `{}` names a statistics value, but the question has no `stats`",
                    o.id
                ))
            }
            _ => {}
        }
    }
    if q.stats.is_some() && q.kind != AnswerKind::Choice {
        return Err("only a choice question records a statistics field".into());
    }
    let scale_only = q.min.is_some()
        || q.max.is_some()
        || !q.min_label_ja.is_empty()
        || !q.min_label_en.is_empty()
        || !q.max_label_ja.is_empty()
        || !q.max_label_en.is_empty();
    if scale_only && q.kind != AnswerKind::Scale {
        return Err("min, max and their labels go with scale only".into());
    }
    let (lo, hi) = q.scale_range();
    if q.kind == AnswerKind::Scale && !(lo < hi && hi - lo <= 10) {
        return Err("a scale needs min < max, at most 10 apart".into());
    }
    if q.max_chars.is_some() && q.kind != AnswerKind::Text {
        return Err("max_chars goes with text only".into());
    }
    if !(1..=TEXT_MAX_CHARS).contains(&q.text_max_chars()) {
        return Err(format!("max_chars from 1 to {TEXT_MAX_CHARS}"));
    }
    Ok(())
}

/// Every version a deployment defines: the newest is filled, the older
/// ones read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sheets<'a>(&'a [SheetDef]);

impl<'a> Sheets<'a> {
    /// Checks each definition, and that versions are distinct; a
    /// deployment that defines none gets [`default_sheet`].
    pub fn check(defs: &'a [SheetDef]) -> Result<Sheets<'a>, String> {
        let mut versions = BTreeSet::new();
        for d in defs {
            d.check()?;
            if !versions.insert(d.version) {
                return Err(format!("hearing sheet version {} twice", d.version));
            }
        }
        if defs.is_empty() {
            return Err("at least one hearing sheet version".into());
        }
        Ok(Sheets(defs))
    }

    /// Definitions already checked (the configuration's, at load).
    pub fn checked(defs: &'a [SheetDef]) -> Sheets<'a> {
        Sheets(defs)
    }

    pub fn current(&self) -> &'a SheetDef {
        self.0
            .iter()
            .max_by_key(|d| d.version)
            .expect("checked: at least one")
    }

    pub fn get(&self, version: u32) -> Option<&'a SheetDef> {
        self.0.iter().find(|d| d.version == version)
    }
}

/// The sheet a deployment gets until it defines its own: the questions the
/// seeds' intake forms and hearing sheets share (who is contacting, the
/// person's age band and gender, how long and how deeply withdrawn, how
/// they feel, what they wish for, and a few words of the situation), with
/// the statistics fields mapped.
pub fn default_sheet() -> SheetDef {
    fn o(id: &str, ja: &str, en: &str, stats: Option<&str>) -> OptionDef {
        OptionDef {
            id: id.into(),
            label_ja: ja.into(),
            label_en: en.into(),
            stats: stats.map(Into::into),
        }
    }
    fn q(id: &str, ja: &str, en: &str, kind: AnswerKind) -> QuestionDef {
        QuestionDef {
            id: id.into(),
            label_ja: ja.into(),
            label_en: en.into(),
            kind,
            options: Vec::new(),
            min: None,
            max: None,
            min_label_ja: String::new(),
            min_label_en: String::new(),
            max_label_ja: String::new(),
            max_label_en: String::new(),
            max_chars: None,
            stats: None,
        }
    }
    let mapped =
        |id: &str, ja: &str, en: &str, field: StatsField, options: Vec<OptionDef>| QuestionDef {
            options,
            stats: Some(field),
            ..q(id, ja, en, AnswerKind::Choice)
        };
    let scale = |id: &str, ja: &str, en: &str, ends: [&str; 4]| QuestionDef {
        min_label_ja: ends[0].into(),
        min_label_en: ends[1].into(),
        max_label_ja: ends[2].into(),
        max_label_en: ends[3].into(),
        ..q(id, ja, en, AnswerKind::Scale)
    };
    SheetDef {
        version: 1,
        sections: vec![
            SectionDef {
                id: "who".into(),
                title_ja: "相談者と本人".into(),
                title_en: "Who is contacting, and about whom".into(),
                questions: vec![
                    mapped(
                        "contact",
                        "相談してきた人",
                        "Who is contacting",
                        StatsField::Who,
                        vec![
                            o("self", "本人", "The person themself", Some("self")),
                            o(
                                "family_together",
                                "同居の家族",
                                "Family living with them",
                                Some("family_together"),
                            ),
                            o(
                                "family_apart",
                                "別居の家族",
                                "Family living apart",
                                Some("family_apart"),
                            ),
                            o(
                                "supporter",
                                "支援者・関係機関",
                                "A supporter or agency",
                                Some("supporter"),
                            ),
                            o("unknown", "不明", "Unknown", Some("rather_not_say")),
                        ],
                    ),
                    mapped(
                        "age",
                        "本人の年代",
                        "The person's age band",
                        StatsField::AgeBand,
                        vec![
                            o("teens", "10代", "Teens", Some("teens")),
                            o("twenties", "20代", "20s", Some("twenties")),
                            o("thirties", "30代", "30s", Some("thirties")),
                            o("forties", "40代", "40s", Some("forties")),
                            o("fifty_plus", "50代以上", "50 or over", Some("fifty_plus")),
                            o("unknown", "不明", "Unknown", Some("rather_not_say")),
                        ],
                    ),
                    mapped(
                        "gender",
                        "本人の性別",
                        "The person's gender",
                        StatsField::Gender,
                        vec![
                            o("female", "女性", "Female", Some("female")),
                            o("male", "男性", "Male", Some("male")),
                            o("other", "その他", "Other", Some("other")),
                            o(
                                "unknown",
                                "不明・答えない",
                                "Unknown or not said",
                                Some("rather_not_say"),
                            ),
                        ],
                    ),
                ],
            },
            SectionDef {
                id: "situation".into(),
                title_ja: "ひきこもりの状況".into(),
                title_en: "The withdrawal".into(),
                questions: vec![
                    mapped(
                        "withdrawal",
                        "ひきこもりの期間",
                        "How long withdrawn",
                        StatsField::Withdrawal,
                        vec![
                            o(
                                "under_six_months",
                                "6か月未満",
                                "Under 6 months",
                                Some("under_six_months"),
                            ),
                            o(
                                "under_one_year",
                                "1年未満",
                                "Under 1 year",
                                Some("under_one_year"),
                            ),
                            o(
                                "under_three_years",
                                "3年未満",
                                "Under 3 years",
                                Some("under_three_years"),
                            ),
                            o(
                                "under_five_years",
                                "5年未満",
                                "Under 5 years",
                                Some("under_five_years"),
                            ),
                            o(
                                "under_ten_years",
                                "10年未満",
                                "Under 10 years",
                                Some("under_ten_years"),
                            ),
                            o(
                                "ten_years_plus",
                                "10年以上",
                                "10 years or more",
                                Some("ten_years_plus"),
                            ),
                            o("unknown", "不明", "Unknown", Some("unknown")),
                        ],
                    ),
                    mapped(
                        "state",
                        "ひきこもりの状態",
                        "State of withdrawal",
                        StatsField::Severity,
                        vec![
                            o(
                                "state_1",
                                "状態①（軽度）",
                                "State 1 (mild)",
                                Some("state_1"),
                            ),
                            o("state_2", "状態②", "State 2", Some("state_2")),
                            o("state_3", "状態③", "State 3", Some("state_3")),
                            o(
                                "state_4",
                                "状態④（重度）",
                                "State 4 (severe)",
                                Some("state_4"),
                            ),
                            o(
                                "unknown",
                                "不明・対象外",
                                "Unknown or not applicable",
                                Some("unknown"),
                            ),
                        ],
                    ),
                ],
            },
            SectionDef {
                id: "feelings".into(),
                title_ja: "気持ちと希望".into(),
                title_en: "Feelings and wishes".into(),
                questions: vec![
                    scale(
                        "mood",
                        "いまの気持ち",
                        "How they feel now",
                        ["とてもつらい", "Very hard", "落ち着いている", "Settled"],
                    ),
                    scale(
                        "going_out",
                        "外に出ることへの気持ち",
                        "How they feel about going out",
                        ["考えられない", "Unthinkable", "出てみたい", "Would like to"],
                    ),
                    QuestionDef {
                        options: vec![
                            o(
                                "someone_to_talk",
                                "話を聞いてほしい",
                                "Someone to talk to",
                                None,
                            ),
                            o("a_place", "居場所がほしい", "A place to be", None),
                            o("work_school", "仕事・学校のこと", "Work or school", None),
                            o(
                                "health",
                                "心や体の健康のこと",
                                "Health of mind or body",
                                None,
                            ),
                            o("family", "家族との関係", "Relations in the family", None),
                            o("money", "お金・生活のこと", "Money and daily life", None),
                        ],
                        ..q(
                            "wishes",
                            "望んでいること",
                            "What they wish for",
                            AnswerKind::Choices,
                        )
                    },
                ],
            },
            SectionDef {
                id: "notes".into(),
                title_ja: "状況のメモ".into(),
                title_en: "Notes on the situation".into(),
                questions: vec![QuestionDef {
                    max_chars: Some(TEXT_DEFAULT_MAX_CHARS),
                    ..q(
                        "situation",
                        "いまの状況（本人の言葉で）",
                        "The situation now (in their words)",
                        AnswerKind::Text,
                    )
                }],
            },
        ],
    }
}

#[cfg(test)]
mod tests;
