-- Delete a handoff record (with its consent records) past its expiry.
-- KEYS: 1 handoff (hash), 2 handoff expiry (zset)
-- ARGV: 1 conversation id, 2 now_ms
-- Returns 1 if deleted, 0 if not (not due, or gone already).
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
