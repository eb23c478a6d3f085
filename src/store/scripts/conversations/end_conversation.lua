-- End a queued or active conversation, freeing the counsellor's place.
-- KEYS: 1 meta (hash), 2 queue (zset), 3 counsellor (hash) and 4 held (set)
--       of the counsellor the caller read from the record (unused if none),
--       5 live (set), 6 stats (hash), 7 ended (zset: the purge's index),
--       8 audit (list)
-- ARGV: 1 conversation id, 2 that counsellor id ('' = none), 3 ended_by,
--       4 outcome ('' = none), 5 now_ms, 6 assessment JSON ('' = none),
--       7 the leave_by_end audit entry's JSON with the nil account id as a
--       placeholder and no duration_ms, 8 '1' when the caller waits for
--       the audit to be durable (WAITAOF), '' when it read no supervisor
-- Every supervisor access still open (the record's sups) is closed in
-- this step: one leave_by_end entry each, with its duration, and sups
-- emptied. If there are some and the caller did not plan to wait for
-- durability, nothing is written and the caller retries (audited).
-- The counsellor keys must be named up front (every key in KEYS), so the
-- caller reads the record's counsellor first; if it changed since (a
-- concurrent assign), nothing is written and the caller retries. A queued
-- conversation ended by its visitor counts in stats.left_queue.
-- Returns {"ok", state before, HGETALL meta}, {"retry"} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'sups')
if not m[1] then return {'err', 'not_found'} end
if m[2] ~= ARGV[2] then return {'retry'} end
if m[1] == 'ended' then return {'err', 'ended'} end
local sups = cjson.decode(m[3] or '[]')
if #sups > 0 and ARGV[8] ~= '1' then return {'retry'} end
local now = tonumber(ARGV[5])
close_accesses(KEYS[1], KEYS[8], sups, ARGV[7], now)
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[5],
  'ended_by', ARGV[3], 'outcome', ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'assess', ARGV[6]) end
redis.call('ZADD', KEYS[7], ARGV[5], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
if m[1] == 'queued' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if ARGV[3] == 'visitor' then redis.call('HINCRBY', KEYS[6], 'left_queue', 1) end
end
if m[1] == 'active' then
  local active = tonumber(redis.call('HGET', KEYS[3], 'active') or '0')
  if active > 0 then redis.call('HINCRBY', KEYS[3], 'active', -1) end
end
-- With its outcome recorded it leaves the counsellor's list.
if ARGV[2] ~= '' and ARGV[4] ~= '' then
  redis.call('SREM', KEYS[4], ARGV[1])
end
return {'ok', m[1], redis.call('HGETALL', KEYS[1])}
