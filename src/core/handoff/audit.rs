//! The audit log's entries, and the calendar file a booking can be saved as.

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::ids::{AccountId, ConversationId};

// ---------------------------------------------------------------- audit

/// What a staff member did with handoff data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Intake listed bookings (the references shown are recorded).
    ListBookings,
    /// Intake read a consented transcript.
    ViewTranscript,
    /// Intake or an admin cancelled a booking.
    CancelBooking,
    MarkAttended,
    CreateSlot,
    CancelSlot,
    /// Intake set a new PIN for a booking (the old one stops working and
    /// a lockout ends).
    ResetPin,
    /// Intake asked for a transcript the visitor's consent does not cover
    /// and was refused (`outside_consent`): the attempt is recorded too.
    TranscriptRefused,

    // Staff accounts (issue 21's second factor).
    /// An admin reset an account's second factor (`target`).
    ResetSecondFactor,
    // ---- staff accounts (issue 21): `target` is the account changed
    /// An admin created an account (`detail`: its role).
    AccountCreated,
    /// An admin changed an account's display name.
    AccountRenamed,
    /// An admin changed an account's role (`detail`: `old→new`).
    AccountRoleChanged,
    AccountDeactivated,
    AccountReactivated,
    /// An admin issued a password set-up code (a reset); the code is
    /// never recorded.
    AccountSetupIssued,
    /// The account's owner set a password with a set-up code.
    AccountPasswordSet,
    /// The account's owner changed their password (other sessions end).
    AccountPasswordChanged,
    /// Every session of the account was ended (by an admin, or "log out
    /// everywhere" by its owner).
    AccountSessionsRevoked,
    // ---- supervisor access (issue 20): who looked at which conversation,
    // when and for how long. Written by the store in the same atomic step
    // as the access itself; `conversation` is always set.
    /// A supervisor began observing (reads everything, writes nothing).
    Observe,
    /// A supervisor joined (writes to the visitor under their own name).
    Join,
    /// A supervisor took the conversation over and became its counsellor.
    TakeOver,
    /// A supervisor wrote a whisper to the counsellor (not to the visitor).
    Whisper,
    /// A supervisor stopped observing or joining; `duration_ms` is how long
    /// the access lasted.
    Leave,
    /// A supervisor's observation or join ended because their last console
    /// socket closed; `duration_ms` as for `Leave`.
    LeaveByDisconnect,
    /// A supervisor's observation or join ended because the conversation
    /// ended (its counsellor or visitor ended it, the grace period, an
    /// erasure); written in the end's own step, `duration_ms` as for
    /// `Leave`.
    LeaveByEnd,
    // ---- relay sheets (issue 23): `conversation` is set; `detail` names
    // the relay and the partner; a step without a staff account (the
    // visitor's, a partner's) has the nil account and says who in `detail`.
    /// A counsellor prepared a relay sheet.
    RelayPrepared,
    /// The visitor answered it (how many partners they consented to).
    RelayAnswered,
    /// The visitor withdrew their consent.
    RelayWithdrawn,
    /// A counsellor issued a partner's link.
    RelayLinkIssued,
    /// A partner read their link's page.
    RelayViewed,
    /// A counsellor printed a partner's sheet.
    RelayPrinted,
}

impl AuditAction {
    /// Every action, in declaration order (for filters and tests).
    pub const ALL: [AuditAction; 31] = [
        AuditAction::ListBookings,
        AuditAction::ViewTranscript,
        AuditAction::CancelBooking,
        AuditAction::MarkAttended,
        AuditAction::CreateSlot,
        AuditAction::CancelSlot,
        AuditAction::ResetPin,
        AuditAction::TranscriptRefused,
        AuditAction::ResetSecondFactor,
        AuditAction::AccountCreated,
        AuditAction::AccountRenamed,
        AuditAction::AccountRoleChanged,
        AuditAction::AccountDeactivated,
        AuditAction::AccountReactivated,
        AuditAction::AccountSetupIssued,
        AuditAction::AccountPasswordSet,
        AuditAction::AccountPasswordChanged,
        AuditAction::AccountSessionsRevoked,
        AuditAction::Observe,
        AuditAction::Join,
        AuditAction::TakeOver,
        AuditAction::Whisper,
        AuditAction::Leave,
        AuditAction::LeaveByDisconnect,
        AuditAction::LeaveByEnd,
        AuditAction::RelayPrepared,
        AuditAction::RelayAnswered,
        AuditAction::RelayWithdrawn,
        AuditAction::RelayLinkIssued,
        AuditAction::RelayViewed,
        AuditAction::RelayPrinted,
    ];

    /// The wire name (`snake_case`), as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ListBookings => "list_bookings",
            AuditAction::ViewTranscript => "view_transcript",
            AuditAction::CancelBooking => "cancel_booking",
            AuditAction::MarkAttended => "mark_attended",
            AuditAction::CreateSlot => "create_slot",
            AuditAction::CancelSlot => "cancel_slot",
            AuditAction::ResetPin => "reset_pin",
            AuditAction::TranscriptRefused => "transcript_refused",
            AuditAction::ResetSecondFactor => "reset_second_factor",
            AuditAction::AccountCreated => "account_created",
            AuditAction::AccountRenamed => "account_renamed",
            AuditAction::AccountRoleChanged => "account_role_changed",
            AuditAction::AccountDeactivated => "account_deactivated",
            AuditAction::AccountReactivated => "account_reactivated",
            AuditAction::AccountSetupIssued => "account_setup_issued",
            AuditAction::AccountPasswordSet => "account_password_set",
            AuditAction::AccountPasswordChanged => "account_password_changed",
            AuditAction::AccountSessionsRevoked => "account_sessions_revoked",
            AuditAction::Observe => "observe",
            AuditAction::Join => "join",
            AuditAction::TakeOver => "take_over",
            AuditAction::Whisper => "whisper",
            AuditAction::Leave => "leave",
            AuditAction::LeaveByDisconnect => "leave_by_disconnect",
            AuditAction::LeaveByEnd => "leave_by_end",
            AuditAction::RelayPrepared => "relay_prepared",
            AuditAction::RelayAnswered => "relay_answered",
            AuditAction::RelayWithdrawn => "relay_withdrawn",
            AuditAction::RelayLinkIssued => "relay_link_issued",
            AuditAction::RelayViewed => "relay_viewed",
            AuditAction::RelayPrinted => "relay_printed",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One line of the audit log: who did what with which record, when.
/// Never the data itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at_ms: u64,
    pub account: AccountId,
    pub action: AuditAction,
    /// The bookings concerned.
    #[serde(default)]
    pub references: Vec<BookingRef>,
    #[serde(default)]
    pub slot: Option<SlotId>,
    /// Staff accounts: the account the action was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<AccountId>,
    /// Staff accounts: what changed, when not said by the action (a
    /// role), never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    // ---- supervisor access (issue 20)
    /// The conversation a supervisor accessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
    /// On `Leave`/`LeaveByDisconnect`: how long the access lasted (from
    /// the first observe or join to the leave); on `TakeOver`: how long
    /// the supervision it ended had lasted, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl AuditEntry {
    /// A change `by` made to the account `target`.
    pub fn about_account(
        at_ms: u64,
        by: AccountId,
        action: AuditAction,
        target: AccountId,
        detail: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            at_ms,
            account: by,
            action,
            references: Vec::new(),
            slot: None,
            target: Some(target),
            detail,
            conversation: None,
            duration_ms: None,
        }
    }

    /// A supervisor's access to a conversation.
    pub fn access(
        at_ms: u64,
        account: AccountId,
        action: AuditAction,
        conversation: ConversationId,
        duration_ms: Option<u64>,
    ) -> AuditEntry {
        AuditEntry {
            at_ms,
            account,
            action,
            references: Vec::new(),
            slot: None,
            target: None,
            detail: None,
            conversation: Some(conversation),
            duration_ms,
        }
    }
}

/// Which audit entries to read (`GET /api/admin/audit`): every condition
/// given must hold. Newest first, at most `limit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actions: Vec<AuditAction>,
    pub account: Option<AccountId>,
    pub conversation: Option<ConversationId>,
    /// `at_ms >= since_ms`.
    pub since_ms: Option<u64>,
    /// `at_ms < until_ms`.
    pub until_ms: Option<u64>,
    pub limit: usize,
}

impl AuditFilter {
    /// The newest `limit` entries, unfiltered.
    pub fn newest(limit: usize) -> AuditFilter {
        AuditFilter {
            limit,
            ..AuditFilter::default()
        }
    }

    /// The most entries one read returns, and the default.
    pub const MAX_LIMIT: usize = 1000;
    pub const DEFAULT_LIMIT: usize = 200;

    /// A filter from a query string's pairs: `action` (a wire name; repeat
    /// it or separate with commas for several), `account` and
    /// `conversation` (ids), `since` and `until` (ms since the epoch;
    /// `since < until`), `limit` (1 to 1000, default 200). Anything else,
    /// or a value that does not parse, is refused with what was wrong.
    pub fn parse(pairs: &[(String, String)]) -> Result<AuditFilter, String> {
        let mut f = AuditFilter::newest(Self::DEFAULT_LIMIT);
        let ms = |k: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{k} must be a time in ms since 1970 (a whole number)"))
        };
        for (k, v) in pairs {
            match k.as_str() {
                "action" => {
                    for a in v.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                        let action = AuditAction::parse(a)
                            .ok_or_else(|| format!("action: unknown action {a:?}"))?;
                        if !f.actions.contains(&action) {
                            f.actions.push(action);
                        }
                    }
                }
                "account" => {
                    f.account = Some(
                        v.parse()
                            .map_err(|_| "account must be an account id".to_owned())?,
                    )
                }
                "conversation" => {
                    f.conversation = Some(
                        v.parse()
                            .map_err(|_| "conversation must be a conversation id".to_owned())?,
                    )
                }
                "since" => f.since_ms = Some(ms("since", v)?),
                "until" => f.until_ms = Some(ms("until", v)?),
                "limit" => {
                    f.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=Self::MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            format!("limit must be a whole number from 1 to {}", Self::MAX_LIMIT)
                        })?
                }
                other => return Err(format!("unknown filter {other:?}")),
            }
        }
        if let (Some(s), Some(u)) = (f.since_ms, f.until_ms) {
            if s >= u {
                return Err("since must be before until".to_owned());
            }
        }
        Ok(f)
    }

    pub fn matches(&self, e: &AuditEntry) -> bool {
        (self.actions.is_empty() || self.actions.contains(&e.action))
            && self.account.is_none_or(|a| a == e.account)
            && self.conversation.is_none_or(|c| e.conversation == Some(c))
            && self.since_ms.is_none_or(|t| e.at_ms >= t)
            && self.until_ms.is_none_or(|t| e.at_ms < t)
    }
}

/// A calendar file (RFC 5545) for a booking, in UTC. Contains no personal
/// data: the reference, the kind and the place only; `summary_title` is
/// the deployment's neutral title and `organiser` (a name) is left out
/// when empty, so a shared calendar does not say whom it is with.
pub fn ics(
    reference: &BookingRef,
    slot: &Slot,
    summary_title: &str,
    organiser: &str,
    now_ms: u64,
) -> String {
    fn stamp(ms: u64) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
    // RFC 5545 3.3.11: backslash, semicolon and comma are escaped, line
    // breaks become \n.
    fn text(s: &str) -> String {
        s.replace('\\', "\\\\")
            .replace(';', "\\;")
            .replace(',', "\\,")
            .replace("\r\n", "\\n")
            .replace(['\n', '\r'], "\\n")
    }
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Tsunagu//Booking//JA".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@tsunagu", reference.as_str()),
        format!("DTSTAMP:{}", stamp(now_ms)),
        format!("DTSTART:{}", stamp(slot.starts_at_ms)),
        format!("DTEND:{}", stamp(slot.ends_at_ms())),
        format!("SUMMARY:{}", text(summary_title)),
        format!("LOCATION:{}", text(&slot.place)),
        format!(
            "DESCRIPTION:{}",
            text(&if organiser.trim().is_empty() {
                format!("Ref: {}", reference.as_str())
            } else {
                format!("{organiser}\nRef: {}", reference.as_str())
            })
        ),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut out = String::new();
    for line in &lines {
        out.push_str(&fold_ics_line(line));
        out.push_str("\r\n");
    }
    out
}

/// RFC 5545 3.1: a content line longer than 75 octets is split into lines
/// of at most 75 octets (CRLF, then one space, which a reader removes),
/// never inside a UTF-8 character. A Japanese place name or description
/// easily passes 75 octets.
pub fn fold_ics_line(line: &str) -> String {
    const MAX: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / MAX * 3);
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > MAX {
            out.push_str("\r\n ");
            used = 1; // the leading space counts
        }
        out.push(c);
        used += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_action_s_wire_name_is_its_json_name() {
        for a in AuditAction::ALL {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
    }

    #[test]
    fn filters_parse_and_bad_ones_are_refused() {
        let c = ConversationId::new_random();
        let f = AuditFilter::parse(&pairs(&[
            ("action", "observe,leave"),
            ("action", "whisper"),
            ("conversation", &c.to_string()),
            ("since", "10"),
            ("until", "20"),
            ("limit", "5"),
        ]))
        .unwrap();
        assert_eq!(
            f.actions,
            vec![
                AuditAction::Observe,
                AuditAction::Leave,
                AuditAction::Whisper
            ]
        );
        assert_eq!(f.conversation, Some(c));
        assert_eq!((f.since_ms, f.until_ms, f.limit), (Some(10), Some(20), 5));
        assert_eq!(AuditFilter::parse(&[]).unwrap().limit, 200);
        for bad in [
            ("action", "peek"),
            ("account", "nobody"),
            ("conversation", "x"),
            ("since", "-1"),
            ("until", "yesterday"),
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "abc"),
            ("kind", "observe"),
        ] {
            assert!(AuditFilter::parse(&pairs(&[bad])).is_err(), "{bad:?}");
        }
        assert!(AuditFilter::parse(&pairs(&[("since", "5"), ("until", "5")])).is_err());
    }

    proptest! {
        /// An entry matches exactly when each given condition holds.
        #[test]
        fn matches_is_the_conjunction(
            at in 0u64..100,
            since in proptest::option::of(0u64..100),
            until in proptest::option::of(0u64..100),
            by_action in any::<bool>(),
            a in 0usize..14,
            b in 0usize..14,
        ) {
            let c = ConversationId::new_random();
            let e = AuditEntry::access(at, AccountId::new_random(), AuditAction::ALL[a], c, None);
            let f = AuditFilter {
                actions: if by_action { vec![AuditAction::ALL[b]] } else { vec![] },
                since_ms: since,
                until_ms: until,
                limit: 10,
                ..AuditFilter::default()
            };
            let want = (!by_action || a == b)
                && since.is_none_or(|s| at >= s)
                && until.is_none_or(|u| at < u);
            prop_assert_eq!(f.matches(&e), want);
            let other = AuditFilter { conversation: Some(ConversationId::new_random()), ..f.clone() };
            prop_assert!(!other.matches(&e));
        }
    }
}
