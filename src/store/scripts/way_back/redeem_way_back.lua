-- Redeem a way-back code (WayBackStore::redeem_way_back): if it is the
-- conversation's code in force, not expired, and the conversation is not
-- ended, forget it and replace the resume token's hash, as one step.
-- KEYS: 1 meta (hash)
-- ARGV: 1 the code's hash (hex), 2 now (ms), 3 the new token hash (hex)
-- Returns {"ok", HGETALL meta} or {"err", "not_found"} (nothing changed).
local m = redis.call('HMGET', KEYS[1], 'state', 'wb', 'wbx')
if not m[1] or m[1] == 'ended' then return {'err', 'not_found'} end
if m[2] ~= ARGV[1] then return {'err', 'not_found'} end
if (tonumber(m[3]) or 0) <= tonumber(ARGV[2]) then return {'err', 'not_found'} end
redis.call('HDEL', KEYS[1], 'wb', 'wbx')
redis.call('HSET', KEYS[1], 'tok', ARGV[3])
return {'ok', redis.call('HGETALL', KEYS[1])}
