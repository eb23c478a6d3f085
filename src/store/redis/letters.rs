//! Letters (issue 22): `write_letter.lua` stores one as an ended
//! conversation with its text as message 1 and puts it in the letters
//! index (`letters`, a zset by writing time); `answer_letter.lua` appends
//! the answer and takes it out. Both on the durable connection: a letter
//! received and an answer sent are confirmed to a person.

use super::conversations::alert_args;
use super::messages::{split_at_seq, SEQ_PLACEHOLDER};
use super::*;

impl RedisStore {
    /// Drop from the letters index the entries of letters no longer
    /// waiting (erased, or purged, since: those steps do not know the
    /// index). Returns the records of those still waiting.
    async fn letters_in_index(&self) -> StoreResult<Vec<ConversationRecord>> {
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGE")
                    .arg(self.keys.letters())
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let mut waiting = Vec::with_capacity(ids.len());
        for raw in ids {
            let id = ConversationId(uuid_of(&raw)?);
            match self.conversation(id).await? {
                Some(rec) if rec.letter_waiting() => waiting.push(rec),
                _ => {
                    let _: i64 = self
                        .query(::redis::cmd("ZREM").arg(self.keys.letters()).arg(&raw))
                        .await?;
                }
            }
        }
        Ok(waiting)
    }
}

#[async_trait]
impl LetterStore for RedisStore {
    async fn write_letter(
        &self,
        new: NewConversation,
        max_waiting: u32,
    ) -> StoreResult<ConversationRecord> {
        let Some(text) = new.first_message.as_deref() else {
            return Err(StoreError::Unavailable("a letter needs its text".into()));
        };
        let id = new.id;
        let fixed = Static {
            letter: true,
            ..Static::of(&new)
        };
        let fixed = serde_json::to_string(&fixed).map_err(|_| codec::corrupt("static"))?;
        let reasons =
            serde_json::to_string(&new.risk_reasons).map_err(|_| codec::corrupt("reasons"))?;
        let (alert_id, alert_json) = alert_args(&new)?;
        let keys = [
            self.keys.letters(),
            self.keys.meta(id),
            self.keys.log(id),
            self.keys.seen(id),
            self.keys.ended(),
            self.keys.alerts(),
            self.keys.alert_order(),
        ];
        let argv = args![
            max_waiting,
            id,
            fixed,
            new.now_ms,
            text,
            ClientMsgId::first_message().as_str(),
            enum_name(&new.risk),
            enum_name(&new.risk.priority()),
            reasons,
            alert_id,
            alert_json
        ];
        let v = match self.run_durable(&SCRIPTS.write_letter, &keys, &argv).await {
            Err(StoreError::LettersFull) => {
                // The index may count letters erased or purged since.
                self.letters_in_index().await?;
                self.run_durable(&SCRIPTS.write_letter, &keys, &argv)
                    .await?
            }
            other => other?,
        };
        codec::conversation(&codec::hash(first(&v)?)?)
    }

    async fn waiting_letters(&self) -> StoreResult<Vec<ConversationRecord>> {
        self.letters_in_index().await
    }

    async fn letters_answered_since(&self, since_ms: u64) -> StoreResult<Vec<ConversationRecord>> {
        // An answer moves its letter's end (the purge's index) to the
        // answer: the recently ended, filtered.
        let ids: Vec<String> = self
            .query(
                ::redis::cmd("ZRANGEBYSCORE")
                    .arg(self.keys.ended())
                    .arg(since_ms)
                    .arg("+inf"),
            )
            .await?;
        let mut out = Vec::new();
        for raw in ids {
            if let Some(rec) = self.conversation(ConversationId(uuid_of(&raw)?)).await? {
                if rec.letter && rec.assigned_at_ms.is_some_and(|t| t >= since_ms) {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    async fn answer_letter(
        &self,
        letter: ConversationId,
        answer: NewMessage,
    ) -> StoreResult<(ConversationRecord, Appended)> {
        let Some(author) = answer.author else {
            return Err(StoreError::NotYours);
        };
        let (has_name, name) = match &answer.author_name {
            Some(n) => ("1", n.as_str()),
            None => ("0", ""),
        };
        let event = Event::Message {
            conversation: letter,
            message: Arc::new(StoredMessage {
                seq: SEQ_PLACEHOLDER,
                from: Party::Counsellor,
                author: Some(author),
                author_name: answer.author_name.clone(),
                client_id: answer.client_id.clone(),
                text: answer.text.clone(),
                at_ms: answer.now_ms,
            }),
        };
        let (before, after) = split_at_seq(&event)?;
        let keys = [
            self.keys.meta(letter),
            self.keys.log(letter),
            self.keys.seen(letter),
            self.keys.letters(),
            self.keys.ended(),
        ];
        let argv = args![
            author,
            has_name,
            name,
            answer.client_id.as_str(),
            answer.text.as_str(),
            answer.now_ms,
            before,
            after,
            self.keys.events_channel(),
            letter
        ];
        let mut conn = self.durable_conn();
        let v = reply(invoke(&mut conn, &SCRIPTS.answer_letter, &keys, &argv).await?)?;
        match v {
            Reply::Ok(v) => {
                self.wait_durable(&mut conn).await?;
                let seq = codec::int(v.first())?;
                let rec = codec::conversation(&codec::hash(
                    v.get(1).ok_or_else(|| codec::corrupt("answer reply"))?,
                )?)?;
                let Event::Message { mut message, .. } = event else {
                    unreachable!("built as a message event above");
                };
                Arc::make_mut(&mut message).seq = seq;
                Ok((rec, Appended::New(message)))
            }
            Reply::Dup(seq) => {
                let rec = self
                    .conversation(letter)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                Ok((rec, Appended::Duplicate(seq)))
            }
            Reply::Retry => Err(codec::corrupt("answer reply")),
        }
    }
}
