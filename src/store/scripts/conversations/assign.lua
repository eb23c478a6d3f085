-- Give a queued conversation to a counsellor with a free place.
-- KEYS: 1 counsellor (hash), 2 meta (hash), 3 queue (zset), 4 held (set),
--       5 the counsellor's supervising set
-- ARGV: 1 conversation id, 2 counsellor id, 3 now_ms
-- Checks, in the in-memory store's order: the counsellor exists, has a free
-- place, the conversation exists and is still queued. Then moves it; a
-- supervisor who takes a conversation they observed stops observing it.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'err', 'not_found'}
end
local c = redis.call('HMGET', KEYS[1], 'active', 'capacity')
if tonumber(c[1]) >= tonumber(c[2]) then
  return {'err', 'capacity'}
end
local m = redis.call('HMGET', KEYS[2], 'state', 'sups')
local state = m[1]
if not state then return {'err', 'not_found'} end
if state == 'ended' then return {'err', 'ended'} end
if state ~= 'queued' then return {'err', 'not_queued'} end
local kept = {}
for _, s in ipairs(cjson.decode(m[2] or '[]')) do
  if s.supervisor ~= ARGV[2] then table.insert(kept, s) end
end
local sups = '[]'
if #kept > 0 then sups = cjson.encode(kept) end
redis.call('HSET', KEYS[2], 'state', 'active', 'counsellor', ARGV[2],
  'assigned_at', ARGV[3], 'sups', sups)
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'active', 1)
redis.call('HSET', KEYS[1], 'last_assigned', ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[2])}
