-- Mark one active conversation whose visitor has not answered the
-- counsellor's last message for the silence period (Store::mark_silent).
-- The caller found the candidate with a plain read; this re-checks, so of
-- several nodes only one marks it, once per silence.
-- KEYS: 1 meta (hash), 2 stats (hash)
-- ARGV: 1 now_ms, 2 silence_ms
-- Returns {"ok", HGETALL meta} if marked now, {"ok"} if not.
local m = redis.call('HMGET', KEYS[1], 'state', 'lcmsg', 'lvmsg', 'silent')
if m[1] ~= 'active' or not m[2] or m[2] == '' then return {'ok'} end
if m[4] and m[4] ~= '' then return {'ok'} end
local c = tonumber(m[2])
if m[3] and m[3] ~= '' and tonumber(m[3]) >= c then return {'ok'} end
if math.max(0, tonumber(ARGV[1]) - c) < tonumber(ARGV[2]) then return {'ok'} end
redis.call('HSET', KEYS[1], 'silent', m[2])
redis.call('HINCRBY', KEYS[2], 'went_silent', 1)
return {'ok', redis.call('HGETALL', KEYS[1])}
