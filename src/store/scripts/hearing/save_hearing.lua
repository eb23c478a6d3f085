-- Save a conversation's hearing sheet (HearingStore::save_hearing), for
-- the counsellor who holds or held it.
-- KEYS: 1 meta (hash)
-- ARGV: 1 counsellor id, 2 the sheet's JSON without its free text,
--       3 its free-text answers (a JSON object; '' = none)
-- The free text has a field of its own ('hst') so that "erase my chat"
-- deletes it with the notes without reading JSON.
-- Returns {"ok", HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'erased')
if not m[1] then return {'err', 'not_found'} end
if m[2] ~= ARGV[1] then return {'err', 'not_yours'} end
if m[3] and m[3] ~= '' then return {'err', 'conflict'} end
redis.call('HSET', KEYS[1], 'hs', ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'hst')
else
  redis.call('HSET', KEYS[1], 'hst', ARGV[3])
end
return {'ok', redis.call('HGETALL', KEYS[1])}
