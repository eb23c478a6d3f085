-- Confirm a set-up (SecondFactorStore::confirm_second_factor): if the
-- account's set-up in force has this sealed secret and is not enrolled,
-- it becomes enrolled with its first used step and its recovery codes.
-- KEYS: 1 the account's second factor (hash)
-- ARGV: 1 sealed secret, 2 step, 3 now (ms), 4.. recovery code hashes (hex)
-- Returns {"ok", HGETALL} or {"err", "not_found"} (nothing changed).
local m = redis.call('HMGET', KEYS[1], 'secret', 'enrolled')
if not m[1] or m[2] or m[1] ~= ARGV[1] then return {'err', 'not_found'} end
redis.call('HSET', KEYS[1], 'enrolled', ARGV[3], 'step', ARGV[2])
for i = 4, #ARGV do
  redis.call('HSET', KEYS[1], 'rc:' .. ARGV[i], '1')
end
return {'ok', redis.call('HGETALL', KEYS[1])}
