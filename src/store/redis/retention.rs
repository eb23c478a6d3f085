//! Purge, erase and the report's facts.

use super::*;

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
            ];
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
                link_hex
            ];
            match reply(self.run(&SCRIPTS.purge_conversation, &keys, &argv).await?) {
                Ok(Reply::Ok(_)) => return Ok(true),
                Ok(Reply::Retry) => continue,
                Err(StoreError::NotFound) => return Ok(false),
                Ok(Reply::Dup(_)) => return Err(codec::corrupt("purge reply")),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// A stored conversation's facts (with its handoff's progress), its
    /// handoff record and its booked appointment's start.
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
        let facts = rec.facts(handoff_facts(handoff.as_ref(), attended));
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
