//! A booking: how the visitor may be contacted, its reference and PIN, and
//! the booking record itself.

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::ids::ConversationId;

// ------------------------------------------------------------- contact

/// How intake may reach the visitor: the only personal data the service
/// ever holds, and only when the visitor chose to give it for a booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Contact {
    /// "I will call the centre myself": nothing to reach them by.
    SelfCall,
    Phone(String),
    Email(String),
    /// Deleted when the booking was cancelled or the consent withdrawn
    /// ([`Booking::forget_personal`]); never given by a visitor.
    Deleted,
}

impl Contact {
    pub fn parse(kind: &str, value: Option<&str>) -> Result<Contact, HandoffError> {
        match kind {
            "self" | "self_call" => Ok(Contact::SelfCall),
            "phone" => parse_phone(value.unwrap_or("")).map(Contact::Phone),
            "email" => parse_email(value.unwrap_or("")).map(Contact::Email),
            _ => Err(HandoffError::InvalidContact(
                "contact.kind: phone, email or self".into(),
            )),
        }
    }

    /// Is this personal data (needs the consent's `contact` scope)?
    pub fn is_personal(&self) -> bool {
        matches!(self, Contact::Phone(_) | Contact::Email(_))
    }
}

/// A phone number: digits with optional `+` at the start and `-`, spaces,
/// or parentheses between; 10 to 15 digits (Japanese numbers have 10 or
/// 11). Stored as typed (trimmed), so intake sees what the person wrote.
pub fn parse_phone(raw: &str) -> Result<String, HandoffError> {
    let t = raw.trim();
    let body = t.strip_prefix('+').unwrap_or(t);
    let ok_chars = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')'));
    let digits = body.chars().filter(|c| c.is_ascii_digit()).count();
    if ok_chars && (10..=15).contains(&digits) && t.len() <= 24 {
        Ok(t.to_owned())
    } else {
        Err(HandoffError::InvalidContact(
            "contact: a phone number of 10-15 digits (e.g. 090-1234-5678)".into(),
        ))
    }
}

/// An e-mail address, checked for shape only (one `@`, a dotted domain,
/// no spaces or control characters, at most 254 characters): whether it
/// reaches someone only a message can tell.
pub fn parse_email(raw: &str) -> Result<String, HandoffError> {
    let t = raw.trim();
    let bad =
        || HandoffError::InvalidContact("contact: an e-mail address like name@example.jp".into());
    if t.len() > 254 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = t.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty() || local.len() > 64 || domain.contains('@') || !labels_ok {
        return Err(bad());
    }
    Ok(t.to_owned())
}

// ------------------------------------------------------ contact choice

/// How the visitor would like to hear from the centre before the first
/// consultation, so that nobody has to phone who would rather not. The
/// choice itself is not personal data; the contact detail it may need is,
/// and is given only when the choice needs one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactChoice {
    /// The centre sends a short message (SMS or e-mail) to the contact given.
    Message,
    /// The centre may phone the number given.
    Call,
    /// No contact: they come at the booked time.
    NoContact,
    /// They will get in touch with the centre themselves.
    SelfCall,
}

impl ContactChoice {
    pub fn parse(raw: &str) -> Result<ContactChoice, HandoffError> {
        match raw {
            "message" => Ok(ContactChoice::Message),
            "call" => Ok(ContactChoice::Call),
            "no_contact" => Ok(ContactChoice::NoContact),
            "self_call" | "self" => Ok(ContactChoice::SelfCall),
            _ => Err(HandoffError::InvalidContact(
                "contact_choice: message, call, no_contact or self_call".into(),
            )),
        }
    }

    /// The choice a booking made without one stands for (bookings from
    /// before the choice existed, clients that do not send it).
    pub fn implied_by(contact: &Contact) -> ContactChoice {
        match contact {
            Contact::Phone(_) => ContactChoice::Call,
            Contact::Email(_) => ContactChoice::Message,
            Contact::SelfCall => ContactChoice::SelfCall,
            // Not reached for a forgotten booking: forgetting keeps the
            // choice itself (`Booking::forget_personal`).
            Contact::Deleted => ContactChoice::NoContact,
        }
    }

    /// Does `contact` fit this choice? A message needs a phone number or
    /// an e-mail address, a call a phone number; "no contact" and "I will
    /// get in touch" take no detail at all (none is collected that is not
    /// needed).
    pub fn check(self, contact: &Contact) -> Result<(), HandoffError> {
        let ok = match self {
            ContactChoice::Message => matches!(contact, Contact::Phone(_) | Contact::Email(_)),
            ContactChoice::Call => matches!(contact, Contact::Phone(_)),
            ContactChoice::NoContact | ContactChoice::SelfCall => !contact.is_personal(),
        };
        if ok {
            Ok(())
        } else {
            Err(HandoffError::InvalidContact(match self {
                ContactChoice::Message => {
                    "contact: a message needs a phone number or an e-mail address".into()
                }
                ContactChoice::Call => "contact: a call needs a phone number".into(),
                _ => "contact: this choice takes no contact details (kind: self)".into(),
            }))
        }
    }
}

// ---------------------------------------------------- booking reference

/// A booking's public reference, e.g. `K7QP-M3XW`: 8 characters from an
/// alphabet without look-alikes (no 0/O, 1/I/L), 40 bits. On its own it
/// reveals nothing (a booking shows only with its PIN), and lookups are
/// rate-limited, so it need not be a secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BookingRef(String);

/// Letters and digits a person cannot mistake for one another (no 0/O,
/// 1/I/L): booking references and way-back codes (`core::way_back`).
pub const REF_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ9";

impl BookingRef {
    /// Build from 8 random bytes (the caller draws them from the OS).
    pub fn from_random(bytes: [u8; 8]) -> BookingRef {
        // 31 distinct symbols: the last '9' repeats so indexing by 5 bits
        // never goes out of range; the bias is irrelevant next to the PIN.
        let mut s = String::with_capacity(9);
        for (i, b) in bytes.iter().enumerate() {
            if i == 4 {
                s.push('-');
            }
            s.push(REF_ALPHABET[usize::from(b & 31)] as char);
        }
        BookingRef(s)
    }

    /// Parse what a person typed: case and a missing or extra dash or
    /// space do not matter.
    pub fn parse(raw: &str) -> Result<BookingRef, HandoffError> {
        let chars: Vec<char> = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let ok = chars.len() == 8 && chars.iter().all(|c| REF_ALPHABET.contains(&(*c as u8)));
        if !ok || !chars.iter().all(char::is_ascii) {
            return Err(invalid("reference: 8 letters and digits, e.g. K7QP-M3XW"));
        }
        let mut s: String = chars[..4].iter().collect();
        s.push('-');
        s.extend(&chars[4..]);
        Ok(BookingRef(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 6-digit PIN from 4 random bytes (shown once; stored hashed).
pub fn pin_from_random(bytes: [u8; 4]) -> String {
    format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000)
}

/// A PIN as typed: exactly six digits.
pub fn valid_pin(raw: &str) -> bool {
    raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit())
}

// ----------------------------------------------------------- bookings

/// Why a booking stopped being in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The visitor cancelled it (reference and PIN).
    Visitor,
    /// The visitor withdrew their consent.
    ConsentWithdrawn,
    /// Intake or an admin cancelled it.
    Staff,
}

/// A booked first consultation. `name` and `contact` are the only personal
/// data in the service, given by the visitor for this booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub reference: BookingRef,
    /// SHA-256 of the PIN.
    pub pin_hash: [u8; 32],
    pub slot: SlotId,
    pub conversation: ConversationId,
    /// What they want to be called (optional).
    pub name: Option<String>,
    pub contact: Contact,
    pub created_at_ms: u64,
    pub cancelled_at_ms: Option<u64>,
    pub cancel_reason: Option<CancelReason>,
    /// Intake marked whether the person came.
    #[serde(default)]
    pub attended: Option<bool>,
    /// How they would like to hear from the centre (absent on bookings
    /// made before the choice existed: [`ContactChoice::implied_by`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_choice: Option<ContactChoice>,
    /// When the booking was last moved to another slot (`BookingOp::Move`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescheduled_at_ms: Option<u64>,
}

impl Booking {
    pub fn active(&self) -> bool {
        self.cancelled_at_ms.is_none()
    }

    /// The contact choice, as chosen or as implied by the contact.
    pub fn choice(&self) -> ContactChoice {
        self.contact_choice
            .unwrap_or_else(|| ContactChoice::implied_by(&self.contact))
    }

    /// Delete the name and contact details, keeping the anonymous fact of
    /// the booking (slot, times, reason, the kind of contact choice,
    /// attendance) for the statistics. Every store does this in the same
    /// atomic step as the cancellation (`BookingOp::Cancel`), whoever
    /// cancels: the visitor, a withdrawal of consent, or intake.
    pub fn forget_personal(&mut self) {
        self.contact_choice = Some(self.choice());
        self.name = None;
        self.contact = Contact::Deleted;
    }

    /// Were the name and contact details deleted?
    pub fn personal_deleted(&self) -> bool {
        self.contact == Contact::Deleted
    }
}
