-- Hand an active conversation from one counsellor to another
-- (Store::reassign: a transfer or a supervisor's takeover).
-- KEYS: 1 meta (hash), 2 from counsellor (hash), 3 from held (set),
--       4 to counsellor (hash), 5 to held (set), 6 to's supervising (set),
--       7 notes (list), 8 audit (list)
-- ARGV: 1 conversation id, 2 from id, 3 to id, 4 "1" if `to` must be
--       taking chats, 5 note JSON ('' = none), 6 now_ms, 7 audit entry
--       JSON without duration_ms ('' = none; a supervisor's take-over)
-- With an audit entry, it is pushed in the same step, with `duration_ms`
-- (now - since_ms of `to`'s supervision, 0 if not kept) when `to` was
-- supervising.
-- Checks, before any write: active with `from` (else not_yours, not_active
-- when queued, ended); to == from changes nothing; `to` has a counsellor
-- record and (if asked) is available with a socket (else not_available),
-- and has a free place (else capacity).
-- Returns {"ok", HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'sups', 'transfers')
if not m[1] then return {'err', 'not_found'} end
if m[1] == 'ended' then return {'err', 'ended'} end
if m[1] == 'queued' then return {'err', 'not_active'} end
if m[2] ~= ARGV[2] then return {'err', 'not_yours'} end
if ARGV[3] == ARGV[2] then return {'ok', redis.call('HGETALL', KEYS[1])} end
local t = redis.call('HMGET', KEYS[4], 'status', 'connections', 'active', 'capacity')
if not t[1] then return {'err', 'not_available'} end
if ARGV[4] == '1' and (t[1] ~= 'available' or tonumber(t[2]) <= 0) then
  return {'err', 'not_available'}
end
if tonumber(t[3]) >= tonumber(t[4]) then return {'err', 'capacity'} end
local kept = {}
local since = nil
for _, s in ipairs(cjson.decode(m[3] or '[]')) do
  if s.supervisor ~= ARGV[3] then
    table.insert(kept, s)
  else
    since = tonumber(s.since_ms or 0) or 0
  end
end
local sups = '[]'
if #kept > 0 then sups = cjson.encode(kept) end
redis.call('HSET', KEYS[1], 'counsellor', ARGV[3], 'sups', sups,
  'transfers', tostring(tonumber(m[4] or '0') + 1))
local active = tonumber(redis.call('HGET', KEYS[2], 'active') or '0')
if active > 0 then redis.call('HINCRBY', KEYS[2], 'active', -1) end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'active', 1)
redis.call('HSET', KEYS[4], 'last_assigned', ARGV[6])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[1])
if ARGV[5] ~= '' then redis.call('RPUSH', KEYS[7], ARGV[5]) end
if ARGV[7] ~= '' then
  local entry = ARGV[7]
  if since then
    local now = tonumber(ARGV[6])
    local d = 0
    if since > 0 and now > since then d = now - since end
    entry = string.sub(entry, 1, -2) .. ',"duration_ms":' .. string.format('%.0f', d) .. '}'
  end
  redis.call('LPUSH', KEYS[8], entry)
end
return {'ok', redis.call('HGETALL', KEYS[1])}
