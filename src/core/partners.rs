//! The directory of partner services (issue 23): the other services a
//! centre connects people onwards to (medical, welfare, employment,
//! education, child and family, legal, peer groups, family classes, ...).
//! Admins keep it; counsellors are offered the partners that fit when
//! they refer. Pure: the rules of one entry, and which partners fit.

use serde::{Deserialize, Serialize};

use crate::core::prechat::AgeBand;

/// Entries the directory holds at most: a centre's partners are tens,
/// and the console reads the whole list.
pub const DIRECTORY_MAX: usize = 300;
/// A name's length at most (each language).
pub const NAME_MAX_CHARS: usize = 100;
/// The area's length at most ("八王子市", "東京都全域").
pub const AREA_MAX_CHARS: usize = 100;
/// How to reach them (phone, address, web page), at most.
pub const CONTACT_MAX_CHARS: usize = 300;
/// What they offer, in words (each language), at most.
pub const NOTE_MAX_CHARS: usize = 500;

/// What a partner offers; the console filters by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerOffer {
    Medical,
    Welfare,
    Employment,
    Education,
    ChildFamily,
    Legal,
    PeerGroup,
    FamilyClass,
    /// A round-the-clock line (a crisis line, 24-hour support).
    RoundTheClock,
    Other,
}

impl PartnerOffer {
    pub const ALL: [PartnerOffer; 10] = [
        PartnerOffer::Medical,
        PartnerOffer::Welfare,
        PartnerOffer::Employment,
        PartnerOffer::Education,
        PartnerOffer::ChildFamily,
        PartnerOffer::Legal,
        PartnerOffer::PeerGroup,
        PartnerOffer::FamilyClass,
        PartnerOffer::RoundTheClock,
        PartnerOffer::Other,
    ];
}

/// A set of [`PartnerOffer`]s, small and `Copy` (the kinds of service a
/// conversation referred to, in its anonymous facts). On the wire and
/// stored: a list of offers, in their fixed order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OfferSet(u16);

impl OfferSet {
    pub fn insert(&mut self, o: PartnerOffer) {
        self.0 |= 1 << (o as u16);
    }

    pub fn union(self, other: OfferSet) -> OfferSet {
        OfferSet(self.0 | other.0)
    }

    pub fn contains(self, o: PartnerOffer) -> bool {
        self.0 & (1 << (o as u16)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = PartnerOffer> {
        PartnerOffer::ALL
            .into_iter()
            .filter(move |o| self.contains(*o))
    }
}

impl FromIterator<PartnerOffer> for OfferSet {
    fn from_iter<I: IntoIterator<Item = PartnerOffer>>(it: I) -> Self {
        let mut s = OfferSet::default();
        for o in it {
            s.insert(o);
        }
        s
    }
}

impl Serialize for OfferSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for OfferSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<PartnerOffer>::deserialize(d)?.into_iter().collect())
    }
}

/// One entry as an admin writes it (checked by [`check`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerFields {
    pub name_ja: String,
    /// Empty: the Japanese name is shown in English too.
    #[serde(default)]
    pub name_en: String,
    pub offers: Vec<PartnerOffer>,
    /// Where they serve; empty: anywhere.
    #[serde(default)]
    pub area: String,
    /// The age bands they serve; empty: every age.
    #[serde(default)]
    pub age_bands: Vec<AgeBand>,
    pub contact: String,
    #[serde(default)]
    pub note_ja: String,
    #[serde(default)]
    pub note_en: String,
    /// They take relays (a consented relay sheet, issue 23): only those
    /// can be chosen for one.
    #[serde(default)]
    pub accepts_relays: bool,
}

/// Why an entry is refused (the field is named in the message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PartnerInvalid {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must be one line without control characters")]
    Control { field: &'static str },
    #[error("offers must name at least one kind of service, each once")]
    Offers,
    #[error("age_bands must name each band once, and not rather_not_say")]
    AgeBands,
}

fn line(
    field: &'static str,
    v: &str,
    max: usize,
    required: bool,
) -> Result<String, PartnerInvalid> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(PartnerInvalid::Empty { field });
    }
    if v.chars().any(char::is_control) {
        return Err(PartnerInvalid::Control { field });
    }
    if v.chars().count() > max {
        return Err(PartnerInvalid::TooLong { field, max });
    }
    Ok(v.to_owned())
}

fn text(field: &'static str, v: &str, max: usize) -> Result<String, PartnerInvalid> {
    let v = v.trim();
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(PartnerInvalid::Control { field });
    }
    if v.chars().count() > max {
        return Err(PartnerInvalid::TooLong { field, max });
    }
    Ok(v.to_owned())
}

/// Check and tidy an entry: names, area and contact trimmed, one line;
/// notes trimmed; offers and age bands each once, in a fixed order.
pub fn check(f: PartnerFields) -> Result<PartnerFields, PartnerInvalid> {
    let mut offers = f.offers.clone();
    offers.sort();
    offers.dedup();
    if offers.is_empty() || offers.len() != f.offers.len() {
        return Err(PartnerInvalid::Offers);
    }
    let mut ages = f.age_bands.clone();
    ages.sort_by_key(|a| *a as u8);
    ages.dedup();
    if ages.len() != f.age_bands.len() || ages.contains(&AgeBand::RatherNotSay) {
        return Err(PartnerInvalid::AgeBands);
    }
    Ok(PartnerFields {
        name_ja: line("name_ja", &f.name_ja, NAME_MAX_CHARS, true)?,
        name_en: line("name_en", &f.name_en, NAME_MAX_CHARS, false)?,
        offers,
        area: line("area", &f.area, AREA_MAX_CHARS, false)?,
        age_bands: ages,
        contact: line("contact", &f.contact, CONTACT_MAX_CHARS, true)?,
        note_ja: text("note_ja", &f.note_ja, NOTE_MAX_CHARS)?,
        note_en: text("note_en", &f.note_en, NOTE_MAX_CHARS)?,
        accepts_relays: f.accepts_relays,
    })
}

/// Does a partner with these fields fit a person of `age` (their
/// pre-chat answer; unknown or not said: every partner fits) who needs
/// `offer` (none: any)?
pub fn fits(f: &PartnerFields, age: Option<AgeBand>, offer: Option<PartnerOffer>) -> bool {
    let age_fits = match age {
        None | Some(AgeBand::RatherNotSay) => true,
        Some(a) => f.age_bands.is_empty() || f.age_bands.contains(&a),
    };
    let offer_fits = offer.is_none_or(|o| f.offers.contains(&o));
    age_fits && offer_fits
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields() -> PartnerFields {
        PartnerFields {
            name_ja: " 八王子市子ども家庭支援センター ".into(),
            name_en: "Hachioji Child and Family Support Centre".into(),
            offers: vec![PartnerOffer::ChildFamily, PartnerOffer::Education],
            area: "八王子市".into(),
            age_bands: vec![AgeBand::Teens],
            contact: "042-000-0000（平日 9:00-17:00）".into(),
            note_ja: "18歳未満の相談。\n家族からの相談も。".into(),
            note_en: String::new(),
            accepts_relays: true,
        }
    }

    #[test]
    fn an_entry_is_tidied_and_its_offers_ordered() {
        let f = check(fields()).unwrap();
        assert_eq!(f.name_ja, "八王子市子ども家庭支援センター");
        assert_eq!(
            f.offers,
            vec![PartnerOffer::Education, PartnerOffer::ChildFamily]
        );
        assert_eq!(f.note_ja, "18歳未満の相談。\n家族からの相談も。");
    }

    #[test]
    fn bad_entries_are_refused_with_the_field_named() {
        let bad = |f: PartnerFields| check(f).unwrap_err();
        assert_eq!(
            bad(PartnerFields {
                name_ja: "  ".into(),
                ..fields()
            }),
            PartnerInvalid::Empty { field: "name_ja" }
        );
        assert_eq!(
            bad(PartnerFields {
                contact: "a\nb".into(),
                ..fields()
            }),
            PartnerInvalid::Control { field: "contact" }
        );
        assert_eq!(
            bad(PartnerFields {
                offers: vec![],
                ..fields()
            }),
            PartnerInvalid::Offers
        );
        assert_eq!(
            bad(PartnerFields {
                offers: vec![PartnerOffer::Legal, PartnerOffer::Legal],
                ..fields()
            }),
            PartnerInvalid::Offers
        );
        assert_eq!(
            bad(PartnerFields {
                age_bands: vec![AgeBand::RatherNotSay],
                ..fields()
            }),
            PartnerInvalid::AgeBands
        );
        assert!(matches!(
            bad(PartnerFields {
                area: "区".repeat(AREA_MAX_CHARS + 1),
                ..fields()
            }),
            PartnerInvalid::TooLong { field: "area", .. }
        ));
    }

    #[test]
    fn an_offer_set_keeps_each_offer_once_in_order_and_round_trips() {
        let set: OfferSet = [
            PartnerOffer::Legal,
            PartnerOffer::Medical,
            PartnerOffer::Legal,
        ]
        .into_iter()
        .collect();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![PartnerOffer::Medical, PartnerOffer::Legal]
        );
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["medical","legal"]"#);
        assert_eq!(serde_json::from_str::<OfferSet>(&json).unwrap(), set);
        for o in PartnerOffer::ALL {
            let one: OfferSet = [o].into_iter().collect();
            assert!(one.contains(o) && one.iter().count() == 1);
        }
        assert!(OfferSet::default().is_empty());
    }

    #[test]
    fn a_partner_fits_by_age_band_and_need() {
        let teens = check(fields()).unwrap();
        assert!(fits(
            &teens,
            Some(AgeBand::Teens),
            Some(PartnerOffer::ChildFamily)
        ));
        assert!(
            !fits(&teens, Some(AgeBand::Thirties), None),
            "under-18s only"
        );
        assert!(!fits(
            &teens,
            Some(AgeBand::Teens),
            Some(PartnerOffer::Medical)
        ));
        assert!(fits(&teens, None, None), "unknown age: shown");
        assert!(fits(&teens, Some(AgeBand::RatherNotSay), None));
        let everyone = PartnerFields {
            age_bands: vec![],
            ..teens
        };
        assert!(fits(&everyone, Some(AgeBand::FiftyPlus), None));
    }

    fn band() -> impl Strategy<Value = AgeBand> {
        prop_oneof![
            Just(AgeBand::Teens),
            Just(AgeBand::Twenties),
            Just(AgeBand::Thirties),
            Just(AgeBand::Forties),
            Just(AgeBand::FiftyPlus),
        ]
    }

    proptest! {
        /// Fitting is exactly "serves that age (or every age) and offers
        /// that (or no need given)": narrowing the need never adds one.
        #[test]
        fn fitting_never_widens_with_a_need(
            ages in proptest::collection::btree_set(0usize..5, 0..5),
            offers in proptest::collection::btree_set(0usize..10, 1..5),
            age in band(),
            need in 0usize..10,
        ) {
            let bands = [AgeBand::Teens, AgeBand::Twenties, AgeBand::Thirties, AgeBand::Forties, AgeBand::FiftyPlus];
            let f = PartnerFields {
                age_bands: ages.iter().map(|i| bands[*i]).collect(),
                offers: offers.iter().map(|i| PartnerOffer::ALL[*i]).collect(),
                ..fields()
            };
            let need = PartnerOffer::ALL[need];
            if fits(&f, Some(age), Some(need)) {
                prop_assert!(fits(&f, Some(age), None));
                prop_assert!(f.offers.contains(&need));
            }
            prop_assert_eq!(
                fits(&f, Some(age), None),
                f.age_bands.is_empty() || f.age_bands.contains(&age)
            );
        }
    }
}
