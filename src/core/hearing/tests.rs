use proptest::prelude::*;
use serde_json::json;

use super::*;

fn read(def: &SheetDef, v: Value) -> Result<Filled, AnswerError> {
    def.read(v.as_object().expect("an object"))
}

#[test]
fn the_default_sheet_keeps_the_rules_and_maps_every_statistics_field() {
    let d = default_sheet();
    d.check().unwrap();
    let mapped: BTreeSet<_> = d
        .questions()
        .filter_map(|q| q.stats)
        .map(|f| format!("{f:?}"))
        .collect();
    assert_eq!(mapped.len(), 5, "{mapped:?}");
    let all = [d.clone()];
    assert_eq!(Sheets::check(&all).unwrap().current().version, 1);
}

#[test]
fn answers_are_read_against_the_definition_and_map_to_the_statistics() {
    let d = default_sheet();
    let f = read(
        &d,
        json!({
            "contact": "family_together",
            "age": "twenties",
            "withdrawal": "under_three_years",
            "state": "state_3",
            "mood": 2,
            "wishes": ["family", "someone_to_talk", "a_place"],
            "situation": "  部屋から出られない日が続いている \n",
            "gender": null,
        }),
    )
    .unwrap();
    assert_eq!(
        f.stats,
        SheetStats {
            who: Some(WhoIsWriting::FamilyTogether),
            age_band: Some(AgeBand::Twenties),
            gender: None,
            withdrawal: Some(WithdrawalBand::UnderThreeYears),
            severity: Some(Severity::State3),
        }
    );
    assert_eq!(f.answers["mood"], Answer::Scale(2));
    // Several choices in the definition's order, whatever order they came in.
    assert_eq!(
        f.answers["wishes"],
        Answer::Choices(vec![
            "someone_to_talk".into(),
            "a_place".into(),
            "family".into()
        ])
    );
    assert_eq!(f.answers["state"], Answer::Choice("state_3".into()));
    assert!(
        !f.answers.contains_key("situation"),
        "free text is kept apart"
    );
    assert_eq!(f.texts["situation"], "部屋から出られない日が続いている");
    assert!(!f.answers.contains_key("gender"), "null: not answered");
    // An option that records "unknown" records it.
    let f = read(
        &d,
        json!({"state": "unknown", "situation": "   ", "wishes": []}),
    )
    .unwrap();
    assert_eq!(f.stats.severity, Some(Severity::Unknown));
    assert!(
        f.texts.is_empty() && !f.answers.contains_key("wishes"),
        "blank: not answered"
    );
}

#[test]
fn wrong_answers_are_refused_naming_the_question() {
    let d = default_sheet();
    let long = "あ".repeat(TEXT_DEFAULT_MAX_CHARS as usize + 1);
    for (answers, question) in [
        (json!({"nope": "x"}), "nope"),
        (json!({"contact": "neighbour"}), "contact"),
        (json!({"contact": ["self"]}), "contact"),
        (json!({"wishes": "family"}), "wishes"),
        (json!({"wishes": ["family", "family"]}), "wishes"),
        (json!({"wishes": ["family", 3]}), "wishes"),
        (json!({"mood": 0}), "mood"),
        (json!({"mood": 6}), "mood"),
        (json!({"mood": 2.5}), "mood"),
        (json!({"mood": "3"}), "mood"),
        (json!({"situation": 3}), "situation"),
        (json!({"situation": long}), "situation"),
        (json!({"situation": "a\u{0007}b"}), "situation"),
    ] {
        let e = read(&d, answers.clone()).unwrap_err();
        assert_eq!(e.question, question, "{answers}: {e}");
    }
    // Exactly the limit is fine.
    let at_limit = "あ".repeat(TEXT_DEFAULT_MAX_CHARS as usize);
    assert!(read(&d, json!({"situation": at_limit})).is_ok());
}

#[test]
fn a_definition_that_breaks_a_rule_is_refused() {
    let good = default_sheet();
    type Breaks = Box<dyn Fn(&mut SheetDef)>;
    let broken: Vec<(&str, Breaks)> = vec![
        ("version 0", Box::new(|d| d.version = 0)),
        (
            "question twice",
            Box::new(|d| d.sections[1].questions[0].id = "contact".into()),
        ),
        ("bad id", Box::new(|d| d.sections[0].id = "Who Is".into())),
        (
            "no english",
            Box::new(|d| d.sections[0].questions[0].label_en = " ".into()),
        ),
        (
            "options on a scale",
            Box::new(|d| {
                let opts = d.sections[0].questions[0].options.clone();
                d.sections[2].questions[0].options = opts;
            }),
        ),
        (
            "no options on a choice",
            Box::new(|d| d.sections[0].questions[0].options.clear()),
        ),
        (
            "stats on choices",
            Box::new(|d| d.sections[2].questions[2].stats = Some(StatsField::Who)),
        ),
        (
            "a value of another field",
            Box::new(|d| {
                d.sections[0].questions[0].options[0].stats = Some("state_2".into());
            }),
        ),
        (
            "a value without a field",
            Box::new(|d| {
                d.sections[2].questions[2].options[0].stats = Some("self".into());
            }),
        ),
        (
            "an empty scale",
            Box::new(|d| {
                d.sections[2].questions[0].min = Some(5);
                d.sections[2].questions[0].max = Some(5);
            }),
        ),
        (
            "max on a choice",
            Box::new(|d| d.sections[0].questions[0].max = Some(3)),
        ),
        (
            "max_chars on a scale",
            Box::new(|d| d.sections[2].questions[0].max_chars = Some(3)),
        ),
        (
            "too long a text",
            Box::new(|d| d.sections[3].questions[0].max_chars = Some(TEXT_MAX_CHARS + 1)),
        ),
        (
            "an empty section",
            Box::new(|d| d.sections[3].questions.clear()),
        ),
        (
            "option twice",
            Box::new(|d| {
                let o = d.sections[0].questions[0].options[0].clone();
                d.sections[0].questions[0].options.push(o);
            }),
        ),
    ];
    for (what, breaks) in broken {
        let mut d = good.clone();
        breaks(&mut d);
        assert!(d.check().is_err(), "{what} was accepted");
    }
    let twice = [good.clone(), good.clone()];
    assert!(Sheets::check(&twice).is_err(), "a version twice");
    assert!(Sheets::check(&[]).is_err());
    let mut v2 = good.clone();
    v2.version = 2;
    let both = [v2, good];
    let sheets = Sheets::check(&both).unwrap();
    assert_eq!(sheets.current().version, 2);
    assert_eq!(sheets.get(1).unwrap().version, 1);
    assert!(sheets.get(3).is_none());
}

#[test]
fn the_sheet_fills_what_the_visitor_and_the_end_dialog_left_empty() {
    let sheet = SheetStats {
        who: Some(WhoIsWriting::FamilyApart),
        age_band: Some(AgeBand::Thirties),
        gender: Some(Gender::Male),
        withdrawal: Some(WithdrawalBand::TenYearsPlus),
        severity: Some(Severity::State4),
    };
    // Nothing given: the sheet counts.
    let (pre, a) = sheet.fill(PreChat::default(), Assessment::default());
    assert_eq!(pre.who, Some(WhoIsWriting::FamilyApart));
    assert_eq!(pre.age_band, Some(AgeBand::Thirties));
    assert_eq!(pre.gender, Some(Gender::Male));
    assert_eq!(a.withdrawal, Some(WithdrawalBand::TenYearsPlus));
    assert_eq!(a.severity, Some(Severity::State4));
    // Given: what was given counts; "rather not say" and "unknown" are gaps.
    let given_pre = PreChat {
        who: Some(WhoIsWriting::Myself),
        age_band: Some(AgeBand::RatherNotSay),
        topic: None,
        gender: None,
    };
    let given_a = Assessment {
        withdrawal: Some(WithdrawalBand::Unknown),
        severity: Some(Severity::State1),
        referral: true,
        ..Default::default()
    };
    let (pre, a) = sheet.fill(given_pre, given_a);
    assert_eq!(pre.who, Some(WhoIsWriting::Myself));
    assert_eq!(pre.age_band, Some(AgeBand::Thirties));
    assert_eq!(a.withdrawal, Some(WithdrawalBand::TenYearsPlus));
    assert_eq!(a.severity, Some(Severity::State1));
    assert!(a.referral, "the rest of the assessment is kept");
    // An empty sheet changes nothing, "rather not say" included.
    assert_eq!(
        SheetStats::default().fill(given_pre, given_a),
        (given_pre, given_a)
    );
}

/// Answers to the default sheet: any subset of its questions, each with a
/// valid answer of its kind.
fn any_answers() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    let d = default_sheet();
    let qs: Vec<QuestionDef> = d.questions().cloned().collect();
    proptest::collection::vec((any::<bool>(), any::<u64>(), "[ぁ-んa-z ]{0,30}"), qs.len())
        .prop_map(move |picks| {
            let mut m = serde_json::Map::new();
            for (q, (asked, n, text)) in qs.iter().zip(picks) {
                if !asked {
                    continue;
                }
                let v = match q.kind {
                    AnswerKind::Choice => json!(q.options[n as usize % q.options.len()].id),
                    AnswerKind::Choices => json!(q
                        .options
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| n >> i & 1 == 1)
                        .map(|(_, o)| o.id.clone())
                        .collect::<Vec<_>>()),
                    AnswerKind::Scale => {
                        let (lo, hi) = q.scale_range();
                        json!(lo + (n % (hi - lo + 1) as u64) as i64)
                    }
                    AnswerKind::Text => json!(text),
                };
                m.insert(q.id.clone(), v);
            }
            m
        })
}

/// What was read, as answers again (the one JSON object the API takes
/// and gives back).
fn as_json(f: &Filled) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for (k, a) in &f.answers {
        m.insert(k.clone(), serde_json::to_value(a).unwrap());
    }
    for (k, t) in &f.texts {
        m.insert(k.clone(), json!(t));
    }
    m
}

proptest! {
    /// Valid answers are always read; reading what was read gives the
    /// same again; and each statistics field is the value of the option
    /// chosen for its question, and nothing when it was not answered.
    #[test]
    fn valid_answers_read_stably_and_map_exactly(answers in any_answers()) {
        let d = default_sheet();
        let f = d.read(&answers).unwrap();
        prop_assert_eq!(&d.read(&as_json(&f)).unwrap(), &f);
        for q in d.questions().filter(|q| q.stats.is_some()) {
            let expected = answers
                .get(&q.id)
                .and_then(|v| v.as_str())
                .and_then(|id| q.option(id))
                .and_then(|o| o.stats.clone());
            let got = match q.stats.unwrap() {
                StatsField::Who => f.stats.who.map(|v| serde_json::to_value(v).unwrap()),
                StatsField::AgeBand => f.stats.age_band.map(|v| serde_json::to_value(v).unwrap()),
                StatsField::Gender => f.stats.gender.map(|v| serde_json::to_value(v).unwrap()),
                StatsField::Withdrawal => f.stats.withdrawal.map(|v| serde_json::to_value(v).unwrap()),
                StatsField::Severity => f.stats.severity.map(|v| serde_json::to_value(v).unwrap()),
            };
            prop_assert_eq!(got, expected.map(Value::String), "question {}", q.id);
        }
        // Free text never lands among the counted answers.
        for q in d.questions().filter(|q| q.kind == AnswerKind::Text) {
            prop_assert!(!f.answers.contains_key(&q.id));
        }
    }
}
