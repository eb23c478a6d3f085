-- Record the delivery state of one message sent to LINE.
-- KEYS: 1 line (hash), 2 deliveries (hash seq -> JSON)
-- ARGV: 1 seq, 2 delivery JSON
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {'ok'}
