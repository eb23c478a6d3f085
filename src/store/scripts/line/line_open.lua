-- Store a LINE conversation's link and index it as the user's current one.
-- KEYS: 1 meta (hash), 2 line (hash), 3 user index (string, or a never
--       written placeholder when the link has no user)
-- ARGV: 1 link JSON, 2 conversation id, 3 "1" if the link has a user
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
redis.call('HSET', KEYS[2], 'json', ARGV[1])
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[2]) end
return {'ok'}
