use super::*;
use crate::core::hours::HoursSpec;
use crate::core::hours::Schedule;
use crate::core::ids::{AccountId, ConversationId};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000_000;

fn terms() -> Terms {
    Terms {
        recipient: "センター受付".into(),
        purpose: "初回相談の準備".into(),
        retention_days: 365,
        wording_version: "w1".into(),
    }
}

fn acct() -> AccountId {
    AccountId(uuid::Uuid::from_u128(7))
}

fn conv() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(9))
}

fn slot(capacity: u32) -> Slot {
    Slot {
        id: SlotId(uuid::Uuid::from_u128(1)),
        starts_at_ms: NOW + 86_400_000,
        duration_mins: 60,
        kind: SlotKind::Centre,
        place: "本館 2F".into(),
        capacity,
        staff: 2,
        created_by: acct(),
        created_at_ms: NOW,
        cancelled_at_ms: None,
    }
}

fn reference(n: u8) -> BookingRef {
    BookingRef::from_random([n; 8])
}

fn consented(transcript_offered: bool, contact: bool) -> HandoffRecord {
    let o = offer(None, conv(), "学校のこと", transcript_offered, acct(), NOW).unwrap();
    answer(
        &o,
        1,
        "w1",
        Answer::Consent {
            transcript: transcript_offered,
            contact,
        },
        &terms(),
        NOW + 1,
    )
    .unwrap()
}

#[test]
fn the_whole_path_offer_consent_book_withdraw() {
    let c = consented(false, true);
    assert_eq!(c.state, HandoffState::Consented);
    let consent = c.consent().unwrap();
    assert_eq!(consent.summary, "学校のこと");
    assert_eq!(consent.recipient, "センター受付");
    assert_eq!(consent.wording_version, "w1");
    assert!(!consent.scope.transcript && consent.scope.contact);
    let b = book(
        &c,
        &slot(2),
        0,
        &Contact::Phone("090-1234-5678".into()),
        reference(1),
        NOW + 2,
    )
    .unwrap();
    assert_eq!(b.booking, Some(reference(1)));
    assert!(b.visible_to_intake());
    let (w, cancelled) = withdraw(&b, NOW + 3).unwrap();
    assert_eq!(cancelled, Some(reference(1)));
    assert_eq!(w.state, HandoffState::Withdrawn);
    assert!(!w.visible_to_intake());
    assert_eq!(w.consents.len(), 1, "the record of consent is kept");
    assert_eq!(w.consents[0].withdrawn_at_ms, Some(NOW + 3));
    assert_eq!(w.booking, None);
}

#[test]
fn decline_and_change_request_let_nothing_out() {
    let o = offer(None, conv(), "s", false, acct(), NOW).unwrap();
    let d = answer(&o, 1, "w1", Answer::Decline, &terms(), NOW).unwrap();
    assert_eq!(d.state, HandoffState::Declined);
    assert!(!d.visible_to_intake());
    assert_eq!(
        book(&d, &slot(1), 0, &Contact::SelfCall, reference(1), NOW),
        Err(HandoffError::NoConsent)
    );
    let r = answer(&o, 1, "w1", Answer::RequestChange, &terms(), NOW).unwrap();
    assert_eq!(r.state, HandoffState::ChangeRequested);
    // The counsellor revises; the old version can no longer be agreed to.
    let v2 = offer(Some(&r), conv(), "s, revised", false, acct(), NOW + 5).unwrap();
    assert_eq!(v2.offer.version, 2);
    let yes = Answer::Consent {
        transcript: false,
        contact: false,
    };
    assert_eq!(
        answer(&v2, 1, "w1", yes, &terms(), NOW),
        Err(HandoffError::OfferChanged)
    );
    assert_eq!(
        answer(&v2, 2, "old-wording", yes, &terms(), NOW),
        Err(HandoffError::OfferChanged)
    );
    let c = answer(&v2, 2, "w1", yes, &terms(), NOW).unwrap();
    assert_eq!(c.consent().unwrap().summary, "s, revised");
    assert_eq!(
        answer(&c, 2, "w1", yes, &terms(), NOW),
        Err(HandoffError::AlreadyAnswered)
    );
}

#[test]
fn scope_is_enforced() {
    let o = offer(None, conv(), "s", false, acct(), NOW).unwrap();
    let with_transcript = Answer::Consent {
        transcript: true,
        contact: false,
    };
    assert_eq!(
        answer(&o, 1, "w1", with_transcript, &terms(), NOW),
        Err(HandoffError::TranscriptNotOffered)
    );
    let c = consented(false, false);
    assert_eq!(
        book(
            &c,
            &slot(1),
            0,
            &Contact::Email("a@b.jp".into()),
            reference(1),
            NOW
        ),
        Err(HandoffError::OutsideConsent)
    );
    assert!(book(&c, &slot(1), 0, &Contact::SelfCall, reference(1), NOW).is_ok());
    assert_eq!(
        offer(Some(&c), conv(), "new", false, acct(), NOW),
        Err(HandoffError::AlreadyConsented)
    );
}

#[test]
fn slots_full_past_and_cancelled_are_refused() {
    let c = consented(false, false);
    let s = slot(2);
    assert_eq!(
        book(&c, &s, 2, &Contact::SelfCall, reference(1), NOW),
        Err(HandoffError::SlotFull)
    );
    assert_eq!(
        book(&c, &s, 0, &Contact::SelfCall, reference(1), s.starts_at_ms),
        Err(HandoffError::SlotUnavailable)
    );
    let mut gone = slot(2);
    gone.cancelled_at_ms = Some(NOW);
    assert_eq!(
        book(&c, &gone, 0, &Contact::SelfCall, reference(1), NOW),
        Err(HandoffError::SlotUnavailable)
    );
    let b = book(&c, &s, 1, &Contact::SelfCall, reference(1), NOW).unwrap();
    assert_eq!(
        book(&b, &s, 1, &Contact::SelfCall, reference(2), NOW),
        Err(HandoffError::AlreadyBooked)
    );
    let freed = cancel_booking(&b).unwrap();
    assert!(book(&freed, &s, 1, &Contact::SelfCall, reference(2), NOW).is_ok());
    assert_eq!(cancel_booking(&freed), Err(HandoffError::NoBooking));
}

#[test]
fn slots_respect_the_opening_hours() {
    let spec = HoursSpec::default();
    let schedule = Schedule::new(&spec).unwrap();
    // 2026-12-01 is a Tuesday; default hours are 9:00-17:00 JST.
    let tue_10 = crate::core::hours::jst_ms(time::macros::date!(2026 - 12 - 01), 10 * 60);
    let input = |start, mins| SlotInput {
        starts_at: start,
        duration_mins: mins,
        kind: SlotKind::Online,
        place: "オンライン".into(),
        capacity: 1,
        staff: 2,
    };
    let id = SlotId(uuid::Uuid::from_u128(5));
    let before = tue_10 - 86_400_000;
    assert!(input(tue_10, 60)
        .validate(id, acct(), before, &schedule)
        .is_ok());
    // Ends after 17:00.
    let late = tue_10 + 6 * 3_600_000 + 30 * 60_000;
    assert!(input(late, 60)
        .validate(id, acct(), before, &schedule)
        .is_err());
    // Saturday.
    let sat = tue_10 + 4 * 86_400_000;
    assert!(input(sat, 60)
        .validate(id, acct(), before, &schedule)
        .is_err());
    // In the past, too short, blank place.
    assert!(input(tue_10, 60)
        .validate(id, acct(), tue_10, &schedule)
        .is_err());
    assert!(input(tue_10, 5)
        .validate(id, acct(), before, &schedule)
        .is_err());
    let mut blank = input(tue_10, 60);
    blank.place = "  ".into();
    assert!(blank.validate(id, acct(), before, &schedule).is_err());
}

#[test]
fn contacts_are_checked_for_shape() {
    for ok in [
        "090-1234-5678",
        "+81 90 1234 5678",
        "(03) 1234-5678",
        "0312345678",
    ] {
        assert!(parse_phone(ok).is_ok(), "{ok}");
    }
    for bad in [
        "12345",
        "090-1234-567a",
        "",
        "+81 90 1234 5678 9999 99",
        "☎0901234567",
    ] {
        assert!(parse_phone(bad).is_err(), "{bad}");
    }
    for ok in ["name@example.jp", "a.b+c@sub.example.co.jp"] {
        assert!(parse_email(ok).is_ok(), "{ok}");
    }
    for bad in [
        "no-at.jp", "a@b", "a@@b.jp", "a b@c.jp", "@c.jp", "a@.jp", "a@-x.jp",
    ] {
        assert!(parse_email(bad).is_err(), "{bad}");
    }
    assert_eq!(Contact::parse("self", None), Ok(Contact::SelfCall));
    assert!(Contact::parse("fax", Some("1")).is_err());
}

#[test]
fn references_and_pins() {
    let r = BookingRef::from_random([0, 1, 2, 3, 4, 5, 6, 31]);
    assert_eq!(r.as_str().len(), 9);
    assert_eq!(BookingRef::parse(&r.as_str().to_lowercase()), Ok(r.clone()));
    assert_eq!(BookingRef::parse(&r.as_str().replace('-', "")), Ok(r));
    assert!(BookingRef::parse("OOOO-IIII").is_err());
    assert!(BookingRef::parse("ABC").is_err());
    assert!(BookingRef::parse("ＡＢＣＤ-ＥＦＧＨ").is_err());
    assert_eq!(pin_from_random([0, 0, 0, 0]), "000000");
    assert!(valid_pin(&pin_from_random([255, 255, 255, 255])));
    assert!(!valid_pin("12345") && !valid_pin("12345a"));
}

#[test]
fn calendar_file_has_the_slot_in_utc_and_no_personal_data() {
    let s = slot(1);
    let f = ics(&reference(3), &s, "初回相談", "センター, 受付", NOW);
    assert!(f.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(f.contains("DTSTART:20270116T080000Z"), "{f}");
    assert!(f.contains("DTEND:20270116T090000Z"), "{f}");
    assert!(f.contains("センター\\, 受付"));
    assert!(f.ends_with("END:VCALENDAR\r\n"));
}

fn link(rec: &HandoffRecord) -> HandoffLink {
    HandoffLink {
        conversation: conv(),
        token_hash: [1; 32],
        offer_version: rec.offer.version,
        bookings_at_issue: rec.bookings_made,
        created_at_ms: NOW,
        expires_at_ms: NOW + 1_000,
        sent: true,
    }
}

#[test]
fn a_link_works_until_a_booking_then_never_again() {
    let offered = offer(None, conv(), "s", false, acct(), NOW).unwrap();
    let l = link(&offered);
    assert_eq!(l.check(Some(&offered), NOW), Ok(()));
    let yes = Answer::Consent {
        transcript: false,
        contact: false,
    };
    let consented = answer(&offered, 1, "w1", yes, &terms(), NOW).unwrap();
    assert_eq!(
        l.check(Some(&consented), NOW + 1),
        Ok(()),
        "still needed to book"
    );
    let booked = book(
        &consented,
        &slot(1),
        0,
        &Contact::SelfCall,
        reference(1),
        NOW,
    )
    .unwrap();
    assert_eq!(l.check(Some(&booked), NOW + 2), Err(LinkError::Spent));
    // Cancelling the booking (with the PIN) does not revive the link.
    let cancelled = cancel_booking(&booked).unwrap();
    assert_eq!(l.check(Some(&cancelled), NOW + 3), Err(LinkError::Spent));
    assert_eq!(l.check(None, NOW), Err(LinkError::Spent));
}

#[test]
fn a_link_ends_with_a_decline_or_withdrawal_and_expires_on_time() {
    let offered = offer(None, conv(), "s", false, acct(), NOW).unwrap();
    let l = link(&offered);
    assert_eq!(l.check(Some(&offered), NOW + 999), Ok(()));
    assert_eq!(
        l.check(Some(&offered), NOW + 1_000),
        Err(LinkError::Expired)
    );
    let declined = answer(&offered, 1, "w1", Answer::Decline, &terms(), NOW).unwrap();
    assert_eq!(l.check(Some(&declined), NOW), Err(LinkError::Spent));
    let yes = Answer::Consent {
        transcript: false,
        contact: false,
    };
    let consented = answer(&offered, 1, "w1", yes, &terms(), NOW).unwrap();
    let (withdrawn, _) = withdraw(&consented, NOW).unwrap();
    assert_eq!(l.check(Some(&withdrawn), NOW), Err(LinkError::Spent));
    // A new offer after the withdrawal wants a new link, made then.
    let again = offer(Some(&withdrawn), conv(), "s2", false, acct(), NOW).unwrap();
    assert!(HandoffLink::stale_for(Some(&l), &again));
    let fresh = link(&again);
    assert!(!HandoffLink::stale_for(Some(&fresh), &again));
    assert_eq!(fresh.check(Some(&again), NOW), Ok(()));
}

#[test]
fn a_link_is_sent_once_per_offer_version_until_confirmed() {
    let offered = offer(None, conv(), "s", false, acct(), NOW).unwrap();
    assert!(HandoffLink::stale_for(None, &offered));
    let mut l = link(&offered);
    assert!(!HandoffLink::stale_for(Some(&l), &offered));
    l.sent = false;
    assert!(HandoffLink::stale_for(Some(&l), &offered));
    let changed = answer(&offered, 1, "w1", Answer::RequestChange, &terms(), NOW).unwrap();
    assert!(
        !HandoffLink::stale_for(None, &changed),
        "nothing to answer yet"
    );
    let revised = offer(Some(&changed), conv(), "s2", false, acct(), NOW).unwrap();
    assert!(HandoffLink::stale_for(Some(&link(&offered)), &revised));
}

#[derive(Clone, Debug)]
enum Op {
    Offer(bool),
    Answer(u8, bool, bool),
    Book(bool),
    Cancel,
    Withdraw,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Offer),
        (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(a, t, c)| Op::Answer(a, t, c)),
        any::<bool>().prop_map(Op::Book),
        Just(Op::Cancel),
        Just(Op::Withdraw),
    ]
}

proptest! {
    /// Whatever happens, in any order: a booking exists only under a
    /// consent in force, whose scope covers its contact; consent
    /// records are only ever added; the revision rises with every
    /// accepted step and a refused step changes nothing.
    #[test]
    fn invariants_hold_under_any_sequence(ops in proptest::collection::vec(op(), 1..40)) {
        let mut rec: Option<HandoffRecord> = None;
        let mut contacts: std::collections::HashMap<BookingRef, bool> = Default::default();
        for (i, op) in ops.into_iter().enumerate() {
            let now = NOW + i as u64;
            let before = rec.clone();
            let result = match (&op, &rec) {
                (Op::Offer(t), r) => offer(r.as_ref(), conv(), "s", *t, acct(), now),
                (Op::Answer(a, t, c), Some(r)) => {
                    let ans = match a {
                        0 => Answer::Decline,
                        1 => Answer::RequestChange,
                        _ => Answer::Consent { transcript: *t, contact: *c },
                    };
                    answer(r, r.offer.version, "w1", ans, &terms(), now)
                }
                (Op::Book(personal), Some(r)) => {
                    let contact = if *personal { Contact::Phone("0312345678".into()) } else { Contact::SelfCall };
                    let reference = reference(i as u8);
                    book(r, &slot(50), 0, &contact, reference.clone(), now).inspect(|_| {
                        contacts.insert(reference, *personal);
                    })
                }
                (Op::Cancel, Some(r)) => cancel_booking(r),
                (Op::Withdraw, Some(r)) => withdraw(r, now).map(|(n, _)| n),
                (_, None) => Err(HandoffError::NoOffer),
            };
            match result {
                Ok(next) => {
                    if let Some(b) = &before {
                        prop_assert_eq!(next.rev, b.rev + 1);
                        prop_assert!(next.consents.len() >= b.consents.len());
                        prop_assert_eq!(&next.consents[..b.consents.len()].iter().map(|c| (c.at_ms, c.summary.clone())).collect::<Vec<_>>(),
                            &b.consents.iter().map(|c| (c.at_ms, c.summary.clone())).collect::<Vec<_>>());
                    }
                    rec = Some(next);
                }
                Err(_) => prop_assert_eq!(&rec, &before),
            }
            if let Some(r) = &rec {
                if let Some(b) = &r.booking {
                    let consent = r.consent();
                    prop_assert!(consent.is_some(), "a booking without a consent in force");
                    if contacts[b] {
                        prop_assert!(consent.unwrap().scope.contact);
                    }
                }
                prop_assert_eq!(r.visible_to_intake(), r.state == HandoffState::Consented);
                if let Some(c) = r.consent() {
                    prop_assert!(!c.scope.transcript || r.offer.include_transcript);
                }
            }
        }
    }
}

// ------------------------------------------- rescheduling (issue 19)

fn slot_with(id: u128, starts_at_ms: u64, capacity: u32) -> Slot {
    Slot {
        id: SlotId(uuid::Uuid::from_u128(id)),
        starts_at_ms,
        ..slot(capacity)
    }
}

fn booking_in(rec: &HandoffRecord, slot: SlotId) -> Booking {
    Booking {
        reference: rec.booking.clone().unwrap(),
        pin_hash: [0; 32],
        slot,
        conversation: conv(),
        name: None,
        contact: Contact::SelfCall,
        created_at_ms: NOW + 2,
        cancelled_at_ms: None,
        cancel_reason: None,
        attended: None,
        contact_choice: Some(ContactChoice::NoContact),
        rescheduled_at_ms: None,
    }
}

#[test]
fn a_booking_moves_under_the_rules_of_a_new_booking() {
    let c = consented(false, false);
    let from = slot_with(1, NOW + 86_400_000, 2);
    let to = slot_with(2, NOW + 2 * 86_400_000, 1);
    let b = book(&c, &from, 0, &Contact::SelfCall, reference(1), NOW + 2).unwrap();
    let current = booking_in(&b, from.id);
    let moved = reschedule(&b, &current, &from, &to, 0, NOW + 3).unwrap();
    assert_eq!(moved.rev, b.rev + 1);
    assert_eq!(moved.booking, Some(reference(1)), "the reference stays");
    assert_eq!(
        moved.bookings_made, b.bookings_made,
        "a move is not a new booking"
    );
    // Refusals, each with its reason.
    assert_eq!(
        reschedule(&b, &current, &from, &to, 1, NOW + 3),
        Err(HandoffError::SlotFull)
    );
    assert_eq!(
        reschedule(&b, &current, &from, &from, 0, NOW + 3),
        Err(HandoffError::SameSlot)
    );
    let past = slot_with(3, NOW, 2);
    assert_eq!(
        reschedule(&b, &current, &from, &past, 0, NOW + 3),
        Err(HandoffError::SlotUnavailable)
    );
    let mut gone = to.clone();
    gone.cancelled_at_ms = Some(NOW);
    assert_eq!(
        reschedule(&b, &current, &from, &gone, 0, NOW + 3),
        Err(HandoffError::SlotUnavailable)
    );
    assert_eq!(
        reschedule(&b, &current, &from, &to, 0, from.starts_at_ms),
        Err(HandoffError::BookingPast),
        "a booking whose time has come stays where it is"
    );
    let cancelled = cancel_booking(&b).unwrap();
    assert_eq!(
        reschedule(&cancelled, &current, &from, &to, 0, NOW + 3),
        Err(HandoffError::NoBooking)
    );
    let (withdrawn, _) = withdraw(&b, NOW + 3).unwrap();
    assert_eq!(
        reschedule(&withdrawn, &current, &from, &to, 0, NOW + 4),
        Err(HandoffError::NoConsent)
    );
    let other = Booking {
        reference: reference(2),
        ..current.clone()
    };
    assert_eq!(
        reschedule(&b, &other, &from, &to, 0, NOW + 3),
        Err(HandoffError::NoBooking)
    );
}

#[test]
fn contact_choices_take_only_the_detail_they_need() {
    let phone = Contact::Phone("090-1234-5678".into());
    let email = Contact::Email("a@example.jp".into());
    let none = Contact::SelfCall;
    for (choice, ok) in [
        (ContactChoice::Message, [true, true, false]),
        (ContactChoice::Call, [true, false, false]),
        (ContactChoice::NoContact, [false, false, true]),
        (ContactChoice::SelfCall, [false, false, true]),
    ] {
        let got = [&phone, &email, &none].map(|c| choice.check(c).is_ok());
        assert_eq!(got, ok, "{choice:?}");
    }
    assert_eq!(ContactChoice::implied_by(&phone), ContactChoice::Call);
    assert_eq!(ContactChoice::implied_by(&email), ContactChoice::Message);
    assert_eq!(ContactChoice::implied_by(&none), ContactChoice::SelfCall);
    assert_eq!(
        ContactChoice::parse("no_contact"),
        Ok(ContactChoice::NoContact)
    );
    assert!(matches!(
        ContactChoice::parse("fax"),
        Err(HandoffError::InvalidContact(_))
    ));
}

#[test]
fn the_calendar_file_names_nobody_unless_configured() {
    let f = ics(&reference(3), &slot(1), "予約", "", NOW);
    assert!(f.contains("SUMMARY:予約\r\n"), "{f}");
    assert!(f.contains("DESCRIPTION:Ref: "), "{f}");
    let named = ics(&reference(3), &slot(1), "Appointment", "Room A", NOW);
    assert!(named.contains("DESCRIPTION:Room A\\nRef: "), "{named}");
}

proptest! {
    /// A move is allowed exactly when the target could be booked anew,
    /// the booking's own time is still ahead, and the target is another slot.
    #[test]
    fn a_move_is_allowed_exactly_when_a_new_booking_would_be(
        to_booked in 0u32..4,
        capacity in 1u32..4,
        to_offset in -2i64..3,
        from_offset in -2i64..3,
        same in any::<bool>(),
    ) {
        let c = consented(false, false);
        let now = NOW + 10 * 86_400_000;
        let at = |d: i64| (now as i64 + d * 3_600_000) as u64;
        let from = slot_with(1, at(from_offset), 2);
        let to = slot_with(if same { 1 } else { 2 }, at(to_offset), capacity);
        let mut b = c.clone();
        b.booking = Some(reference(1));
        let current = booking_in(&b, from.id);
        let got = reschedule(&b, &current, &from, &to, to_booked, now);
        let want_ok = from.starts_at_ms > now
            && !same
            && to.bookable(to_booked, now).is_ok();
        prop_assert_eq!(got.is_ok(), want_ok, "{:?}", got);
    }
}

// ------------------------------------------------- forgetting (issue 18)

fn contact_strategy() -> impl Strategy<Value = (Contact, Option<ContactChoice>)> {
    prop_oneof![
        Just((Contact::SelfCall, None)),
        Just((Contact::SelfCall, Some(ContactChoice::NoContact))),
        "090-[0-9]{4}-[0-9]{4}".prop_map(|p| (Contact::Phone(p), Some(ContactChoice::Call))),
        "090-[0-9]{4}-[0-9]{4}".prop_map(|p| (Contact::Phone(p), None)),
        "[a-z]{3,8}".prop_map(|l| (Contact::Email(format!("{l}@example.jp")), None)),
    ]
}

proptest! {
    /// Forgetting deletes the name and the contact detail and keeps the
    /// rest, the kind of contact choice included; doing it again changes
    /// nothing; the stored JSON holds neither.
    #[test]
    fn forgetting_keeps_only_the_anonymous_booking(
        (contact, choice) in contact_strategy(),
        name in proptest::option::of("[あ-ん]{1,10}"),
        attended in proptest::option::of(any::<bool>()),
    ) {
        let rec = HandoffRecord { booking: Some(reference(1)), ..consented(false, true) };
        let made = Booking {
            name: name.clone(),
            contact: contact.clone(),
            contact_choice: choice,
            attended,
            cancelled_at_ms: Some(NOW + 5),
            cancel_reason: Some(CancelReason::Staff),
            ..booking_in(&rec, SlotId(uuid::Uuid::from_u128(9)))
        };
        let mut b = made.clone();
        b.forget_personal();
        prop_assert_eq!(b.name.as_deref(), None);
        prop_assert_eq!(&b.contact, &Contact::Deleted);
        prop_assert!(b.personal_deleted() && !made.personal_deleted());
        prop_assert!(!b.contact.is_personal());
        prop_assert_eq!(b.choice(), made.choice());
        prop_assert_eq!(
            Booking { name: made.name.clone(), contact: made.contact.clone(), contact_choice: made.contact_choice, ..b.clone() },
            made.clone()
        );
        let mut again = b.clone();
        again.forget_personal();
        prop_assert_eq!(&again, &b);
        let json = serde_json::to_string(&b).unwrap();
        if let Some(n) = &name {
            prop_assert!(!json.contains(n.as_str()), "{}", json);
        }
        if let Contact::Phone(v) | Contact::Email(v) = &contact {
            prop_assert!(!json.contains(v.as_str()), "{}", json);
        }
        prop_assert!(json.contains(r#""contact":{"kind":"deleted"}"#), "{}", json);
    }
}

#[test]
fn calendar_lines_are_folded_at_75_octets() {
    let s = slot(1);
    let organiser = "ひきこもり地域支援センター 初回相談の受付担当（本館 2F 相談室）";
    let f = ics(&reference(3), &s, "初回相談", organiser, NOW);
    for line in f.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    // Unfolded (CRLF + space removed), the description is whole again.
    let unfolded = f.replace("\r\n ", "");
    assert!(
        unfolded.contains(&format!("DESCRIPTION:{organiser}\\nRef: ")),
        "{unfolded}"
    );
}

proptest::proptest! {
    #[test]
    fn folding_keeps_every_character_and_the_octet_limit(line in "\\PC{0,200}") {
        let folded = super::audit::fold_ics_line(&line);
        for part in folded.split("\r\n") {
            proptest::prop_assert!(part.len() <= 75);
        }
        proptest::prop_assert_eq!(folded.replace("\r\n ", ""), line);
    }
}

/// Issue 27, point 8: with `always_open` the chat runs round the clock,
/// but a slot still lies within one window of the weekly office hours.
#[test]
fn always_open_hours_still_bound_slots_to_the_office_hours() {
    let spec = HoursSpec {
        always_open: true,
        ..HoursSpec::default()
    };
    let schedule = Schedule::new(&spec).unwrap();
    let tue = time::macros::date!(2026 - 12 - 01);
    let at = |minute| crate::core::hours::jst_ms(tue, minute);
    let before = at(0) - 86_400_000;
    let slot = |start, mins| SlotInput {
        starts_at: start,
        duration_mins: mins,
        kind: SlotKind::Centre,
        place: "本館 2F 相談室".into(),
        capacity: 1,
        staff: 2,
    };
    let id = SlotId(uuid::Uuid::from_u128(6));
    assert!(slot(at(10 * 60), 60)
        .validate(id, acct(), before, &schedule)
        .is_ok());
    // 00:00 Japan time: the chat is open, the office is not.
    assert!(matches!(
        slot(at(0), 60).validate(id, acct(), before, &schedule),
        Err(HandoffError::SlotOutsideHours(_))
    ));
    // Runs past 17:00.
    assert!(matches!(
        slot(at(16 * 60 + 30), 60).validate(id, acct(), before, &schedule),
        Err(HandoffError::SlotOutsideHours(_))
    ));
    // Always open with no weekly hours written: no slot, and the error
    // says where to write them.
    let none = Schedule::new(&HoursSpec {
        always_open: true,
        weekly: Vec::new(),
        ..HoursSpec::default()
    })
    .unwrap();
    let e = slot(at(10 * 60), 60)
        .validate(id, acct(), before, &none)
        .unwrap_err();
    assert!(e.to_string().contains("[[hours.weekly]]"), "{e}");
}

proptest! {
    /// The slot rule: accepted exactly when the start lies in one office
    /// window and the end is no later than that window's close, and
    /// `always_open` never changes the answer.
    #[test]
    fn a_slot_is_accepted_only_within_one_office_window(
        day in 0u64..60,
        minute in 0u64..(24 * 60),
        mins in 15u32..=240,
    ) {
        let start = crate::core::hours::jst_ms(time::macros::date!(2026 - 12 - 01), 0)
            + day * 86_400_000
            + minute * 60_000;
        let ends = start + u64::from(mins) * 60_000;
        let office = Schedule::new(&HoursSpec::default()).unwrap();
        let always = Schedule::new(&HoursSpec { always_open: true, ..HoursSpec::default() }).unwrap();
        let a = within_office_hours(&office, start, ends);
        let b = within_office_hours(&always, start, ends);
        prop_assert_eq!(a.is_ok(), b.is_ok());
        let (date, m) = crate::core::hours::jst_date_minute(start);
        let (end_date, end_m) = crate::core::hours::jst_date_minute(ends - 1);
        if a.is_ok() {
            // Monday-Friday 9:00-17:00 (no holiday in this range is
            // open): the same day, inside the window.
            prop_assert_eq!(date, end_date);
            prop_assert!(date.weekday().number_days_from_monday() < 5);
            prop_assert!((9 * 60..17 * 60).contains(&m));
            prop_assert!(end_m < 17 * 60);
        } else {
            prop_assert!(matches!(a, Err(HandoffError::SlotOutsideHours(_))));
        }
    }
}
