//! Codes a person reads and types back: the way-back code, the return
//! code and the second factor's recovery codes. One place for how they
//! are drawn from random bytes, read back from what was typed (case,
//! spaces, the ideographic space and hyphens do not matter) and shown in
//! groups of four.

/// `bytes.len()` symbols of a 32-entry `alphabet`, 5 bits of each byte
/// choosing one (the caller draws the bytes from the OS).
pub fn from_random(bytes: &[u8], alphabet: &[u8; 32]) -> String {
    bytes
        .iter()
        .map(|b| alphabet[usize::from(b & 31)] as char)
        .collect()
}

/// What a person typed, as `len` symbols of `alphabet` (upper case), or
/// `None` for anything that cannot be such a code. Input longer than
/// `max_raw` bytes is refused before any work.
pub fn parse(raw: &str, len: usize, alphabet: &[u8], max_raw: usize) -> Option<String> {
    if raw.len() > max_raw {
        return None;
    }
    let s: String = raw
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == len && s.bytes().all(|b| alphabet.contains(&b))).then_some(s)
}

/// As shown to a person: groups of four joined by hyphens
/// (`K7QP-M3XW-4HZD`).
pub fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

    #[test]
    fn typed_forms_read_back_and_groups_of_four() {
        assert_eq!(parse("k7qp m3xw", 8, A, 64).as_deref(), Some("K7QPM3XW"));
        assert_eq!(
            parse("K7QP\u{3000}-M3XW", 8, A, 64).as_deref(),
            Some("K7QPM3XW")
        );
        assert_eq!(parse("K7QP-M3X", 8, A, 64), None, "too short");
        assert_eq!(
            parse("K7QP-M3X0", 8, A, 64),
            None,
            "0 is not in the alphabet"
        );
        assert_eq!(parse(&"A".repeat(65), 8, A, 64), None, "too long to read");
        assert_eq!(grouped("K7QPM3XW4HZD"), "K7QP-M3XW-4HZD");
        assert_eq!(grouped("K7QPM3XW"), "K7QP-M3XW");
    }

    proptest! {
        #[test]
        fn every_drawn_code_reads_back_from_its_shown_form(bytes in proptest::collection::vec(any::<u8>(), 1..24)) {
            let code = from_random(&bytes, A);
            prop_assert_eq!(code.len(), bytes.len());
            let shown = grouped(&code).to_lowercase();
            prop_assert_eq!(parse(&shown, bytes.len(), A, 128), Some(code));
        }
    }
}
