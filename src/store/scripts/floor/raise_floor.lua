-- Raise an empty-floor episode unless one is uncleared (one per episode,
-- whichever node comes first).
-- KEYS: 1 floor_open (string), 2 floor_alerts (hash), 3 floor_order (zset),
--       4 floor_webhooks (hash), 5 floor_webhook_due (zset)
-- ARGV: 1 episode id, 2 episode JSON, 3 raised at ms, 4 delivery id ('' none),
--       5 delivery JSON, 6 now ms
-- Returns {"ok", 1} when raised, {"ok", 0} when an episode is uncleared.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'ok', 0} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[5], ARGV[6], ARGV[4])
end
return {'ok', 1}
