//! The second factor's pure rules (issue 21): which TOTP time steps a
//! code may match at a given moment (RFC 6238: 30-second steps, the
//! current one and one either side), the replay rule (a step once used
//! is never accepted again, nor any step before it), and the recovery
//! codes' form.
//!
//! The code of a step is computed by the `totp-rs` crate in the service;
//! here are only the decisions around it, so they can be tested
//! exhaustively without a clock or a secret.

/// Length of a TOTP time step, in seconds (RFC 6238's default; every
/// authenticator app uses it).
pub const STEP_SECS: u64 = 30;

/// Steps accepted either side of the current one (clock drift between the
/// phone and the server, and the seconds a person takes to type).
pub const SKEW_STEPS: u64 = 1;

/// Digits of a code.
pub const DIGITS: usize = 6;

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

/// The time step `now_ms` falls in.
pub fn step_at(now_ms: u64) -> u64 {
    now_ms / 1000 / STEP_SECS
}

/// The steps a code may match at `now_ms`, oldest first: the current step
/// and [`SKEW_STEPS`] either side (none below 0).
pub fn window(now_ms: u64) -> Vec<u64> {
    let now = step_at(now_ms);
    (now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS)).collect()
}

/// The replay rule. `matching` are the steps of the window whose code
/// equals the one typed; `last_used` is the newest step a code was
/// accepted for on this account (`None`: never). The step to accept is
/// the oldest matching step after `last_used`; `None` refuses the code
/// (wrong, or already used: a code, or an older one, cannot be used
/// twice, so someone who saw it typed cannot replay it).
pub fn accept(matching: &[u64], last_used: Option<u64>) -> Option<u64> {
    matching
        .iter()
        .copied()
        .filter(|s| last_used.is_none_or(|l| *s > l))
        .min()
}

/// A code as typed: 6 digits once spaces (and full-width digits, which a
/// Japanese keyboard may give) are taken out; `None` for anything else.
pub fn parse_code(raw: &str) -> Option<String> {
    if raw.len() > 64 {
        return None;
    }
    let s: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}' | '-'))
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            c => c,
        })
        .collect();
    (s.len() == DIGITS && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

/// The recovery codes' alphabet: 32 symbols with no look-alikes (no 0/O,
/// 1/I), so 5 bits each.
pub const RECOVERY_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Characters of a recovery code: 12 x 5 = 60 random bits.
pub const RECOVERY_CHARS: usize = 12;

/// A recovery code in its canonical form: 12 upper-case characters, no
/// separator (what is hashed and stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// Build from random bytes (the caller draws them from the OS).
    pub fn from_random(bytes: [u8; RECOVERY_CHARS]) -> RecoveryCode {
        RecoveryCode(super::typed_code::from_random(&bytes, RECOVERY_ALPHABET))
    }

    /// Parse what a person typed: case, spaces and hyphens do not matter.
    pub fn parse(raw: &str) -> Option<RecoveryCode> {
        super::typed_code::parse(raw, RECOVERY_CHARS, RECOVERY_ALPHABET, 64).map(RecoveryCode)
    }

    /// The canonical form (hashed, never stored as is).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As shown to a person: `K7QP-M3XW-4HZD`.
    pub fn display(&self) -> String {
        super::typed_code::grouped(&self.0)
    }
}

/// RFC 4648 base32 without padding: how a TOTP secret is written in an
/// `otpauth://` URI and typed into an authenticator app by hand.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_window_is_the_step_and_one_either_side() {
        assert_eq!(window(0), vec![0, 1]);
        assert_eq!(window(29_999), vec![0, 1]);
        assert_eq!(window(30_000), vec![0, 1, 2]);
        assert_eq!(window(59_000_000_000), {
            let s = 59_000_000 / 30;
            vec![s - 1, s, s + 1]
        });
    }

    #[test]
    fn a_used_step_or_an_older_one_is_refused() {
        assert_eq!(accept(&[10], None), Some(10));
        assert_eq!(accept(&[10], Some(10)), None, "replay");
        assert_eq!(accept(&[9], Some(10)), None, "older");
        assert_eq!(accept(&[11], Some(10)), Some(11));
        assert_eq!(accept(&[], None), None, "wrong code");
        // Two steps with the same code (1 in a million): the oldest unused.
        assert_eq!(accept(&[9, 11], Some(9)), Some(11));
        assert_eq!(accept(&[9, 11], None), Some(9));
    }

    #[test]
    fn codes_are_six_digits_spaces_and_full_width_allowed() {
        assert_eq!(parse_code("123456").as_deref(), Some("123456"));
        assert_eq!(parse_code("123 456").as_deref(), Some("123456"));
        assert_eq!(parse_code("１２３４５６").as_deref(), Some("123456"));
        for bad in ["", "12345", "1234567", "12345a", "۱۲۳۴۵۶", &"1".repeat(100)] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recovery_codes_read_back_in_any_case() {
        let c = RecoveryCode::parse("k7qp-m3xw-4hzd").unwrap();
        assert_eq!(c.as_str(), "K7QPM3XW4HZD");
        assert_eq!(c.display(), "K7QP-M3XW-4HZD");
        assert_eq!(RecoveryCode::parse(" K7QP M3XW 4HZD ").unwrap(), c);
        for bad in ["", "K7QP-M3XW", "K7QP-M3XW-4HZ0", "K7QP-M3XW-4HZDX"] {
            assert_eq!(RecoveryCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base32_is_rfc_4648() {
        // RFC 4648, section 10 (without the padding).
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(raw.as_bytes()), enc);
        }
        // RFC 6238's test secret.
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    proptest! {
        /// Whatever was used before, an accepted step is after it and in
        /// the window; and accepting it then refuses every step up to it.
        #[test]
        fn no_step_is_accepted_twice(
            now in 0u64..4_000_000_000_000,
            picks in proptest::collection::vec(0usize..3, 0..3),
            last in proptest::option::of(0u64..200_000_000),
        ) {
            let w = window(now);
            let matching: Vec<u64> = picks.iter().filter_map(|i| w.get(*i).copied()).collect();
            if let Some(s) = accept(&matching, last) {
                prop_assert!(matching.contains(&s));
                prop_assert!(last.is_none_or(|l| s > l));
                prop_assert!(w.contains(&s));
                // Now s is the last used: nothing at or before it passes.
                let older: Vec<u64> = matching.iter().copied().filter(|m| *m <= s).collect();
                prop_assert_eq!(accept(&older, Some(s)), None);
            } else {
                prop_assert!(matching.iter().all(|m| last.is_some_and(|l| *m <= l)));
            }
        }

        #[test]
        fn the_window_holds_now_and_is_at_most_three_steps(now in any::<u64>()) {
            let w = window(now);
            prop_assert!(w.contains(&step_at(now)));
            prop_assert!(w.len() <= 3 && !w.is_empty());
            prop_assert!(w.windows(2).all(|p| p[1] == p[0] + 1));
        }

        #[test]
        fn every_drawn_recovery_code_reads_back(bytes in any::<[u8; RECOVERY_CHARS]>()) {
            let c = RecoveryCode::from_random(bytes);
            prop_assert_eq!(RecoveryCode::parse(&c.display()), Some(c.clone()));
            prop_assert_eq!(RecoveryCode::parse(&c.display().to_lowercase()), Some(c));
        }
    }
}
