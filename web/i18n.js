// Every string the pages show, in Japanese (the default) and English.
// Text is always inserted with textContent, never as HTML.
//
// The chosen language is kept in sessionStorage (this tab only), like
// everything else the pages keep: nothing outlives the tab.

const LANG_KEY = 'tsunagu.lang';
export const LANGS = ['ja', 'en'];

const STRINGS = {
  ja: {
    'lang.name': '日本語',
    'app.name': 'つなぐ',
    'exit.button': 'すぐに閉じる',
    'exit.hint': 'この画面をすぐに別のページに切り替え、この端末から会話を消します',

    // Visitor: welcome
    'welcome.heading': '匿名でチャット相談ができます',
    'welcome.lead':
      '家から出にくい、人と会うのがつらい、家族のことが心配――。ご本人でもご家族でも、名前を言わずに文字だけで相談できます。',
    'welcome.about': 'このチャットについて',
    'welcome.anon.title': '匿名です。',
    'welcome.anon':
      '名前・電話番号・メールアドレス・住所は聞きません。答えたくないことは答えなくて大丈夫です。',
    'welcome.recorded.title': '記録されること：',
    'welcome.recorded':
      'このチャットで書かれた内容と、下の質問に答えた場合はその答え。相談員が相談のためのメモを残すことがあります。あなたの同意なしにほかの機関へ渡すことはありません。',
    'welcome.not_recorded.title': '記録されないこと：',
    'welcome.not_recorded': 'あなたのIPアドレスなど、あなたが誰かがわかる情報。',
    'welcome.device.title': 'この端末では：',
    'welcome.device':
      '会話はこのタブを閉じるまでこのタブの中だけに残ります。「すぐに閉じる」を押すと別のページに切り替わり、会話はこの端末から消えます。閲覧履歴も残したくないときは、プライベート（シークレット）ウィンドウで開いてください。',
    'welcome.hours': '受付時間',
    'emergency.heading': '緊急のとき',
    'emergency.text':
      '命の危険があるときや、いますぐ助けが必要なときは、119（救急）または110（警察）に電話してください。',
    'emergency.alternatives': '受付時間外や、待ち時間が長いときは、こちらの窓口も利用できます：',
    'prechat.summary': 'よければ先に教えてください（どれも任意です）',
    'prechat.intro': '答えると、合った相談員につながりやすくなります。とばしても始められます。',
    'prechat.skip': '選ばない',
    'prechat.who': 'どなたが書いていますか',
    'prechat.age_band': '相談したい方（ご本人）の年代',
    'prechat.topic': '話したいこと',
    'prechat.first_message': '最初に伝えたいこと（書かなくても始められます）',
    'welcome.start': 'チャットを始める',
    'welcome.starting': '接続しています…',

    // Pre-chat answers (shared with the console)
    'who.self': '本人',
    'who.self.visitor': 'わたし自身のこと（本人）',
    'who.family_together': '家族（一緒に住んでいる）',
    'who.family_apart': '家族（離れて住んでいる）',
    'who.supporter': '支援者・関係機関',
    'who.rather_not_say': '答えない',
    'age_band.teens': '10代',
    'age_band.twenties': '20代',
    'age_band.thirties': '30代',
    'age_band.forties': '40代',
    'age_band.fifty_plus': '50代以上',
    'age_band.rather_not_say': '答えない',
    'prechat.gender': '相談したい方（ご本人）の性別',
    'gender.female': '女性',
    'gender.male': '男性',
    'gender.other': 'そのほか',
    'gender.rather_not_say': '答えない',
    'topic.daily_life': '毎日の生活',
    'topic.school': '学校',
    'topic.work': '仕事',
    'topic.family': '家族',
    'topic.health': 'こころやからだの健康',
    'topic.other': 'その他',
    'topic.rather_not_say': '答えない',

    // Visitor: waiting
    'wait.heading': '相談員を待っています',
    'wait.position': 'あなたの順番：{position}番目（待っている人 {length}人）',
    'wait.estimate.minutes': '待ち時間の目安：約{minutes}分（前後することがあります）',
    'wait.estimate.soon': 'まもなくつながります',
    'wait.estimate.none':
      'いまは対応できる相談員がいません。このまま待つこともできます。急ぐときは、下の24時間の窓口を利用してください。',
    'wait.checking': '順番を確認しています…',
    'wait.write_now':
      '待っている間に、話したいことを書いておけます。つながったら相談員が読みます。',
    'wait.requeued':
      '相談員の接続が切れてしまいました。あなたは順番の先頭です。これまでの会話は消えていません。',

    // Visitor: opening hours
    'closed.heading': 'いまはチャット相談の受付時間外です',
    'closed.text': 'いまは新しい相談を受け付けていません。',
    'closed.next': '次の受付開始：{when}',
    'closed.next.none': '次の受付日時はまだ決まっていません。',
    'closed.reason.outside_hours': '受付時間外です。',
    'closed.reason.national_holiday': '本日は祝日（{holiday}）のため休みです。',
    'closed.reason.national_holiday.unnamed': '本日は祝日のため休みです。',
    'closed.reason.year_end': '年末年始のため休みです。',
    'closed.reason.closure': '本日は臨時のお休みです。',
    'closed.reason.last_entry_passed': '本日の受付は終了しました。',
    'closed.alternatives': 'いま話したいときは、下の24時間の窓口を利用できます。命の危険があるときは119または110に電話してください。',
    'closed.check': 'もう一度確認する',
    'closed.checking': '確認しています…',
    'wait.closing':
      '本日の新しい受付は終わりましたが、お待ちの方には順番に対応します。このままお待ちください。待てないときは、下の24時間の窓口も利用できます。',
    'wait.closing.at': '本日の新しい受付は終わりました（{time}に終了予定）。お待ちの方には順番に対応します。このままお待ちください。待てないときは、下の24時間の窓口も利用できます。',
    'chat.heading.two': '{name}さん・{second}さんと話しています',
    'chat.joined': '相談員の{name}さんが会話に加わりました。',
    'chat.left': '相談員の{name}さんが会話から離れました。',
    'chat.taken_over': '相談員の{name}さんが会話を引き継ぎました。これまでの会話はそのまま残っています。',
    'chat.observed.on': '相談の質を保つため、責任者が会話を見守っています。',
    'chat.observed.off': '責任者の見守りが終わりました。',
    'wait.leave': '待つのをやめる',
    'confirm.leave': '待つのをやめますか？順番はなくなります。',
    'confirm.leave.yes': 'やめる',

    // Visitor: chatting
    'chat.heading': '{name}さんと話しています',
    'chat.heading.anon': '相談員と話しています',
    'chat.matched': '相談員の{name}さんにつながりました。',
    'chat.log': 'メッセージ',
    'msg.you': 'あなた',
    'msg.counsellor': '相談員',
    'msg.visitor': '相談者',
    'msg.state.sending': '送信中',
    'msg.state.queued': '送信待ち（接続が戻ったら送ります）',
    'msg.state.sent': '送信済み',
    'msg.state.delivered': '届きました',
    'msg.state.failed': '送れませんでした',
    'msg.edit': '書き直す',
    'composer.label': 'メッセージ',
    'composer.send': '送信',
    'composer.hint': 'Ctrl+Enter でも送信できます。',
    'composer.count': '{count} / {max}文字',
    'typing.counsellor': '相談員が入力しています…',
    'typing.visitor': '相談者が入力しています…',
    'chat.end': 'チャットを終える',
    'confirm.end': 'チャットを終えますか？',
    'confirm.end.yes': '終える',
    'confirm.back': 'もどる',
    'erase.button': 'この会話を消す',
    'confirm.erase':
      'この会話の記録を、相談員の画面も含めてすべて消します。消すと元に戻せません。続いている相談は終了します。よろしいですか？',
    'confirm.erase.yes': '消す',
    'erase.done': '会話を消しました。相談員の画面からも、この端末からも消えています。',
    'erase.device_only':
      '会話をこの端末から消しました。サーバーにつながらなかったため、記録は保存期間が過ぎると自動で消えます。',
    'alternatives.heading': '24時間の窓口',
    'alternatives.none': '（設定されていません）',

    // Visitor: ended
    'ended.heading': '相談は終了しました',
    'ended.by.visitor': 'あなたがチャットを終えました。',
    'ended.by.counsellor': '相談員がチャットを終えました。',
    'ended.by.system': '接続が長い間なかったため、順番待ちを終了しました。',
    'ended.thanks':
      '話してくれてありがとうございました。また話したくなったら、いつでも新しく始められます。',
    'ended.new': '新しく相談を始める',

    // Connection
    'conn.connecting': '接続しています…',
    'conn.offline': 'オフラインです。書いたメッセージは、接続が戻ったときに送られます。',
    'conn.reconnecting': '接続が切れました。つなぎ直しています…',
    'conn.closed': '接続が終わりました。',
    'conn.retry': 'もう一度つなぐ',
    'conn.back': '接続が戻りました。',

    // Errors
    'error.queue_full':
      'いまはとても混みあっていて、順番待ちがいっぱいです。時間をおいてもう一度試すか、下の窓口を利用してください。',
    'error.rate_limited': '少し時間をおいてから、もう一度お試しください。',
    'error.resume_failed': '前の会話を開けませんでした。新しく始めることができます。',
    'error.text_too_long': '長すぎます（{max}文字まで）。',
    'error.text_empty': '空のメッセージは送れません。',
    'error.conversation_ended': 'チャットは終了しています。',
    'error.unavailable': '一時的につながりにくくなっています。もう一度お試しください。',
    'error.invalid_capacity': '同時に受ける数が範囲外です。',
    'error.capacity_reached': '受けられる数の上限です。',
    'error.not_available': '「受付する」にしてから選んでください。',
    'error.not_waiting': 'その相談者はもう待っていません。',
    'error.not_your_conversation': 'この相談は担当ではありません。',
    'error.network': '接続できませんでした。もう一度お試しください。',
    'error.generic': 'エラーが発生しました（{code}）。',
    'error.closed': 'いまは受付時間外です。',
    'error.not_active': 'まだ順番待ちの相談です。見守るか引き継いでください。',
    'error.forbidden': 'このアカウントではできません。',

    // Console
    'console.title': '相談員コンソール',
    'login.heading': 'ログイン',
    'login.username': 'ユーザー名',
    'login.password': 'パスワード',
    'login.submit': 'ログイン',
    'login.failed': 'ユーザー名またはパスワードが違います。',
    'login.expired': 'ログインの有効期限が切れました。もう一度ログインしてください。',
    'login.role': 'このアカウントでは相談を受けられません。',
    'logout': 'ログアウト',
    'status.available': '受付する',
    'status.now.available': '受付中',
    'status.now.away': '離席中',
    'capacity.label': '同時に受ける数',
    'capacity.active': '担当中 {active} / {capacity}',
    'sidebar.label': '順番待ちと担当中の相談',
    'queue.heading': '順番待ち',
    'queue.count': '{count}人',
    'queue.empty': '待っている人はいません。',
    'queue.waited': '待ち時間 {minutes}分',
    'queue.waited.short': '待ち時間 1分未満',
    'queue.requeued': '再待機',
    'queue.urgent': '優先',
    'queue.first_message': '最初のメッセージ：',
    'queue.pick': 'この相談を受ける',
    'queue.more': 'ほか{count}人',
    'queue.no_prechat': '事前の回答なし',
    'convs.heading': '担当中の相談',
    'convs.empty': '担当している相談はまだありません。',
    'conv.label': '相談 #{short}',
    'conv.label.line': '{name}（LINE）',
    'line.sent': 'LINEに送信済み',
    'line.failed': 'LINEに届けられませんでした（{reason}）',
    'conv.unread': '未読{count}件',
    'conv.online': 'オンライン',
    'conv.offline': 'オフライン',
    'conv.started': '開始 {time}',
    'conv.state.active': '対応中',
    'conv.state.ended': '終了',
    'conv.none': '一覧から相談を選んでください。',
    'conv.messages': '{label}のメッセージ',
    'notes.heading': 'メモ（相談者には見えません）',
    'notes.label': '新しいメモ',
    'notes.save': 'メモを保存',
    'notes.empty': 'メモはまだありません。',
    'end.heading': '終了と結果',
    'end.outcome': '結果',
    'end.optional': '（記録しない）',
    'end.withdrawal': 'ひきこもりの期間（任意・統計用）',
    'end.severity': '状態（任意・統計用）',
    'end.referral': '他機関につないだ',
    'end.choose': '選んでください',
    'end.submit': '結果を記録して終了',
    'end.record': '結果を記録',
    'end.need_outcome': '結果を選んでください。',
    'end.visitor_ended': '相談者がチャットを終えました。結果を記録してください。',
    'end.system_ended': '相談者の接続が長い間なかったため終了しました。',
    'end.recorded': '記録した結果：{outcome}',
    'end.close': '一覧から閉じる',
    'outcome.listened': '傾聴',
    'outcome.information_given': '情報提供',
    'outcome.referred': '他機関を紹介',
    'outcome.out_of_area': '管轄外',
    'outcome.handoff_agreed': '初回相談へつなぐ（同意あり）',
    'outcome.visitor_left': '相談者が退出',
    'outcome.no_response': '応答なし',
    'outcome.other': 'その他',
    'notice.assigned': '新しい相談が割り当てられました：{label}',
    'notice.requeued': '{label}は順番待ちに戻されました。',
    'notice.visitor_ended': '{label}：相談者がチャットを終えました。',
    'notice.dismiss': '閉じる',

    'risk.label': 'リスク',
    'risk.none': 'なし',
    'risk.watch': '要注意',
    'risk.urgent': '緊急',
    'risk.badge.watch': '要注意',
    'risk.badge.urgent': '⚠ 緊急',
    'risk.heading': 'リスクの程度',
    'risk.set': '変更する',
    'risk.reason.triage': '自動判定：{category}',
    'risk.reason.staff': '{by}が設定',
    'category.self_harm': '自傷・自殺の危険',
    'category.harm_to_others': '他害の危険',
    'category.violence_at_home': '家庭内の暴力',
    'category.distress': '強い苦痛',
    'transfer.heading': '引き継ぎ',
    'transfer.to': '引き継ぐ先',
    'transfer.queue': '順番待ちの先頭に戻す',
    'transfer.colleague': '{name}（{state}）',
    'transfer.colleague.free': '受付中・空き{free}',
    'transfer.colleague.full': '空きなし',
    'transfer.colleague.away': '離席中',
    'transfer.note': '引き継ぎメモ（任意・相談者には見えません）',
    'transfer.submit': '引き継ぐ',
    'silent.hint': '相談者から{time}以降返事がありません。様子をたずねるメッセージを送ることもできます（自動では送られません）。',
    'supervision.observe': '{name}さんが見守り中',
    'supervision.join': '{name}さんが参加中',
    'supervision.mine.observe': '見守り中（読むだけ）',
    'supervision.mine.join': '参加中',
    'supervision.counsellor': '担当：{name}',
    'supervision.leave': '離れる',
    'supervision.join.button': '参加する',
    'supervision.take_over': '引き継ぐ（担当になる）',
    'notice.released.transferred': '{label}を{name}さんに引き継ぎました。',
    'notice.released.returned_to_queue': '{label}を順番待ちに戻しました。',
    'notice.released.taken_over': '{label}は{name}さんが引き継ぎました。',
    'notice.supervision.observe': '{label}：{name}さんが見守りを始めました。',
    'notice.supervision.join': '{label}：{name}さんが会話に参加しました。',
    'notice.supervision.left': '{label}：{name}さんが離れました。',
    'notice.silent': '{label}：相談者からの返事がしばらくありません。',
    'floor.heading': 'フロア',
    'floor.queue': '順番待ち {length}人',
    'floor.urgent': '緊急 {count}人',
    'floor.longest': '最長待ち {time}',
    'floor.alerts.count': '未確認のアラート {count}件',
    'floor.stats': '待機中に離れた人 {left}人 · 返事が途絶えた相談 {silent}件',
    'floor.alerts': 'アラート',
    'floor.alerts.none': '未確認のアラートはありません。',
    'floor.alert.text': '{level}：{label}（{reasons}）{time}',
    'floor.alert.ack': '確認した',
    'floor.counsellors': '相談員',
    'floor.counsellors.none': '接続した相談員はいません。',
    'floor.counsellor.load': '{name}：{status} · 担当 {active} / {capacity}',
    'floor.counsellor.offline': '未接続',
    'floor.convs': '進行中の相談',
    'floor.convs.none': '進行中の相談はありません。',
    'floor.col.conv': '相談',
    'floor.col.state': '状態',
    'floor.col.risk': 'リスク',
    'floor.col.counsellor': '担当',
    'floor.col.age': '経過',
    'floor.col.actions': '操作',
    'floor.state.queued': '待機中',
    'floor.state.active': '対応中',
    'floor.silent': '返事なし',
    'floor.minutes': '{minutes}分',
    'floor.seconds': '1分未満',
    'floor.observe': '見守る',
    'floor.join': '参加する',
    'floor.take_over': '引き継ぐ',
    'floor.leave': '離れる',
    'floor.mine': 'あなたが担当',
    'floor.open': '開く',

    // Visitor: the handoff offer (consent.*: change the server's
    // handoff.wording_version whenever these texts change)
    'consent.heading': '初回相談のご提案',
    'consent.arrived': '相談員から初回相談のご提案が届きました。チャットの下に表示しています。',
    'consent.intro':
      '相談員から、センターでの初回相談（予約制・無料）につなぐご提案がありました。渡す内容を読んで、どうするか選んでください。どれを選んでもチャットは続けられます。',
    'consent.summary': '渡す内容（相談員がまとめたもの。このとおりに渡されます）',
    'consent.recipient': '渡す相手',
    'consent.purpose': '目的',
    'consent.retention': '保存期間',
    'consent.retention.days': '初回相談のあと{days}日間。その後は消去されます。',
    'consent.transcript': 'チャットの記録も渡す',
    'consent.transcript.hint': 'チェックしなければ、渡すのは上のまとめだけです。',
    'consent.transcript.not_offered': 'チャットの記録は渡しません。',
    'consent.contact': '予約のときに書く連絡先（電話番号かメール）も渡す',
    'consent.contact.hint': 'チェックしなければ連絡先は聞きません。予約のあと、あなたからセンターに電話してください。',
    'consent.withdraw_note':
      '同意はあとからいつでも取り消せます。取り消すと、受付担当はこの内容を見られなくなり、予約も取り消されます。',
    'consent.agree': '同意する',
    'consent.decline': '今回はやめておく',
    'consent.change': '内容の修正をお願いする',
    'consent.sending': '送っています…',
    'consent.changed': '提案の内容が変わりました。新しい内容を読んでから、もう一度選んでください。',
    'consent.change_requested':
      '修正をお願いしました。相談員が内容を直すと、ここに新しい提案が出ます。どこを直してほしいか、チャットで伝えることもできます。',
    'consent.declined': '今回は何も渡していません。このままチャットを続けられます。',
    'consent.withdrawn': '同意を取り消しました。何も渡されていません。予約があった場合は取り消されました。',
    'consent.given': '同意しました（渡すもの：{scope}）。',
    'consent.scope.summary': 'まとめ',
    'consent.scope.transcript': 'チャットの記録',
    'consent.scope.contact': '連絡先',
    'consent.scope.sep': '・',

    // Visitor: booking
    'booking.heading': '初回相談の予約',
    'booking.slots': '日時を選んでください（日本時間）',
    'booking.free': '空き{free}',
    'booking.none': 'いま予約できる日時がありません。チャットで相談員に伝えてください。',
    'booking.reload': '日時をもう一度読み込む',
    'booking.name': '呼ばれたい名前（任意。本名でなくてかまいません）',
    'booking.contact': 'センターからの連絡方法',
    'booking.contact.phone': '電話',
    'booking.contact.email': 'メール',
    'booking.contact.self': '自分からセンターに電話する',
    'booking.contact.value.phone': '電話番号',
    'booking.contact.value.email': 'メールアドレス',
    'booking.contact.only_self':
      '連絡先を渡すことには同意していないので、センターからは連絡しません。予約の時間に行くか、あなたからセンターに連絡してください。',
    'booking.submit': 'この日時で予約する',
    'booking.booking': '予約しています…',
    'booking.choose': '日時を選んでください。',
    'booking.need_value': '電話番号かメールアドレスを書いてください。',
    'booking.done.heading': '予約しました',
    'booking.when': '日時',
    'booking.kind': '形式',
    'booking.where': '場所',
    'booking.reference': '予約番号',
    'booking.pin': '暗証番号（PIN）',
    'booking.pin.once':
      'PINはこの画面に一度だけ表示されます。予約番号と一緒に書き留めてください。下のページで予約を確認したり取り消したりするときに使います。',
    'booking.pin.gone': 'PINは予約したときに一度だけ表示しました。わからなくなったときは「新しいPINを発行」を押してください（前のPINは使えなくなります）。',
    'booking.lookup': 'あとで予約を確認・取り消すときは、このページで予約番号とPINを入力してください：',
    'booking.calendar': 'カレンダーに追加する（.icsファイル）',
    'booking.withdraw': '同意を取り消す',
    'booking.withdraw.confirm':
      '同意を取り消しますか？受付担当はこの内容を見られなくなり、予約も取り消されます。',
    'booking.withdraw.yes': '取り消す',
    'slot.kind.centre': 'センターに来所',
    'slot.kind.ward_office': '区の保健福祉センターで',
    'slot.kind.home_visit': 'ご自宅へ訪問',
    'slot.kind.online': 'オンライン',
    'slot.range': '{start}〜{end}',

    // Visitor: a booking looked up later (/booking/)
    'lookup.title': '予約の確認',
    'lookup.heading': '初回相談の予約を確認する・取り消す',
    'lookup.intro': '予約したときに表示された予約番号とPIN（6桁の数字）を入力してください。',
    'lookup.reference': '予約番号',
    'lookup.reference.hint': '例：K7QP-M3XW（大文字・小文字やハイフンはどちらでもかまいません）',
    'lookup.pin': 'PIN（6桁の数字）',
    'lookup.submit': '予約を表示する',
    'lookup.searching': '確認しています…',
    'lookup.need_both': '予約番号とPINを入力してください。',
    'lookup.pin_digits': 'PINは6桁の数字です。',
    'lookup.not_found': '予約が見つかりません。予約番号とPINを、書き留めたものと見比べてください。',
    'lookup.rate_limited': '試した回数が多すぎます。{seconds}秒ほど待ってから、もう一度お試しください。',
    'lookup.found': '予約の内容',
    'lookup.state.booked': 'この予約は有効です。',
    'lookup.state.cancelled': 'この予約は取り消されています。',
    'lookup.cancelled.now': '予約を取り消しました。センターへの連絡は必要ありません。',
    'lookup.name': '呼ばれたい名前',
    'lookup.name.none': 'なし',
    'lookup.calendar': 'カレンダーのファイルをダウンロードする（.ics）',
    'lookup.calendar.done': 'カレンダーのファイルをダウンロードしました。',
    'lookup.cancel': 'この予約を取り消す',
    'lookup.cancel.confirm': 'この予約を取り消しますか？取り消すと元に戻せません。',
    'lookup.cancel.yes': '予約を取り消す',
    'lookup.cancel.busy': '取り消しています…',
    'lookup.withdraw': '同意を取り消す（センターには何も渡りません）',
    'lookup.withdraw.confirm': '相談のときにした同意を取り消しますか？センターは、あなたが伝えてよいとした内容を見られなくなり、この予約も取り消されます。',
    'lookup.withdraw.yes': '同意を取り消す',
    'lookup.withdraw.busy': '取り消しています…',
    'lookup.withdrawn.now': '同意を取り消しました。センターには何も渡りません。予約も取り消されました。',
    'lookup.again': '別の予約を確認する',
    'lookup.exit.hint': 'この画面をすぐに別のページに切り替え、表示した内容を消します',

    // The page of a LINE visitor's one-time link (/handoff/#...)
    'link.heading': 'LINEでのご相談から',
    'link.intro': 'LINEで相談員から届いたリンクから開いたページです。チャットはLINEでそのまま続けられます。',
    'link.loading': '読み込んでいます…',
    'link.none': 'このページは、LINEで届いたリンクから開いてください。',
    'link.unknown': 'このリンクは使えません。LINEに新しいリンクが届いていれば、そちらを開いてください。',
    'link.spent': 'このリンクはもう使えません（予約に使ったか、ご提案への回答が終わっています）。予約の確認・取り消しは、予約番号とPINで次のページからできます。',
    'link.expired': 'このリンクは有効期限が過ぎました。初回相談を希望するときは、LINEで相談員に伝えてください。',
    'link.lookup': '予約を確認・取り消すページへ',
    'link.retry': 'もう一度読み込む',
    'error.link_spent': 'このリンクはもう使えません。予約の確認・取り消しは予約番号とPINでできます。',
    'error.link_expired': 'このリンクは有効期限が過ぎました。LINEで相談員に伝えてください。',
    'error.handoff_link_unavailable': 'LINEの相談者にはリンクを送れない設定です（public_url が未設定）。管理者に連絡してください。',

    // Handoff errors
    'error.no_offer': 'まだ提案はありません。',
    'error.offer_changed': '提案の内容が変わりました。新しい内容を読んでから、もう一度選んでください。',
    'error.already_answered': 'この提案にはもう答えています。',
    'error.already_consented': '同意がある間は提案を変えられません（相談者が取り消すまで）。',
    'error.no_consent': '同意がないため、予約できません。',
    'error.outside_consent': '同意した範囲の外です。',
    'error.already_booked': 'すでに予約があります。',
    'error.slot_full': 'その日時は満員になりました。ほかの日時を選んでください。',
    'error.slot_unavailable': 'その日時はもう予約できません。ほかの日時を選んでください。',
    'error.slot_booked': '予約が入っている枠は取り消せません。先に予約を取り消してください。',
    'error.invalid_contact': '電話番号（例：090-1234-5678）かメールアドレス（例：name@example.jp）を確かめてください。',
    'error.booking_not_found': '予約が見つかりません。',
    'error.booking_locked': 'PINの入力の間違いが続いたため、この予約はロックされました。予約はそのまま残っています。新しいPINは、予約したチャットの画面か、センターで受け取れます。',
    'error.request_timeout': '通信に時間がかかりすぎました。もう一度送ってください。',
    'error.bad_request': '入力を確かめてください：{message}',
    'error.not_found': '見つかりません。',
    'error.unauthorized': 'ログインしてください。',
    'error.conflict': 'ほかの変更と重なりました。もう一度お試しください。',

    // Console: the handoff
    'handoff.heading': '初回相談',
    'handoff.summary': '相談者に見せて渡すまとめ（このとおりに表示されます）',
    'handoff.transcript': 'チャットの記録も渡すよう提案する',
    'handoff.offer': '初回相談を提案する',
    'handoff.revise': '直した内容で提案し直す',
    'handoff.need_summary': 'まとめを書いてください。',
    'handoff.state.offered': '提案済み（第{version}版）。相談者の回答を待っています。',
    'handoff.state.change_requested': '相談者が内容の修正を求めています（第{version}版）。',
    'handoff.state.declined': '相談者は今回は見送りました。何も渡されません。',
    'handoff.state.consented': '同意あり（{scope}）。',
    'handoff.state.withdrawn': '相談者が同意を取り消しました。何も渡されません。',
    'handoff.booked': '予約あり：{when}・{place}',
    'handoff.not_booked': 'まだ予約はありません。',
    'handoff.locked': '同意がある間は内容を変えられません。',

    // Staff pages
    'login.other_page': 'このアカウントは次のページを使います：',
    'admin.title': '管理',
    'stats.heading': '統計',
    'stats.kind': '期間の種類',
    'stats.kind.month': '月',
    'stats.kind.quarter': '四半期',
    'stats.kind.fy': '年度（4月〜翌3月）',
    'stats.year': '年',
    'stats.month': '月',
    'stats.quarter': '四半期',
    'stats.show': '表示',
    'stats.csv': 'CSVをダウンロード',
    'stats.note': '{period}：{min}未満の数は「<{min}」と表示します（個人が特定されないように）。',
    'stats.col.category': '区分',
    'stats.col.count': '件数',
    'stats.totals': '相談件数',
    'stats.started': '開始',
    'stats.served': '対応',
    'stats.abandoned': '待機中に離脱',
    'stats.table.who': '相談者',
    'stats.table.age_band': '年代',
    'stats.table.gender': '性別',
    'stats.table.withdrawal': 'ひきこもり期間',
    'stats.table.severity': '状態',
    'stats.table.outcome': '結果',
    'stats.table.referral': '他機関への紹介',
    'stats.table.handoffs': '初回相談へのつなぎ（到達段階）',
    'stats.table.hour': '開始時刻（日本時間）',
    'stats.wait': '待ち時間：中央値 {median}、90%点 {p90}',
    'stats.wait.hidden': '待ち時間：件数が少ないため非表示',
    'stats.secs': '{n}秒',
    'stats.busiest': '混み合う時間帯：{hours}',
    'stats.busiest.none': '混み合う時間帯：件数が少ないため非表示',
    'stats.none': 'この期間の相談はありません。',
    'stats.chart': '{table}のグラフ',
    'stats.not_answered': '回答なし',
    'stats.yes': 'あり',
    'stats.no': 'なし',
    'stats.gender.female': '女性',
    'stats.gender.male': '男性',
    'stats.gender.other': 'その他',
    'stats.gender.rather_not_say': '答えない',
    'stats.withdrawal.under_six_months': '6か月未満',
    'stats.withdrawal.under_one_year': '1年未満',
    'stats.withdrawal.under_three_years': '3年未満',
    'stats.withdrawal.under_five_years': '5年未満',
    'stats.withdrawal.under_ten_years': '10年未満',
    'stats.withdrawal.ten_years_plus': '10年以上',
    'stats.withdrawal.unknown': '不明',
    'stats.severity.state_1': '状態1（軽度）',
    'stats.severity.state_2': '状態2',
    'stats.severity.state_3': '状態3',
    'stats.severity.state_4': '状態4（重度）',
    'stats.severity.unknown': '不明',
    'stats.handoffs.offered': '提案',
    'stats.handoffs.consented': '同意',
    'stats.handoffs.booked': '予約',
    'stats.handoffs.attended': '来所',
    'admin.open': '管理ページ',
    'intake.open': '初回相談の受付ページ',
    'staff.role': 'このアカウントではこのページを使えません。',
    'admin.slots.heading': '初回相談の枠',
    'admin.create.heading': '枠をつくる',
    'admin.date': '日付（日本時間）',
    'admin.time': '開始時刻（日本時間）',
    'admin.duration': '長さ（分）',
    'admin.kind': '形式',
    'admin.place': '場所',
    'admin.capacity': '予約できる人数',
    'admin.staff': '担当する職員の数',
    'admin.create': '枠をつくる',
    'admin.created': '枠をつくりました：{when}',
    'admin.need_date': '日付と開始時刻を入れてください。',
    'admin.slots.none': 'まだ枠はありません。',
    'admin.col.when': '日時',
    'admin.col.kind': '形式',
    'admin.col.place': '場所',
    'admin.col.booked': '予約 / 定員',
    'admin.col.staff': '職員',
    'admin.col.state': '状態',
    'admin.col.actions': '操作',
    'admin.state.open': '受付中',
    'admin.state.cancelled': '取り消し済み',
    'admin.state.past': '終了',
    'admin.cancel': '取り消す',
    'admin.cancel.label': '{when}の枠を取り消す',
    'admin.cancelled': '枠を取り消しました：{when}',
    'admin.audit.heading': '操作の記録',
    'admin.audit.none': '記録はまだありません。',
    'admin.audit.col.at': '日時',
    'admin.audit.col.who': '職員',
    'admin.audit.col.action': '操作',
    'admin.audit.col.refs': '予約番号',
    'audit.list_bookings': '予約一覧を表示',
    'audit.view_transcript': 'チャットの記録を表示',
    'audit.cancel_booking': '予約を取り消し',
    'audit.mark_attended': '出席を記録',
    'audit.create_slot': '枠をつくった',
    'audit.cancel_slot': '枠を取り消した',
    'intake.title': '初回相談の受付',
    'intake.heading': 'これからの予約',
    'intake.none': 'これからの予約はありません。',
    'intake.reload': '一覧を更新',
    'intake.booking': '予約番号 {reference}',
    'intake.name': '呼び名',
    'intake.name.none': '（書かれていません）',
    'intake.contact': '連絡先',
    'intake.contact.none': 'なし',
    'intake.contact.phone': '電話：{value}',
    'intake.contact.email': 'メール：{value}',
    'intake.summary': '同意されたまとめ',
    'intake.consented': '同意 {time}（文言 {wording}）',
    'intake.transcript': 'チャットの記録',
    'intake.transcript.yes': 'チャットの記録の共有に同意あり',
    'intake.transcript.no': 'チャットの記録は共有されていません',
    'intake.transcript.open': '記録を開く',
    'intake.transcript.close': '記録を閉じる',
    'intake.transcript.label': '予約番号 {reference}のチャットの記録',
    'intake.attended': '出席を記録する',
    'intake.attended.yes': '出席を記録しました',
    'intake.cancel': '予約を取り消す',
    'intake.cancel.confirm': '予約番号 {reference}を取り消しますか？',
    'intake.cancel.yes': '取り消す',
    'intake.cancelled': '予約番号 {reference}を取り消しました。',
    // Visitor: the chat as a messenger (layout, issue 19 part C)
    'chat.matched.line': '{name}さんが入りました',
    'chat.greeting.label': 'お知らせ',
    'chat.jump_new': '新しいメッセージ ↓',
    'wait.line': '{position}番目（{length}人待ち）・{estimate}',
    'wait.line.minutes': '約{minutes}分',
    'wait.line.soon': 'まもなく',
    'wait.line.none': 'いまは相談員がいません',
    'title.unread': '({count}) 新しいメッセージ',
    'alerts.notification': '新しいメッセージがあります',
    'settings.summary': '表示と通知',
    'settings.text_size': '文字の大きさ',
    'settings.text_size.normal': '標準',
    'settings.text_size.large': '大',
    'settings.text_size.larger': '特大',
    'settings.alerts': '新しいメッセージを音と通知で知らせる',
    'settings.alerts.hint':
      'オンにすると、この画面を見ていないときに音と通知でお知らせします。通知にメッセージの内容は出ません。オフでも、タブの名前が変わります。',
    'settings.alerts.on': '音と通知でお知らせします。',
    'settings.alerts.sound_only': '通知が許可されなかったので、音だけでお知らせします。',
    'settings.alerts.off': '',

    // ---- booking: details that survive, rescheduling, the contact choice (issue 19, booking)
    'first.heading': '初回相談について',
    'reach.legend': 'センターからの連絡のしかた（電話でなくてもかまいません）',
    'reach.message': 'センターから短いメッセージを送ってもらう（SMSかメール）',
    'reach.call': 'センターから電話をもらう',
    'reach.no_contact': '連絡なしで、予約の時間に行く',
    'reach.self_call': '自分からセンターに連絡する',
    'copy.reference': '予約番号をコピー',
    'copy.pin': 'PINをコピー',
    'copy.done': 'コピーしました',
    'copy.failed': 'コピーできませんでした。選択した文字を長押し（またはCtrl+C）でコピーするか、書き留めてください。',
    'bring.heading': '持ち物',
    'bring.none': '特にありません。',
    'newpin.button': '新しいPINを発行',
    'newpin.confirm': '新しいPINを発行しますか？いままでのPINは使えなくなります。',
    'newpin.yes': '新しいPINを発行する',
    'newpin.done': '新しいPINを発行しました。前のPINはもう使えません。',
    'newpin.write_down': 'このPINは今だけ表示されます。予約番号と一緒に、いま書き留めてください（コピーしてメモに貼るのでもかまいません）。',
    'move.button': '日時を変更する',
    'move.legend': '新しい日時を選んでください（日本時間）',
    'move.none': 'いま変更できるほかの日時がありません。',
    'move.submit': 'この日時に変更する',
    'move.busy': '変更しています…',
    'move.done': '日時を変更しました。予約番号とPINはそのままです。',
    'lookup.locked': 'PINの入力の間違いが続いたため、この予約はロックされました。予約はそのまま残っています。{how}',
    'lookup.locked.contact': '新しいPINは、センターに連絡すると受け取れます：{contact}',
    'lookup.locked.chat': '予約したチャットの画面（同じ端末・ブラウザ）を開くと、「新しいPINを発行」で新しいPINを受け取れます。チャットの画面がない場合は、もう一度チャット相談で相談員に伝えてください。',
    'lookup.reach': 'センターからの連絡',
    'lookup.bring': '持ち物',
    'lookup.moved': '日時を変更しました。',
    'intake.reach': '連絡の希望',
    'intake.reach.message': '短いメッセージを送ってほしい',
    'intake.reach.call': '電話してよい',
    'intake.reach.no_contact': '連絡なしで予約の時間に来る',
    'intake.reach.self_call': '本人からセンターに連絡する',
    'intake.rescheduled': '日時の変更 {time}',
    'error.same_slot': 'いまの予約と同じ日時です。別の日時を選んでください。',
    'error.booking_past': '予約の時間が始まっているか過ぎているので、変更できません。',

    // ---- issue 19 (exit): quick exit that protects, safety information, exits in the statistics
    'exit.shortcut': 'キーボードでは Shift を3回、または Esc を2回押しても、すぐに閉じられます。',
    'safety.heading': 'ひとりで抱えないでください',
    'safety.text': 'いまとてもつらい気持ちでいるかもしれません。命の危険を感じたら、すぐに119（救急）か110（警察）に電話してください。待っている間も、下の窓口にいつでも相談できます。',
    'safety.emergency': 'いますぐ助けが必要なとき',
    'safety.lines': '話を聞いてくれる窓口',
    'safety.collapse': '小さくする',
    'safety.expand': '緊急の連絡先を開く',
    'safety.compact': '緊急のときは119・110。相談窓口の一覧',
    'conv.left_quickly': '急いで退出（会話は続いています）',
    'conv.erased': '相談者が消去',
    'notice.left_quickly': '{label}：相談者が急いで退出しました。会話は終わっていません。戻ってくるかもしれません。',
    'notice.visitor_erased': '{label}：相談者がチャットを消去しました。',
    'end.visitor_erased': '相談者がチャットを消去しました（記録は削除されています）。結果を記録してください。',
    'conv.left_quickly.line': '相談者が急いで退出しました。会話は終わっていません。',
    'stats.table.exit': '相談者の退出のしかた',
    'stats.exit.left_quickly': '急いで退出した',
    'stats.exit.erased': 'チャットを消去した',
    'stats.exit.other': 'それ以外',
    'notice.triage_raised': '{label}：相談者の書いた言葉から、自動判定でリスクが「{level}」に上がりました。',


    // Abuse resistance (issue 18): what one visitor may hold and write.
    'error.waiting_budget_spent':
      'メッセージは届いていて、相談員が読むのを待っています。相談員がつながったら、続きを書けます。',
    'error.too_many_waiting':
      'ここからは、すでに順番待ちのチャットがあります。そちらの画面でお待ちください。',
    'error.too_many_sockets':
      'チャットの画面がたくさん開いています。ほかの画面を閉じてから、もう一度お試しください。',
    // ---- forget (issue 18): a cancelled booking's deleted name and contact
    'forget.deleted': '（取り消し済み・連絡先は削除）',


    // contract (issue 27): audit actions the admin page had no label for.
    'audit.reset_pin': '暗証番号を再発行',
    'audit.transcript_refused': 'チャットの記録の表示を拒否（同意の範囲外）',
  },
  en: {
    'lang.name': 'English',
    'app.name': 'Tsunagu',
    'exit.button': 'Quick exit',
    'exit.hint': 'Switches to another page at once and removes this chat from this device',

    'welcome.heading': 'Talk to a counsellor by chat, anonymously',
    'welcome.lead':
      'Finding it hard to leave home or to see people, or worried about someone in your family? Whether it is about you or someone close to you, you can talk here in writing, without giving your name.',
    'welcome.about': 'About this chat',
    'welcome.anon.title': 'It is anonymous.',
    'welcome.anon':
      'We never ask for your name, phone number, e-mail or address. You never have to answer anything you would rather not.',
    'welcome.recorded.title': 'What is recorded:',
    'welcome.recorded':
      'what is written in this chat, and your answers to the questions below if you give any. Counsellors may keep notes for your support. Nothing is passed to another agency without your consent.',
    'welcome.not_recorded.title': 'What is not recorded:',
    'welcome.not_recorded': 'your IP address, or anything else that tells who you are.',
    'welcome.device.title': 'On this device:',
    'welcome.device':
      'the chat stays only in this tab, until you close it. "Quick exit" switches to another page at once and removes the chat from this device. To leave no browsing history either, open this page in a private (incognito) window.',
    'welcome.hours': 'Opening hours',
    'emergency.heading': 'In an emergency',
    'emergency.text':
      'If a life is in danger or you need help right now, call 119 (ambulance) or 110 (police) at once.',
    'emergency.alternatives': 'Outside opening hours, or if the wait is long, you can also contact:',
    'prechat.summary': 'If you like, tell us a little first (all optional)',
    'prechat.intro':
      'Answers help us connect you with a suitable counsellor. You can skip them and start.',
    'prechat.skip': 'Skip',
    'prechat.who': 'Who is writing?',
    'prechat.age_band': 'Age of the person this is about',
    'prechat.topic': 'What you would like to talk about',
    'prechat.first_message': 'Anything you want to say first (you can start without it)',
    'welcome.start': 'Start a chat',
    'welcome.starting': 'Connecting…',

    'who.self': 'The person themself',
    'who.self.visitor': 'Me, about myself',
    'who.family_together': 'Family, living with them',
    'who.family_apart': 'Family, living apart',
    'who.supporter': 'A supporter or agency',
    'who.rather_not_say': 'Rather not say',
    'age_band.teens': 'Teens',
    'age_band.twenties': '20s',
    'age_band.thirties': '30s',
    'age_band.forties': '40s',
    'age_band.fifty_plus': '50 or over',
    'age_band.rather_not_say': 'Rather not say',
    'prechat.gender': 'Gender of the person this is about',
    'gender.female': 'Female',
    'gender.male': 'Male',
    'gender.other': 'Another gender',
    'gender.rather_not_say': 'Rather not say',
    'topic.daily_life': 'Daily life',
    'topic.school': 'School',
    'topic.work': 'Work',
    'topic.family': 'Family',
    'topic.health': 'Health, of mind or body',
    'topic.other': 'Something else',
    'topic.rather_not_say': 'Rather not say',

    'wait.heading': 'Waiting for a counsellor',
    'wait.position': 'Your place in the queue: {position} of {length}',
    'wait.estimate.minutes': 'Estimated wait: about {minutes} min (it may change)',
    'wait.estimate.soon': 'You should be connected shortly',
    'wait.estimate.none':
      'No counsellor is available right now. You can keep waiting. If it is urgent, please contact one of the round-the-clock services below.',
    'wait.checking': 'Checking your place in the queue…',
    'wait.write_now':
      'While you wait, you can already write what you would like to talk about. The counsellor will read it when you are connected.',
    'wait.requeued':
      "The counsellor's connection was lost. You are first in line, and nothing you wrote was lost.",

    'closed.heading': 'The chat is closed right now',
    'closed.text': 'New chats cannot be started at the moment.',
    'closed.next': 'Opens next: {when}',
    'closed.next.none': 'The next opening time has not been set yet.',
    'closed.reason.outside_hours': 'It is outside opening hours.',
    'closed.reason.national_holiday': 'Closed today for a national holiday in Japan ({holiday}).',
    'closed.reason.national_holiday.unnamed': 'Closed today for a national holiday in Japan.',
    'closed.reason.year_end': 'Closed over the year end.',
    'closed.reason.closure': 'Closed today.',
    'closed.reason.last_entry_passed': 'New chats are no longer taken today.',
    'closed.alternatives': 'If you want to talk now, the round-the-clock services below are open. If a life is in danger, call 119 or 110.',
    'closed.check': 'Check again',
    'closed.checking': 'Checking…',
    'wait.closing':
      'New chats are no longer taken today, but everyone already waiting will be served in turn. Please keep waiting. If you cannot wait, the round-the-clock services below are there too.',
    'wait.closing.at': 'New chats are no longer taken today (closing at {time}). Everyone already waiting will be served in turn. Please keep waiting. If you cannot wait, the round-the-clock services below are there too.',
    'chat.heading.two': 'You are talking with {name} and {second}',
    'chat.joined': 'The counsellor {name} has joined the conversation.',
    'chat.left': 'The counsellor {name} has left the conversation.',
    'chat.taken_over': 'The counsellor {name} has taken over the conversation. Everything written so far is kept.',
    'chat.observed.on': 'A supervisor is reading along, to keep the quality of counselling.',
    'chat.observed.off': 'The supervisor has stopped reading along.',
    'wait.leave': 'Stop waiting',
    'confirm.leave': 'Stop waiting? You will lose your place in the queue.',
    'confirm.leave.yes': 'Stop waiting',

    'chat.heading': 'You are talking with {name}',
    'chat.heading.anon': 'You are talking with a counsellor',
    'chat.matched': 'You are now connected with the counsellor {name}.',
    'chat.log': 'Messages',
    'msg.you': 'You',
    'msg.counsellor': 'Counsellor',
    'msg.visitor': 'Visitor',
    'msg.state.sending': 'Sending',
    'msg.state.queued': 'Waiting to send (when the connection returns)',
    'msg.state.sent': 'Sent',
    'msg.state.delivered': 'Delivered',
    'msg.state.failed': 'Not sent',
    'msg.edit': 'Edit and resend',
    'composer.label': 'Your message',
    'composer.send': 'Send',
    'composer.hint': 'Ctrl+Enter also sends.',
    'composer.count': '{count} / {max} characters',
    'typing.counsellor': 'The counsellor is typing…',
    'typing.visitor': 'The visitor is typing…',
    'chat.end': 'End the chat',
    'confirm.end': 'End the chat now?',
    'confirm.end.yes': 'End the chat',
    'confirm.back': 'Go back',
    'erase.button': 'Erase this chat',
    'confirm.erase':
      'This erases the whole chat, for the counsellor too. It cannot be undone, and a chat still going on is ended. Continue?',
    'confirm.erase.yes': 'Erase',
    'erase.done': 'The chat is erased: it is gone from the counsellor\'s screen and from this device.',
    'erase.device_only':
      'The chat is erased from this device. The server could not be reached, so its record goes when the retention period ends.',
    'alternatives.heading': 'Round-the-clock services',
    'alternatives.none': '(none configured)',

    'ended.heading': 'The chat has ended',
    'ended.by.visitor': 'You ended the chat.',
    'ended.by.counsellor': 'The counsellor ended the chat.',
    'ended.by.system':
      'Your place in the queue was released because the connection was away for a long time.',
    'ended.thanks':
      'Thank you for talking with us. You can start a new chat whenever you want to talk again.',
    'ended.new': 'Start a new chat',

    'conn.connecting': 'Connecting…',
    'conn.offline':
      'You are offline. Messages you write will be sent when the connection returns.',
    'conn.reconnecting': 'The connection was lost. Reconnecting…',
    'conn.closed': 'The connection has closed.',
    'conn.retry': 'Reconnect',
    'conn.back': 'Connected again.',

    'error.queue_full':
      'It is very busy right now and the queue is full. Please try again later, or contact one of the services below.',
    'error.rate_limited': 'Please wait a moment and try again.',
    'error.resume_failed': 'The earlier chat could not be opened. You can start a new one.',
    'error.text_too_long': 'Too long (at most {max} characters).',
    'error.text_empty': 'An empty message cannot be sent.',
    'error.conversation_ended': 'The chat has ended.',
    'error.unavailable': 'The service is briefly unavailable. Please try again.',
    'error.invalid_capacity': 'That number of concurrent chats is not allowed.',
    'error.capacity_reached': 'You have no free place for another chat.',
    'error.not_available': 'Set yourself available first.',
    'error.not_waiting': 'That visitor is no longer waiting.',
    'error.not_your_conversation': 'That conversation is not yours.',
    'error.network': 'Could not connect. Please try again.',
    'error.generic': 'Something went wrong ({code}).',
    'error.closed': 'The chat is closed right now.',
    'error.not_active': 'That visitor is still waiting: observe or take over instead.',
    'error.forbidden': 'This account may not do that.',

    'console.title': 'Counsellor console',
    'login.heading': 'Log in',
    'login.username': 'Username',
    'login.password': 'Password',
    'login.submit': 'Log in',
    'login.failed': 'Wrong username or password.',
    'login.expired': 'Your session has expired. Please log in again.',
    'login.role': 'This account does not take chats.',
    'logout': 'Log out',
    'status.available': 'Available for chats',
    'status.now.available': 'Available',
    'status.now.away': 'Away',
    'capacity.label': 'Concurrent chats',
    'capacity.active': 'Active {active} of {capacity}',
    'sidebar.label': 'Queue and your conversations',
    'queue.heading': 'Queue',
    'queue.count': '{count} waiting',
    'queue.empty': 'Nobody is waiting.',
    'queue.waited': 'Waiting {minutes} min',
    'queue.waited.short': 'Waiting under a minute',
    'queue.requeued': 'Returned',
    'queue.urgent': 'Urgent',
    'queue.first_message': 'First message:',
    'queue.pick': 'Take this chat',
    'queue.more': '{count} more',
    'queue.no_prechat': 'No pre-chat answers',
    'convs.heading': 'Your conversations',
    'convs.empty': 'No conversations assigned yet.',
    'conv.label': 'Chat #{short}',
    'conv.label.line': '{name} (LINE)',
    'line.sent': 'sent to LINE',
    'line.failed': 'not delivered to LINE ({reason})',
    'conv.unread': '{count} unread',
    'conv.online': 'Online',
    'conv.offline': 'Offline',
    'conv.started': 'Started {time}',
    'conv.state.active': 'Active',
    'conv.state.ended': 'Ended',
    'conv.none': 'Choose a conversation from the list.',
    'conv.messages': 'Messages of {label}',
    'notes.heading': 'Notes (never shown to the visitor)',
    'notes.label': 'New note',
    'notes.save': 'Save note',
    'notes.empty': 'No notes yet.',
    'end.heading': 'End and outcome',
    'end.outcome': 'Outcome',
    'end.optional': '(not recorded)',
    'end.withdrawal': 'Length of withdrawal (optional, for the statistics)',
    'end.severity': 'State (optional, for the statistics)',
    'end.referral': 'Referred to another agency',
    'end.choose': 'Choose…',
    'end.submit': 'Record outcome and end',
    'end.record': 'Record outcome',
    'end.need_outcome': 'Please choose an outcome.',
    'end.visitor_ended': 'The visitor ended the chat. Please record the outcome.',
    'end.system_ended': 'Ended because the visitor was away for a long time.',
    'end.recorded': 'Outcome recorded: {outcome}',
    'end.close': 'Close',
    'outcome.listened': 'Listened',
    'outcome.information_given': 'Information given',
    'outcome.referred': 'Referred to another agency',
    'outcome.out_of_area': 'Out of area',
    'outcome.handoff_agreed': 'First consultation agreed',
    'outcome.visitor_left': 'Visitor left',
    'outcome.no_response': 'No response',
    'outcome.other': 'Other',
    'notice.assigned': 'New conversation assigned: {label}',
    'notice.requeued': '{label} went back to the queue.',
    'notice.visitor_ended': '{label}: the visitor ended the chat.',
    'notice.dismiss': 'Dismiss',

    'risk.label': 'Risk',
    'risk.none': 'None',
    'risk.watch': 'Watch',
    'risk.urgent': 'Urgent',
    'risk.badge.watch': 'Watch',
    'risk.badge.urgent': '⚠ Urgent',
    'risk.heading': 'Risk level',
    'risk.set': 'Set',
    'risk.reason.triage': 'Triage: {category}',
    'risk.reason.staff': 'set by {by}',
    'category.self_harm': 'risk of self-harm or suicide',
    'category.harm_to_others': 'risk of harm to others',
    'category.violence_at_home': 'violence at home',
    'category.distress': 'severe distress',
    'transfer.heading': 'Hand on',
    'transfer.to': 'Hand on to',
    'transfer.queue': 'Back to the front of the queue',
    'transfer.colleague': '{name} ({state})',
    'transfer.colleague.free': 'available, {free} free',
    'transfer.colleague.full': 'no free place',
    'transfer.colleague.away': 'away',
    'transfer.note': 'Handover note (optional, never shown to the visitor)',
    'transfer.submit': 'Hand on',
    'silent.hint': 'No answer from the visitor since {time}. You may send a gentle check-in (nothing is sent automatically).',
    'supervision.observe': '{name} is reading along',
    'supervision.join': '{name} has joined',
    'supervision.mine.observe': 'Observing (read-only)',
    'supervision.mine.join': 'Joined',
    'supervision.counsellor': 'Counsellor: {name}',
    'supervision.leave': 'Leave',
    'supervision.join.button': 'Join',
    'supervision.take_over': 'Take over',
    'notice.released.transferred': '{label} was handed on to {name}.',
    'notice.released.returned_to_queue': '{label} went back to the queue.',
    'notice.released.taken_over': '{label} was taken over by {name}.',
    'notice.supervision.observe': '{label}: {name} started reading along.',
    'notice.supervision.join': '{label}: {name} joined the conversation.',
    'notice.supervision.left': '{label}: {name} left.',
    'notice.silent': '{label}: the visitor has not answered for a while.',
    'floor.heading': 'Floor',
    'floor.queue': '{length} waiting',
    'floor.urgent': '{count} urgent',
    'floor.longest': 'longest wait {time}',
    'floor.alerts.count': '{count} open alerts',
    'floor.stats': 'Left the queue: {left} · Went silent: {silent}',
    'floor.alerts': 'Alerts',
    'floor.alerts.none': 'No open alerts.',
    'floor.alert.text': '{level}: {label} ({reasons}) {time}',
    'floor.alert.ack': 'Acknowledge',
    'floor.counsellors': 'Counsellors',
    'floor.counsellors.none': 'No counsellor has connected.',
    'floor.counsellor.load': '{name}: {status} · {active} of {capacity}',
    'floor.counsellor.offline': 'offline',
    'floor.convs': 'Live conversations',
    'floor.convs.none': 'No live conversations.',
    'floor.col.conv': 'Chat',
    'floor.col.state': 'State',
    'floor.col.risk': 'Risk',
    'floor.col.counsellor': 'Counsellor',
    'floor.col.age': 'Age',
    'floor.col.actions': 'Actions',
    'floor.state.queued': 'Waiting',
    'floor.state.active': 'Active',
    'floor.silent': 'silent',
    'floor.minutes': '{minutes} min',
    'floor.seconds': 'under 1 min',
    'floor.observe': 'Observe',
    'floor.join': 'Join',
    'floor.take_over': 'Take over',
    'floor.leave': 'Leave',
    'floor.mine': 'Yours',
    'floor.open': 'Open',

    'consent.heading': 'A first consultation, if you would like one',
    'consent.arrived': 'Your counsellor has sent a proposal for a first consultation. It is shown below the chat.',
    'consent.intro':
      'Your counsellor suggests a first consultation at the centre (by appointment, free of charge). Read what would be passed on, then choose. Whatever you choose, you can keep chatting.',
    'consent.summary': 'What would be passed on (written by your counsellor, passed on exactly as shown)',
    'consent.recipient': 'Who receives it',
    'consent.purpose': 'Why',
    'consent.retention': 'How long it is kept',
    'consent.retention.days': '{days} days after the consultation, then deleted.',
    'consent.transcript': 'Also pass on the chat transcript',
    'consent.transcript.hint': 'Unless you tick this, only the summary above is passed on.',
    'consent.transcript.not_offered': 'The chat transcript is not passed on.',
    'consent.contact': 'Also pass on the contact details I give when booking (phone or e-mail)',
    'consent.contact.hint': 'If you leave this unticked, no contact details are asked for: after booking, you call the centre yourself.',
    'consent.withdraw_note':
      'You can withdraw your consent at any time. Then intake staff can no longer see any of it, and the booking is cancelled.',
    'consent.agree': 'I agree',
    'consent.decline': 'Not this time',
    'consent.change': 'Ask for changes',
    'consent.sending': 'Sending…',
    'consent.changed': 'The proposal has changed. Please read the new version and choose again.',
    'consent.change_requested':
      'You asked for changes. When your counsellor revises it, the new proposal appears here. You can also say in the chat what you would like changed.',
    'consent.declined': 'Nothing was passed on. You can keep chatting as before.',
    'consent.withdrawn': 'Your consent is withdrawn. Nothing is passed on, and any booking was cancelled.',
    'consent.given': 'You agreed (passed on: {scope}).',
    'consent.scope.summary': 'the summary',
    'consent.scope.transcript': 'the chat transcript',
    'consent.scope.contact': 'contact details',
    'consent.scope.sep': ', ',

    'booking.heading': 'Book your first consultation',
    'booking.slots': 'Choose a date and time (Japan time)',
    'booking.free': '{free} free',
    'booking.none': 'No times can be booked right now. Please tell your counsellor in the chat.',
    'booking.reload': 'Load the times again',
    'booking.name': 'What you would like to be called (optional; it need not be your real name)',
    'booking.contact': 'How the centre can reach you',
    'booking.contact.phone': 'Phone',
    'booking.contact.email': 'E-mail',
    'booking.contact.self': 'I will call the centre myself',
    'booking.contact.value.phone': 'Phone number',
    'booking.contact.value.email': 'E-mail address',
    'booking.contact.only_self':
      'You did not agree to pass on contact details, so the centre will not contact you: come at the booked time, or get in touch with the centre yourself.',
    'booking.submit': 'Book this time',
    'booking.booking': 'Booking…',
    'booking.choose': 'Please choose a date and time.',
    'booking.need_value': 'Please write a phone number or an e-mail address.',
    'booking.done.heading': 'Your consultation is booked',
    'booking.when': 'When',
    'booking.kind': 'How',
    'booking.where': 'Where',
    'booking.reference': 'Booking reference',
    'booking.pin': 'PIN',
    'booking.pin.once':
      'The PIN is shown only this once. Write it down with the booking reference: you need both to view or cancel the booking on the page below.',
    'booking.pin.gone': 'The PIN was shown once, when you booked. If you no longer have it, use "Issue a new PIN" (the old PIN stops working).',
    'booking.lookup': 'To view or cancel the booking later, enter the reference and PIN on this page:',
    'booking.calendar': 'Add to my calendar (.ics file)',
    'booking.withdraw': 'Withdraw my consent',
    'booking.withdraw.confirm':
      'Withdraw your consent? Intake staff will no longer see any of it, and the booking is cancelled.',
    'booking.withdraw.yes': 'Withdraw',
    'slot.kind.centre': 'At the centre',
    'slot.kind.ward_office': 'At the ward health and welfare centre',
    'slot.kind.home_visit': 'Home visit',
    'slot.kind.online': 'Online',
    'slot.range': '{start}–{end}',

    // Visitor: a booking looked up later (/booking/)
    'lookup.title': 'Your booking',
    'lookup.heading': 'View or cancel your first-consultation booking',
    'lookup.intro': 'Enter the booking reference and the PIN (6 digits) you were shown when you booked.',
    'lookup.reference': 'Booking reference',
    'lookup.reference.hint': 'For example K7QP-M3XW (capitals and dashes do not matter)',
    'lookup.pin': 'PIN (6 digits)',
    'lookup.submit': 'Show my booking',
    'lookup.searching': 'Checking…',
    'lookup.need_both': 'Please enter the booking reference and the PIN.',
    'lookup.pin_digits': 'The PIN is 6 digits.',
    'lookup.not_found': 'No booking matches this reference and PIN. Please compare them with what you wrote down.',
    'lookup.rate_limited': 'Too many tries. Please wait about {seconds} seconds and try again.',
    'lookup.found': 'Your booking',
    'lookup.state.booked': 'This booking is in place.',
    'lookup.state.cancelled': 'This booking has been cancelled.',
    'lookup.cancelled.now': 'The booking is cancelled. You do not need to tell the centre.',
    'lookup.name': 'Name to be called',
    'lookup.name.none': 'None',
    'lookup.calendar': 'Download the calendar file (.ics)',
    'lookup.calendar.done': 'The calendar file was downloaded.',
    'lookup.cancel': 'Cancel this booking',
    'lookup.cancel.confirm': 'Cancel this booking? This cannot be undone.',
    'lookup.cancel.yes': 'Cancel the booking',
    'lookup.cancel.busy': 'Cancelling…',
    'lookup.withdraw': 'Withdraw my consent (nothing goes to the centre)',
    'lookup.withdraw.confirm': 'Withdraw the consent you gave in the chat? The centre will no longer see what you agreed to pass on, and this booking is cancelled too.',
    'lookup.withdraw.yes': 'Withdraw my consent',
    'lookup.withdraw.busy': 'Withdrawing…',
    'lookup.withdrawn.now': 'Your consent is withdrawn: nothing goes to the centre, and the booking is cancelled.',
    'lookup.again': 'Look up another booking',
    'lookup.exit.hint': 'Switches to another page at once and clears what this page showed',

    'link.heading': 'From your LINE chat',
    'link.intro': 'You opened this page from the link your counsellor sent you in LINE. You can keep chatting in LINE.',
    'link.loading': 'Loading…',
    'link.none': 'Please open this page from the link you received in LINE.',
    'link.unknown': 'This link does not work. If a newer link arrived in LINE, please open that one.',
    'link.spent': 'This link can no longer be used (you booked with it, or the proposal has been answered). You can view or cancel a booking with its reference and PIN on the booking page.',
    'link.expired': 'This link has expired. If you would like a first consultation, tell your counsellor in LINE.',
    'link.lookup': 'Go to the booking page',
    'link.retry': 'Try again',
    'error.link_spent': 'This link can no longer be used. You can view or cancel your booking with its reference and PIN.',
    'error.link_expired': 'This link has expired. Please tell your counsellor in LINE.',
    'error.handoff_link_unavailable': 'A LINE visitor cannot be sent the link: public_url is not set on the server. Please contact the administrator.',

    'error.no_offer': 'Nothing has been offered yet.',
    'error.offer_changed': 'The proposal has changed. Please read the new version and choose again.',
    'error.already_answered': 'This proposal has already been answered.',
    'error.already_consented': 'While the consent stands, the offer cannot change (until the visitor withdraws it).',
    'error.no_consent': 'There is no consent, so nothing can be booked.',
    'error.outside_consent': 'That is outside what was agreed.',
    'error.already_booked': 'There is a booking already.',
    'error.slot_full': 'That time has just been filled. Please choose another.',
    'error.slot_unavailable': 'That time can no longer be booked. Please choose another.',
    'error.slot_booked': 'A slot with bookings cannot be cancelled. Cancel the bookings first.',
    'error.invalid_contact': 'Please check the phone number (e.g. 090-1234-5678) or e-mail address (e.g. name@example.jp).',
    'error.booking_not_found': 'No such booking.',
    'error.booking_locked': 'This booking is locked after too many wrong PINs. The booking itself still stands; a new PIN can be issued on the chat page where you booked, or by the centre.',
    'error.request_timeout': 'That took too long to send. Please try again.',
    'error.bad_request': 'Please check the form: {message}',
    'error.not_found': 'Not found.',
    'error.unauthorized': 'Please log in.',
    'error.conflict': 'That collided with another change. Please try again.',

    'handoff.heading': 'First consultation',
    'handoff.summary': 'Summary the visitor sees and agrees to pass on (shown word for word)',
    'handoff.transcript': 'Also offer to pass on the chat transcript',
    'handoff.offer': 'Offer a first consultation',
    'handoff.revise': 'Send the revised offer',
    'handoff.need_summary': 'Please write the summary.',
    'handoff.state.offered': 'Offered (version {version}); waiting for the visitor’s answer.',
    'handoff.state.change_requested': 'The visitor asks for changes (version {version}).',
    'handoff.state.declined': 'The visitor declined this time. Nothing is passed on.',
    'handoff.state.consented': 'Consented ({scope}).',
    'handoff.state.withdrawn': 'The visitor withdrew their consent. Nothing is passed on.',
    'handoff.booked': 'Booked: {when}, {place}',
    'handoff.not_booked': 'Not booked yet.',
    'handoff.locked': 'While the consent stands, the offer cannot change.',

    'login.other_page': 'This account uses:',
    'admin.title': 'Administration',
    'stats.heading': 'Statistics',
    'stats.kind': 'Period',
    'stats.kind.month': 'Month',
    'stats.kind.quarter': 'Quarter',
    'stats.kind.fy': 'Fiscal year (April-March)',
    'stats.year': 'Year',
    'stats.month': 'Month',
    'stats.quarter': 'Quarter',
    'stats.show': 'Show',
    'stats.csv': 'Download CSV',
    'stats.note': '{period}: counts below {min} read "<{min}" (so that nobody is recognisable).',
    'stats.col.category': 'Category',
    'stats.col.count': 'Count',
    'stats.totals': 'Conversations',
    'stats.started': 'Started',
    'stats.served': 'Served',
    'stats.abandoned': 'Left the queue',
    'stats.table.who': 'Who was writing',
    'stats.table.age_band': 'Age band',
    'stats.table.gender': 'Gender',
    'stats.table.withdrawal': 'Length of withdrawal',
    'stats.table.severity': 'Severity',
    'stats.table.outcome': 'Outcome',
    'stats.table.referral': 'Referred to another agency',
    'stats.table.handoffs': 'Handoff to a first consultation (stage reached)',
    'stats.table.hour': 'Start hour (Japan time)',
    'stats.wait': 'Wait: median {median}, 90th percentile {p90}',
    'stats.wait.hidden': 'Wait: hidden (too few conversations)',
    'stats.secs': '{n} s',
    'stats.busiest': 'Busiest hours: {hours}',
    'stats.busiest.none': 'Busiest hours: hidden (too few conversations)',
    'stats.none': 'No conversations in this period.',
    'stats.chart': 'Chart: {table}',
    'stats.not_answered': 'Not answered',
    'stats.yes': 'Yes',
    'stats.no': 'No',
    'stats.gender.female': 'Female',
    'stats.gender.male': 'Male',
    'stats.gender.other': 'Other',
    'stats.gender.rather_not_say': 'Rather not say',
    'stats.withdrawal.under_six_months': 'Under 6 months',
    'stats.withdrawal.under_one_year': 'Under 1 year',
    'stats.withdrawal.under_three_years': 'Under 3 years',
    'stats.withdrawal.under_five_years': 'Under 5 years',
    'stats.withdrawal.under_ten_years': 'Under 10 years',
    'stats.withdrawal.ten_years_plus': '10 years or more',
    'stats.withdrawal.unknown': 'Unknown',
    'stats.severity.state_1': 'State 1 (mild)',
    'stats.severity.state_2': 'State 2',
    'stats.severity.state_3': 'State 3',
    'stats.severity.state_4': 'State 4 (severe)',
    'stats.severity.unknown': 'Unknown',
    'stats.handoffs.offered': 'Offered',
    'stats.handoffs.consented': 'Consented',
    'stats.handoffs.booked': 'Booked',
    'stats.handoffs.attended': 'Attended',
    'admin.open': 'the admin page',
    'intake.open': 'the first-consultation intake page',
    'staff.role': 'This account cannot use this page.',
    'admin.slots.heading': 'First consultation slots',
    'admin.create.heading': 'Create a slot',
    'admin.date': 'Date (Japan time)',
    'admin.time': 'Start time (Japan time)',
    'admin.duration': 'Length (minutes)',
    'admin.kind': 'How',
    'admin.place': 'Place',
    'admin.capacity': 'Bookings it takes',
    'admin.staff': 'Staff attending',
    'admin.create': 'Create the slot',
    'admin.created': 'Slot created: {when}',
    'admin.need_date': 'Please enter a date and a start time.',
    'admin.slots.none': 'No slots yet.',
    'admin.col.when': 'When',
    'admin.col.kind': 'How',
    'admin.col.place': 'Place',
    'admin.col.booked': 'Booked / places',
    'admin.col.staff': 'Staff',
    'admin.col.state': 'State',
    'admin.col.actions': 'Actions',
    'admin.state.open': 'Open',
    'admin.state.cancelled': 'Cancelled',
    'admin.state.past': 'Past',
    'admin.cancel': 'Cancel',
    'admin.cancel.label': 'Cancel the slot on {when}',
    'admin.cancelled': 'Slot cancelled: {when}',
    'admin.audit.heading': 'Audit log',
    'admin.audit.none': 'Nothing recorded yet.',
    'admin.audit.col.at': 'When',
    'admin.audit.col.who': 'Staff',
    'admin.audit.col.action': 'Action',
    'admin.audit.col.refs': 'Bookings',
    'audit.list_bookings': 'Listed bookings',
    'audit.view_transcript': 'Read a transcript',
    'audit.cancel_booking': 'Cancelled a booking',
    'audit.mark_attended': 'Marked attendance',
    'audit.create_slot': 'Created a slot',
    'audit.cancel_slot': 'Cancelled a slot',
    'intake.title': 'First consultation intake',
    'intake.heading': 'Upcoming bookings',
    'intake.none': 'No upcoming bookings.',
    'intake.reload': 'Refresh',
    'intake.booking': 'Booking {reference}',
    'intake.name': 'Wishes to be called',
    'intake.name.none': '(not given)',
    'intake.contact': 'Contact',
    'intake.contact.none': 'None',
    'intake.contact.phone': 'Phone: {value}',
    'intake.contact.email': 'E-mail: {value}',
    'intake.summary': 'Consented summary',
    'intake.consented': 'Consent given {time} (wording {wording})',
    'intake.transcript': 'Chat transcript',
    'intake.transcript.yes': 'Consented to share the chat transcript',
    'intake.transcript.no': 'The chat transcript is not shared',
    'intake.transcript.open': 'Open the transcript',
    'intake.transcript.close': 'Close the transcript',
    'intake.transcript.label': 'Chat transcript of booking {reference}',
    'intake.attended': 'Mark as attended',
    'intake.attended.yes': 'Attendance recorded',
    'intake.cancel': 'Cancel the booking',
    'intake.cancel.confirm': 'Cancel booking {reference}?',
    'intake.cancel.yes': 'Cancel it',
    'intake.cancelled': 'Booking {reference} cancelled.',
    // Visitor: the chat as a messenger (layout, issue 19 part C)
    'chat.matched.line': '{name} joined',
    'chat.greeting.label': 'From the site',
    'chat.jump_new': 'New message ↓',
    'wait.line': 'Place {position} of {length} · {estimate}',
    'wait.line.minutes': 'about {minutes} min',
    'wait.line.soon': 'soon',
    'wait.line.none': 'no one free now',
    'title.unread': '({count}) New message',
    'alerts.notification': 'You have a new message',
    'settings.summary': 'Display and alerts',
    'settings.text_size': 'Text size',
    'settings.text_size.normal': 'Standard',
    'settings.text_size.large': 'Large',
    'settings.text_size.larger': 'Largest',
    'settings.alerts': 'Alert me to new messages with a sound and a notification',
    'settings.alerts.hint':
      'When on, a sound and a notification tell you about a new message while you are not looking at this page. The notification never shows what was written. Even when off, the tab title changes.',
    'settings.alerts.on': 'You will hear a sound and get a notification.',
    'settings.alerts.sound_only': 'Notifications were not allowed, so you will hear a sound only.',
    'settings.alerts.off': '',

    // ---- booking: details that survive, rescheduling, the contact choice (issue 19, booking)
    'first.heading': 'About the first consultation',
    'reach.legend': 'How the centre gets in touch (it need not be a phone call)',
    'reach.message': 'The centre sends me a short message (SMS or e-mail)',
    'reach.call': 'The centre phones me',
    'reach.no_contact': 'No contact: I will come at the booked time',
    'reach.self_call': 'I will get in touch with the centre myself',
    'copy.reference': 'Copy reference',
    'copy.pin': 'Copy PIN',
    'copy.done': 'Copied',
    'copy.failed': 'Could not copy. The text is selected: long-press (or Ctrl+C) to copy it, or write it down.',
    'bring.heading': 'What to bring',
    'bring.none': 'Nothing in particular.',
    'newpin.button': 'Issue a new PIN',
    'newpin.confirm': 'Issue a new PIN? Your old PIN will stop working.',
    'newpin.yes': 'Issue a new PIN',
    'newpin.done': 'A new PIN was issued. The old PIN no longer works.',
    'newpin.write_down': 'This PIN is shown only now. Write it down with the booking reference (or copy it into a note).',
    'move.button': 'Change the date',
    'move.legend': 'Choose a new date and time (Japan time)',
    'move.none': 'There is no other time to move to at the moment.',
    'move.submit': 'Move to this time',
    'move.busy': 'Moving…',
    'move.done': 'The date was changed. The reference and PIN stay the same.',
    'lookup.locked': 'This booking is locked after too many wrong PINs. The booking itself still stands. {how}',
    'lookup.locked.contact': 'The centre can give you a new PIN: {contact}',
    'lookup.locked.chat': 'Open the chat page where you booked (same device and browser) and use "Issue a new PIN". Without it, start a chat again and tell the counsellor.',
    'lookup.reach': 'Contact from the centre',
    'lookup.bring': 'What to bring',
    'lookup.moved': 'The date was changed.',
    'intake.reach': 'Contact wish',
    'intake.reach.message': 'Send a short message',
    'intake.reach.call': 'May phone',
    'intake.reach.no_contact': 'No contact; comes at the booked time',
    'intake.reach.self_call': 'Will contact the centre',
    'intake.rescheduled': 'Date changed {time}',
    'error.same_slot': 'That is the time already booked. Please choose another.',
    'error.booking_past': 'The booked time has begun or passed, so it cannot be moved.',

    // ---- issue 19 (exit): quick exit that protects, safety information, exits in the statistics
    'exit.shortcut': 'On a keyboard, pressing Shift three times or Esc twice also leaves at once.',
    'safety.heading': 'You do not have to carry this alone',
    'safety.text': 'You may be feeling very bad right now. If a life is in danger, call 119 (ambulance) or 110 (police) now. While you wait, the services below are there for you too.',
    'safety.emergency': 'If you need help right now',
    'safety.lines': 'People you can talk to',
    'safety.collapse': 'Make smaller',
    'safety.expand': 'Open the emergency contacts',
    'safety.compact': 'In an emergency: 119 or 110. Services to talk to',
    'conv.left_quickly': 'Left quickly (conversation still open)',
    'conv.erased': 'Erased by the visitor',
    'notice.left_quickly': '{label}: the visitor left quickly. The conversation has not ended; they may come back.',
    'notice.visitor_erased': '{label}: the visitor erased the chat.',
    'end.visitor_erased': 'The visitor erased the chat (the transcript is deleted). Please record the outcome.',
    'conv.left_quickly.line': 'The visitor left quickly. The conversation has not ended.',
    'stats.table.exit': 'How the visitor left',
    'stats.exit.left_quickly': 'Left quickly',
    'stats.exit.erased': 'Erased the chat',
    'stats.exit.other': 'Any other way',
    'notice.triage_raised': '{label}: automatic triage raised the risk to "{level}" from what the visitor wrote.',


    // Abuse resistance (issue 18): what one visitor may hold and write.
    'error.waiting_budget_spent':
      'Your messages have arrived and are waiting to be read. You can write more once a counsellor joins.',
    'error.too_many_waiting':
      'There is already a chat waiting from here. Please wait in that window.',
    'error.too_many_sockets':
      'Too many chat windows are open. Please close the others and try again.',
    // ---- forget (issue 18): a cancelled booking's deleted name and contact
    'forget.deleted': '(cancelled; name and contact details deleted)',


    // contract (issue 27): audit actions the admin page had no label for.
    'audit.reset_pin': 'Set a new PIN',
    'audit.transcript_refused': 'Transcript refused (outside the consent)',
  },
};

/** The pre-chat answers and outcomes, in the protocol's own names. */
export const WHO = ['self', 'family_together', 'family_apart', 'supporter', 'rather_not_say'];
export const AGE_BANDS = ['teens', 'twenties', 'thirties', 'forties', 'fifty_plus', 'rather_not_say'];
export const WITHDRAWAL_BANDS = [
  'under_six_months',
  'under_one_year',
  'under_three_years',
  'under_five_years',
  'under_ten_years',
  'ten_years_plus',
  'unknown',
];
export const SEVERITIES = ['state_1', 'state_2', 'state_3', 'state_4', 'unknown'];
export const GENDERS = ['female', 'male', 'other', 'rather_not_say'];
export const TOPICS = ['daily_life', 'school', 'work', 'family', 'health', 'other', 'rather_not_say'];
export const OUTCOMES = [
  'listened',
  'information_given',
  'referred',
  'out_of_area',
  'handoff_agreed',
  'visitor_left',
  'no_response',
  'other',
];

let current = readLang();
const listeners = new Set();

function readLang() {
  try {
    const saved = sessionStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // Storage may be unavailable (privacy settings): Japanese, then.
  }
  return 'ja';
}

export function lang() {
  return current;
}

/** The string for `key` in the current language, with {name} filled in. */
export function t(key, vars = {}) {
  const table = STRINGS[current];
  let s = table[key] ?? STRINGS.ja[key];
  if (s === undefined) {
    console.warn(`i18n: missing key ${key}`);
    return key;
  }
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** Fill every [data-i18n] element's text and [data-i18n-attr] attributes under root. */
export function applyI18n(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    // "aria-label:key;placeholder:key2"
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === current) return;
  current = next;
  try {
    sessionStorage.setItem(LANG_KEY, next);
  } catch {
    // not kept; the switch still works for this page
  }
  applyI18n();
  for (const f of listeners) f(current);
}

export function onLangChange(f) {
  listeners.add(f);
}

/**
 * Wire a button as the visible language switch: it shows the other
 * language's name in that language (so a reader of either can find it).
 */
export function bindLangSwitch(button) {
  const paint = () => {
    const other = current === 'ja' ? 'en' : 'ja';
    button.textContent = STRINGS[other]['lang.name'];
    button.lang = other;
    button.dataset.target = other;
  };
  paint();
  button.addEventListener('click', () => setLang(button.dataset.target));
  onLangChange(paint);
}

/** Fill a <select> with the labels of a pre-chat or outcome list. */
export function fillSelect(select, values, prefix, emptyKey, overrides = {}) {
  const chosen = select.value;
  select.replaceChildren();
  if (emptyKey) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = t(emptyKey);
    select.append(o);
  }
  for (const v of values) {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = t(overrides[v] ?? `${prefix}.${v}`);
    select.append(o);
  }
  select.value = chosen;
}

/** "12:03" in the current language's convention. */
export function formatTime(ms) {
  return new Intl.DateTimeFormat(current === 'ja' ? 'ja-JP' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(ms));
}

function japanParts(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const parts = {};
  for (const p of new Intl.DateTimeFormat(current === 'ja' ? 'ja-JP' : 'en-GB', {
    timeZone: 'Asia/Tokyo',
    month: current === 'ja' ? 'numeric' : 'short',
    day: 'numeric',
    weekday: 'short',
    hour: 'numeric',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d)) {
    parts[p.type] = p.value;
  }
  parts.time = `${Number(parts.hour)}:${parts.minute}`;
  parts.date = current === 'ja' ? `${parts.month}月${parts.day}日(${parts.weekday})` : `${parts.weekday} ${parts.day} ${parts.month}`;
  return parts;
}

/**
 * A moment as Japan time, the way people there write it:
 * "11月25日(火) 9:00" in Japanese, "Tue 25 Nov, 9:00 (Japan time)" in English.
 */
export function formatJapanDateTime(value) {
  const p = japanParts(value);
  if (!p) return '';
  return current === 'ja' ? `${p.date} ${p.time}` : `${p.date}, ${p.time} (Japan time)`;
}

/** A slot's time as Japan time: "11月25日(火) 9:00〜10:00", "Tue 25 Nov, 9:00–10:00 (Japan time)". */
export function formatJapanRange(start, end) {
  const a = japanParts(start);
  const b = japanParts(end);
  if (!a || !b) return '';
  const range = t('slot.range', { start: a.time, end: b.time });
  return current === 'ja' ? `${a.date} ${range}` : `${a.date}, ${range} (Japan time)`;
}

/** The site's name from /api/info (`site`) in the current language; '' when unknown. */
export function siteName(site) {
  return (site && (current === 'ja' ? site.name_ja : site.name_en)) || '';
}

/** What a consent covers, in words: "まとめ・チャットの記録・連絡先", "the summary, contact details". */
export function consentScope(consent) {
  const parts = [t('consent.scope.summary')];
  if (consent?.transcript) parts.push(t('consent.scope.transcript'));
  if (consent?.contact) parts.push(t('consent.scope.contact'));
  return parts.join(t('consent.scope.sep'));
}

/** Text for an error frame or body: ours if we have one, else the code. */
export function errorText(err, vars = {}) {
  const code = err?.code ?? 'network';
  const key = `error.${code}`;
  if (STRINGS.ja[key] !== undefined) return t(key, vars);
  return t('error.generic', { code });
}

/**
 * A message kept as a key (`{key, vars}`) or an error body (`{err}`)
 * rather than as text, so that a language change renders it again; ''
 * for none. The server's message fills `{message}` (bad_request).
 */
export function specText(spec) {
  if (!spec) return '';
  if (spec.err) return errorText(spec.err, { message: spec.err.message || '' });
  return t(spec.key, spec.vars);
}

/** Show a message (see specText) in the element with this id; hidden when there is none. */
export function showSpec(id, spec) {
  const el = document.getElementById(id);
  el.textContent = specText(spec);
  el.hidden = !spec;
}
