-- Create an account unless its username is taken, with its audit lines in
-- the same step (a crash never keeps one without the other).
-- KEYS: 1 usernames (hash: username -> id), 2 accounts (hash: id -> JSON),
--       3 the audit log (list, newest first)
-- ARGV: 1 username, 2 account id, 3 account JSON, 4.. audit entries (JSON,
--       oldest first)
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {'err', 'taken'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
for i = 4, #ARGV do
  redis.call('LPUSH', KEYS[3], ARGV[i])
end
return {'ok'}
