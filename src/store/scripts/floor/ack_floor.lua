-- Acknowledge an empty-floor episode: compare-and-set on its JSON.
-- KEYS: 1 floor_alerts (hash)
-- ARGV: 1 episode id, 2 its JSON as read, 3 its acknowledged JSON
-- Returns {"ok"}, {"retry"} when the JSON changed since it was read (it
-- cleared between: read again), or {"err", "not_found"}.
local a = redis.call('HGET', KEYS[1], ARGV[1])
if not a then return {'err', 'not_found'} end
if a ~= ARGV[2] then return {'retry'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return {'ok'}
