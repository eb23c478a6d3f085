-- Take or renew the right to send a conversation's messages to LINE.
-- KEYS: 1 lease (string: the holder, expiring)
-- ARGV: 1 holder, 2 ttl ms
-- Returns {"ok", 1} when granted, {"ok", 0} when another holder has it.
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return {'ok', 0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'ok', 1}
