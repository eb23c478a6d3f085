-- Intake records whether the person came to an existing booking.
-- KEYS: 1 booking (hash)
-- ARGV: 1 '1' (came) or '0' (did not)
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
redis.call('HSET', KEYS[1], 'attended', ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[1])}
