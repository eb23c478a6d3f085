// The Node baseline: a minimal chat relay written with the `ws` package, as
// a small team might write instead of Tsunagu. Two sockets that connect to
// /relay?pair=N with the same N are joined. Each JSON `send` is given the
// next sequence number of the pair, forwarded to the peer as a `message`
// and confirmed to the sender with `sent`. No queue, no store, no checks
// beyond a frame size limit. A socket without a pair is just held.
//
// With --delivered it is the same-protocol baseline: an `ack` of a message
// (`{"type":"ack","seq":N}`) is answered to the message's sender with
// `{"type":"delivered","seq":N}`, as Tsunagu does, so that it handles the
// same five frames per acknowledged message (send, message, sent, ack,
// delivered). Without it (the simpler baseline) acks are ignored.
//
//   node relay.js [PORT] [--delivered]   (listens on 127.0.0.1, default 9101)
'use strict';
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const delivered = args.includes('--delivered');
const port = Number(args.find((a) => a !== '--delivered') || 9101);
const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 16 * 1024 });
const waiting = new Map();

wss.on('connection', (ws, req) => {
  const pair = new URL(req.url, 'http://x').searchParams.get('pair');
  ws.on('error', () => {});
  if (pair === null) return;
  const first = waiting.get(pair);
  if (first) {
    waiting.delete(pair);
    const room = { seq: 0 };
    join(first, ws, room);
    join(ws, first, room);
  } else {
    waiting.set(pair, ws);
    ws.on('close', () => { if (waiting.get(pair) === ws) waiting.delete(pair); });
  }
});

function join(ws, peer, room) {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (delivered && m.type === 'ack' && Number.isInteger(m.seq)) {
      peer.send(JSON.stringify({ type: 'delivered', seq: m.seq }));
      return;
    }
    if (m.type !== 'send' || typeof m.text !== 'string') return;
    const seq = ++room.seq;
    peer.send(JSON.stringify({ type: 'message', seq, text: m.text, sent_at: Date.now() }));
    ws.send(JSON.stringify({ type: 'sent', client_id: m.client_id, seq }));
  });
  ws.on('close', () => peer.close());
}

wss.on('listening', () => console.error(`node-relay listening on 127.0.0.1:${port}${delivered ? ' (answers acks with delivered)' : ''}`));
