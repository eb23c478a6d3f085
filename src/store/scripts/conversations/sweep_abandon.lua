-- End a queued conversation whose visitor has been away past the grace
-- period. The caller found the candidate with a plain read; this re-checks
-- everything, so a visitor who came back (or was assigned) meanwhile is
-- left alone, and of several nodes sweeping at once only one ends it. It
-- counts in stats.left_queue. Every supervisor access still open (a
-- supervisor may observe a waiting visitor) is closed in the same step:
-- one leave_by_end entry each with its duration, and sups emptied (as in
-- end_conversation.lua).
-- KEYS: 1 meta (hash), 2 queue (zset), 3 live (set), 4 stats (hash),
--       5 ended (zset: the purge's index), 6 audit (list)
-- ARGV: 1 conversation id, 2 now_ms, 3 grace_ms, 4 the leave_by_end
--       entry's JSON with the nil account id as a placeholder, 5 '1' when
--       the caller waits for the audit to be durable
-- Returns {"ok", 1} if ended, {"ok", 0} if not, {"retry"} when there are
-- accesses to close and the caller did not plan to wait (nothing written).
local m = redis.call('HMGET', KEYS[1], 'state', 'voff', 'sups')
if m[1] ~= 'queued' or not m[2] or m[2] == '' then return {'ok', 0} end
local now = tonumber(ARGV[2])
if math.max(0, now - tonumber(m[2])) < tonumber(ARGV[3]) then
  return {'ok', 0}
end
local sups = cjson.decode(m[3] or '[]')
if #sups > 0 and ARGV[5] ~= '1' then return {'retry'} end
close_accesses(KEYS[1], KEYS[6], sups, ARGV[4], now)
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[2],
  'ended_by', 'system', 'outcome', 'visitor_left')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'left_queue', 1)
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
return {'ok', 1}
