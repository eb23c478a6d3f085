-- Replace an account's JSON if it is still the one read (compare-and-set),
-- with its audit lines in the same step.
-- KEYS: 1 accounts (hash: id -> JSON), 2 the audit log (list, newest first)
-- ARGV: 1 account id, 2 the JSON as read, 3 the new JSON, 4.. audit
--       entries (JSON, oldest first)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return {'err', 'not_found'} end
if current ~= ARGV[2] then return {'err', 'conflict'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
for i = 4, #ARGV do
  redis.call('LPUSH', KEYS[2], ARGV[i])
end
return {'ok'}
