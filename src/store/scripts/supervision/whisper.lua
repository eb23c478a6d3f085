-- A supervisor's whisper to the counsellor (Store::whisper), with its
-- audit entry, in one step.
-- KEYS: 1 meta (hash), 2 whispers (list), 3 audit (list)
-- ARGV: 1 supervisor id, 2 whisper JSON, 3 audit entry JSON
-- Checks, before any write: it exists, has not ended, and the supervisor
-- observes or joined it (not_yours).
-- Returns {"ok"} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'sups')
if not m[1] then return {'err', 'not_found'} end
if m[1] == 'ended' then return {'err', 'ended'} end
local on = false
for _, s in ipairs(cjson.decode(m[2] or '[]')) do
  if s.supervisor == ARGV[1] then on = true end
end
if not on then return {'err', 'not_yours'} end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[3])
return {'ok'}
