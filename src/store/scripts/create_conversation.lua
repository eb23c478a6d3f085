-- Create a queued conversation, refused when the queue is full.
-- KEYS: 1 queue (zset), 2 meta (hash), 3 log (stream), 4 seen (hash)
-- ARGV: 1 max_queue, 2 conversation id, 3 static JSON, 4 score (fresh),
--       5 score (requeued), 6 now_ms, 7 "1" if there is a first message,
--       8 first message text, 9 its client id
-- Returns {"ok", HGETALL meta} or {"err", code}. Validates before writing.
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {'err', 'queue_full'}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'err', 'exists'}
end
local last_seq = '0'
if ARGV[7] == '1' then last_seq = '1' end
redis.call('HSET', KEYS[2],
  'id', ARGV[2], 'static', ARGV[3], 'state', 'queued', 'counsellor', '',
  'requeued', '0', 'assigned_at', '', 'ended_at', '', 'ended_by', '',
  'outcome', '', 'last_seq', last_seq, 'vacked', '0', 'cacked', '0',
  'vconn', '0', 'voff', ARGV[6], 'score_fresh', ARGV[4],
  'score_requeued', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
if ARGV[7] == '1' then
  redis.call('XADD', KEYS[3], '1-0', 'from', 'visitor', 'cid', ARGV[9],
    'text', ARGV[8], 'at', ARGV[6])
  redis.call('HSET', KEYS[4], 'visitor::' .. ARGV[9], '1')
end
return {'ok', redis.call('HGETALL', KEYS[2])}
