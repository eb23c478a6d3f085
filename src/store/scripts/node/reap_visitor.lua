-- Take a dead node's sockets off one conversation's visitor count (see
-- reap_counsellor.lua).
-- KEYS: 1 the dead node's liveness key, 2 its visitor sockets (hash),
--       3 conversation meta (hash)
-- ARGV: 1 conversation id, 2 now_ms
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HDEL', KEYS[2], ARGV[1])
if n <= 0 or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local m = redis.call('HMGET', KEYS[3], 'vconn', 'voff')
local left = tonumber(m[1]) - n
if left < 0 then left = 0 end
local off = m[2]
if left == 0 and off == '' then off = ARGV[2] end
redis.call('HSET', KEYS[3], 'vconn', string.format('%d', left), 'voff', off)
return 1
