use super::*;
use proptest::prelude::*;

fn date(s: &str) -> Date {
    parse_date(s).unwrap()
}

fn at(s: &str, hh: u32, mm: u32) -> u64 {
    jst_ms(date(s), hh * 60 + mm)
}

fn name(s: &str) -> Option<&'static str> {
    holiday(date(s)).map(|h| h.name)
}

#[test]
fn substitute_holidays_on_known_dates() {
    // 建国記念の日 2024-02-11 was a Sunday.
    assert_eq!(name("2024-02-11"), Some("建国記念の日"));
    assert_eq!(name("2024-02-12"), Some("振替休日"));
    // みどりの日 2025-05-04 was a Sunday; 5/5 is a holiday, so 5/6.
    assert_eq!(name("2025-05-06"), Some("振替休日"));
    assert_eq!(
        holiday(date("2025-05-06")).unwrap().kind,
        HolidayKind::Substitute
    );
    // 元日 2023 was a Sunday.
    assert_eq!(name("2023-01-02"), Some("振替休日"));
    // 秋分の日 2024-09-22 was a Sunday.
    assert_eq!(name("2024-09-22"), Some("秋分の日"));
    assert_eq!(name("2024-09-23"), Some("振替休日"));
    // 天皇誕生日 2020-02-23 was a Sunday.
    assert_eq!(name("2020-02-24"), Some("振替休日"));
    // 山の日 2021-08-08 (moved for the Olympics) was a Sunday.
    assert_eq!(name("2021-08-09"), Some("振替休日"));
    // A Saturday holiday has no substitute.
    assert_eq!(name("2026-01-03"), None);
}

#[test]
fn citizens_holidays_on_known_dates() {
    // Between 敬老の日 (third Monday) and 秋分の日.
    assert_eq!(name("2026-09-21"), Some("敬老の日"));
    assert_eq!(
        holiday(date("2026-09-22")).unwrap().kind,
        HolidayKind::Citizens
    );
    assert_eq!(name("2026-09-23"), Some("秋分の日"));
    assert_eq!(name("2015-09-22"), Some("国民の休日"));
    // The accession in 2019: 4/30 and 5/2 were citizens' holidays.
    assert_eq!(name("2019-04-30"), Some("国民の休日"));
    assert_eq!(name("2019-05-01"), Some("天皇の即位の日"));
    assert_eq!(name("2019-05-02"), Some("国民の休日"));
    assert_eq!(name("2019-10-22"), Some("即位礼正殿の儀の行われる日"));
    // Not every gap is a holiday: 2025-09-22 sits between 9/21 (Sunday,
    // not a holiday) and 秋分 9/23.
    assert_eq!(name("2025-09-22"), None);
}

#[test]
fn moving_and_fixed_holidays_on_known_dates() {
    for (d, n) in [
        ("2026-01-01", "元日"),
        ("2026-01-12", "成人の日"),
        ("2026-02-11", "建国記念の日"),
        ("2026-02-23", "天皇誕生日"),
        ("2026-03-20", "春分の日"),
        ("2025-03-20", "春分の日"),
        ("2024-03-20", "春分の日"),
        ("2023-03-21", "春分の日"),
        ("2026-04-29", "昭和の日"),
        ("2026-05-03", "憲法記念日"),
        ("2026-05-04", "みどりの日"),
        ("2026-05-05", "こどもの日"),
        ("2026-07-20", "海の日"),
        ("2026-08-11", "山の日"),
        ("2026-10-12", "スポーツの日"),
        ("2019-10-14", "体育の日"),
        ("2026-11-03", "文化の日"),
        ("2026-11-23", "勤労感謝の日"),
        ("2018-12-23", "天皇誕生日"),
        ("2025-09-23", "秋分の日"),
        ("2023-09-23", "秋分の日"),
        ("2012-09-22", "秋分の日"),
        // The Olympic years.
        ("2020-07-23", "海の日"),
        ("2020-07-24", "スポーツの日"),
        ("2020-08-10", "山の日"),
        ("2021-07-22", "海の日"),
        ("2021-07-23", "スポーツの日"),
    ] {
        assert_eq!(name(d), Some(n), "{d}");
    }
    // No 天皇誕生日 in 2019; none on 12/23 after it; the Olympic years
    // had no October sports day and no 7/20-ish 海の日.
    for d in [
        "2019-12-23",
        "2019-02-23",
        "2022-12-23",
        "2020-10-12",
        "2021-10-11",
        "2020-07-20",
        "2021-08-11",
        "2015-08-11",
    ] {
        assert_eq!(name(d), None, "{d}");
    }
}

#[test]
fn every_supported_year_has_sane_equinoxes_and_holiday_counts() {
    for y in 2007..=2099 {
        let spring = equinox_day(y, 20.8431);
        let autumn = equinox_day(y, 23.2488);
        assert!((19..=21).contains(&spring), "{y}: spring {spring}");
        assert!((22..=24).contains(&autumn), "{y}: autumn {autumn}");
        let days_off = (1..=366)
            .filter_map(|o| Date::from_ordinal_date(y, o).ok())
            .filter(|d| holiday(*d).is_some())
            .count();
        // 15 national holidays before 山の日 (2016), 16 since, plus
        // substitute and citizens' holidays.
        assert!((15..=22).contains(&days_off), "{y}: {days_off} days off");
    }
}

#[test]
fn a_year_has_the_right_number_of_days_off() {
    // Counted from the Cabinet Office's published lists.
    let count = |y: i32| {
        (1..=366)
            .filter_map(|o| Date::from_ordinal_date(y, o).ok())
            .filter(|d| holiday(*d).is_some())
            .count()
    };
    assert_eq!(count(2024), 21);
    assert_eq!(count(2025), 19);
    assert_eq!(count(2026), 18);
    assert_eq!(count(2019), 22);
}

fn weekday_schedule() -> Schedule {
    Schedule::new(&HoursSpec::default()).unwrap()
}

#[test]
fn the_default_schedule_is_weekdays_nine_to_five() {
    let s = weekday_schedule();
    // Thursday 2026-05-07, 10:00: open, last entry 16:30.
    assert_eq!(
        s.status(at("2026-05-07", 10, 0)),
        Status::Open {
            closes_at: at("2026-05-07", 17, 0),
            last_entry_at: at("2026-05-07", 16, 30)
        }
    );
    // 16:45: past last entry; next opening Friday 9:00.
    let st = s.status(at("2026-05-07", 16, 45));
    assert!(!st.accepts_new_visitors() && st.open());
    assert_eq!(st.next_opening(), Some(at("2026-05-08", 9, 0)));
    // 17:00 sharp is closed.
    assert!(!s.status(at("2026-05-07", 17, 0)).open());
    // Early morning: opens at 9 the same day.
    assert_eq!(
        s.status(at("2026-05-07", 8, 59)).next_opening(),
        Some(at("2026-05-07", 9, 0))
    );
    // Friday evening: next opening Monday.
    assert_eq!(
        s.status(at("2026-05-08", 18, 0)).next_opening(),
        Some(at("2026-05-11", 9, 0))
    );
}

#[test]
fn golden_week_and_the_year_end_are_closed() {
    let s = weekday_schedule();
    // Wednesday 2026-05-06 is a substitute holiday (5/3 was a Sunday).
    match s.status(at("2026-05-06", 10, 0)) {
        Status::Closed {
            reason,
            holiday,
            next_opening,
        } => {
            assert_eq!(reason, ClosedReason::NationalHoliday);
            assert_eq!(holiday.map(|h| h.name), Some("振替休日"));
            assert_eq!(next_opening, Some(at("2026-05-07", 9, 0)));
        }
        other => panic!("{other:?}"),
    }
    // Monday 2026-12-28 open; 12-29 to 01-03 closed; 01-04 (Monday) opens.
    assert!(s.status(at("2026-12-28", 10, 0)).accepts_new_visitors());
    match s.status(at("2026-12-29", 10, 0)) {
        Status::Closed {
            reason,
            next_opening,
            ..
        } => {
            assert_eq!(reason, ClosedReason::YearEnd);
            assert_eq!(next_opening, Some(at("2027-01-04", 9, 0)));
        }
        other => panic!("{other:?}"),
    }
    // Friday 2027-01-08 9:00 is open; Monday 2027-01-11 is 成人の日.
    assert_eq!(
        s.status(at("2027-01-08", 17, 30)).next_opening(),
        Some(at("2027-01-12", 9, 0))
    );
}

#[test]
fn another_office_tuesday_and_thursday_with_a_closure() {
    let spec = HoursSpec {
        weekly: vec![WeeklySpec {
            days: vec![DayName::Tue, DayName::Thu],
            open: "10:00".into(),
            close: "16:00".into(),
        }],
        closures: vec![ClosureSpec {
            from: "2026-05-12".into(),
            to: Some("2026-05-14".into()),
        }],
        last_entry_minutes: 0,
        ..HoursSpec::default()
    };
    let s = Schedule::new(&spec).unwrap();
    // Monday 2026-05-11: closed, next is Tuesday... which is closed, as
    // is Thursday: next is Tuesday 2026-05-19.
    match s.status(at("2026-05-11", 11, 0)) {
        Status::Closed {
            reason,
            next_opening,
            ..
        } => {
            assert_eq!(reason, ClosedReason::OutsideHours);
            assert_eq!(next_opening, Some(at("2026-05-19", 10, 0)));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.status(at("2026-05-12", 11, 0)),
        Status::Closed {
            reason: ClosedReason::Closure,
            ..
        }
    ));
    // Last entry 0 minutes before close: open until 16:00.
    assert!(s.status(at("2026-05-19", 15, 59)).accepts_new_visitors());
    assert!(!s.status(at("2026-05-19", 16, 0)).open());
}

#[test]
fn two_windows_a_day_and_always_open() {
    let spec = HoursSpec {
        weekly: vec![
            WeeklySpec {
                days: vec![DayName::Mon],
                open: "13:00".into(),
                close: "17:00".into(),
            },
            WeeklySpec {
                days: vec![DayName::Mon],
                open: "09:00".into(),
                close: "12:00".into(),
            },
        ],
        last_entry_minutes: 15,
        ..HoursSpec::default()
    };
    let s = Schedule::new(&spec).unwrap();
    let lunch = s.status(at("2026-05-11", 11, 50));
    assert_eq!(lunch.next_opening(), Some(at("2026-05-11", 13, 0)));
    assert!(!lunch.accepts_new_visitors());
    assert_eq!(
        s.status(at("2026-05-11", 12, 30)).next_opening(),
        Some(at("2026-05-11", 13, 0))
    );
    let always = Schedule::new(&HoursSpec {
        always_open: true,
        ..HoursSpec::default()
    })
    .unwrap();
    assert_eq!(always.status(at("2026-01-01", 3, 0)), Status::AlwaysOpen);
}

#[test]
fn bad_specs_are_refused() {
    let with = |open: &str, close: &str| HoursSpec {
        weekly: vec![WeeklySpec {
            days: vec![DayName::Mon],
            open: open.into(),
            close: close.into(),
        }],
        ..HoursSpec::default()
    };
    assert!(Schedule::new(&with("9:00", "17:00")).is_err());
    assert!(Schedule::new(&with("17:00", "09:00")).is_err());
    assert!(Schedule::new(&with("09:00", "24:30")).is_err());
    assert!(Schedule::new(&with("09:00", "24:00")).is_ok());
    let closure = |from: &str, to: Option<&str>| HoursSpec {
        closures: vec![ClosureSpec {
            from: from.into(),
            to: to.map(Into::into),
        }],
        ..HoursSpec::default()
    };
    assert!(Schedule::new(&closure("2026-02-30", None)).is_err());
    assert!(Schedule::new(&closure("2026-05-02", Some("2026-05-01"))).is_err());
    assert!(Schedule::new(&closure("2026-05-01", None)).is_ok());
}

#[test]
fn iso_times_carry_the_japan_offset() {
    assert_eq!(iso_jst(at("2026-05-07", 9, 0)), "2026-05-07T09:00:00+09:00");
    // 2026-01-01 00:00 JST is 2025-12-31 15:00 UTC.
    assert_eq!(at("2026-01-01", 0, 0), 1_767_193_200_000);
}

proptest! {
    #[test]
    fn the_next_opening_is_open_and_nothing_opens_before_it(now in 1_700_000_000_000u64..1_900_000_000_000) {
        let s = weekday_schedule();
        let next = s.next_opening_after(now).unwrap();
        prop_assert!(next > now);
        prop_assert!(s.status(next).accepts_new_visitors());
        // Sampled every 15 minutes between: never accepting new visitors
        // unless already open at `now`.
        if !s.status(now).open() {
            let mut t = now;
            while t < next {
                prop_assert!(!s.status(t).open(), "open at {} before {}", iso_jst(t), iso_jst(next));
                t += 15 * 60_000;
            }
        }
    }
}
