-- Keep a new second-factor set-up (SecondFactorStore::begin_second_factor),
-- replacing one never confirmed; refused if the account is enrolled.
-- KEYS: 1 the account's second factor (hash)
-- ARGV: 1 sealed secret, 2 created at (ms)
-- Returns {"ok"} or {"err", "conflict"} (nothing changed).
if redis.call('HEXISTS', KEYS[1], 'enrolled') == 1 then
  return {'err', 'conflict'}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'created', ARGV[2])
return {'ok'}
