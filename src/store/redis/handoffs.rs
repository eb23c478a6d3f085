//! Slots, handoff records, bookings, the audit log and handoff links.

use super::*;

/// How many times `put_handoff_link` re-reads a link index that changed
/// under it.
const LINK_PUT_ATTEMPTS: usize = 8;

impl RedisStore {
    /// The token hash (hex, '' if none) of a conversation's handoff link
    /// and the key to delete it by (a placeholder if none).
    pub(super) async fn handoff_link_key_of(
        &self,
        id: ConversationId,
    ) -> StoreResult<(String, String)> {
        let cur: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.handoff_link_of(id)))
            .await?;
        Ok(match cur {
            Some(h) => {
                let key = self.keys.handoff_link(&h);
                (h, key)
            }
            None => (String::new(), self.keys.no_handoff_link()),
        })
    }
}

#[async_trait]
impl HandoffStore for RedisStore {
    async fn create_slot(&self, slot: Slot) -> StoreResult<()> {
        let json = serde_json::to_string(&slot).map_err(|_| codec::corrupt("slot"))?;
        let keys = [self.keys.slot(slot.id), self.keys.slot_order()];
        self.run_durable(
            &SCRIPTS.create_slot,
            &keys,
            &args![
                slot.id.to_string(),
                json,
                slot.starts_at_ms,
                slot.capacity,
                codec::opt_field(slot.cancelled_at_ms)
            ],
        )
        .await
        .map(drop)
    }

    async fn cancel_slot(&self, id: SlotId, now_ms: u64) -> StoreResult<SlotRecord> {
        let v = self
            .run_durable(&SCRIPTS.cancel_slot, &[self.keys.slot(id)], &args![now_ms])
            .await?;
        codec::slot(&codec::hash(first(&v)?)?)
    }

    async fn slot(&self, id: SlotId) -> StoreResult<Option<SlotRecord>> {
        self.hash_at(self.keys.slot(id), codec::slot).await
    }

    async fn slots(&self, from_ms: u64) -> StoreResult<Vec<SlotRecord>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.slot_order())
                    .arg(from_ms)
                    .arg("+inf")
                    .arg("BYSCORE"),
            )
            .await?;
        let keys = ids
            .iter()
            .map(|s| uuid_of(s).map(|u| self.keys.slot(SlotId(u))))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut v = self.hashes(&keys, codec::slot).await?;
        v.sort_by_key(|r| (r.slot.starts_at_ms, r.slot.id));
        Ok(v)
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffRecord>> {
        let json: Option<String> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.keys.handoff(conversation))
                    .arg("json"),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("handoff")))
            .transpose()
    }

    async fn write_handoff(&self, write: HandoffWrite) -> StoreResult<()> {
        let id = write.record.conversation;
        let json = serde_json::to_string(&write.record).map_err(|_| codec::corrupt("handoff"))?;
        let mut argv: Vec<String> = args![
            "",
            write.expected_rev,
            write.record.rev,
            json,
            id.to_string()
        ]
        .to_vec();
        // A move's destination: its slot and list (placeholders otherwise).
        let mut to_keys = (self.keys.no_slot(), self.keys.no_slot_bookings());
        let (op, slot_key, list_key, booking_key) = match &write.booking {
            BookingOp::Keep => (
                "keep",
                self.keys.no_slot(),
                self.keys.no_slot_bookings(),
                self.keys.no_booking(),
            ),
            BookingOp::Create(b) => {
                let booking = serde_json::to_string(b).map_err(|_| codec::corrupt("booking"))?;
                argv.extend(args![
                    b.slot.to_string(),
                    b.reference.as_str(),
                    booking,
                    b.conversation.to_string(),
                    b.created_at_ms,
                    codec::opt_field(b.cancelled_at_ms),
                    b.cancel_reason.map(|r| enum_name(&r)).unwrap_or_default(),
                    codec::attended_field(b.attended)
                ]);
                (
                    "create",
                    self.keys.slot(b.slot),
                    self.keys.slot_bookings(b.slot),
                    self.keys.booking(&b.reference),
                )
            }
            BookingOp::Cancel {
                reference,
                reason,
                now_ms,
            } => {
                // A booking's slot never changes: read it to name the
                // slot's key; the script checks it again. None found: the
                // script answers `not_found` after the revision check.
                let key = self.keys.booking(reference);
                let (slot, json): (Option<String>, Option<String>) = self
                    .query(::redis::cmd("HMGET").arg(&key).arg("slot").arg("json"))
                    .await?;
                let slot = slot.map(|s| uuid_of(&s).map(SlotId)).transpose()?;
                // The booking as made, without its name and contact: the
                // script writes it over the `json` field in the same step
                // (the JSON's other fields never change, and the fields the
                // scripts keep win over them when read).
                let forgotten = match json {
                    Some(j) => {
                        let mut b: Booking =
                            serde_json::from_str(&j).map_err(|_| codec::corrupt("booking"))?;
                        b.forget_personal();
                        serde_json::to_string(&b).map_err(|_| codec::corrupt("booking"))?
                    }
                    None => String::new(),
                };
                argv.extend(args![
                    slot.map(|s| s.to_string()).unwrap_or_default(),
                    reference.as_str(),
                    now_ms,
                    enum_name(reason),
                    forgotten
                ]);
                let slot_key = slot.map_or_else(|| self.keys.no_slot(), |s| self.keys.slot(s));
                ("cancel", slot_key, self.keys.no_slot_bookings(), key)
            }
            BookingOp::Repin {
                reference,
                pin_hash,
            } => {
                argv.extend(args!["", reference.as_str(), codec::hex(pin_hash)]);
                (
                    "repin",
                    self.keys.no_slot(),
                    self.keys.no_slot_bookings(),
                    self.keys.booking(reference),
                )
            }
            BookingOp::Move {
                reference,
                from,
                to,
                now_ms,
            } => {
                // The service read the booking's slot (`from`); the script
                // checks it is still there, so a concurrent move of the
                // same booking cannot free a place twice.
                argv.extend(args![
                    from.to_string(),
                    reference.as_str(),
                    to.to_string(),
                    now_ms
                ]);
                to_keys = (self.keys.slot(*to), self.keys.slot_bookings(*to));
                (
                    "move",
                    self.keys.slot(*from),
                    self.keys.slot_bookings(*from),
                    self.keys.booking(reference),
                )
            }
        };
        argv[0] = op.to_owned();
        let keys = [
            self.keys.meta(id),
            self.keys.handoff(id),
            slot_key,
            booking_key,
            list_key,
            to_keys.0,
            to_keys.1,
        ];
        self.run_durable(&SCRIPTS.write_handoff, &keys, &argv)
            .await
            .map(drop)
    }

    async fn booking(&self, reference: &BookingRef) -> StoreResult<Option<Booking>> {
        self.hash_at(self.keys.booking(reference), codec::booking)
            .await
    }

    async fn slot_bookings(&self, slot: SlotId) -> StoreResult<Vec<Booking>> {
        let refs: Vec<String> = self
            .query(
                ::redis::cmd("LRANGE")
                    .arg(self.keys.slot_bookings(slot))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let keys = refs
            .iter()
            .map(|r| {
                BookingRef::parse(r)
                    .map(|r| self.keys.booking(&r))
                    .map_err(|_| codec::corrupt("reference"))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.hashes(&keys, codec::booking).await
    }

    async fn set_attended(&self, reference: &BookingRef, attended: bool) -> StoreResult<Booking> {
        let keys = [self.keys.booking(reference)];
        let flag = codec::attended_field(Some(attended));
        let v = self
            .run_durable(&SCRIPTS.set_attended, &keys, &args![flag])
            .await?;
        codec::booking(&codec::hash(first(&v)?)?)
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        let json = serde_json::to_string(&entry).map_err(|_| codec::corrupt("audit"))?;
        let mut conn = self.durable_conn();
        let _: i64 = ::redis::cmd("LPUSH")
            .arg(self.keys.audit())
            .arg(json)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        self.wait_durable(&mut conn).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        // Newest first, a page at a time, until `limit` match or the list
        // ends (the retention keeps it bounded).
        const PAGE: usize = 1000;
        let mut out = Vec::new();
        let mut start = 0usize;
        while out.len() < filter.limit {
            let page: Vec<String> = self
                .query(
                    ::redis::cmd("LRANGE")
                        .arg(self.keys.audit())
                        .arg(start)
                        .arg(start + PAGE - 1),
                )
                .await?;
            for j in &page {
                let e: AuditEntry = serde_json::from_str(j).map_err(|_| codec::corrupt("audit"))?;
                if filter.matches(&e) {
                    out.push(e);
                    if out.len() == filter.limit {
                        break;
                    }
                }
            }
            if page.len() < PAGE {
                break;
            }
            start += PAGE;
        }
        Ok(out)
    }

    async fn put_handoff_link(&self, link: HandoffLink) -> StoreResult<()> {
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("handoff link"))?;
        let id = link.conversation;
        let new_hex = hex(&link.token_hash);
        // A retry means another writer replaced the link in between. The
        // only writer is a conversation's LINE sender, holding its lease,
        // so it is rare; each round lets at least one writer through.
        for _ in 0..LINK_PUT_ATTEMPTS {
            let (cur_hex, cur_key) = self.handoff_link_key_of(id).await?;
            let keys = [
                self.keys.handoff(id),
                self.keys.handoff_link_of(id),
                self.keys.handoff_link(&new_hex),
                cur_key,
            ];
            // On the handoff's connection, and on disk before `Ok`: the
            // link is sent to the visitor only once it is stored.
            let mut conn = self.durable_conn();
            let argv = args![new_hex.clone(), json.clone(), cur_hex];
            match reply(invoke(&mut conn, &SCRIPTS.put_handoff_link, &keys, &argv).await?)? {
                Reply::Ok(_) => return self.wait_durable(&mut conn).await,
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("put_handoff_link reply")),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn handoff_link_sent(
        &self,
        conversation: ConversationId,
        token_hash: &TokenHash,
    ) -> StoreResult<bool> {
        let Some(mut link) = self.handoff_link(token_hash).await? else {
            return Ok(false);
        };
        if link.conversation != conversation {
            return Ok(false);
        }
        link.sent = true;
        let json = serde_json::to_string(&link).map_err(|_| codec::corrupt("handoff link"))?;
        let h = hex(token_hash);
        let keys = [
            self.keys.handoff_link_of(conversation),
            self.keys.handoff_link(&h),
        ];
        let v = self
            .run(&SCRIPTS.handoff_link_sent, &keys, &args![h, json])
            .await?;
        match reply(v)? {
            Reply::Ok(v) => Ok(codec::int(v.first())? == 1),
            _ => Err(codec::corrupt("handoff_link_sent reply")),
        }
    }

    async fn handoff_link(&self, token_hash: &TokenHash) -> StoreResult<Option<HandoffLink>> {
        let json: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.handoff_link(&hex(token_hash))))
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("handoff link")))
            .transpose()
    }

    async fn handoff_link_of(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Option<HandoffLink>> {
        let Some(h) = self
            .query::<Option<String>>(
                ::redis::cmd("GET").arg(self.keys.handoff_link_of(conversation)),
            )
            .await?
        else {
            return Ok(None);
        };
        let json: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.handoff_link(&h)))
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| codec::corrupt("handoff link")))
            .transpose()
    }
}
