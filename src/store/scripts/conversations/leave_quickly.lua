-- The visitor used the quick exit (Store::leave_quickly): record when, and
-- nothing else. The conversation is not ended; the visitor's socket
-- closing makes them offline and the grace periods apply as usual.
-- KEYS: 1 meta (hash)
-- ARGV: 1 now_ms
-- Returns {"ok", HGETALL meta} or {"err", code}.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'err', 'not_found'} end
if state == 'ended' then return {'err', 'ended'} end
redis.call('HSET', KEYS[1], 'lq', ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[1])}
