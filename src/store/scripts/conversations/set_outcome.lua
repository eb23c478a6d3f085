-- Record the outcome of an ended conversation this counsellor had.
-- KEYS: 1 meta (hash), 2 held (set) of ARGV[2]
-- ARGV: 1 conversation id, 2 counsellor id, 3 outcome, 4 assessment JSON
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor')
if not m[1] then return {'err', 'not_found'} end
if m[2] ~= ARGV[2] then return {'err', 'not_yours'} end
if m[1] ~= 'ended' then return {'err', 'not_active'} end
redis.call('HSET', KEYS[1], 'outcome', ARGV[3], 'assess', ARGV[4])
redis.call('SREM', KEYS[2], ARGV[1])
return {'ok', redis.call('HGETALL', KEYS[1])}
