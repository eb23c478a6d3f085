-- Mark a handoff link sent, if it is still its conversation's link in force.
-- KEYS: 1 the conversation's link index (string), 2 the link (string: JSON)
-- ARGV: 1 its token hash (hex), 2 the link JSON with `sent`
-- Returns {"ok", 1} if marked, {"ok", 0} if a newer link replaced it.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'ok', 0} end
redis.call('SET', KEYS[2], ARGV[2])
return {'ok', 1}
