-- Create a queued conversation, refused when the queue is full; store its
-- triage alert in the same step.
-- KEYS: 1 queue (zset), 2 meta (hash), 3 log (stream), 4 seen (hash),
--       5 live (set), 6 alerts (hash), 7 alert order (zset)
-- ARGV: 1 max_queue, 2 conversation id, 3 static JSON, 4 now_ms,
--       5 "1" if there is a first message, 6 first message text,
--       7 its client id, 8 risk level, 9 priority, 10 risk reasons JSON,
--       11 alert id ('' = none), 12 alert JSON,
--       13 visitor away since ('' for a LINE visitor, who has no socket),
--       14 "1" if the start has an idempotency key (KEYS 8, 9),
--       15 the conversation id the caller read from KEYS[8] ('' = none),
--       16.. the four queue scores as (field, score) pairs
-- KEYS (idempotency key): 8 start key (string: conversation id), 9 the
--       meta hash of ARGV[15]'s conversation (unused names when none)
-- Returns {"ok", HGETALL meta} (of the conversation the key already
-- started, while it waits for its first counsellor: nothing is written),
-- {"retry"} (KEYS[8] changed since the caller read it) or {"err", code}.
-- Validates before writing.
if ARGV[14] == '1' then
  local prior = redis.call('GET', KEYS[8])
  if (prior or '') ~= ARGV[15] then return {'retry'} end
  if prior then
    local st = redis.call('HMGET', KEYS[9], 'state', 'requeued', 'assigned_at')
    if st[1] == 'queued' and st[2] == '0' and (not st[3] or st[3] == '') then
      return {'ok', redis.call('HGETALL', KEYS[9])}
    end
  end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {'err', 'queue_full'}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'err', 'exists'}
end
local last_seq = '0'
if ARGV[5] == '1' then last_seq = '1' end
local fields = {'HSET', KEYS[2],
  'id', ARGV[2], 'static', ARGV[3], 'state', 'queued', 'counsellor', '',
  'requeued', '0', 'assigned_at', '', 'ended_at', '', 'ended_by', '',
  'outcome', '', 'last_seq', last_seq, 'vacked', '0', 'cacked', '0',
  'vconn', '0', 'voff', ARGV[13], 'risk', ARGV[8], 'priority', ARGV[9],
  'reasons', ARGV[10], 'sups', '[]', 'transfers', '0', 'lvmsg', '',
  'lcmsg', '', 'silent', ''}
local score = nil
for i = 16, #ARGV, 2 do
  table.insert(fields, ARGV[i]); table.insert(fields, ARGV[i + 1])
  if ARGV[i] == 'score_' .. ARGV[9] then score = ARGV[i + 1] end
end
if not score then return {'err', 'bad_args'} end
redis.call(unpack(fields))
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('SADD', KEYS[5], ARGV[2])
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[3], '1-0', 'from', 'visitor', 'cid', ARGV[7],
    'text', ARGV[6], 'at', ARGV[4])
  redis.call('HSET', KEYS[4], 'visitor::' .. ARGV[7], '1')
end
if ARGV[14] == '1' then
  -- The state check above is the expiry; the TTL only clears the key of a
  -- conversation long gone (nobody waits a day).
  redis.call('SET', KEYS[8], ARGV[2], 'PX', 86400000)
end
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[11], ARGV[12])
  redis.call('ZADD', KEYS[7], ARGV[4], ARGV[11])
end
return {'ok', redis.call('HGETALL', KEYS[2])}
