-- Clear the uncleared empty-floor episode, if it is still the one read.
-- KEYS: 1 floor_open (string), 2 floor_alerts (hash), 3 floor_webhooks (hash),
--       4 floor_webhook_due (zset)
-- ARGV: 1 episode id, 2 its JSON as read, 3 its cleared JSON,
--       4 delivery id ('' none), 5 delivery JSON, 6 now ms
-- Returns {"ok", 1} when cleared, {"ok", 0} when it is no longer the
-- uncleared one, {"retry"} when its JSON changed since it was read (an
-- acknowledgement came between: read again).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'ok', 0} end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return {'retry'} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('DEL', KEYS[1])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[4])
end
return {'ok', 1}
