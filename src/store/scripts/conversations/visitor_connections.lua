-- A visitor socket opened (+1) or closed (-1) on this node.
-- KEYS: 1 meta (hash), 2 this node's visitor sockets (hash: conversation -> n)
-- ARGV: 1 conversation id, 2 delta, 3 now_ms
-- The node's own count bounds what it may take away: a node that was
-- declared dead (its counts reaped by another node) and still closes
-- sockets later cannot remove sockets other nodes hold.
-- Returns {"ok", HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'vconn', 'voff')
if not m[1] then return {'err', 'not_found'} end
local delta = tonumber(ARGV[2])
if delta < 0 then
  local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if -delta > mine then delta = -mine end
end
if delta ~= 0 then
  local left = redis.call('HINCRBY', KEYS[2], ARGV[1], delta)
  if left <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
end
local n = tonumber(m[1]) + delta
if n < 0 then n = 0 end
local off = m[2]
if n == 0 then
  if off == '' then off = ARGV[3] end
else
  off = ''
end
redis.call('HSET', KEYS[1], 'vconn', string.format('%d', n), 'voff', off)
return {'ok', redis.call('HGETALL', KEYS[1])}
