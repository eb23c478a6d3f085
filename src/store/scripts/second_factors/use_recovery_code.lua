-- Use a recovery code (SecondFactorStore::use_recovery_code): removed if
-- it is one of the enrolled account's unused codes.
-- KEYS: 1 the account's second factor (hash)
-- ARGV: 1 the code's hash (hex)
-- Returns {"ok", codes left} or {"err", "not_found"} (nothing changed).
if redis.call('HEXISTS', KEYS[1], 'enrolled') == 0 then return {'err', 'not_found'} end
if redis.call('HDEL', KEYS[1], 'rc:' .. ARGV[1]) == 0 then return {'err', 'not_found'} end
local left = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 3) == 'rc:' then left = left + 1 end
end
return {'ok', left}
