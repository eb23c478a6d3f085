-- Count one failure of a guard counter, as one step.
-- KEYS: 1 the counter (string)
-- ARGV: 1 ttl in ms: the counter lives at least this long after this
--       failure (never shortened)
-- Returns the count after this failure.
local n = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
