-- Delete a canned reply.
-- KEYS: 1 canned_replies (hash: id -> JSON)
-- ARGV: 1 id
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return {'err', 'not_found'}
end
return {'ok'}
