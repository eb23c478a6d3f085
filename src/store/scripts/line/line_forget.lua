-- Drop the LINE user id from a link; drop the user's index entry only if
-- it still names this conversation (a newer conversation keeps its own).
-- KEYS: 1 line (hash), 2 user index (string)
-- ARGV: 1 link JSON without the user, 2 conversation id
if redis.call('EXISTS', KEYS[1]) == 0 then return {'ok'} end
redis.call('HSET', KEYS[1], 'json', ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return {'ok'}
