//! Appointment slots: what an admin may open, and whether one can be booked.

use serde::{Deserialize, Serialize};

use super::*;
use crate::core::hours::Schedule;
use crate::core::ids::AccountId;

// --------------------------------------------------------------- slots

/// Where a first consultation takes place (the four forms in DOMAIN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// At the support centre.
    Centre,
    /// At a ward health-welfare centre.
    WardOffice,
    /// An outreach visit at home.
    HomeVisit,
    Online,
}

/// One appointment slot for first consultations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub id: SlotId,
    /// ms since the epoch.
    pub starts_at_ms: u64,
    pub duration_mins: u32,
    pub kind: SlotKind,
    /// Where (an address, a room, "a video link is sent by phone").
    pub place: String,
    /// Bookings this slot takes.
    pub capacity: u32,
    /// Staff who attend (two, in principle, for a first consultation).
    pub staff: u32,
    pub created_by: AccountId,
    pub created_at_ms: u64,
    /// Cancelled by an admin; no new bookings.
    #[serde(default)]
    pub cancelled_at_ms: Option<u64>,
}

impl Slot {
    pub fn ends_at_ms(&self) -> u64 {
        self.starts_at_ms + u64::from(self.duration_mins) * 60_000
    }

    /// May a booking be made for this slot at `now_ms` with `booked`
    /// bookings already held?
    pub fn bookable(&self, booked: u32, now_ms: u64) -> Result<(), HandoffError> {
        if self.cancelled_at_ms.is_some() || self.starts_at_ms <= now_ms {
            return Err(HandoffError::SlotUnavailable);
        }
        if booked >= self.capacity {
            return Err(HandoffError::SlotFull);
        }
        Ok(())
    }
}

/// What an admin sends to create a slot.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotInput {
    /// ms since the epoch.
    pub starts_at: u64,
    pub duration_mins: u32,
    pub kind: SlotKind,
    pub place: String,
    pub capacity: u32,
    #[serde(default = "two")]
    pub staff: u32,
}

fn two() -> u32 {
    2
}

impl SlotInput {
    /// Check the input against the rules and the opening hours: in the
    /// future, 15-240 minutes, within one opening window of the office
    /// hours ([`within_office_hours`]), capacity 1-20, staff 1-5, a place.
    pub fn validate(
        self,
        id: SlotId,
        by: AccountId,
        now_ms: u64,
        schedule: &Schedule,
    ) -> Result<Slot, HandoffError> {
        if self.starts_at <= now_ms {
            return Err(invalid("starts_at: must be in the future"));
        }
        if !(SLOT_MIN_MINUTES..=SLOT_MAX_MINUTES).contains(&self.duration_mins) {
            return Err(invalid(format!(
                "duration_mins: {SLOT_MIN_MINUTES}-{SLOT_MAX_MINUTES}"
            )));
        }
        if !(1..=SLOT_MAX_CAPACITY).contains(&self.capacity) {
            return Err(invalid(format!("capacity: 1-{SLOT_MAX_CAPACITY}")));
        }
        if !(1..=SLOT_MAX_STAFF).contains(&self.staff) {
            return Err(invalid(format!("staff: 1-{SLOT_MAX_STAFF}")));
        }
        let place = form_text(&self.place, "place", PLACE_MAX_CHARS)?;
        let ends = self.starts_at + u64::from(self.duration_mins) * 60_000;
        within_office_hours(schedule, self.starts_at, ends)?;
        Ok(Slot {
            id,
            starts_at_ms: self.starts_at,
            duration_mins: self.duration_mins,
            kind: self.kind,
            place,
            capacity: self.capacity,
            staff: self.staff,
            created_by: by,
            created_at_ms: now_ms,
            cancelled_at_ms: None,
        })
    }
}

/// The rule for "within one opening window", the same whether or not the
/// chat is `always_open`: a slot from `starts_ms` to `ends_ms` must start
/// inside one window of the weekly office hours (`[[hours.weekly]]`, on a
/// day that is not a holiday, year-end or closure the schedule closes) and
/// end no later than that window closes. `always_open` opens the chat
/// round the clock, not the office: appointments are kept by staff, so the
/// weekly hours still bound them (a slot at 00:00 Japan time is refused).
/// With `always_open` and no weekly windows, no slot can be opened; the
/// error says to write the office hours.
pub fn within_office_hours(
    schedule: &Schedule,
    starts_ms: u64,
    ends_ms: u64,
) -> Result<(), HandoffError> {
    match schedule.window_closing(starts_ms) {
        Some(closes) if ends_ms <= closes => Ok(()),
        Some(_) => Err(HandoffError::SlotOutsideHours(
            "it ends after its window closes",
        )),
        None if schedule.always_open() => Err(HandoffError::SlotOutsideHours(
            "the chat is always_open, but appointments keep the weekly hours ([[hours.weekly]]); \
             this start is outside them (write the office hours there if there are none)",
        )),
        None => Err(HandoffError::SlotOutsideHours(
            "it starts while the centre is closed",
        )),
    }
}
