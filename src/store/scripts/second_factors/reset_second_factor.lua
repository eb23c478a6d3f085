-- An admin's reset of a second factor (SecondFactorStore::reset_second_factor):
-- if the account is still the one read, it is replaced (its session epoch
-- raised: every session ends), its second factor deleted and the audit
-- lines appended, as one step.
-- KEYS: 1 accounts (hash: id -> JSON), 2 the account's second factor
--       (hash), 3 the audit log (list, newest first)
-- ARGV: 1 account id, 2 the JSON as read, 3 the new JSON, 4.. audit
--       entries (JSON, oldest first)
-- Returns {"ok", 1 if there was a second factor else 0}, or {"err",
-- "not_found"} / {"err", "conflict"} (nothing changed).
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return {'err', 'not_found'} end
if current ~= ARGV[2] then return {'err', 'conflict'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local had = redis.call('DEL', KEYS[2])
for i = 4, #ARGV do
  redis.call('LPUSH', KEYS[3], ARGV[i])
end
return {'ok', had}
