-- Add a canned reply unless its id exists or the library is full.
-- KEYS: 1 canned_replies (hash: id -> JSON)
-- ARGV: 1 id, 2 JSON, 3 the library's maximum size
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {'err', 'conflict'}
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return {'err', 'library_full'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
