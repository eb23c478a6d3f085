-- Set or clear a supervisor's mode on a conversation (Store::supervise).
-- KEYS: 1 meta (hash), 2 the supervisor's supervising (set)
-- ARGV: 1 conversation id, 2 supervisor id, 3 mode ('' = clear)
-- Checks, before any write: it exists; setting a mode needs it not ended,
-- not held by this supervisor (not_yours), and active for "join"
-- (not_active). Clearing is allowed on any conversation.
-- Returns {"ok", previous mode or '', HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'sups')
if not m[1] then return {'err', 'not_found'} end
if ARGV[3] ~= '' then
  if m[1] == 'ended' then return {'err', 'ended'} end
  if m[1] == 'active' and m[2] == ARGV[2] then return {'err', 'not_yours'} end
  if m[1] == 'queued' and ARGV[3] == 'join' then return {'err', 'not_active'} end
end
local previous = ''
local kept = {}
for _, s in ipairs(cjson.decode(m[3] or '[]')) do
  if s.supervisor == ARGV[2] then
    previous = s.mode
  else
    table.insert(kept, s)
  end
end
if ARGV[3] ~= '' then
  table.insert(kept, {supervisor = ARGV[2], mode = ARGV[3]})
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
local sups = '[]'
if #kept > 0 then sups = cjson.encode(kept) end
redis.call('HSET', KEYS[1], 'sups', sups)
return {'ok', previous, redis.call('HGETALL', KEYS[1])}
