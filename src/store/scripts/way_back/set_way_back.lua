-- Set a conversation's way-back code (WayBackStore::set_way_back),
-- replacing the earlier one (the meta holds the one in force).
-- KEYS: 1 meta (hash)
-- ARGV: 1 the code's hash (hex), 2 valid until (ms)
-- Returns {"ok"} or {"err", code}.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'err', 'not_found'} end
if state == 'ended' then return {'err', 'ended'} end
redis.call('HSET', KEYS[1], 'wb', ARGV[1], 'wbx', ARGV[2])
return {'ok'}
