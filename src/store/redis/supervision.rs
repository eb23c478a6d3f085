//! Risk and alerts, supervision, transfers and silence marks.

use super::*;

/// An audit entry as pushed by a script (its `duration_ms`, if any, is
/// appended by the script).
fn audit_json(entry: &AuditEntry) -> StoreResult<String> {
    serde_json::to_string(entry).map_err(|_| codec::corrupt("audit"))
}

/// An acknowledgement as kept in `alert_acks`.
#[derive(serde::Serialize, serde::Deserialize)]
struct AlertAck {
    by: AccountId,
    at_ms: u64,
}

/// An alert as raised, with its acknowledgement (if any) applied.
fn alert_with_ack(alert: &str, ack: Option<&str>) -> StoreResult<Alert> {
    let mut a: Alert = serde_json::from_str(alert).map_err(|_| codec::corrupt("alert"))?;
    if let Some(ack) = ack {
        let ack: AlertAck = serde_json::from_str(ack).map_err(|_| codec::corrupt("ack"))?;
        a.acked_by = Some(ack.by);
        a.acked_at_ms = Some(ack.at_ms);
    }
    Ok(a)
}

fn note_json(note: Option<Note>) -> StoreResult<String> {
    match note {
        Some(n) => serde_json::to_string(&n).map_err(|_| codec::corrupt("note")),
        None => Ok(String::new()),
    }
}

#[async_trait]
impl SupervisionStore for RedisStore {
    async fn set_risk(
        &self,
        conversation: ConversationId,
        change: RiskChange,
        now_ms: u64,
    ) -> StoreResult<RiskUpdate> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.queue(),
            self.keys.alerts(),
            self.keys.alert_order(),
        ];
        let (levels, prios) = risk_tables();
        let reason_json =
            |r: &RiskReason| serde_json::to_string(r).map_err(|_| codec::corrupt("reason"));
        let (kind, alert, tail) = match &change {
            RiskChange::Triage { hits, alert } => {
                let mut tail = Vec::with_capacity(hits.len() * 3);
                for h in hits {
                    // Only triage hits count (a staff reason is never a hit).
                    let RiskSource::Triage { rule, .. } = &h.source else {
                        continue;
                    };
                    tail.push(rule.clone());
                    tail.push(enum_name(&h.level));
                    tail.push(reason_json(h)?);
                }
                ("triage", *alert, tail)
            }
            RiskChange::Staff { level, by, alert } => {
                let reason = RiskReason {
                    level: *level,
                    source: RiskSource::Staff { by: *by },
                    at_ms: now_ms,
                };
                (
                    "staff",
                    *alert,
                    vec![enum_name(level), reason_json(&reason)?],
                )
            }
        };
        let mut argv: Vec<String> = args![
            conversation.to_string(),
            kind,
            alert.to_string(),
            now_ms,
            levels,
            prios
        ]
        .to_vec();
        argv.extend(tail);
        match reply(self.run(&SCRIPTS.set_risk, &keys, &argv).await?)? {
            Reply::Ok(v) => {
                let [was, meta, alert] = v.as_slice() else {
                    return Err(codec::corrupt("set_risk reply"));
                };
                let was = codec::parse_enum(&codec::string(was)?, "risk")?;
                let record = codec::conversation(&codec::hash(meta)?)?;
                let alert = match codec::string(alert)?.as_str() {
                    "" => None,
                    json => Some(serde_json::from_str(json).map_err(|_| codec::corrupt("alert"))?),
                };
                Ok(RiskUpdate { record, was, alert })
            }
            _ => Err(codec::corrupt("set_risk reply")),
        }
    }

    async fn alerts(&self, open_only: bool) -> StoreResult<Vec<Alert>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.alert_order())
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = ::redis::pipe();
        p.cmd("HMGET")
            .arg(self.keys.alerts())
            .arg(&ids)
            .cmd("HMGET")
            .arg(self.keys.alert_acks())
            .arg(&ids);
        let (alerts, acks): (Vec<Option<String>>, Vec<Option<String>>) = self.pipe(&p).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (alert, ack) in alerts.into_iter().zip(acks) {
            let Some(alert) = alert else { continue };
            let a = alert_with_ack(&alert, ack.as_deref())?;
            if !open_only || a.acked_by.is_none() {
                out.push(a);
            }
        }
        Ok(out)
    }

    async fn ack_alert(&self, id: AlertId, by: AccountId, now_ms: u64) -> StoreResult<Alert> {
        let keys = [self.keys.alerts(), self.keys.alert_acks()];
        let ack = serde_json::to_string(&AlertAck { by, at_ms: now_ms })
            .map_err(|_| codec::corrupt("ack"))?;
        match reply(
            self.run(&SCRIPTS.ack_alert, &keys, &args![id.to_string(), ack])
                .await?,
        )? {
            Reply::Ok(v) => {
                let [alert, ack] = v.as_slice() else {
                    return Err(codec::corrupt("ack_alert reply"));
                };
                alert_with_ack(&codec::string(alert)?, Some(&codec::string(ack)?))
            }
            _ => Err(codec::corrupt("ack_alert reply")),
        }
    }

    async fn reassign(
        &self,
        conversation: ConversationId,
        from: AccountId,
        to: AccountId,
        require_available: bool,
        note: Option<Note>,
        audit: Option<AuditAction>,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let note = note_json(note)?;
        let entry = match audit {
            Some(action) => {
                audit_json(&AuditEntry::access(now_ms, to, action, conversation, None))?
            }
            None => String::new(),
        };
        let keys = [
            self.keys.meta(conversation),
            self.keys.counsellor(from),
            self.keys.held(from),
            self.keys.counsellor(to),
            self.keys.held(to),
            self.keys.supervising(to),
            self.keys.notes(conversation),
            self.keys.audit(),
        ];
        let argv = args![
            conversation.to_string(),
            from.to_string(),
            to.to_string(),
            if require_available { "1" } else { "0" },
            note,
            now_ms,
            entry
        ];
        if audit.is_none() {
            return self.run_record(&SCRIPTS.reassign, &keys, &argv).await;
        }
        match self.run_audited(&SCRIPTS.reassign, &keys, &argv).await? {
            Reply::Ok(v) => codec::conversation(&codec::hash(first(&v)?)?),
            _ => Err(codec::corrupt("reassign reply")),
        }
    }

    async fn requeue(
        &self,
        conversation: ConversationId,
        from: AccountId,
        note: Option<Note>,
        _now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let note = note_json(note)?;
        let keys = [
            self.keys.meta(conversation),
            self.keys.counsellor(from),
            self.keys.held(from),
            self.keys.queue(),
            self.keys.notes(conversation),
        ];
        self.run_record(
            &SCRIPTS.requeue,
            &keys,
            &args![conversation.to_string(), from.to_string(), note],
        )
        .await
    }

    async fn supervise(
        &self,
        conversation: ConversationId,
        supervisor: AccountId,
        mode: Option<SupervisionMode>,
        by_disconnect: bool,
        now_ms: u64,
    ) -> StoreResult<(ConversationRecord, Option<SupervisionMode>)> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.supervising(supervisor),
            self.keys.audit(),
        ];
        // The entry without its duration: the script knows when the access
        // began and appends it on a leave.
        let entry = crate::store::supervision_audit(
            conversation,
            supervisor,
            None,
            mode,
            by_disconnect,
            now_ms,
        );
        let entry = audit_json(&entry)?;
        let mode = mode.map(|m| enum_name(&m)).unwrap_or_default();
        match self
            .run_audited(
                &SCRIPTS.supervise,
                &keys,
                &args![
                    conversation.to_string(),
                    supervisor.to_string(),
                    mode,
                    now_ms,
                    entry
                ],
            )
            .await?
        {
            Reply::Ok(v) => {
                let [previous, meta] = v.as_slice() else {
                    return Err(codec::corrupt("supervise reply"));
                };
                let previous = match codec::string(previous)?.as_str() {
                    "" => None,
                    s => Some(codec::parse_enum(s, "mode")?),
                };
                Ok((codec::conversation(&codec::hash(meta)?)?, previous))
            }
            _ => Err(codec::corrupt("supervise reply")),
        }
    }

    async fn whisper(&self, whisper: Whisper) -> StoreResult<()> {
        let entry = audit_json(&AuditEntry::access(
            whisper.at_ms,
            whisper.supervisor,
            AuditAction::Whisper,
            whisper.conversation,
            None,
        ))?;
        let json = serde_json::to_string(&whisper).map_err(|_| codec::corrupt("whisper"))?;
        let keys = [
            self.keys.meta(whisper.conversation),
            self.keys.whispers(whisper.conversation),
            self.keys.audit(),
        ];
        self.run_audited(
            &SCRIPTS.whisper,
            &keys,
            &args![whisper.supervisor.to_string(), json, entry],
        )
        .await?;
        Ok(())
    }

    async fn whispers(&self, conversation: ConversationId) -> StoreResult<Vec<Whisper>> {
        let all: Vec<String> = self
            .query(
                ::redis::cmd("LRANGE")
                    .arg(self.keys.whispers(conversation))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        all.iter()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("whisper")))
            .collect()
    }

    async fn supervised_by(
        &self,
        supervisor: AccountId,
    ) -> StoreResult<Vec<(ConversationRecord, SupervisionMode)>> {
        let set = self.keys.supervising(supervisor);
        let mut out = Vec::new();
        let mut ended = Vec::new();
        for r in self.records_in(&set).await? {
            if r.state == ConversationState::Ended {
                ended.push(r.id.to_string());
                continue;
            }
            if let Some(m) = r.supervision_of(supervisor) {
                out.push((r, m));
            }
        }
        if !ended.is_empty() {
            // An ended conversation can never be supervised again (supervise
            // refuses it), so forgetting it here races with nothing.
            let _: i64 = self
                .query(::redis::cmd("SREM").arg(&set).arg(&ended))
                .await?;
        }
        out.sort_by_key(|(r, _)| (r.started_at_ms, r.id));
        Ok(out)
    }

    async fn mark_silent(
        &self,
        now_ms: u64,
        silence_ms: u64,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let mut out = Vec::new();
        // Candidates by a plain read; the script re-checks each.
        for rec in self.live_conversations().await? {
            let Some(counsellor_at) = rec.last_counsellor_msg_ms else {
                continue;
            };
            let candidate = matches!(rec.state, ConversationState::Active { .. })
                && rec.silent_since_ms.is_none()
                && rec.last_visitor_msg_ms.is_none_or(|v| v < counsellor_at)
                && now_ms.saturating_sub(counsellor_at) >= silence_ms;
            if !candidate {
                continue;
            }
            let keys = [self.keys.meta(rec.id), self.keys.stats()];
            if let Reply::Ok(v) = reply(
                self.run(&SCRIPTS.mark_silent, &keys, &args![now_ms, silence_ms])
                    .await?,
            )? {
                if let Some(meta) = v.first() {
                    out.push(codec::conversation(&codec::hash(meta)?)?);
                }
            }
        }
        Ok(out)
    }
}
