-- Hold a place in a guard set under a cap, as one step.
-- KEYS: 1 the set
-- ARGV: 1 the member, 2 the cap, 3 ttl in ms (from this hold)
-- Returns 1 if the member holds a place afterwards, 0 if the set was full
-- (then nothing changed).
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
  redis.call('SADD', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
