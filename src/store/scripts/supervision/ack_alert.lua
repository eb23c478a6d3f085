-- Acknowledge an alert; the first acknowledgement is kept.
-- KEYS: 1 alerts (hash: id -> alert JSON), 2 alert acks (hash: id -> ack JSON)
-- ARGV: 1 alert id, 2 ack JSON ({"by": ..., "at_ms": ...})
-- Returns {"ok", alert JSON, ack JSON} or {"err", "not_found"}.
local a = redis.call('HGET', KEYS[1], ARGV[1])
if not a then return {'err', 'not_found'} end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return {'ok', a, redis.call('HGET', KEYS[2], ARGV[1])}
