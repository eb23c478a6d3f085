//! The message log, acknowledgements and notes.

use super::*;

fn party_field(party: Party) -> &'static str {
    match party {
        Party::Visitor => "vacked",
        Party::Counsellor => "cacked",
    }
}

#[async_trait]
impl MessageStore for RedisStore {
    async fn append(&self, conversation: ConversationId, msg: NewMessage) -> StoreResult<Appended> {
        let keys = [
            self.keys.meta(conversation),
            self.keys.log(conversation),
            self.keys.seen(conversation),
        ];
        let from = enum_name(&msg.from);
        let (has_name, name) = match &msg.author_name {
            Some(n) => ("1", n.as_str()),
            None => ("0", ""),
        };
        // The event is encoded here, with a placeholder where the sequence
        // number goes; the script fills it in once it has taken one.
        let event = Event::Message {
            conversation,
            message: Arc::new(StoredMessage {
                seq: SEQ_PLACEHOLDER,
                from: msg.from,
                author: msg.author,
                author_name: msg.author_name.clone(),
                client_id: msg.client_id.clone(),
                text: msg.text,
                at_ms: msg.now_ms,
            }),
        };
        let (before, after) = split_at_seq(&event)?;
        let Event::Message { mut message, .. } = event else {
            unreachable!("built as a message event above");
        };
        // With `redis_wait_messages` the `WAIT` goes on the lane the append
        // went on (it counts that connection's writes), holding the place
        // in the gate until the replicas answer.
        let _admitted = self.gate.admit().await?;
        let mut lane = self.lane();
        let v = invoke(
            &mut lane,
            &SCRIPTS.append,
            &keys,
            &args![
                from,
                opt_id(msg.author),
                has_name,
                name,
                msg.client_id.as_str(),
                message.text.as_str(),
                msg.now_ms,
                opt_id(msg.require_counsellor),
                before,
                after,
                self.keys.events_channel()
            ],
        )
        .await?;
        let v = reply(v)?;
        if self.wait.messages && !matches!(v, Reply::Retry) {
            // A duplicate waits too: its first try may have been refused
            // by this same wait. (`WAIT` counts this connection's writes;
            // the first try may have gone on another lane: docs/REDIS.md.)
            self.wait_replicas(&mut lane).await?;
        }
        match v {
            Reply::Ok(v) => {
                // The only reference (the event is gone): set in place, no copy.
                Arc::make_mut(&mut message).seq = codec::int(v.first())?;
                Ok(Appended::New(message))
            }
            Reply::Dup(seq) => Ok(Appended::Duplicate(seq)),
            Reply::Retry => Err(codec::corrupt("append reply")),
        }
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Arc<StoredMessage>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Stream ids are "<seq>-0": the range starts right after `after`.
        let mut p = ::redis::pipe();
        p.cmd("EXISTS")
            .arg(self.keys.meta(conversation))
            .cmd("XRANGE")
            .arg(self.keys.log(conversation))
            .arg(format!("{}-0", after.saturating_add(1)))
            .arg("+")
            .arg("COUNT")
            .arg(limit);
        let (exists, entries): (bool, Value) = self.pipe(&p).await?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        match entries {
            Value::Array(items) => items.iter().map(codec::stream_message).collect(),
            Value::Nil => Ok(Vec::new()),
            _ => Err(codec::corrupt("xrange")),
        }
    }

    async fn ack(
        &self,
        conversation: ConversationId,
        party: Party,
        seq: u64,
    ) -> StoreResult<Acknowledged> {
        let keys = [self.keys.meta(conversation)];
        match reply(
            self.run(&SCRIPTS.ack, &keys, &args![party_field(party), seq])
                .await?,
        )? {
            Reply::Ok(v) => Ok(Acknowledged {
                seq: codec::int(v.first())?,
                raised: codec::int(v.get(1))? == 1,
            }),
            _ => Err(codec::corrupt("ack reply")),
        }
    }

    async fn add_note(&self, conversation: ConversationId, note: Note) -> StoreResult<()> {
        let json = serde_json::to_string(&note).map_err(|_| codec::corrupt("note"))?;
        let keys = [self.keys.meta(conversation), self.keys.notes(conversation)];
        match reply(self.run(&SCRIPTS.add_note, &keys, &args![json]).await?)? {
            Reply::Ok(_) => Ok(()),
            _ => Err(codec::corrupt("note reply")),
        }
    }

    async fn notes(&self, conversation: ConversationId) -> StoreResult<Vec<Note>> {
        let mut p = ::redis::pipe();
        p.cmd("EXISTS")
            .arg(self.keys.meta(conversation))
            .cmd("LRANGE")
            .arg(self.keys.notes(conversation))
            .arg(0)
            .arg(-1);
        let (exists, notes): (bool, Vec<String>) = self.pipe(&p).await?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        notes
            .iter()
            .map(|j| serde_json::from_str(j).map_err(|_| codec::corrupt("note")))
            .collect()
    }
}

/// Stands for the sequence number in an event encoded before the store
/// has taken one (no real sequence number is this large).
pub(super) const SEQ_PLACEHOLDER: u64 = u64::MAX;

/// A message event's JSON, split where its sequence number goes. A text
/// or name cannot contain the pattern: inside a JSON string every `"` is
/// escaped.
pub(super) fn split_at_seq(event: &Event) -> StoreResult<(String, String)> {
    let json = serde_json::to_string(event).map_err(|_| codec::corrupt("event"))?;
    let mark = format!("\"seq\":{SEQ_PLACEHOLDER}");
    let at = json.find(&mark).ok_or_else(|| codec::corrupt("event"))?;
    let cut = at + "\"seq\":".len();
    Ok((json[..cut].to_owned(), json[at + mark.len()..].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_event_splits_where_its_sequence_number_goes() {
        let tricky = format!(r#"say "seq":{SEQ_PLACEHOLDER} and \"seq\":{SEQ_PLACEHOLDER}"#);
        let message = StoredMessage {
            seq: SEQ_PLACEHOLDER,
            from: Party::Visitor,
            author: None,
            author_name: Some(tricky.clone()),
            client_id: ClientMsgId::parse("c-1").unwrap(),
            text: tricky,
            at_ms: 7,
        };
        let conversation = ConversationId::new_random();
        let event = Event::Message {
            conversation,
            message: Arc::new(message.clone()),
        };
        let (before, after) = split_at_seq(&event).unwrap();
        let filled: Event = serde_json::from_str(&format!("{before}42{after}")).unwrap();
        let Event::Message {
            conversation: c,
            message: m,
        } = filled
        else {
            panic!("not a message event");
        };
        assert_eq!(c, conversation);
        assert_eq!(*m, StoredMessage { seq: 42, ..message });
    }
}
