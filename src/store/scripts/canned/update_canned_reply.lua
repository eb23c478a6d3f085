-- Replace a canned reply that exists (never brings back a deleted one).
-- KEYS: 1 canned_replies (hash: id -> JSON)
-- ARGV: 1 id, 2 JSON
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return {'err', 'not_found'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
