//! The audit log's entries, and the calendar file a booking can be saved as.

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::ids::AccountId;

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
