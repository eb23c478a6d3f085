//! Risk triage: configurable phrase rules applied to what a waiting visitor
//! writes. Pure: text in, hits out; no I/O, no clock, no logging.
//!
//! Owns the folding that makes "死にたい", "シニタイ", "ｼﾆﾀｲ" and "しにたーい"
//! compare equal, and the rule file format (`deploy/triage-rules.toml` is the
//! default list, embedded below). What to do with a hit (raise the priority,
//! alert the supervisors) is the service's job.
//!
//! Must never: reply to a visitor, or return or log the matched text. A hit
//! names the rule only, so callers cannot leak what the visitor wrote.
//!
//! Honest limits (also in `docs/TRIAGE.md`): this is substring matching on
//! folded text. It misses anything phrased differently from the list (false
//! negatives) and flags quotes, jokes and talk about third parties (false
//! positives). It is an aid for ordering a busy queue, never a clinical
//! assessment; counsellors can always change the level by hand.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::queue::Priority;

/// The default rule list, shipped in `deploy/triage-rules.toml`.
pub const DEFAULT_RULES: &str = include_str!("../../deploy/triage-rules.toml");

/// How worried we are about a conversation. Ordered: `None < Watch < Urgent`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Nothing known.
    #[default]
    None,
    /// Marked for attention (alerts supervisors); the queue order is unchanged.
    Watch,
    /// Danger to life: ahead of non-urgent visitors in the queue.
    Urgent,
}

impl RiskLevel {
    /// The queue class this level gives.
    pub fn priority(self) -> Priority {
        match self {
            RiskLevel::Urgent => Priority::Urgent,
            RiskLevel::None | RiskLevel::Watch => Priority::Normal,
        }
    }
}

// ------------------------------------------------------------- folding

/// Fold text so that spelling variants compare equal: NFKC-style width
/// folding (full-width ASCII and the ideographic space to ASCII, half-width
/// katakana to full-width with their voicing marks composed), katakana to
/// hiragana, small kana to large, lower case, and the long-vowel mark and
/// wave dashes dropped. Everything else is kept as it is.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // Voicing marks (half-width, spacing and combining) join the
            // kana before them when that kana has a voiced form.
            '\u{FF9E}' | '\u{309B}' | '\u{3099}' => {
                if !compose_onto_last(&mut out, Voicing::Dakuten) {
                    out.push('\u{3099}');
                }
            }
            '\u{FF9F}' | '\u{309C}' | '\u{309A}' => {
                if !compose_onto_last(&mut out, Voicing::Handakuten) {
                    out.push('\u{309A}');
                }
            }
            // Long-vowel marks and wave dashes: "しにたーい" is "しにたい".
            'ー' | 'ｰ' | '〜' | '～' | '~' | '\u{2015}' => {}
            _ => {
                let c = widen_half_width_kana(c).unwrap_or(c);
                let c = narrow_full_width_ascii(c);
                let c = katakana_to_hiragana(c);
                let c = small_to_large_kana(c);
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

fn narrow_full_width_ascii(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn katakana_to_hiragana(c: char) -> char {
    match c {
        // ァ..ヶ -> ぁ..ゖ, and the iteration marks ヽヾ -> ゝゞ.
        '\u{30A1}'..='\u{30F6}' | '\u{30FD}'..='\u{30FE}' => {
            char::from_u32(c as u32 - 0x60).unwrap_or(c)
        }
        _ => c,
    }
}

fn small_to_large_kana(c: char) -> char {
    match c {
        'ぁ' => 'あ',
        'ぃ' => 'い',
        'ぅ' => 'う',
        'ぇ' => 'え',
        'ぉ' => 'お',
        'っ' => 'つ',
        'ゃ' => 'や',
        'ゅ' => 'ゆ',
        'ょ' => 'よ',
        'ゎ' => 'わ',
        'ゕ' => 'か',
        'ゖ' => 'け',
        _ => c,
    }
}

/// Half-width katakana (U+FF61..U+FF9D) to their full-width forms.
fn widen_half_width_kana(c: char) -> Option<char> {
    const TABLE: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
    let i = (c as u32).checked_sub(0xFF61)? as usize;
    TABLE.chars().nth(i)
}

#[derive(Clone, Copy)]
enum Voicing {
    Dakuten,
    Handakuten,
}

/// Replace the last character of `out` by its voiced form; false if it has none.
fn compose_onto_last(out: &mut String, v: Voicing) -> bool {
    let Some(last) = out.chars().last() else {
        return false;
    };
    let voiced = match (v, last) {
        (Voicing::Dakuten, 'う') => Some('ゔ'),
        // か..ぢ, つ..ど: the voiced form is the next code point, for the
        // unvoiced ones (which sit at even offsets from か, or odd from つ).
        (Voicing::Dakuten, 'か'..='ぢ') if (last as u32 - 'か' as u32) % 2 == 0 => {
            char::from_u32(last as u32 + 1)
        }
        (Voicing::Dakuten, 'つ'..='ど') if (last as u32 - 'つ' as u32) % 2 == 0 => {
            char::from_u32(last as u32 + 1)
        }
        (Voicing::Dakuten, 'は'..='ぽ') if (last as u32 - 'は' as u32) % 3 == 0 => {
            char::from_u32(last as u32 + 1)
        }
        (Voicing::Handakuten, 'は'..='ぽ') if (last as u32 - 'は' as u32) % 3 == 0 => {
            char::from_u32(last as u32 + 2)
        }
        _ => None,
    };
    match voiced {
        Some(v) => {
            out.pop();
            out.push(v);
            true
        }
        None => false,
    }
}

/// Folded text with spaces and punctuation removed: Japanese patterns match
/// across "死 に た い" or "死に、たい".
fn compact(folded: &str) -> Vec<char> {
    folded.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Folded text as ASCII words separated by single spaces; apostrophes are
/// dropped ("don't" is "dont") and everything else that is not an ASCII
/// letter or digit separates words (including Japanese text around them).
fn words(folded: &str) -> Vec<char> {
    let mut out = vec![' '];
    for c in folded.chars() {
        if c == '\'' || c == '’' {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if out.last() != Some(&' ') {
            out.push(' ');
        }
    }
    if out.last() != Some(&' ') {
        out.push(' ');
    }
    out
}

// ---------------------------------------------------------------- rules

/// How one pattern is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// Anywhere in the compact text.
    Contains(Vec<char>),
    /// As whole words (kept with a space on each side).
    Words(Vec<char>),
}

impl Pattern {
    fn parse(raw: &str) -> Option<Pattern> {
        let folded = fold(raw);
        if folded.is_ascii() {
            let w = words(&folded);
            (w.len() > 2).then_some(Pattern::Words(w))
        } else {
            let c = compact(&folded);
            (!c.is_empty()).then_some(Pattern::Contains(c))
        }
    }

    /// Spans `[start, end)` where the pattern occurs in its own view of the
    /// text, found lazily. Every visitor message is checked against every
    /// pattern, so a position is compared whole only when its first
    /// character matches (a slice comparison per position was 6 % of the
    /// server's CPU in the relay profile).
    fn spans<'a>(&'a self, text: &'a Views) -> impl Iterator<Item = (usize, usize, bool)> + 'a {
        let (needle, hay, is_words) = match self {
            Pattern::Contains(n) => (n, &text.compact, false),
            Pattern::Words(n) => (n, &text.words, true),
        };
        // Patterns are never empty (`parse`).
        let starts = (hay.len() + 1).saturating_sub(needle.len());
        (0..starts)
            .filter(move |&i| hay[i] == needle[0] && hay[i..i + needle.len()] == needle[..])
            .map(move |i| (i, i + needle.len(), is_words))
    }
}

struct Views {
    compact: Vec<char>,
    words: Vec<char>,
}

/// One rule: any of its patterns, unless inside one of its exceptions.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub category: String,
    pub level: RiskLevel,
    patterns: Vec<Pattern>,
    except: Vec<Pattern>,
}

impl Rule {
    fn matches(&self, text: &Views) -> bool {
        let mut hits = self.patterns.iter().flat_map(|p| p.spans(text)).peekable();
        // Most messages match no pattern: nothing is allocated for them.
        if hits.peek().is_none() {
            return false;
        }
        let excepted: Vec<(usize, usize, bool)> =
            self.except.iter().flat_map(|e| e.spans(text)).collect();
        hits.any(|(s, e, w)| {
            !excepted
                .iter()
                .any(|&(xs, xe, xw)| xw == w && xs <= s && e <= xe)
        })
    }
}

/// A rule that matched. Carries no text from the message, by design.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Hit {
    pub rule: String,
    pub category: String,
    pub level: RiskLevel,
}

/// A parsed, checked rule list.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RulesError {
    #[error("the rules file is not valid TOML: {0}")]
    Toml(String),
    #[error("unsupported rules file version {0} (this server reads version 1)")]
    Version(u32),
    #[error("rule {index}: {problem}")]
    Rule { index: usize, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    version: u32,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    category: String,
    level: RiskLevel,
    patterns: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
}

/// Ids and categories: 1-64 characters of `a-z 0-9 . _ -`, so they are safe
/// to log and to show.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl Rules {
    /// The rules shipped with the server.
    pub fn default_rules() -> Rules {
        // unwrap: the embedded file is checked by a unit test.
        Rules::parse(DEFAULT_RULES).unwrap()
    }

    /// Parse a rules file (format in `deploy/triage-rules.toml`).
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| RulesError::Toml(e.to_string()))?;
        if file.version != 1 {
            return Err(RulesError::Version(file.version));
        }
        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(file.rule.len());
        for (index, r) in file.rule.into_iter().enumerate() {
            let bad = |problem: String| RulesError::Rule { index, problem };
            if !valid_name(&r.id) || !valid_name(&r.category) {
                return Err(bad(
                    "`id` and `category` must be 1-64 characters of a-z, 0-9, '.', '_' or '-'"
                        .into(),
                ));
            }
            if !ids.insert(r.id.clone()) {
                return Err(bad(format!("the id {} appears twice", r.id)));
            }
            if r.level == RiskLevel::None {
                return Err(bad("`level` must be \"urgent\" or \"watch\"".into()));
            }
            let parse_all = |list: &[String], what: &str| {
                list.iter()
                    .map(|p| {
                        Pattern::parse(p)
                            .ok_or_else(|| bad(format!("an empty {what} in rule {}", r.id)))
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            let patterns = parse_all(&r.patterns, "pattern")?;
            if patterns.is_empty() {
                return Err(bad(format!("rule {} has no patterns", r.id)));
            }
            let except = parse_all(&r.except, "exception")?;
            rules.push(Rule {
                id: r.id,
                category: r.category,
                level: r.level,
                patterns,
                except,
            });
        }
        Ok(Rules { rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule the text matches, in file order.
    pub fn check(&self, text: &str) -> Vec<Hit> {
        let folded = fold(text);
        let views = Views {
            compact: compact(&folded),
            words: words(&folded),
        };
        self.rules
            .iter()
            .filter(|r| r.matches(&views))
            .map(|r| Hit {
                rule: r.id.clone(),
                category: r.category.clone(),
                level: r.level,
            })
            .collect()
    }
}

/// The highest level among hits.
pub fn level_of(hits: &[Hit]) -> RiskLevel {
    hits.iter().map(|h| h.level).max().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(rules: &Rules, text: &str) -> Vec<String> {
        rules.check(text).into_iter().map(|h| h.rule).collect()
    }

    #[test]
    fn width_case_and_kana_variants_fold_together() {
        assert_eq!(fold("ＡＢＣ　ｄｅｆ１２３"), "abc def123");
        assert_eq!(fold("シニタイ"), "しにたい");
        assert_eq!(fold("ｼﾆﾀｲ"), "しにたい");
        assert_eq!(fold("しにたーい"), "しにたい");
        assert_eq!(fold("ｶﾞｷﾞｸﾞﾊﾟﾋﾟｳﾞ"), "がぎぐぱぴゔ");
        // Combining voicing marks compose like precomposed ones.
        assert_eq!(fold("か\u{3099}"), "が");
        assert_eq!(fold("は\u{309A}"), "ぱ");
        // A voicing mark on a kana that has no voiced form is kept.
        assert_eq!(fold("あ\u{3099}"), "あ\u{3099}");
        assert_eq!(fold("ﾘｽﾄｶｯﾄ"), fold("リストカット"));
        assert_eq!(fold("リストカット"), "りすとかつと");
        assert_eq!(fold("Kill MYSELF"), "kill myself");
        assert_eq!(fold("漢字はそのまま"), "漢字はそのまま");
    }

    #[test]
    fn every_voiced_kana_composes_from_its_base() {
        // The whole table: base + combining mark == precomposed (as NFC does).
        for (base, voiced) in "かきくけこさしすせそたちつてとはひふへほ"
            .chars()
            .zip("がぎぐげござじずぜぞだぢづでどばびぶべぼ".chars())
        {
            assert_eq!(fold(&format!("{base}\u{3099}")), voiced.to_string());
        }
        for (base, p) in "はひふへほ".chars().zip("ぱぴぷぺぽ".chars()) {
            assert_eq!(fold(&format!("{base}\u{309A}")), p.to_string());
        }
    }

    #[test]
    fn the_default_list_parses_and_has_rules_in_both_languages() {
        let r = Rules::default_rules();
        assert!(r.len() >= 8);
        assert_eq!(ids(&r, "もう死にたいです"), vec!["ja.suicidal-ideation"]);
        assert_eq!(ids(&r, "I want to die"), vec!["en.suicidal-ideation"]);
    }

    #[test]
    fn default_rules_match_variants_of_one_phrase() {
        let r = Rules::default_rules();
        for text in [
            "死にたい",
            "しにたい",
            "シニタイ",
            "ｼﾆﾀｲ",
            "しにたーい",
            "し に た い",
            "し、に、た、い",
            "最近ずっと死にたいと思ってしまう",
        ] {
            assert!(
                ids(&r, text).contains(&"ja.suicidal-ideation".to_owned()),
                "{text}"
            );
        }
        for text in [
            "KILL MYSELF",
            "ｋｉｌｌ ｍｙｓｅｌｆ",
            "i don't want to live",
            "I dont want to live anymore",
        ] {
            assert_eq!(ids(&r, text), vec!["en.suicidal-ideation"], "{text}");
        }
        assert_eq!(ids(&r, "ﾘｽｶしてしまった"), vec!["ja.self-harm"]);
        assert_eq!(ids(&r, "父に殴られた"), vec!["ja.violence-at-home"]);
        assert_eq!(ids(&r, "ＤＶを受けています"), vec!["ja.violence-at-home"]);
    }

    #[test]
    fn ordinary_messages_do_not_match() {
        let r = Rules::default_rules();
        for text in [
            "息子のことで相談したいです",
            "学校に行けなくなって半年になります",
            "ありがとうございます",
            "I have some skill myself",
            "my therapist said to call",
            "死ぬほど笑った",
            "I could kill myself laughing",
            "DVD を見ていました",
        ] {
            assert!(ids(&r, text).is_empty(), "{text}: {:?}", ids(&r, text));
        }
    }

    #[test]
    fn english_patterns_match_whole_words_only() {
        let r = Rules::parse(
            "version = 1\n[[rule]]\nid = \"t\"\ncategory = \"c\"\nlevel = \"urgent\"\npatterns = [\"die\"]\n",
        )
        .unwrap();
        assert_eq!(ids(&r, "I want to die."), vec!["t"]);
        assert_eq!(ids(&r, "死にたい die"), vec!["t"]);
        assert!(ids(&r, "diet and studies").is_empty());
    }

    #[test]
    fn an_exception_only_covers_hits_inside_it() {
        let r = Rules::parse(
            "version = 1\n[[rule]]\nid = \"t\"\ncategory = \"c\"\nlevel = \"watch\"\npatterns = [\"死ぬ\"]\nexcept = [\"死ぬほど\"]\n",
        )
        .unwrap();
        assert!(ids(&r, "死ぬほど疲れた").is_empty());
        // The same message with a real hit elsewhere still matches.
        assert_eq!(ids(&r, "死ぬほど疲れた。もう死ぬしかない"), vec!["t"]);
        assert_eq!(level_of(&r.check("死ぬ")), RiskLevel::Watch);
    }

    #[test]
    fn bad_rule_files_are_refused_with_the_reason() {
        assert!(matches!(
            Rules::parse("version = 2"),
            Err(RulesError::Version(2))
        ));
        assert!(matches!(
            Rules::parse("not toml ["),
            Err(RulesError::Toml(_))
        ));
        let rule = |id: &str, level: &str, patterns: &str| {
            format!("version = 1\n[[rule]]\nid = \"{id}\"\ncategory = \"c\"\nlevel = \"{level}\"\npatterns = {patterns}\n")
        };
        assert!(Rules::parse(&rule("Bad Id", "urgent", "[\"x\"]")).is_err());
        assert!(Rules::parse(&rule("a", "none", "[\"x\"]")).is_err());
        assert!(Rules::parse(&rule("a", "urgent", "[]")).is_err());
        assert!(Rules::parse(&rule("a", "urgent", "[\"  \"]")).is_err());
        let twice = rule("a", "urgent", "[\"x\"]")
            + "[[rule]]\nid = \"a\"\ncategory = \"c\"\nlevel = \"watch\"\npatterns = [\"y\"]\n";
        assert!(matches!(
            Rules::parse(&twice),
            Err(RulesError::Rule { index: 1, .. })
        ));
        assert!(Rules::parse(&rule("a", "urgent", "[\"x\"]")).is_ok());
    }

    #[test]
    fn urgent_gives_urgent_priority_and_watch_does_not() {
        assert_eq!(RiskLevel::Urgent.priority(), Priority::Urgent);
        assert_eq!(RiskLevel::Watch.priority(), Priority::Normal);
        assert!(RiskLevel::None < RiskLevel::Watch && RiskLevel::Watch < RiskLevel::Urgent);
    }

    proptest! {
        #[test]
        fn folding_is_idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
        }

        #[test]
        fn katakana_and_hiragana_spellings_fold_alike(s in "[ぁ-ゖ]{0,20}") {
            let kata: String = s.chars().map(|c| char::from_u32(c as u32 + 0x60).unwrap()).collect();
            prop_assert_eq!(fold(&kata), fold(&s));
        }

        #[test]
        fn full_width_ascii_folds_to_ascii(s in "[!-~]{0,30}") {
            let wide: String = s.chars().map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap()).collect();
            prop_assert_eq!(fold(&wide), fold(&s));
        }

        #[test]
        fn a_phrase_is_found_wherever_it_is_embedded(pre in "[a-z ]{0,10}|[あ-ん]{0,10}", post in "[a-z ]{0,10}|[あ-ん]{0,10}") {
            let r = Rules::default_rules();
            let text = format!("{pre}。死にたい。{post}");
            prop_assert!(ids(&r, &text).contains(&"ja.suicidal-ideation".to_owned()));
        }

        #[test]
        fn checking_never_panics_and_hits_carry_no_text(s in "\\PC{0,80}") {
            let r = Rules::default_rules();
            for h in r.check(&s) {
                prop_assert!(valid_name(&h.rule) && valid_name(&h.category));
            }
        }
    }
}
