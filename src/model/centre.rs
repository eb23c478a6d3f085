//! How the centre works: matching, and where else to turn.

use serde::{Deserialize, Serialize};

/// A round-the-clock service to offer when we cannot help right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// Name as shown on the Japanese page.
    pub name: String,
    pub contact: String,
    #[serde(default)]
    pub hours: String,
    /// English forms for the English page; the Japanese ones are shown when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_en: Option<String>,
    /// An emergency number (119, 110): the safety panel shows these first;
    /// the welcome page's list of other places to turn leaves them out
    /// (its emergency text names them already).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
}

impl Alternative {
    fn of(name: &str, name_en: &str, contact: &str, hours: &str, hours_en: &str) -> Self {
        Alternative {
            name: name.into(),
            contact: contact.into(),
            hours: hours.into(),
            name_en: Some(name_en.into()),
            hours_en: Some(hours_en.into()),
            emergency: false,
        }
    }

    /// What a default install offers (Japan), so that no page ever says
    /// "none configured": the emergency numbers and well-known national
    /// lines. A centre should check them and configure its own
    /// `[[alternatives]]` (README, "Configuration"); any configured list
    /// replaces this one whole.
    pub fn japan_defaults() -> Vec<Alternative> {
        vec![
            Alternative {
                emergency: true,
                ..Self::of(
                    "救急・火事",
                    "Ambulance / fire",
                    "119",
                    "24時間",
                    "24 hours",
                )
            },
            Alternative {
                emergency: true,
                ..Self::of("警察", "Police", "110", "24時間", "24 hours")
            },
            Self::of(
                "よりそいホットライン",
                "Yorisoi Hotline",
                "0120-279-338",
                "24時間",
                "24 hours",
            ),
            Self::of(
                "24時間子供SOSダイヤル",
                "24-hour Children's SOS Dial",
                "0120-0-78310",
                "24時間",
                "24 hours",
            ),
            Self::of(
                "いのちの電話",
                "Inochi no Denwa (lifeline)",
                "0570-783-556",
                "10:00〜22:00",
                "10:00-22:00",
            ),
        ]
    }
}

/// The round-the-clock services the pages offer (issue 23): the
/// configured ones (or [`Alternative::japan_defaults`]: the emergency
/// numbers and national lines) first, then the directory's partners that
/// offer round-the-clock help (their note is shown as their hours), each
/// contact once.
pub fn alternatives_with_directory(
    configured: &[Alternative],
    partners: &[super::Partner],
) -> Vec<Alternative> {
    use crate::core::partners::PartnerOffer;
    let mut out = configured.to_vec();
    for p in partners {
        let f = &p.fields;
        if !f.offers.contains(&PartnerOffer::RoundTheClock)
            || out.iter().any(|a| a.contact == f.contact)
        {
            continue;
        }
        out.push(Alternative {
            name: f.name_ja.clone(),
            contact: f.contact.clone(),
            hours: f.note_ja.clone(),
            name_en: (!f.name_en.is_empty()).then(|| f.name_en.clone()),
            hours_en: (!f.note_en.is_empty()).then(|| f.note_en.clone()),
            emergency: false,
        });
    }
    out
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchingMode {
    Auto,
    Manual,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::{AccountId, PartnerId};
    use crate::core::partners::{PartnerFields, PartnerOffer};
    use crate::model::Partner;

    fn partner(name: &str, contact: &str, offers: Vec<PartnerOffer>) -> Partner {
        Partner {
            id: PartnerId::new_random(),
            fields: PartnerFields {
                name_ja: name.into(),
                name_en: String::new(),
                offers,
                area: String::new(),
                age_bands: Vec::new(),
                contact: contact.into(),
                note_ja: "24時間".into(),
                note_en: "24 hours".into(),
                accepts_relays: false,
            },
            created_at_ms: 0,
            updated_at_ms: 0,
            updated_by: AccountId::new_random(),
        }
    }

    #[test]
    fn the_directorys_round_the_clock_partners_follow_the_configured_services() {
        let configured = Alternative::japan_defaults();
        let partners = [
            partner(
                "市の夜間こころの電話",
                "042-111-2222",
                vec![PartnerOffer::RoundTheClock, PartnerOffer::Medical],
            ),
            partner("就労支援", "042-333-4444", vec![PartnerOffer::Employment]),
            // The same line as a configured one: listed once.
            partner(
                "よりそい",
                "0120-279-338",
                vec![PartnerOffer::RoundTheClock],
            ),
        ];
        let all = alternatives_with_directory(&configured, &partners);
        assert_eq!(all.len(), configured.len() + 1);
        assert_eq!(&all[..configured.len()], &configured[..]);
        let local = all.last().unwrap();
        assert_eq!(
            (
                local.name.as_str(),
                local.contact.as_str(),
                local.hours.as_str()
            ),
            ("市の夜間こころの電話", "042-111-2222", "24時間")
        );
        assert_eq!(
            local.name_en, None,
            "no English name: the Japanese one is shown"
        );
        assert_eq!(local.hours_en.as_deref(), Some("24 hours"));
        assert!(!local.emergency);
    }
}
