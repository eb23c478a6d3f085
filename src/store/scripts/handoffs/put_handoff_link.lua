-- Store a conversation's one handoff link, replacing (revoking) the
-- earlier one in the same step.
-- KEYS: 1 handoff (hash), 2 the conversation's link index (string: token
--       hash hex), 3 the new link (string: JSON), 4 the earlier link the
--       node read (or a never-written placeholder)
-- ARGV: 1 the new token hash (hex), 2 the link JSON, 3 the earlier token
--       hash the node read ('' = none)
-- Returns {"ok"}, {"retry"} (the index changed since the node read it:
-- read again) or {"err", "not_found"} (no handoff record).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
local cur = redis.call('GET', KEYS[2])
if (cur or '') ~= ARGV[3] then return {'retry'} end
if cur and cur ~= ARGV[1] then redis.call('DEL', KEYS[4]) end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return {'ok'}
