-- Set or clear a supervisor's mode on a conversation (Store::supervise),
-- and audit the change in the same step.
-- KEYS: 1 meta (hash), 2 the supervisor's supervising (set), 3 audit (list)
-- ARGV: 1 conversation id, 2 supervisor id, 3 mode ('' = clear),
--       4 now_ms, 5 the audit entry's JSON (observe / join / leave /
--       leave_by_disconnect, without duration_ms)
-- Checks, before any write: it exists; setting a mode needs it not ended,
-- not held by this supervisor (not_yours), and active for "join"
-- (not_active). Clearing is allowed on any conversation. The mode already
-- set changes nothing and audits nothing. A new access starts `since_ms`
-- at now; a change of mode keeps it; clearing appends `duration_ms` (now -
-- since_ms, 0 if the start was not kept) to the entry.
-- Returns {"ok", previous mode or '', HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'sups')
if not m[1] then return {'err', 'not_found'} end
if ARGV[3] ~= '' then
  if m[1] == 'ended' then return {'err', 'ended'} end
  if m[1] == 'active' and m[2] == ARGV[2] then return {'err', 'not_yours'} end
  if m[1] == 'queued' and ARGV[3] == 'join' then return {'err', 'not_active'} end
end
local previous = ''
local since = nil
local kept = {}
for _, s in ipairs(cjson.decode(m[3] or '[]')) do
  if s.supervisor == ARGV[2] then
    previous = s.mode
    since = tonumber(s.since_ms or 0) or 0
  else
    table.insert(kept, s)
  end
end
if previous == ARGV[3] then
  return {'ok', previous, redis.call('HGETALL', KEYS[1])}
end
local now = tonumber(ARGV[4])
if ARGV[3] ~= '' then
  table.insert(kept, {supervisor = ARGV[2], mode = ARGV[3], since_ms = since or now})
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
local sups = '[]'
if #kept > 0 then sups = cjson.encode(kept) end
redis.call('HSET', KEYS[1], 'sups', sups)
local entry = ARGV[5]
if ARGV[3] == '' and since then
  local d = 0
  if since > 0 and now > since then d = now - since end
  entry = string.sub(entry, 1, -2) .. ',"duration_ms":' .. string.format('%.0f', d) .. '}'
end
redis.call('LPUSH', KEYS[3], entry)
return {'ok', previous, redis.call('HGETALL', KEYS[1])}
