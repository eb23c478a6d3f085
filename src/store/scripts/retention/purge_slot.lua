-- Delete an appointment slot past its retention with all its bookings.
-- KEYS: 1 slot (hash), 2 slot order (zset), 3 the slot's bookings (list),
--       4.. every booking the node read from that list
-- ARGV: 1 slot id, 2 latest start that is due (ms), 3 bookings read
-- Checks the slot is still due and the list still has the bookings the
-- node named (a booking made meanwhile would otherwise be left behind).
-- Returns 1 if deleted, 0 if not.
local starts = redis.call('HGET', KEYS[1], 'starts')
if starts and tonumber(starts) > tonumber(ARGV[2]) then return 0 end
if redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[3]) then return 0 end
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
