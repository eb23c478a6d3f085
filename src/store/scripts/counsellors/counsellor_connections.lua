-- A counsellor socket opened (+1) or closed (-1) on this node; creates the
-- counsellor's record (away, default capacity) on first sight.
-- KEYS: 1 counsellor (hash), 2 counsellor ids (set),
--       3 this node's counsellor sockets (hash: counsellor -> n)
-- ARGV: 1 counsellor id, 2 delta, 3 default capacity, 4 now_ms
-- As for visitors, a node can only take away sockets it counted itself.
-- Returns {"ok", HGETALL counsellor}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'away',
    'capacity', ARGV[3], 'active', '0', 'connections', '0', 'off', ARGV[4],
    'last_assigned', '')
  redis.call('SADD', KEYS[2], ARGV[1])
end
local delta = tonumber(ARGV[2])
if delta < 0 then
  local mine = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
  if -delta > mine then delta = -mine end
end
if delta ~= 0 then
  local left = redis.call('HINCRBY', KEYS[3], ARGV[1], delta)
  if left <= 0 then redis.call('HDEL', KEYS[3], ARGV[1]) end
end
local m = redis.call('HMGET', KEYS[1], 'connections', 'off')
local n = tonumber(m[1]) + delta
if n < 0 then n = 0 end
local off = m[2]
if n == 0 then
  if off == '' then off = ARGV[4] end
else
  off = ''
end
redis.call('HSET', KEYS[1], 'connections', string.format('%d', n), 'off', off)
return {'ok', redis.call('HGETALL', KEYS[1])}
