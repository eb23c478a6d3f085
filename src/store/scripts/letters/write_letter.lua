-- Store a letter (issue 22): an ended conversation outside the queue,
-- its text message 1, waiting in the letters index; its triage alert in
-- the same step. Refused when max_waiting letters already wait.
-- KEYS: 1 letters (zset: waiting letters by writing time), 2 meta (hash),
--       3 log (stream), 4 seen (hash), 5 ended (zset: the purge's index),
--       6 alerts (hash), 7 alert order (zset)
-- ARGV: 1 max_waiting, 2 conversation id, 3 static JSON, 4 now_ms,
--       5 the letter's text, 6 its client id, 7 risk level, 8 priority,
--       9 risk reasons JSON, 10 alert id ('' = none), 11 alert JSON
-- The index may still hold letters erased or purged since (the caller
-- drops those when refused, and tries again).
-- Returns {"ok", HGETALL meta} or {"err", code}.
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {'err', 'letters_full'}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'err', 'exists'}
end
redis.call('HSET', KEYS[2],
  'id', ARGV[2], 'static', ARGV[3], 'state', 'ended', 'counsellor', '',
  'requeued', '0', 'assigned_at', '', 'ended_at', ARGV[4],
  'ended_by', 'visitor', 'outcome', '', 'last_seq', '1', 'vacked', '0',
  'cacked', '0', 'vconn', '0', 'voff', '', 'risk', ARGV[7],
  'priority', ARGV[8], 'reasons', ARGV[9], 'sups', '[]', 'transfers', '0',
  'lvmsg', ARGV[4], 'lcmsg', '', 'silent', '')
redis.call('XADD', KEYS[3], '1-0', 'from', 'visitor', 'cid', ARGV[6],
  'text', ARGV[5], 'at', ARGV[4])
redis.call('HSET', KEYS[4], 'visitor::' .. ARGV[6], '1')
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[10], ARGV[11])
  redis.call('ZADD', KEYS[7], ARGV[4], ARGV[10])
end
return {'ok', redis.call('HGETALL', KEYS[2])}
