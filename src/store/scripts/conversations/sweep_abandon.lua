-- End a queued conversation whose visitor has been away past the grace
-- period. The caller found the candidate with a plain read; this re-checks
-- everything, so a visitor who came back (or was assigned) meanwhile is
-- left alone, and of several nodes sweeping at once only one ends it. It
-- counts in stats.left_queue.
-- KEYS: 1 meta (hash), 2 queue (zset), 3 live (set), 4 stats (hash),
--       5 ended (zset: the purge's index)
-- ARGV: 1 conversation id, 2 now_ms, 3 grace_ms
-- Returns 1 if ended, 0 if not.
local m = redis.call('HMGET', KEYS[1], 'state', 'voff')
if m[1] ~= 'queued' or not m[2] or m[2] == '' then return 0 end
if math.max(0, tonumber(ARGV[2]) - tonumber(m[2])) < tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[2],
  'ended_by', 'system', 'outcome', 'visitor_left')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'left_queue', 1)
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
return 1
