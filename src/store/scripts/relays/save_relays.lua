-- Replace a conversation's relays if they are still what the node read
-- (RelayStore::save_relays), and index a new link.
-- KEYS: 1 meta (hash), 2 the link's index key (a placeholder if none)
-- ARGV: 1 the relays JSON read ('' = none), 2 the relays JSON to store
--       ('' = none), 3 the conversation id, 4 the link's lifetime in ms
--       ('' = no link)
-- Returns {"ok", HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'relays', 'erased')
if not m[1] then return {'err', 'not_found'} end
if (m[2] or '') ~= ARGV[1] then return {'err', 'conflict'} end
if m[3] and m[3] ~= '' then return {'err', 'conflict'} end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'relays')
else
  redis.call('HSET', KEYS[1], 'relays', ARGV[2])
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
end
return {'ok', redis.call('HGETALL', KEYS[1])}
