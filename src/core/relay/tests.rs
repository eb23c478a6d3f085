use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::core::hearing::default_sheet;
use crate::core::partners::PartnerOffer;

const DAY: u64 = 86_400_000;

fn sheet() -> (SheetDef, BTreeMap<String, Answer>, BTreeMap<String, String>) {
    let def = default_sheet();
    let f = def
        .read(
            json!({
                "contact": "self",
                "withdrawal": "under_three_years",
                "mood": 2,
                "wishes": ["work_school", "a_place"],
                "situation": "夜は眠れない",
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
    (def, f.answers, f.texts)
}

fn choice(n: u128, offer: PartnerOffer, accepts: bool, questions: &[&str]) -> PartChoice {
    let mut offers = OfferSet::default();
    offers.insert(offer);
    PartChoice {
        partner: PartnerId(uuid::Uuid::from_u128(n)),
        name_ja: format!("連携先{n}"),
        name_en: format!("Partner {n}"),
        offers,
        accepts_relays: accepts,
        questions: questions.iter().map(|q| q.to_string()).collect(),
    }
}

fn pid(n: u128) -> PartnerId {
    PartnerId(uuid::Uuid::from_u128(n))
}

fn relay(choices: Vec<PartChoice>) -> Result<Relay, RelayError> {
    let (def, answers, texts) = sheet();
    prepare(
        RelayId(uuid::Uuid::from_u128(9)),
        AccountId(uuid::Uuid::from_u128(7)),
        1_000,
        " 就労の相談につなぐため ",
        "2026-12",
        &def,
        &answers,
        &texts,
        choices,
    )
}

#[test]
fn a_relay_renders_each_partners_answers_word_for_word() {
    let r = relay(vec![
        choice(
            1,
            PartnerOffer::Employment,
            true,
            &["contact", "wishes", "situation"],
        ),
        choice(2, PartnerOffer::Medical, true, &["mood"]),
    ])
    .unwrap();
    assert_eq!(r.purpose, "就労の相談につなぐため");
    let one = &r.parts[0].fields;
    assert_eq!(one.len(), 3);
    assert_eq!(
        (one[0].answer_ja.as_str(), one[0].answer_en.as_str()),
        ("本人", "The person themself")
    );
    assert_eq!(one[1].answer_ja, "居場所がほしい、仕事・学校のこと");
    assert_eq!(one[1].answer_en, "A place to be, Work or school");
    assert_eq!(one[2].answer_ja, "夜は眠れない");
    let two = &r.parts[1].fields;
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].answer_ja, "2（1：とてもつらい〜5：落ち着いている）");
    assert_eq!(two[0].answer_en, "2 (1 = Very hard, 5 = Settled)");
    assert!(r
        .parts
        .iter()
        .all(|p| p.consent == Consent::Asked && p.link.is_none()));
}

#[test]
fn a_relay_is_refused_for_what_it_may_not_hold() {
    for (what, choices) in [
        ("no partner", vec![]),
        (
            "no question",
            vec![choice(1, PartnerOffer::Legal, true, &[])],
        ),
        (
            "unanswered",
            vec![choice(1, PartnerOffer::Legal, true, &["gender"])],
        ),
        (
            "unknown",
            vec![choice(1, PartnerOffer::Legal, true, &["nope"])],
        ),
        (
            "twice",
            vec![choice(
                1,
                PartnerOffer::Legal,
                true,
                &["contact", "contact"],
            )],
        ),
        (
            "partner twice",
            vec![
                choice(1, PartnerOffer::Legal, true, &["contact"]),
                choice(1, PartnerOffer::Legal, true, &["mood"]),
            ],
        ),
        (
            "too many",
            (1..=6)
                .map(|n| choice(n, PartnerOffer::Legal, true, &["contact"]))
                .collect(),
        ),
    ] {
        assert!(
            matches!(relay(choices), Err(RelayError::Invalid(_))),
            "{what}"
        );
    }
    assert_eq!(
        relay(vec![choice(1, PartnerOffer::Legal, false, &["contact"])]),
        Err(RelayError::NotAccepting(pid(1)))
    );
    let (def, answers, texts) = sheet();
    let one = || vec![choice(1, PartnerOffer::Legal, true, &["contact"])];
    for purpose in ["", "   ", &"あ".repeat(PURPOSE_MAX_CHARS + 1)] {
        let r = prepare(
            RelayId::new_random(),
            AccountId::new_random(),
            0,
            purpose,
            "v",
            &def,
            &answers,
            &texts,
            one(),
        );
        assert!(r.is_err(), "purpose {purpose:?}");
    }
}

#[test]
fn consent_per_partner_links_expire_and_stop_on_withdrawal() {
    let mut r = relay(vec![
        choice(1, PartnerOffer::Employment, true, &["contact"]),
        choice(2, PartnerOffer::Medical, true, &["mood"]),
    ])
    .unwrap();
    // No link before consent.
    assert_eq!(
        r.issue_link(pid(1), [1; 32], 0, DAY),
        Err(RelayError::NotConsented)
    );
    let both = |a, b| BTreeMap::from([(pid(1), a), (pid(2), b)]);
    // Other wording, or not every partner answered: refused, nothing changes.
    assert_eq!(
        r.answer("2025-01", &both(true, false), 10),
        Err(RelayError::Changed)
    );
    let only_one = BTreeMap::from([(pid(1), true)]);
    assert!(matches!(
        r.answer("2026-12", &only_one, 10),
        Err(RelayError::Invalid(_))
    ));
    assert!(!r.answered());
    r.answer("2026-12", &both(true, false), 10).unwrap();
    assert_eq!(
        r.answer("2026-12", &both(true, true), 11),
        Err(RelayError::Changed),
        "once only"
    );
    assert_eq!(
        r.relayed_to().iter().collect::<Vec<_>>(),
        [PartnerOffer::Employment]
    );
    assert_eq!(
        r.issue_link(pid(2), [2; 32], 20, DAY),
        Err(RelayError::NotConsented)
    );
    assert_eq!(
        r.issue_link(pid(3), [3; 32], 20, DAY),
        Err(RelayError::NoSuchPartner)
    );
    assert_eq!(r.issue_link(pid(1), [1; 32], 20, DAY), Ok(None));
    assert_eq!(r.view(&[1; 32], 30).unwrap().fields[0].question, "contact");
    assert_eq!(r.view(&[1; 32], 40).unwrap().views, 2);
    // A new link replaces the old one.
    assert_eq!(r.issue_link(pid(1), [4; 32], 50, DAY), Ok(Some([1; 32])));
    assert_eq!(r.view(&[1; 32], 60).unwrap_err(), RelayError::NoSuchLink);
    // Expired: refused, not counted.
    assert_eq!(r.view(&[4; 32], 50 + DAY).unwrap_err(), RelayError::Expired);
    assert_eq!(r.part(pid(1)).unwrap().views, 2);
    r.view(&[4; 32], 51).unwrap();
    // Withdrawn: the link stops at once; the contact still counts.
    assert_eq!(r.withdraw(Some(pid(2)), 70), Err(RelayError::NotConsented));
    r.withdraw(None, 70).unwrap();
    assert_eq!(r.view(&[4; 32], 71).unwrap_err(), RelayError::Withdrawn);
    assert_eq!(
        r.issue_link(pid(1), [5; 32], 72, DAY),
        Err(RelayError::NotConsented)
    );
    assert!(
        r.withdraw(Some(pid(1)), 73).is_ok(),
        "again: nothing changes"
    );
    assert_eq!(
        r.relayed_to().iter().collect::<Vec<_>>(),
        [PartnerOffer::Employment]
    );
}

#[test]
fn a_relay_round_trips_through_json_with_its_link_as_hex() {
    let mut r = relay(vec![choice(
        1,
        PartnerOffer::Employment,
        true,
        &["contact"],
    )])
    .unwrap();
    r.answer("2026-12", &BTreeMap::from([(pid(1), true)]), 5)
        .unwrap();
    r.issue_link(pid(1), [0xab; 32], 6, DAY).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(&"ab".repeat(32)), "{json}");
    assert_eq!(serde_json::from_str::<Relay>(&json).unwrap(), r);
}

proptest! {
    /// Whatever the visitor answers, a link works exactly for the partners
    /// they consented to, and none works after a withdrawal of all.
    #[test]
    fn links_work_exactly_where_consent_is_in_force(yes in proptest::collection::vec(any::<bool>(), 1..=MAX_PARTNERS)) {
        let choices = (0..yes.len())
            .map(|i| choice(i as u128 + 1, PartnerOffer::ALL[i], true, &["contact"]))
            .collect();
        let mut r = relay(choices).unwrap();
        let answers: BTreeMap<_, _> = yes.iter().enumerate().map(|(i, y)| (pid(i as u128 + 1), *y)).collect();
        r.answer("2026-12", &answers, 1).unwrap();
        for (i, y) in yes.iter().enumerate() {
            let issued = r.issue_link(pid(i as u128 + 1), [i as u8 + 1; 32], 2, DAY);
            prop_assert_eq!(issued.is_ok(), *y);
            prop_assert_eq!(r.view(&[i as u8 + 1; 32], 3).is_ok(), *y);
        }
        prop_assert_eq!(r.relayed_to().iter().count(), yes.iter().filter(|y| **y).count());
        let withdrew = r.withdraw(None, 4);
        prop_assert_eq!(withdrew.is_ok(), yes.iter().any(|y| *y));
        for i in 0..yes.len() {
            prop_assert!(r.view(&[i as u8 + 1; 32], 5).is_err());
        }
    }
}
