//! Purge, erase and the report's facts.

use std::collections::HashSet;

use super::*;
use crate::core::case_retention::{self, CaseRetention};

/// How many times a purge or erase step re-reads a conversation that
/// changed under it before leaving it for the next round.
const PURGE_ATTEMPTS: usize = 4;

impl RedisStore {
    /// Purge one ended conversation (see `purge_conversation.lua`): reads
    /// the record and its handoff, computes the facts, and lets the script
    /// check nothing changed before it writes. `true` if purged.
    async fn purge_one(&self, id: ConversationId, now_ms: u64, r: &Retention) -> StoreResult<bool> {
        for _ in 0..PURGE_ATTEMPTS {
            let Some(rec) = self.conversation(id).await? else {
                let _: i64 = self
                    .query(
                        ::redis::cmd("ZREM")
                            .arg(self.keys.ended())
                            .arg(id.to_string()),
                    )
                    .await?;
                return Ok(false);
            };
            let Some(ended_at) = rec.ended_at_ms else {
                return Ok(false);
            };
            // Its case: kept longer while the case's consent is in force;
            // else the case loses it (or goes with it) in the same script.
            let case_id = self.case_id_at(self.keys.case_of(id)).await?;
            let case = match case_id {
                Some(c) => self.read_case(c).await?,
                None => None,
            };
            let retention = case
                .as_ref()
                .map_or(CaseRetention::Normal, |(_, c)| c.retention());
            if case_retention::purge_at(ended_at, r.conversation_ms, retention) > now_ms {
                return Ok(false);
            }
            let case_step = match &case {
                None => None,
                Some((json, c)) => {
                    let mut stored = HashSet::new();
                    for other in c.conversations.iter().filter(|o| **o != id) {
                        let n: i64 = self
                            .query(::redis::cmd("EXISTS").arg(self.keys.meta(*other)))
                            .await?;
                        if n == 1 {
                            stored.insert(*other);
                        }
                    }
                    let next = c.after_purge(id, |o| stored.contains(&o));
                    let gone: Vec<String> = c
                        .conversations
                        .iter()
                        .filter(|o| **o != id && !stored.contains(o))
                        .map(|o| self.keys.case_of(*o))
                        .collect();
                    let (op, next_json) = match &next {
                        Some(n) => (
                            "put",
                            serde_json::to_string(n).map_err(|_| codec::corrupt("case"))?,
                        ),
                        None => ("delete", String::new()),
                    };
                    Some((json.clone(), c.clone(), op, next_json, gone))
                }
            };
            let (facts, handoff, appointment) = self.facts_of(&rec).await?;
            let facts = serde_json::to_string(&facts).map_err(|_| codec::corrupt("facts"))?;
            let (rev, op, json, new_rev, expires) = match &handoff {
                None => (String::new(), "keep", String::new(), 0, 0),
                Some(h) => {
                    let expires = handoff_expiry(ended_at, appointment, r);
                    let mut stamped = h.clone();
                    stamped.rev += 1;
                    stamped.expires_at_ms = Some(expires);
                    let json =
                        serde_json::to_string(&stamped).map_err(|_| codec::corrupt("handoff"))?;
                    let op = if expires <= now_ms { "delete" } else { "keep" };
                    (h.rev.to_string(), op, json, stamped.rev, expires)
                }
            };
            let user_index = match self.line_link(id).await?.and_then(|l| l.user_id) {
                Some(u) => self.keys.line_user(&hex(&line_user_key(&u))),
                None => self.keys.line_user("-"),
            };
            let (link_hex, link_key) = self.handoff_link_key_of(id).await?;
            let keys = [
                self.keys.meta(id),
                self.keys.log(id),
                self.keys.seen(id),
                self.keys.notes(id),
                self.keys.ended(),
                self.keys.facts(),
                rec.counsellor
                    .map_or_else(|| self.keys.no_held(), |c| self.keys.held(c)),
                self.keys.handoff(id),
                self.keys.handoff_expiry(),
                self.keys.line(id),
                self.keys.line_deliveries(id),
                self.keys.line_lease(id),
                user_index,
                self.keys.handoff_link_of(id),
                link_key,
                self.keys.whispers(id),
            ];
            let mut keys = keys.to_vec();
            let no_case = CaseId(uuid::Uuid::nil());
            match &case_step {
                Some((_, c, _, _, gone)) => {
                    keys.push(self.keys.case(c.id));
                    keys.push(self.keys.case_code(&hex(&c.code_hash)));
                    keys.push(self.keys.case_of(id));
                    keys.extend(gone.iter().cloned());
                }
                None => {
                    keys.push(self.keys.case(no_case));
                    keys.push(self.keys.case_code("-"));
                    keys.push(self.keys.case_of(id));
                }
            }
            let (case_read, case_op, case_next, case_ref) = match &case_step {
                Some((json, c, op, next, _)) => (json.clone(), *op, next.clone(), c.id.to_string()),
                None => (String::new(), "none", String::new(), String::new()),
            };
            let argv = args![
                id.to_string(),
                ended_at,
                rec.outcome.map(|o| enum_name(&o)).unwrap_or_default(),
                self.conversation_field(id, "assess").await?,
                facts,
                rev,
                op,
                json,
                new_rev,
                expires,
                link_hex,
                case_read,
                case_op,
                case_next,
                case_ref,
                // The sheet the facts were computed from (its statistics
                // count): a save since answers `retry`.
                rec.hearing
                    .as_deref()
                    .map(|h| codec::hearing_fields(h.clone()).0)
                    .unwrap_or_default()
            ];
            // A step that changes a case is confirmed like the case's own
            // writes (durable connection, replicated before `Ok`), so a
            // failover cannot bring back a case naming a purged conversation.
            let answer = if case_step.is_some() {
                let mut conn = self.durable_conn();
                let v = invoke(&mut conn, &SCRIPTS.purge_conversation, &keys, &argv).await?;
                if matches!(reply(v.clone()), Ok(Reply::Ok(_))) {
                    self.wait_durable(&mut conn).await?;
                }
                v
            } else {
                self.run(&SCRIPTS.purge_conversation, &keys, &argv).await?
            };
            match reply(answer) {
                Ok(Reply::Ok(_)) => return Ok(true),
                Ok(Reply::Retry) => continue,
                Err(StoreError::NotFound) => return Ok(false),
                Ok(Reply::Dup(_)) => return Err(codec::corrupt("purge reply")),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// A stored conversation's facts (with its handoff's progress and its
    /// case), its handoff record and its booked appointment's start.
    async fn facts_of(
        &self,
        rec: &ConversationRecord,
    ) -> StoreResult<(ConversationFacts, Option<HandoffRecord>, Option<u64>)> {
        let handoff = self.handoff(rec.id).await?;
        let booking = match handoff.as_ref().and_then(|h| h.booking.as_ref()) {
            Some(b) => self.booking(b).await?,
            None => None,
        };
        let appointment = match &booking {
            Some(b) => self.slot(b.slot).await?.map(|s| s.slot.starts_at_ms),
            None => None,
        };
        let attended = booking.as_ref().is_some_and(|b| b.attended == Some(true));
        let case = self.case_id_at(self.keys.case_of(rec.id)).await?;
        let facts = rec.facts(handoff_facts(handoff.as_ref(), attended), case);
        Ok((facts, handoff, appointment))
    }

    /// The facts of every record still stored (live and ended).
    async fn stored_facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        let mut ids: Vec<String> = self.scored_up_to(self.keys.ended(), u64::MAX).await?;
        let live: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.live()))
            .await?;
        ids.extend(live);
        ids.sort_unstable();
        ids.dedup();
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for rec in self.records(&ids).await? {
            out.push(self.facts_of(&rec).await?.0);
        }
        Ok(out)
    }

    /// Members of a sorted set scored at most `max`, lowest first.
    async fn scored_up_to(&self, key: String, max: u64) -> StoreResult<Vec<String>> {
        self.query(
            ::redis::cmd("ZRANGE")
                .arg(key)
                .arg("-inf")
                .arg(max)
                .arg("BYSCORE"),
        )
        .await
    }

    async fn conversation_field(&self, id: ConversationId, field: &str) -> StoreResult<String> {
        let v: Option<String> = self
            .query(::redis::cmd("HGET").arg(self.keys.meta(id)).arg(field))
            .await?;
        Ok(v.unwrap_or_default())
    }
}

#[async_trait]
impl RetentionStore for RedisStore {
    async fn purge(&self, now_ms: u64, retention: &Retention) -> StoreResult<Purged> {
        let mut purged = Purged::default();
        let due = now_ms.saturating_sub(retention.conversation_ms);
        let ids: Vec<String> = self.scored_up_to(self.keys.ended(), due).await?;
        for id in ids {
            let id = ConversationId(uuid_of(&id)?);
            if self.purge_one(id, now_ms, retention).await? {
                purged.conversations.push(id);
            }
        }
        let expired: Vec<String> = self
            .scored_up_to(self.keys.handoff_expiry(), now_ms)
            .await?;
        for id in expired {
            let conv = ConversationId(uuid_of(&id)?);
            let keys = [self.keys.handoff(conv), self.keys.handoff_expiry()];
            let v = self
                .run(&SCRIPTS.purge_handoff, &keys, &args![id, now_ms])
                .await?;
            purged.handoffs += codec::int(Some(&v))? as u32;
        }
        let slot_due = now_ms.saturating_sub(retention.booking_ms);
        let slots: Vec<String> = self.scored_up_to(self.keys.slot_order(), slot_due).await?;
        for id in slots {
            let slot = SlotId(uuid_of(&id)?);
            let refs: Vec<String> = self
                .query(
                    ::redis::cmd("LRANGE")
                        .arg(self.keys.slot_bookings(slot))
                        .arg(0)
                        .arg(-1),
                )
                .await?;
            let mut keys = vec![
                self.keys.slot(slot),
                self.keys.slot_order(),
                self.keys.slot_bookings(slot),
            ];
            for r in &refs {
                let reference = BookingRef::parse(r).map_err(|_| codec::corrupt("booking ref"))?;
                keys.push(self.keys.booking(&reference));
            }
            let v = self
                .run(&SCRIPTS.purge_slot, &keys, &args![id, slot_due, refs.len()])
                .await?;
            purged.slots += codec::int(Some(&v))? as u32;
        }
        // Audit entries past their retention, a batch per script call.
        const AUDIT_BATCH: u64 = 500;
        let audit_before = now_ms.saturating_sub(retention.audit_ms);
        loop {
            let v = self
                .run(
                    &SCRIPTS.purge_audit,
                    &[self.keys.audit()],
                    &args![audit_before, AUDIT_BATCH],
                )
                .await?;
            let Reply::Ok(v) = reply(v)? else {
                return Err(codec::corrupt("purge_audit reply"));
            };
            let n = codec::int(v.first())?;
            purged.audit += n as u32;
            if n < AUDIT_BATCH {
                break;
            }
        }
        Ok(purged)
    }

    async fn erase(
        &self,
        conversation: ConversationId,
        keep_notes: bool,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let mut was = None;
        for _ in 0..PURGE_ATTEMPTS {
            let rec = self
                .conversation(conversation)
                .await?
                .ok_or(StoreError::NotFound)?;
            if rec.state != ConversationState::Ended {
                match self.end(conversation, EndedBy::Visitor, None, now_ms).await {
                    Ok(e) => was = was.or(Some(e.was)),
                    Err(StoreError::Transition(TransitionError::AlreadyEnded)) => {}
                    Err(e) => return Err(e),
                }
            }
            let fixed: String = self.conversation_field(conversation, "static").await?;
            let mut fixed: codec::Static =
                serde_json::from_str(&fixed).map_err(|_| codec::corrupt("static"))?;
            fixed.first_message = None;
            let fixed = serde_json::to_string(&fixed).map_err(|_| codec::corrupt("static"))?;
            let (link_hex, link_key) = self.handoff_link_key_of(conversation).await?;
            let keys = [
                self.keys.meta(conversation),
                self.keys.log(conversation),
                self.keys.seen(conversation),
                self.keys.notes(conversation),
                self.keys.handoff_link_of(conversation),
                link_key,
                self.keys.whispers(conversation),
            ];
            let v = self
                .run(
                    &SCRIPTS.erase,
                    &keys,
                    &args![now_ms, fixed, if keep_notes { "0" } else { "1" }, link_hex],
                )
                .await?;
            match reply(v)? {
                Reply::Ok(v) => {
                    let record = codec::conversation(&codec::hash(first(&v)?)?)?;
                    return Ok(Ended {
                        record,
                        was: was.unwrap_or(ConversationState::Ended),
                    });
                }
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("erase reply")),
            }
        }
        Err(StoreError::Unavailable(
            "redis: the conversation kept changing; try again".into(),
        ))
    }

    async fn facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        let all: Vec<String> = self
            .query(::redis::cmd("LRANGE").arg(self.keys.facts()).arg(0).arg(-1))
            .await?;
        all.iter()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("facts")))
            .collect()
    }

    async fn report_facts(&self) -> StoreResult<Vec<ConversationFacts>> {
        // A purge moves a conversation from its record to the facts list in
        // one script; if the list grew while the records were read, read
        // again, so nothing is counted twice or missed.
        for _ in 0..PURGE_ATTEMPTS {
            let before = self.facts().await?;
            let stored = self.stored_facts().await?;
            let len: u64 = self
                .query(::redis::cmd("LLEN").arg(self.keys.facts()))
                .await?;
            if len == before.len() as u64 {
                let mut all = before;
                all.extend(stored);
                return Ok(all);
            }
        }
        Err(StoreError::Unavailable(
            "the report's facts kept changing".into(),
        ))
    }
}
