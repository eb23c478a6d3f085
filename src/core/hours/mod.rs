//! Opening hours: a weekly schedule in Japan time, Japan's national
//! holidays, the year-end closure, one-off closures and the last-entry
//! time. Pure: every function takes "now" (ms since the Unix epoch) as an
//! argument, so each rule is tested on known dates.
//!
//! Japan time is UTC+9 all year (no daylight saving time), so a fixed offset
//! is exact and no time-zone database is needed.
//!
//! Holidays are computed from the National Holidays Act (国民の祝日に関する
//! 法律) as amended for 2007 onwards, with the special years 2019 (the
//! accession), 2020 and 2021 (the Tokyo Olympics moved three holidays). The
//! equinox days use the standard formula, which matches every date the
//! National Astronomical Observatory has announced so far; the official
//! dates are announced each February for the next year, and a deployment
//! whose announced date ever differs adds a one-off closure. Supported:
//! 2007-2099 exactly. Outside that range the same rules are applied, which
//! is not what the law said before 2007.

use serde::{Deserialize, Serialize};
use time::{Date, Month, Weekday};

/// Japan's offset from UTC, in seconds.
pub const JST_OFFSET_SECS: i64 = 9 * 3600;
const MS_PER_DAY: i64 = 86_400_000;
/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;
/// How far ahead `next_opening` looks (a schedule may open once a year).
const SEARCH_DAYS: i64 = 800;

// -------------------------------------------------------- time helpers

/// The date and minute of the day in Japan time at `ms`.
pub fn jst_date_minute(ms: u64) -> (Date, u32) {
    let local = ms as i64 + JST_OFFSET_SECS * 1000;
    let days = local.div_euclid(MS_PER_DAY);
    let minute = (local.rem_euclid(MS_PER_DAY) / 60_000) as u32;
    (date_from_days(days), minute)
}

fn date_from_days(days: i64) -> Date {
    // unwrap: `days` comes from a u64 of milliseconds or a Date, always in range.
    Date::from_julian_day(UNIX_EPOCH_JULIAN_DAY + days as i32).unwrap()
}

fn days_of(date: Date) -> i64 {
    i64::from(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY)
}

/// ms since the Unix epoch of `date` at `minute` (Japan time).
pub fn jst_ms(date: Date, minute: u32) -> u64 {
    let local = days_of(date) * MS_PER_DAY + i64::from(minute) * 60_000;
    (local - JST_OFFSET_SECS * 1000).max(0) as u64
}

/// ISO 8601 with the Japan offset, to the second: `2026-05-07T09:00:00+09:00`.
pub fn iso_jst(ms: u64) -> String {
    let local = ms as i64 + JST_OFFSET_SECS * 1000;
    let d = date_from_days(local.div_euclid(MS_PER_DAY));
    let secs = local.rem_euclid(MS_PER_DAY) / 1000;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+09:00",
        d.year(),
        u8::from(d.month()),
        d.day(),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn ymd(y: i32, m: u8, d: u8) -> Option<Date> {
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// The `n`th (1-based) `weekday` of a month.
fn nth_weekday(y: i32, m: u8, weekday: Weekday, n: u8) -> Option<Date> {
    let first = ymd(y, m, 1)?;
    let offset =
        (7 + weekday.number_days_from_monday() - first.weekday().number_days_from_monday()) % 7;
    ymd(y, m, 1 + offset + 7 * (n - 1))
}

// ----------------------------------------------------------- holidays

/// Why a date is a day off by law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayKind {
    /// A national holiday (国民の祝日).
    National,
    /// A substitute holiday (振替休日): a holiday fell on a Sunday.
    Substitute,
    /// A citizens' holiday (国民の休日): a day between two national holidays.
    Citizens,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// The Japanese name, e.g. "春分の日", "振替休日".
    pub name: &'static str,
    pub kind: HolidayKind,
}

fn equinox_day(year: i32, base: f64) -> u8 {
    let y = f64::from(year - 1980);
    (base + 0.242194 * y - ((year - 1980) / 4) as f64).floor() as u8
}

/// The national holiday (国民の祝日) on `date`, if any.
pub fn national_holiday(date: Date) -> Option<&'static str> {
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    let is = |mm: u8, dd: u8| m == mm && d == dd;
    let is_nth_monday =
        |mm: u8, n: u8| m == mm && nth_weekday(y, mm, Weekday::Monday, n) == Some(date);
    let name = match () {
        _ if is(1, 1) => "元日",
        _ if is_nth_monday(1, 2) => "成人の日",
        _ if is(2, 11) => "建国記念の日",
        _ if y >= 2020 && is(2, 23) => "天皇誕生日",
        _ if y <= 2018 && is(12, 23) => "天皇誕生日",
        _ if m == 3 && d == equinox_day(y, 20.8431) => "春分の日",
        _ if is(4, 29) => "昭和の日",
        _ if is(5, 3) => "憲法記念日",
        _ if is(5, 4) => "みどりの日",
        _ if is(5, 5) => "こどもの日",
        _ if y == 2019 && is(5, 1) => "天皇の即位の日",
        _ if y == 2019 && is(10, 22) => "即位礼正殿の儀の行われる日",
        // The Olympic years moved three holidays by special law.
        _ if y == 2020 && is(7, 23) => "海の日",
        _ if y == 2020 && is(7, 24) => "スポーツの日",
        _ if y == 2020 && is(8, 10) => "山の日",
        _ if y == 2021 && is(7, 22) => "海の日",
        _ if y == 2021 && is(7, 23) => "スポーツの日",
        _ if y == 2021 && is(8, 8) => "山の日",
        _ if !(2020..=2021).contains(&y) && is_nth_monday(7, 3) => "海の日",
        _ if y >= 2016 && !(2020..=2021).contains(&y) && is(8, 11) => "山の日",
        _ if is_nth_monday(9, 3) => "敬老の日",
        _ if m == 9 && d == equinox_day(y, 23.2488) => "秋分の日",
        _ if !(2020..=2021).contains(&y) && is_nth_monday(10, 2) => {
            if y >= 2020 {
                "スポーツの日"
            } else {
                "体育の日"
            }
        }
        _ if is(11, 3) => "文化の日",
        _ if is(11, 23) => "勤労感謝の日",
        _ => return None,
    };
    Some(name)
}

/// Any day off by law on `date`: a national holiday, a substitute holiday
/// or a citizens' holiday.
pub fn holiday(date: Date) -> Option<Holiday> {
    if let Some(name) = national_holiday(date) {
        return Some(Holiday {
            name,
            kind: HolidayKind::National,
        });
    }
    // 振替休日: the first non-holiday after a run of national holidays that
    // contains a Sunday.
    let mut d = date.previous_day()?;
    while national_holiday(d).is_some() {
        if d.weekday() == Weekday::Sunday {
            return Some(Holiday {
                name: "振替休日",
                kind: HolidayKind::Substitute,
            });
        }
        d = d.previous_day()?;
    }
    // 国民の休日: a day whose day before and day after are national holidays.
    let before = date.previous_day().and_then(national_holiday);
    let after = date.next_day().and_then(national_holiday);
    if before.is_some() && after.is_some() {
        return Some(Holiday {
            name: "国民の休日",
            kind: HolidayKind::Citizens,
        });
    }
    None
}

// ----------------------------------------------------- the schedule spec

/// Opening hours as a deployment writes them (the `[hours]` settings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoursSpec {
    /// Ignore everything below: always open (trials, round-the-clock lines).
    pub always_open: bool,
    /// Opening windows per weekday, Japan time.
    pub weekly: Vec<WeeklySpec>,
    /// Closed on Japan's national, substitute and citizens' holidays.
    pub closed_on_national_holidays: bool,
    pub year_end: YearEndSpec,
    /// One-off closures, whole days (Japan time), `to` inclusive.
    pub closures: Vec<ClosureSpec>,
    /// New visitors may join until this many minutes before closing.
    pub last_entry_minutes: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySpec {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub days: Vec<DayName>,
    /// `HH:MM`, 24-hour clock.
    pub open: String,
    /// `HH:MM`, later than `open`; `24:00` for midnight.
    pub close: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayName {
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YearEndSpec {
    pub closed: bool,
    /// `MM-DD`, first closed day.
    pub from: String,
    /// `MM-DD`, last closed day (in the new year when before `from`).
    pub to: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosureSpec {
    /// `YYYY-MM-DD`.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive; absent: the one day `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl Default for YearEndSpec {
    fn default() -> Self {
        Self {
            closed: true,
            from: "12-29".into(),
            to: "01-03".into(),
        }
    }
}

impl Default for HoursSpec {
    /// Monday to Friday 9:00-17:00, last entry 16:30, closed on national
    /// holidays and from 29 December to 3 January: the centres' usual hours.
    fn default() -> Self {
        use DayName::*;
        Self {
            always_open: false,
            weekly: vec![WeeklySpec {
                days: vec![Mon, Tue, Wed, Thu, Fri],
                open: "09:00".into(),
                close: "17:00".into(),
            }],
            closed_on_national_holidays: true,
            year_end: YearEndSpec::default(),
            closures: Vec::new(),
            last_entry_minutes: 30,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HoursError {
    #[error("hours: {0:?} is not a time of day (HH:MM, 00:00 to 24:00)")]
    Time(String),
    #[error("hours: a window must close after it opens ({open}-{close})")]
    Window { open: String, close: String },
    #[error("hours: {0:?} is not a month and day (MM-DD)")]
    MonthDay(String),
    #[error("hours: {0:?} is not a date (YYYY-MM-DD)")]
    Date(String),
    #[error("hours: a closure must not end before it starts ({0})")]
    ClosureOrder(String),
    #[error("hours: last_entry_minutes must be under 24 hours")]
    LastEntry,
}

fn parse_minute(s: &str) -> Result<u32, HoursError> {
    let bad = || HoursError::Time(s.to_owned());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_month_day(s: &str) -> Result<(u8, u8), HoursError> {
    let bad = || HoursError::MonthDay(s.to_owned());
    let (m, d) = s.split_once('-').ok_or_else(bad)?;
    let (m, d): (u8, u8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    // 2024 is a leap year: accepts 02-29.
    ymd(2024, m, d).ok_or_else(bad)?;
    Ok((m, d))
}

fn parse_date(s: &str) -> Result<Date, HoursError> {
    let bad = || HoursError::Date(s.to_owned());
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (it.next(), it.next(), it.next());
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(bad());
    };
    if y.len() != 4 {
        return Err(bad());
    }
    ymd(
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    )
    .ok_or_else(bad)
}

// ----------------------------------------------------------- schedule

/// A checked schedule, built from a [`HoursSpec`].
#[derive(Clone, Debug)]
pub struct Schedule {
    always_open: bool,
    /// Per weekday (Monday = 0): `(open, close)` minutes of the day, sorted.
    weekly: [Vec<(u32, u32)>; 7],
    holidays_closed: bool,
    year_end: Option<((u8, u8), (u8, u8))>,
    closures: Vec<(Date, Date)>,
    last_entry_minutes: u32,
}

/// Why the centre is closed on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedReason {
    /// Outside the weekly opening hours.
    OutsideHours,
    NationalHoliday,
    YearEnd,
    /// A one-off closure.
    Closure,
}

/// Where the schedule stands at one moment. Times are ms since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    AlwaysOpen,
    /// Open, and new visitors may join until `last_entry_at`.
    Open {
        closes_at: u64,
        last_entry_at: u64,
    },
    /// Still open for those already here, but no new joins.
    LastEntryPassed {
        closes_at: u64,
        next_opening: Option<u64>,
    },
    Closed {
        reason: ClosedReason,
        holiday: Option<Holiday>,
        /// `None`: no opening in the next two years (a misconfiguration).
        next_opening: Option<u64>,
    },
}

impl Status {
    /// May a new visitor join the queue now?
    pub fn accepts_new_visitors(&self) -> bool {
        matches!(self, Status::AlwaysOpen | Status::Open { .. })
    }

    /// Is anyone serving (open, perhaps past last entry)?
    pub fn open(&self) -> bool {
        !matches!(self, Status::Closed { .. })
    }

    pub fn next_opening(&self) -> Option<u64> {
        match *self {
            Status::LastEntryPassed { next_opening, .. } | Status::Closed { next_opening, .. } => {
                next_opening
            }
            _ => None,
        }
    }
}

impl Schedule {
    pub fn new(spec: &HoursSpec) -> Result<Schedule, HoursError> {
        let mut weekly: [Vec<(u32, u32)>; 7] = Default::default();
        for w in &spec.weekly {
            let (open, close) = (parse_minute(&w.open)?, parse_minute(&w.close)?);
            if close <= open {
                return Err(HoursError::Window {
                    open: w.open.clone(),
                    close: w.close.clone(),
                });
            }
            for d in &w.days {
                weekly[d.index()].push((open, close));
            }
        }
        for day in weekly.iter_mut() {
            day.sort_unstable();
        }
        let year_end = if spec.year_end.closed {
            Some((
                parse_month_day(&spec.year_end.from)?,
                parse_month_day(&spec.year_end.to)?,
            ))
        } else {
            None
        };
        let mut closures = Vec::new();
        for c in &spec.closures {
            let from = parse_date(&c.from)?;
            let to = match &c.to {
                Some(t) => parse_date(t)?,
                None => from,
            };
            if to < from {
                return Err(HoursError::ClosureOrder(c.from.clone()));
            }
            closures.push((from, to));
        }
        if spec.last_entry_minutes >= 24 * 60 {
            return Err(HoursError::LastEntry);
        }
        Ok(Schedule {
            always_open: spec.always_open,
            weekly,
            holidays_closed: spec.closed_on_national_holidays,
            year_end,
            closures,
            last_entry_minutes: spec.last_entry_minutes,
        })
    }

    /// Why `date` is closed all day, if it is (weekly hours aside).
    pub fn closed_day(&self, date: Date) -> Option<(ClosedReason, Option<Holiday>)> {
        if self.closures.iter().any(|&(f, t)| f <= date && date <= t) {
            return Some((ClosedReason::Closure, None));
        }
        if let Some((from, to)) = self.year_end {
            let md = (u8::from(date.month()), date.day());
            let inside = if from <= to {
                from <= md && md <= to
            } else {
                md >= from || md <= to
            };
            if inside {
                return Some((ClosedReason::YearEnd, None));
            }
        }
        if self.holidays_closed {
            if let Some(h) = holiday(date) {
                return Some((ClosedReason::NationalHoliday, Some(h)));
            }
        }
        None
    }

    /// The opening windows on `date` (empty when closed all day).
    fn windows(&self, date: Date) -> &[(u32, u32)] {
        if self.closed_day(date).is_some() {
            return &[];
        }
        &self.weekly[date.weekday().number_days_from_monday() as usize]
    }

    /// Is the schedule `always_open` (chat round the clock)?
    pub fn always_open(&self) -> bool {
        self.always_open
    }

    /// The end of the weekly window (Japan time) that `at_ms` falls in, on
    /// a day the centre is not closed; `None` outside every window. The
    /// office hours as written: `always_open` is not consulted (it opens
    /// the chat round the clock, not the office).
    pub fn window_closing(&self, at_ms: u64) -> Option<u64> {
        let (date, minute) = jst_date_minute(at_ms);
        self.windows(date)
            .iter()
            .find(|&&(o, c)| o <= minute && minute < c)
            .map(|&(_, c)| jst_ms(date, c))
    }

    /// The first opening strictly after `after_ms`, within about two years.
    pub fn next_opening_after(&self, after_ms: u64) -> Option<u64> {
        let (today, minute) = jst_date_minute(after_ms);
        let start = days_of(today);
        (0..SEARCH_DAYS).find_map(|i| {
            let date = date_from_days(start + i);
            self.windows(date)
                .iter()
                .find(|&&(open, _)| i > 0 || open > minute)
                .map(|&(open, _)| jst_ms(date, open))
        })
    }

    /// Where the schedule stands at `now_ms`.
    pub fn status(&self, now_ms: u64) -> Status {
        if self.always_open {
            return Status::AlwaysOpen;
        }
        let (date, minute) = jst_date_minute(now_ms);
        if let Some(&(open, close)) = self
            .windows(date)
            .iter()
            .find(|&&(o, c)| o <= minute && minute < c)
        {
            let closes_at = jst_ms(date, close);
            let last_entry = close.saturating_sub(self.last_entry_minutes).max(open);
            if minute < last_entry {
                return Status::Open {
                    closes_at,
                    last_entry_at: jst_ms(date, last_entry),
                };
            }
            return Status::LastEntryPassed {
                closes_at,
                next_opening: self.next_opening_after(closes_at.saturating_sub(1)),
            };
        }
        let (reason, holiday) = self
            .closed_day(date)
            .unwrap_or((ClosedReason::OutsideHours, None));
        Status::Closed {
            reason,
            holiday,
            next_opening: self.next_opening_after(now_ms),
        }
    }
}

#[cfg(test)]
mod tests;
