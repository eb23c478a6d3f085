-- Claim the oldest webhook delivery due now: it is not due again until the
-- lease ends, so no other node tries it meanwhile.
-- KEYS: 1 floor_webhooks (hash), 2 floor_webhook_due (zset),
--       3 floor_webhook_attempts (hash)
-- ARGV: 1 now ms, 2 lease ms
-- Returns {"ok"} when nothing is due, else {"ok", delivery JSON, attempts,
-- next at ms}.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return {'ok'} end
local id = due[1]
local body = redis.call('HGET', KEYS[1], id)
if not body then
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  return {'ok'}
end
local next_at = tonumber(ARGV[1]) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], next_at, id)
local n = redis.call('HINCRBY', KEYS[3], id, 1)
return {'ok', body, n, next_at}
