//! Conversations and the queue: creation, assignment, end, outcome,
//! presence, the grace periods and the counts.

use super::*;

/// `end` re-reads the record when a concurrent assign changed its
/// counsellor; it gives up (as `Unavailable`) after this many tries.
const END_ATTEMPTS: usize = 8;

/// The meta field `assess`: the assessment as JSON (`{}` when empty).
fn assess_json(a: &Assessment) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

impl RedisStore {
    /// Queue entries from the front to `stop` (inclusive; -1 = all), in order.
    async fn queue_range(&self, stop: isize) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.queue())
                    .arg(0)
                    .arg(stop),
            )
            .await?;
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        // Two reads, not one snapshot: one assigned in between is left out.
        let mut v: Vec<_> = self
            .records(&ids)
            .await?
            .into_iter()
            .filter(|r| r.state == ConversationState::Queued)
            .collect();
        let policy = self.policy;
        v.sort_by_key(|r| r.queue_entry().key(policy));
        Ok(v)
    }

    /// The records of these conversations; ones that vanished are skipped.
    pub(super) async fn records(
        &self,
        ids: &[ConversationId],
    ) -> StoreResult<Vec<ConversationRecord>> {
        let keys: Vec<String> = ids.iter().map(|id| self.keys.meta(*id)).collect();
        self.hashes(&keys, codec::conversation).await
    }

    /// The records of the ids in a set (e.g. `live`); vanished ones skipped.
    pub(super) async fn records_in(&self, set: &str) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self.query(::redis::cmd("SMEMBERS").arg(set)).await?;
        let ids = ids
            .iter()
            .map(|s| uuid_of(s).map(ConversationId))
            .collect::<StoreResult<Vec<_>>>()?;
        self.records(&ids).await
    }
}

/// Reads of a start key between which another `start` with the same key
/// may change it; more in a row than this means something is wrong.
const START_KEY_ATTEMPTS: usize = 8;

#[async_trait]
impl ConversationStore for RedisStore {
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_queue: u32,
    ) -> StoreResult<ConversationRecord> {
        let fixed = Static::of(&new);
        let fixed = serde_json::to_string(&fixed).map_err(|_| codec::corrupt("static"))?;
        let id = new.id;
        let keys = [
            self.keys.queue(),
            self.keys.meta(id),
            self.keys.log(id),
            self.keys.seen(id),
            self.keys.live(),
            self.keys.alerts(),
            self.keys.alert_order(),
        ];
        let (has_first, first_text) = match &new.first_message {
            Some(t) => ("1", t.as_str()),
            None => ("0", ""),
        };
        let first_cid = ClientMsgId::first_message();
        let reasons =
            serde_json::to_string(&new.risk_reasons).map_err(|_| codec::corrupt("reasons"))?;
        let (alert_id, alert_json) = alert_args(&new)?;
        let mut argv: Vec<String> = args![
            max_queue,
            id.to_string(),
            fixed,
            new.now_ms,
            has_first,
            first_text,
            first_cid.as_str(),
            enum_name(&new.risk),
            enum_name(&new.risk.priority()),
            reasons,
            alert_id,
            alert_json,
            match new.channel {
                Channel::Web => new.now_ms.to_string(),
                Channel::Line => String::new(),
            }
        ]
        .to_vec();
        let start_key = new
            .start_key
            .as_ref()
            .map(|k| self.keys.start_key(&codec::hex(&k.hash)));
        argv.push(if start_key.is_some() { "1" } else { "0" }.to_owned());
        argv.push(String::new());
        for (field, score) in queue_scores(self.policy, new.now_ms) {
            argv.push(field);
            argv.push(score.to_string());
        }
        let mut keys = keys.to_vec();
        keys.push(
            start_key
                .clone()
                .unwrap_or_else(|| self.keys.start_key("-")),
        );
        keys.push(self.keys.start_key("-"));
        // With a key: read whom it names, then let the script check that
        // nothing changed in between (else read again).
        for _ in 0..START_KEY_ATTEMPTS {
            if let Some(k) = &start_key {
                let prior: Option<String> = self.query(::redis::cmd("GET").arg(k)).await?;
                keys[8] = match &prior {
                    Some(p) => self.keys.meta(ConversationId(uuid_of(p)?)),
                    None => self.keys.start_key("-"),
                };
                argv[14] = prior.unwrap_or_default();
            }
            match codec::reply(self.run(&SCRIPTS.create_conversation, &keys, &argv).await?)? {
                codec::Reply::Ok(v) => return codec::conversation(&codec::hash(first(&v)?)?),
                codec::Reply::Retry => continue,
                codec::Reply::Dup(_) => return Err(codec::corrupt("script reply")),
            }
        }
        Err(StoreError::Unavailable(
            "the start key kept changing".into(),
        ))
    }

    async fn started_with(&self, key: &TokenHash) -> StoreResult<Option<ConversationRecord>> {
        let id: Option<String> = self
            .query(::redis::cmd("GET").arg(self.keys.start_key(&codec::hex(key))))
            .await?;
        let Some(id) = id else { return Ok(None) };
        Ok(self
            .conversation(ConversationId(uuid_of(&id)?))
            .await?
            .filter(|r| r.started_with(key)))
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRecord>> {
        self.hash_at(self.keys.meta(id), codec::conversation).await
    }

    async fn queue(&self) -> StoreResult<Vec<ConversationRecord>> {
        self.queue_range(-1).await
    }

    async fn queue_head(&self, n: usize) -> StoreResult<Vec<ConversationRecord>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.queue_range(n as isize - 1).await
    }

    async fn assign(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let keys = [
            self.keys.counsellor(counsellor),
            self.keys.meta(conversation),
            self.keys.queue(),
            self.keys.held(counsellor),
            self.keys.supervising(counsellor),
        ];
        self.run_record(
            &SCRIPTS.assign,
            &keys,
            &args![conversation.to_string(), counsellor.to_string(), now_ms],
        )
        .await
    }

    async fn end(
        &self,
        conversation: ConversationId,
        by: EndedBy,
        closing: Option<Closing>,
        now_ms: u64,
    ) -> StoreResult<Ended> {
        let by = enum_name(&by);
        let outcome = closing.map(|c| enum_name(&c.outcome)).unwrap_or_default();
        let assess = closing
            .map(|c| assess_json(&c.assessment))
            .unwrap_or_default();
        // The leave_by_end entry for the supervisors the script finds still
        // open (it puts in each one's id and duration).
        let leave = AuditEntry::access(
            now_ms,
            AccountId(uuid::Uuid::nil()),
            AuditAction::LeaveByEnd,
            conversation,
            None,
        );
        let leave = serde_json::to_string(&leave).map_err(|_| codec::corrupt("audit"))?;
        let mut durable = false;
        for _ in 0..END_ATTEMPTS {
            let (current, sups): (Option<String>, Option<String>) = self
                .query(
                    ::redis::cmd("HMGET")
                        .arg(self.keys.meta(conversation))
                        .arg("counsellor")
                        .arg("sups"),
                )
                .await?;
            let counsellor = match current.as_deref() {
                None => return Err(StoreError::NotFound),
                Some("") => None,
                Some(s) => Some(AccountId(uuid_of(s)?)),
            };
            // A supervisor still observing or joined: their leave is an
            // audit entry, written on the durable connection and waited
            // for (as every supervisor access is).
            durable = durable || sups.as_deref().is_some_and(|s| s != "[]" && !s.is_empty());
            let keys = [
                self.keys.meta(conversation),
                self.keys.queue(),
                counsellor.map_or_else(|| self.keys.no_counsellor(), |c| self.keys.counsellor(c)),
                counsellor.map_or_else(|| self.keys.no_held(), |c| self.keys.held(c)),
                self.keys.live(),
                self.keys.stats(),
                self.keys.ended(),
                self.keys.audit(),
            ];
            let args = args![
                conversation.to_string(),
                opt_id(counsellor),
                by,
                outcome,
                now_ms,
                assess,
                leave,
                if durable { "1" } else { "" }
            ];
            let answer = if durable {
                self.run_audited(&SCRIPTS.end, &keys, &args).await?
            } else {
                reply(self.run(&SCRIPTS.end, &keys, &args).await?)?
            };
            match answer {
                Reply::Ok(v) => {
                    let [was, meta] = v.as_slice() else {
                        return Err(codec::corrupt("end reply"));
                    };
                    let record = codec::conversation(&codec::hash(meta)?)?;
                    let was = match (codec::string(was)?.as_str(), counsellor) {
                        ("queued", _) => ConversationState::Queued,
                        ("active", Some(c)) => ConversationState::Active { counsellor: c },
                        _ => return Err(codec::corrupt("state before end")),
                    };
                    return Ok(Ended { record, was });
                }
                Reply::Retry => continue,
                Reply::Dup(_) => return Err(codec::corrupt("end reply")),
            }
        }
        Err(StoreError::Unavailable(
            "redis: the conversation kept changing; try again".into(),
        ))
    }

    async fn set_outcome(
        &self,
        conversation: ConversationId,
        counsellor: AccountId,
        closing: Closing,
    ) -> StoreResult<ConversationRecord> {
        let keys = [self.keys.meta(conversation), self.keys.held(counsellor)];
        self.run_record(
            &SCRIPTS.set_outcome,
            &keys,
            &args![
                conversation.to_string(),
                counsellor.to_string(),
                enum_name(&closing.outcome),
                assess_json(&closing.assessment)
            ],
        )
        .await
    }

    async fn leave_quickly(
        &self,
        conversation: ConversationId,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        self.run_record(
            &SCRIPTS.leave_quickly,
            &[self.keys.meta(conversation)],
            &args![now_ms],
        )
        .await
    }

    async fn visitor_connections(
        &self,
        conversation: ConversationId,
        delta: i32,
        now_ms: u64,
    ) -> StoreResult<ConversationRecord> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.node_visitors(&self.node),
        ];
        self.run_record(
            &SCRIPTS.visitor_connections,
            &keys,
            &args![conversation.to_string(), delta, now_ms],
        )
        .await
    }

    async fn live_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        Ok(self
            .records_in(&self.keys.live())
            .await?
            .into_iter()
            .filter(|r| r.state != ConversationState::Ended)
            .collect())
    }

    async fn sweep(
        &self,
        now_ms: u64,
        visitor_grace_ms: u64,
        counsellor_grace_ms: u64,
    ) -> StoreResult<Vec<Swept>> {
        self.reap_dead_nodes(now_ms).await?;
        let mut out = Vec::new();
        let gone = |since: Option<u64>, grace: u64| {
            since.is_some_and(|t| now_ms.saturating_sub(t) >= grace)
        };

        // Candidates by plain reads; each script re-checks its candidate.
        for rec in self.queue().await? {
            if !gone(rec.visitor_offline_since_ms, visitor_grace_ms) {
                continue;
            }
            let leave = AuditEntry::access(
                now_ms,
                AccountId(uuid::Uuid::nil()),
                AuditAction::LeaveByEnd,
                rec.id,
                None,
            );
            let leave = serde_json::to_string(&leave).map_err(|_| codec::corrupt("audit"))?;
            let keys = [
                self.keys.meta(rec.id),
                self.keys.queue(),
                self.keys.live(),
                self.keys.stats(),
                self.keys.ended(),
                self.keys.audit(),
            ];
            // A supervisor observing the waiting visitor: their leave is
            // audited, so the step runs on the durable connection.
            let mut durable = !rec.supervisors.is_empty();
            for _ in 0..2 {
                let args = args![
                    rec.id.to_string(),
                    now_ms,
                    visitor_grace_ms,
                    leave,
                    if durable { "1" } else { "" }
                ];
                let answer = if durable {
                    self.run_audited(&SCRIPTS.sweep_abandon, &keys, &args)
                        .await?
                } else {
                    reply(self.run(&SCRIPTS.sweep_abandon, &keys, &args).await?)?
                };
                match answer {
                    Reply::Ok(v) => {
                        if codec::int(v.first())? == 1 {
                            out.push(Swept::Abandoned {
                                conversation: rec.id,
                            });
                        }
                        break;
                    }
                    Reply::Retry => durable = true,
                    Reply::Dup(_) => return Err(codec::corrupt("sweep reply")),
                }
            }
        }

        for c in self.counsellors().await? {
            if c.active == 0 || !gone(c.offline_since_ms, counsellor_grace_ms) {
                continue;
            }
            let held: Vec<String> = self
                .query(::redis::cmd("SMEMBERS").arg(self.keys.held(c.id)))
                .await?;
            for id in held {
                let conversation = ConversationId(uuid_of(&id)?);
                let keys = [
                    self.keys.counsellor(c.id),
                    self.keys.held(c.id),
                    self.keys.queue(),
                    self.keys.meta(conversation),
                ];
                let v = self
                    .run(
                        &SCRIPTS.sweep_requeue,
                        &keys,
                        &args![id, c.id.to_string(), now_ms, counsellor_grace_ms],
                    )
                    .await?;
                if codec::int(Some(&v))? == 1 {
                    out.push(Swept::Requeued {
                        conversation,
                        counsellor: c.id,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn requeue_held(&self, counsellor: AccountId, now_ms: u64) -> StoreResult<Vec<Swept>> {
        let held: Vec<String> = self
            .query(::redis::cmd("SMEMBERS").arg(self.keys.held(counsellor)))
            .await?;
        let mut out = Vec::new();
        for id in held {
            let conversation = ConversationId(uuid_of(&id)?);
            let keys = [
                self.keys.counsellor(counsellor),
                self.keys.held(counsellor),
                self.keys.queue(),
                self.keys.meta(conversation),
            ];
            let v = self
                .run(
                    &SCRIPTS.sweep_requeue,
                    &keys,
                    &args![id, counsellor.to_string(), now_ms, "now"],
                )
                .await?;
            if codec::int(Some(&v))? == 1 {
                out.push(Swept::Requeued {
                    conversation,
                    counsellor,
                });
            }
        }
        Ok(out)
    }

    async fn stats(&self) -> StoreResult<Stats> {
        let (left, silent): (Option<u64>, Option<u64>) = self
            .query(
                ::redis::cmd("HMGET")
                    .arg(self.keys.stats())
                    .arg("left_queue")
                    .arg("went_silent"),
            )
            .await?;
        Ok(Stats {
            left_queue: left.unwrap_or(0),
            went_silent: silent.unwrap_or(0),
        })
    }
}

/// A new conversation's triage alert as a script's two arguments: its id
/// and JSON (both empty when triage matched nothing).
pub(super) fn alert_args(new: &NewConversation) -> StoreResult<(String, String)> {
    let Some(alert) = new.first_alert() else {
        return Ok((String::new(), String::new()));
    };
    let json = serde_json::to_string(&alert).map_err(|_| codec::corrupt("alert"))?;
    Ok((alert.id.to_string(), json))
}
