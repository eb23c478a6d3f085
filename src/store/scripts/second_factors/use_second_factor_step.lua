-- Use a code's time step (SecondFactorStore::use_second_factor_step): the
-- replay rule, checked and recorded in one step on every node.
-- KEYS: 1 the account's second factor (hash)
-- ARGV: 1 step
-- Returns {"ok"}, {"err", "not_found"} (not enrolled) or {"err",
-- "conflict"} (this step or a later one was used: a replay).
local m = redis.call('HMGET', KEYS[1], 'enrolled', 'step')
if not m[1] then return {'err', 'not_found'} end
if m[2] and tonumber(m[2]) >= tonumber(ARGV[1]) then return {'err', 'conflict'} end
redis.call('HSET', KEYS[1], 'step', ARGV[1])
return {'ok'}
