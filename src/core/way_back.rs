//! The way-back code: 8 characters a visitor asks for during a
//! conversation and types on the welcome page after a quick exit, to come
//! back to that conversation (once, within its validity). The alphabet is
//! the booking reference's ([`REF_ALPHABET`]): no look-alikes. Shown
//! grouped 4-4 (`K7QP-M3XW`); typed in any case, spaces and hyphens
//! ignored.

use crate::core::handoff::REF_ALPHABET;

/// A way-back code in its canonical form: 8 upper-case characters, no
/// separator (what is hashed and stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WayBackCode(String);

impl WayBackCode {
    /// Build from 8 random bytes (the caller draws them from the OS).
    pub fn from_random(bytes: [u8; 8]) -> WayBackCode {
        // The alphabet's 32nd entry repeats its last symbol (see the
        // booking reference): 5 bits index it without going out of range.
        WayBackCode(super::typed_code::from_random(&bytes, REF_ALPHABET))
    }

    /// Parse what a person typed: case, spaces and hyphens do not matter.
    /// `None` for anything that cannot be a code.
    pub fn parse(raw: &str) -> Option<WayBackCode> {
        super::typed_code::parse(raw, 8, REF_ALPHABET, 64).map(WayBackCode)
    }

    /// The canonical form (hashed and stored, never shown as is).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As shown to a person: `K7QP-M3XW`.
    pub fn display(&self) -> String {
        super::typed_code::grouped(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typing_ignores_case_spaces_and_hyphens() {
        let c = WayBackCode::parse("k7qp-m3xw").unwrap();
        assert_eq!(c.as_str(), "K7QPM3XW");
        assert_eq!(c.display(), "K7QP-M3XW");
        assert_eq!(WayBackCode::parse(" K7QP M3XW ").unwrap(), c);
        assert_eq!(WayBackCode::parse("K7QPM3XW").unwrap(), c);
    }

    #[test]
    fn look_alikes_and_wrong_lengths_are_not_codes() {
        for bad in [
            "K7QP-M3X",
            "K7QP-M3XWW",
            "O7QP-M3XW",
            "I7QP-M3XW",
            "17QP-M3XW",
            "07QPM3XW",
            "",
            "ＫＫＫＫＫＫＫＫ",
        ] {
            assert!(WayBackCode::parse(bad).is_none(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_drawn_code_reads_back_from_its_display(bytes in any::<[u8; 8]>()) {
            let c = WayBackCode::from_random(bytes);
            prop_assert_eq!(WayBackCode::parse(&c.display()), Some(c.clone()));
            prop_assert_eq!(WayBackCode::parse(&c.display().to_lowercase()), Some(c));
        }
    }
}
