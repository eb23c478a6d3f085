-- Forget a dead node once all its sockets have been taken off the counts.
-- KEYS: 1 the node's liveness key, 2 its counsellor sockets (hash),
--       3 its visitor sockets (hash), 4 the set of nodes
-- ARGV: 1 node id
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[2]) > 0 or redis.call('HLEN', KEYS[3]) > 0 then
  return 0
end
redis.call('SREM', KEYS[4], ARGV[1])
return 1
