-- Cancel a slot that has no booking in force; a cancelled slot is answered
-- unchanged.
-- KEYS: 1 slot (hash)
-- ARGV: 1 now_ms
local s = redis.call('HMGET', KEYS[1], 'cancelled', 'booked')
if not s[1] then return {'err', 'not_found'} end
if s[1] == '' then
  if tonumber(s[2]) > 0 then return {'err', 'slot_booked'} end
  redis.call('HSET', KEYS[1], 'cancelled', ARGV[1])
end
return {'ok', redis.call('HGETALL', KEYS[1])}
