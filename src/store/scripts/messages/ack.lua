-- Raise a party's acknowledged sequence: clamped to the last sequence,
-- never lowered.
-- KEYS: 1 meta (hash)
-- ARGV: 1 field ('vacked' or 'cacked'), 2 acknowledged seq
-- Returns {"ok", new value, 1 if this call raised it else 0} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'last_seq', ARGV[1])
if not m[1] then return {'err', 'not_found'} end
local seq = math.min(tonumber(ARGV[2]), tonumber(m[1]))
local cur = tonumber(m[2])
local raised = 0
if seq > cur then
  cur = seq
  raised = 1
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', cur))
end
return {'ok', cur, raised}
