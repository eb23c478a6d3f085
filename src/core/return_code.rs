//! The return code (issue 22): what a visitor may take after a
//! conversation (or during it) to come back anonymously later and continue
//! the same case. Unlike the way-back code ([`super::way_back`], short,
//! single use, minutes) it is long-lived and reused, so it is long: 20
//! characters of the booking reference's alphabet ([`REF_ALPHABET`]: no
//! look-alikes), about 98.7 bits, shown in five groups of four
//! (`K7QP-M3XW-2ABC-DEFG-HJKM`); typed in any case, spaces and hyphens
//! ignored.

use crate::core::handoff::REF_ALPHABET;

/// Characters in a return code.
pub const RETURN_CODE_CHARS: usize = 20;

/// A return code in its canonical form: 20 upper-case characters, no
/// separator (what is hashed; never stored or logged as is).
#[derive(Clone, PartialEq, Eq)]
pub struct ReturnCode(String);

/// Never print a code by accident (a `{:?}` in a log line).
impl std::fmt::Debug for ReturnCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReturnCode(..)")
    }
}

impl ReturnCode {
    /// Build from 20 random bytes (the caller draws them from the OS).
    /// The alphabet's 32nd entry repeats its last symbol, so 5 bits index
    /// it: 30 symbols at 1/32 and one at 2/32, 4.94 bits a character.
    pub fn from_random(bytes: [u8; RETURN_CODE_CHARS]) -> ReturnCode {
        ReturnCode(super::typed_code::from_random(&bytes, REF_ALPHABET))
    }

    /// Parse what a person typed: case, spaces (also the ideographic
    /// space) and hyphens do not matter. `None` for anything that cannot
    /// be a code.
    pub fn parse(raw: &str) -> Option<ReturnCode> {
        super::typed_code::parse(raw, RETURN_CODE_CHARS, REF_ALPHABET, 128).map(ReturnCode)
    }

    /// The canonical form (hashed, never shown as is).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As shown to a person: five groups of four, `K7QP-M3XW-2ABC-DEFG-HJKM`.
    pub fn display(&self) -> String {
        super::typed_code::grouped(&self.0)
    }
}

/// Bits of a drawn code (the entropy of 20 draws from the alphabet as
/// indexed), for the documentation's "at least 80 bits".
pub fn code_bits() -> f64 {
    let mut counts = std::collections::HashMap::new();
    for b in REF_ALPHABET {
        *counts.entry(b).or_insert(0u32) += 1;
    }
    let per_char: f64 = counts
        .values()
        .map(|&n| {
            let p = f64::from(n) / 32.0;
            -p * p.log2()
        })
        .sum();
    per_char * RETURN_CODE_CHARS as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_code_carries_at_least_80_bits() {
        let bits = code_bits();
        assert!(bits >= 80.0, "{bits}");
        assert!((98.0..99.0).contains(&bits), "{bits}");
    }

    #[test]
    fn typing_ignores_case_spaces_and_hyphens() {
        let c = ReturnCode::parse("k7qp-m3xw-2abc-defg-hjkm").unwrap();
        assert_eq!(c.as_str(), "K7QPM3XW2ABCDEFGHJKM");
        assert_eq!(c.display(), "K7QP-M3XW-2ABC-DEFG-HJKM");
        assert_eq!(
            ReturnCode::parse(" K7QP M3XW\u{3000}2ABC DEFG HJKM ").unwrap(),
            c
        );
    }

    #[test]
    fn look_alikes_and_wrong_lengths_are_not_codes() {
        for bad in [
            "K7QP-M3XW-2ABC-DEFG-HJK",
            "K7QP-M3XW-2ABC-DEFG-HJKMM",
            "O7QP-M3XW-2ABC-DEFG-HJKM",
            "I7QP-M3XW-2ABC-DEFG-HJKM",
            "17QP-M3XW-2ABC-DEFG-HJKM",
            "07QP-M3XW-2ABC-DEFG-HJKM",
            "L7QP-M3XW-2ABC-DEFG-HJKM",
            "K7QP-M3XW",
            "",
        ] {
            assert!(ReturnCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_code() {
        let c = ReturnCode::from_random([7; RETURN_CODE_CHARS]);
        assert!(!format!("{c:?}").contains(c.as_str()));
    }

    proptest! {
        #[test]
        fn every_drawn_code_reads_back_from_its_display(bytes in any::<[u8; RETURN_CODE_CHARS]>()) {
            let c = ReturnCode::from_random(bytes);
            let shown = c.display();
            prop_assert_eq!(shown.len(), 24);
            prop_assert_eq!(ReturnCode::parse(&shown), Some(c.clone()));
            prop_assert_eq!(ReturnCode::parse(&shown.to_lowercase()), Some(c));
        }
    }
}
