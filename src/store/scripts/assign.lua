-- Give a queued conversation to a counsellor with a free place.
-- KEYS: 1 counsellor (hash), 2 meta (hash), 3 queue (zset), 4 held (set)
-- ARGV: 1 conversation id, 2 counsellor id, 3 now_ms
-- Checks, in the in-memory store's order: the counsellor exists, has a free
-- place, the conversation exists and is still queued. Then moves it.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'err', 'not_found'}
end
local c = redis.call('HMGET', KEYS[1], 'active', 'capacity')
if tonumber(c[1]) >= tonumber(c[2]) then
  return {'err', 'capacity'}
end
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return {'err', 'not_found'} end
if state == 'ended' then return {'err', 'ended'} end
if state ~= 'queued' then return {'err', 'not_queued'} end
redis.call('HSET', KEYS[2], 'state', 'active', 'counsellor', ARGV[2],
  'assigned_at', ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'active', 1)
redis.call('HSET', KEYS[1], 'last_assigned', ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[2])}
