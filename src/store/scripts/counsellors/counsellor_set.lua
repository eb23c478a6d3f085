-- Set a counsellor's status or capacity, if the counsellor is known.
-- KEYS: 1 counsellor (hash)
-- ARGV: 1 field ('status' or 'capacity'), 2 value
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok', redis.call('HGETALL', KEYS[1])}
