-- Store a new appointment slot unless its id is taken.
-- KEYS: 1 slot (hash), 2 slot order (zset)
-- ARGV: 1 slot id, 2 slot JSON, 3 starts_at_ms, 4 capacity, 5 cancelled_at_ms or ''
if redis.call('EXISTS', KEYS[1]) == 1 then return {'err', 'conflict'} end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'starts', ARGV[3],
  'capacity', ARGV[4], 'cancelled', ARGV[5], 'booked', 0)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {'ok'}
