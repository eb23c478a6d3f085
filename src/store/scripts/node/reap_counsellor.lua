-- Take a dead node's sockets off one counsellor's count. A node that dies
-- (SIGKILL, power loss) never says its sockets closed; its liveness key
-- expires instead, and any other node's sweep calls this.
-- KEYS: 1 the dead node's liveness key, 2 its counsellor sockets (hash),
--       3 counsellor (hash)
-- ARGV: 1 counsellor id, 2 now_ms
-- Returns 1 if something was taken off, 0 if not (the node is alive after
-- all, or another sweeper got there first).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HDEL', KEYS[2], ARGV[1])
if n <= 0 or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local m = redis.call('HMGET', KEYS[3], 'connections', 'off')
local left = tonumber(m[1]) - n
if left < 0 then left = 0 end
local off = m[2]
if left == 0 and off == '' then off = ARGV[2] end
redis.call('HSET', KEYS[3], 'connections', string.format('%d', left), 'off', off)
return 1
