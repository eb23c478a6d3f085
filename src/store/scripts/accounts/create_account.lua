-- Create an account unless its username is taken.
-- KEYS: 1 usernames (hash: username -> id), 2 accounts (hash: id -> JSON)
-- ARGV: 1 username, 2 account id, 3 account JSON
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {'err', 'taken'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {'ok'}
