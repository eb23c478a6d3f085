//! What the LINE channel says to a visitor in its own words (Japanese
//! first, then English): the greeting, a refusal, the queue place and the
//! message carrying a handoff link.

use super::LineChannel;
use crate::core::hours::iso_jst;
use crate::core::ids::ConversationId;
use crate::protocol::ErrorCode;
use crate::service::Refusal;

impl LineChannel {
    pub(super) fn greeting(&self) -> String {
        let site = &self.service.settings.site;
        format!(
            "{}\nメッセージを送ると相談員につながります（匿名です）。\n受付時間: {}\n\nSend a message to chat with a counsellor (anonymously).\nHours: {}",
            site.name_ja, site.hours_ja, site.hours_en
        )
    }

    /// A LINE user's message was taken as a letter (issue 22).
    pub(super) fn letter_text(&self, r: &crate::service::LetterReceipt) -> String {
        let when = r
            .answer_expected_at
            .as_deref()
            .map(|t| format!("\nお返事の目安 / Expected answer: {t}"))
            .unwrap_or_default();
        let safety = if r.safety_info {
            self.alternatives_text()
        } else {
            String::new()
        };
        format!(
            "受付時間外のため、お手紙としてお預かりしました。受付時間内に相談員がこのトークにお返事します。{when}\nWe are closed now, so we kept your message as a letter. A counsellor will answer here during opening hours.{safety}"
        )
    }

    /// A LINE user wrote again while their letter waits: nothing stored.
    pub(super) fn letter_waiting_text(&self, closed: &Refusal) -> String {
        let next = closed
            .next_opening
            .as_ref()
            .map(|t| format!("\n次の受付開始 / Next opening: {t}"))
            .unwrap_or_default();
        format!(
            "お手紙はお預かりしています。お返事までお待ちください。{next}\nWe have your letter; please wait for the answer.{}",
            self.alternatives_text()
        )
    }

    pub(super) fn alternatives_text(&self) -> String {
        let alts = self.service.alternatives();
        if alts.is_empty() {
            return String::new();
        }
        let mut s = String::from("\n\n24時間の相談先 / Round-the-clock services:");
        for a in alts.iter() {
            s.push_str(&format!("\n・{} {}", a.name, a.contact));
            if !a.hours.is_empty() {
                s.push_str(&format!(" ({})", a.hours));
            }
        }
        s
    }

    pub(super) fn refusal_text(&self, r: &Refusal) -> String {
        let site = &self.service.settings.site;
        let head = match r.code {
            ErrorCode::Closed => format!(
                "ただいま受付時間外です。受付時間: {}\nChat is closed now. Hours: {}",
                site.hours_ja, site.hours_en
            ),
            ErrorCode::QueueFull => "ただいま混み合っていて、お待ちいただける人数を超えています。時間をおいてもう一度お送りください。\nEveryone is busy and the queue is full; please try again later.".into(),
            ErrorCode::TextTooLong => "メッセージが長すぎます。分けて送ってください。\nThat message is too long; please split it.".into(),
            _ => "うまく受け取れませんでした。もう一度お送りください。\nThat did not go through; please send it again.".into(),
        };
        let next = r
            .next_opening
            .as_ref()
            .map(|t| format!("\n次の受付開始 / Next opening: {t}"))
            .unwrap_or_default();
        format!("{head}{next}{}", self.alternatives_text())
    }

    pub(super) async fn tell_refusal(&self, conv: ConversationId, user: &str, r: &Refusal) {
        let text = self.refusal_text(r);
        let token = self.take_reply_token(conv);
        self.reply_or_push(Some(conv), user, token, vec![text], "refused")
            .await;
    }

    /// The visitor's place and estimate as a message, if they are waiting.
    pub(super) async fn queue_notice(&self, conv: ConversationId) -> Option<(u32, String)> {
        let (queue, places) = self.service.queue_places().await.ok()?;
        let i = queue.iter().position(|r| r.id == conv)?;
        let p = places.get(i)?;
        let wait = match p.estimated_wait_secs {
            Some(s) => format!(
                "目安の待ち時間: 約{}分 / About {} min",
                s.div_ceil(60).max(1),
                s.div_ceil(60).max(1)
            ),
            None => "待ち時間の目安はまだ出せません / No estimate yet".into(),
        };
        let mut text = format!(
            "受け付けました。相談員につながるまでお待ちください。\n順番: {}番目 / You are number {} in the queue\n{}",
            p.position, p.position, wait
        );
        if !self.service.hours_status().accepts_new_visitors() {
            let site = &self.service.settings.site;
            text.push_str(&format!(
                "\nまもなく受付終了です。受付時間: {} / Closing soon. Hours: {}",
                site.hours_ja, site.hours_en
            ));
            text.push_str(&self.alternatives_text());
        }
        Some((p.position, text))
    }
}

/// The message carrying a handoff link: Japanese first, then English.
pub(super) fn handoff_link_text(url: &str, expires_at_ms: u64) -> String {
    let iso = iso_jst(expires_at_ms);
    let until = format!("{} {}", &iso[..10], &iso[11..16]);
    format!(
        "相談員から初回相談のご提案が届きました。\n下のリンクを開くと、センターに渡す内容を読んで、同意するかどうかを選べます。同意したら、そのまま予約もできます。\n{url}\nこのリンクはあなた専用です。ほかの人には送らないでください。{until}（日本時間）まで使えます。予約をすると使えなくなります。\n\nThe counsellor has proposed a first consultation. Open the link to read what would be passed on to the centre and choose whether to agree; then you can book.\n{url}\nThis link is for you only; please do not share it. It works until {until} Japan time, or until you book."
    )
}
