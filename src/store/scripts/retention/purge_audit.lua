-- Delete audit entries written before a time (the retention), oldest
-- first, at most ARGV[2] per call (the node calls again while it is full).
-- KEYS: 1 audit (list, newest at the head)
-- ARGV: 1 before_ms, 2 at most this many
-- The list is in write order; entries from nodes with skewed clocks may be
-- out of time order by that skew, so it stops at the first entry not yet
-- due (a later sweep takes it).
-- Returns {"ok", how many were deleted}.
local before = tonumber(ARGV[1])
local n = 0
while n < tonumber(ARGV[2]) do
  local last = redis.call('LINDEX', KEYS[1], -1)
  if not last then break end
  local ok, e = pcall(cjson.decode, last)
  if not ok or tonumber(e.at_ms) == nil or tonumber(e.at_ms) >= before then break end
  redis.call('RPOP', KEYS[1])
  n = n + 1
end
return {'ok', n}
