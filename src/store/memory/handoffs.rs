//! Slots, handoff records, bookings, the audit log and handoff links.

use super::*;

impl State {
    /// Forget a conversation's handoff link (the rows go with the
    /// conversation's own deletion).
    pub(super) fn drop_handoff_link(&mut self, id: ConversationId) {
        if let Some(l) = self.handoff_links.remove(&id) {
            self.handoff_link_index.remove(&l.token_hash);
        }
    }
}

#[async_trait]
impl HandoffStore for MemoryStore {
    async fn create_slot(&self, slot: Slot) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if s.slots.contains_key(&slot.id) {
                return Err(StoreError::Conflict);
            }
            s.slots.insert(
                slot.id,
                SlotRecord {
                    slot: slot.clone(),
                    booked: 0,
                },
            );
            self.record(vec![Change::Slot(slot)])
        };
        settle(commit).await
    }

    async fn cancel_slot(&self, id: SlotId, now_ms: u64) -> StoreResult<SlotRecord> {
        let (commit, rec) = {
            let mut s = self.state()?;
            let rec = s.slots.get_mut(&id).ok_or(StoreError::NotFound)?;
            if rec.slot.cancelled_at_ms.is_some() {
                return Ok(rec.clone());
            }
            if rec.booked > 0 {
                return Err(StoreError::SlotBooked);
            }
            rec.slot.cancelled_at_ms = Some(now_ms);
            let rec = rec.clone();
            (self.record(vec![Change::Slot(rec.slot.clone())]), rec)
        };
        settle(commit).await?;
        Ok(rec)
    }

    async fn slot(&self, id: SlotId) -> StoreResult<Option<SlotRecord>> {
        Ok(self.state()?.slots.get(&id).cloned())
    }

    async fn slots(&self, from_ms: u64) -> StoreResult<Vec<SlotRecord>> {
        let mut v: Vec<SlotRecord> = self
            .state()?
            .slots
            .values()
            .filter(|r| r.slot.starts_at_ms >= from_ms)
            .cloned()
            .collect();
        v.sort_by_key(|r| (r.slot.starts_at_ms, r.slot.id));
        Ok(v)
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffRecord>> {
        Ok(self.state()?.handoffs.get(&conversation).cloned())
    }

    async fn write_handoff(&self, write: HandoffWrite) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            let id = write.record.conversation;
            if !s.conversations.contains_key(&id) {
                return Err(StoreError::NotFound);
            }
            let rev = s.handoffs.get(&id).map_or(0, |h| h.rev);
            if rev != write.expected_rev {
                return Err(StoreError::Conflict);
            }
            // Validate the booking change before anything is written.
            let mut changes = Vec::with_capacity(2);
            match &write.booking {
                BookingOp::Keep => {}
                BookingOp::Create(b) => {
                    if b.conversation != id {
                        return Err(StoreError::NotFound);
                    }
                    let slot = s.slots.get(&b.slot).ok_or(StoreError::SlotUnavailable)?;
                    if slot.slot.cancelled_at_ms.is_some()
                        || slot.slot.starts_at_ms <= b.created_at_ms
                    {
                        return Err(StoreError::SlotUnavailable);
                    }
                    if slot.booked >= slot.slot.capacity {
                        return Err(StoreError::SlotFull);
                    }
                    if s.bookings.contains_key(&b.reference) {
                        return Err(StoreError::Conflict);
                    }
                }
                BookingOp::Cancel { reference, .. } | BookingOp::Repin { reference, .. } => {
                    match s.bookings.get(reference) {
                        Some(b) if b.conversation == id && b.active() => {}
                        _ => return Err(StoreError::NotFound),
                    }
                }
                BookingOp::Move {
                    reference,
                    from,
                    to,
                    now_ms,
                } => {
                    match s.bookings.get(reference) {
                        Some(b) if b.conversation == id && b.active() => {
                            if b.slot != *from {
                                return Err(StoreError::Conflict);
                            }
                        }
                        _ => return Err(StoreError::NotFound),
                    }
                    let slot = s.slots.get(to).ok_or(StoreError::SlotUnavailable)?;
                    if slot.slot.cancelled_at_ms.is_some()
                        || slot.slot.starts_at_ms <= *now_ms
                        || to == from
                    {
                        return Err(StoreError::SlotUnavailable);
                    }
                    if slot.booked >= slot.slot.capacity {
                        return Err(StoreError::SlotFull);
                    }
                }
            }
            match write.booking {
                BookingOp::Keep => {}
                BookingOp::Create(b) => {
                    if let Some(slot) = s.slots.get_mut(&b.slot) {
                        slot.booked += 1;
                    }
                    s.slot_bookings
                        .entry(b.slot)
                        .or_default()
                        .push(b.reference.clone());
                    s.bookings.insert(b.reference.clone(), b.clone());
                    changes.push(Change::Booking(b));
                }
                BookingOp::Cancel {
                    reference,
                    reason,
                    now_ms,
                } => {
                    let b = s.bookings.get_mut(&reference).ok_or(StoreError::NotFound)?;
                    b.cancelled_at_ms = Some(now_ms);
                    b.cancel_reason = Some(reason);
                    b.forget_personal();
                    let b = b.clone();
                    if let Some(slot) = s.slots.get_mut(&b.slot) {
                        slot.booked = slot.booked.saturating_sub(1);
                    }
                    changes.push(Change::Booking(b));
                }
                BookingOp::Repin {
                    reference,
                    pin_hash,
                } => {
                    let b = s.bookings.get_mut(&reference).ok_or(StoreError::NotFound)?;
                    b.pin_hash = pin_hash;
                    changes.push(Change::Booking(b.clone()));
                }
                BookingOp::Move {
                    reference,
                    from,
                    to,
                    now_ms,
                } => {
                    let b = s.bookings.get_mut(&reference).ok_or(StoreError::NotFound)?;
                    b.slot = to;
                    b.rescheduled_at_ms = Some(now_ms);
                    let b = b.clone();
                    if let Some(slot) = s.slots.get_mut(&from) {
                        slot.booked = slot.booked.saturating_sub(1);
                    }
                    if let Some(slot) = s.slots.get_mut(&to) {
                        slot.booked += 1;
                    }
                    if let Some(list) = s.slot_bookings.get_mut(&from) {
                        list.retain(|r| *r != reference);
                    }
                    s.slot_bookings.entry(to).or_default().push(reference);
                    changes.push(Change::Booking(b));
                }
            }
            s.handoffs.insert(id, write.record.clone());
            changes.push(Change::Handoff(write.record));
            self.record(changes)
        };
        settle(commit).await
    }

    async fn booking(&self, reference: &BookingRef) -> StoreResult<Option<Booking>> {
        Ok(self.state()?.bookings.get(reference).cloned())
    }

    async fn slot_bookings(&self, slot: SlotId) -> StoreResult<Vec<Booking>> {
        let s = self.state()?;
        Ok(s.slot_bookings
            .get(&slot)
            .into_iter()
            .flatten()
            .filter_map(|r| s.bookings.get(r).cloned())
            .collect())
    }

    async fn set_attended(&self, reference: &BookingRef, attended: bool) -> StoreResult<Booking> {
        let (commit, b) = {
            let mut s = self.state()?;
            let b = s.bookings.get_mut(reference).ok_or(StoreError::NotFound)?;
            b.attended = Some(attended);
            let b = b.clone();
            (self.record(vec![Change::Booking(b.clone())]), b)
        };
        settle(commit).await?;
        Ok(b)
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            s.audit.push(entry.clone());
            self.record(vec![Change::Audit(entry)])
        };
        settle(commit).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        Ok(self
            .state()?
            .audit
            .iter()
            .rev()
            .filter(|e| filter.matches(e))
            .take(filter.limit)
            .cloned()
            .collect())
    }

    async fn put_handoff_link(&self, link: HandoffLink) -> StoreResult<()> {
        let commit = {
            let mut s = self.state()?;
            if !s.handoffs.contains_key(&link.conversation) {
                return Err(StoreError::NotFound);
            }
            s.drop_handoff_link(link.conversation);
            s.handoff_link_index
                .insert(link.token_hash, link.conversation);
            s.handoff_links.insert(link.conversation, link.clone());
            self.record(vec![Change::HandoffLink(link)])
        };
        settle(commit).await
    }

    async fn handoff_link_sent(
        &self,
        conversation: ConversationId,
        token_hash: &TokenHash,
    ) -> StoreResult<bool> {
        let commit = {
            let mut s = self.state()?;
            let Some(link) = s
                .handoff_links
                .get_mut(&conversation)
                .filter(|l| l.token_hash == *token_hash)
            else {
                return Ok(false);
            };
            link.sent = true;
            let link = link.clone();
            self.record(vec![Change::HandoffLink(link)])
        };
        settle(commit).await?;
        Ok(true)
    }

    async fn handoff_link(&self, token_hash: &TokenHash) -> StoreResult<Option<HandoffLink>> {
        let s = self.state()?;
        Ok(s.handoff_link_index
            .get(token_hash)
            .and_then(|c| s.handoff_links.get(c))
            .cloned())
    }

    async fn handoff_link_of(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<HandoffLink>> {
        Ok(self.state()?.handoff_links.get(&conversation).cloned())
    }
}
