-- Write a conversation's handoff record over the revision it was computed
-- from, with its booking change, as one step.
-- KEYS: 1 meta (hash), 2 handoff (hash), 3 slot (hash), 4 booking (hash),
--       5 the slot's bookings (list); 3-5 are never-written placeholders
--       for 'keep', and for a 'cancel' of a booking that was not found;
--       6 the destination slot (hash), 7 its bookings (list): 'move' only,
--       placeholders otherwise
-- ARGV: 1 op ('keep', 'create', 'cancel', 'repin'), 2 expected rev, 3 new rev,
--       4 record JSON, 5 conversation id, 6 slot id (of the booking),
--       7 reference;
--       create: 8 booking JSON, 9 booking's conversation, 10 created_at_ms,
--               11 cancelled_at_ms or '', 12 cancel reason or '',
--               13 attended ('', '1', '0');
--       cancel: 8 now_ms, 9 reason, 10 the booking's JSON without its name
--               and contact (written over `json`: they are deleted in
--               this step)
--       repin: 6 '', 8 the new PIN hash (hex; the booking's `pin` field,
--              which wins over the one in its JSON)
--       move: 6 the slot it is in (KEYS[3]), 8 the destination slot id
--             (KEYS[6]), 9 now_ms; the booking's `slot` field (which wins
--             over the one in its JSON) becomes the destination, `moved`
--             the time
-- Checks, in the in-memory store's order: the conversation exists; the
-- stored rev (0 when none) is the expected one; then the booking change.
-- Only then writes.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
local rev = tonumber(redis.call('HGET', KEYS[2], 'rev') or '0')
if rev ~= tonumber(ARGV[2]) then return {'err', 'conflict'} end
local op = ARGV[1]
if op == 'create' then
  if ARGV[9] ~= ARGV[5] then return {'err', 'not_found'} end
  local s = redis.call('HMGET', KEYS[3], 'starts', 'capacity', 'cancelled', 'booked')
  if not s[1] or s[3] ~= '' or tonumber(s[1]) <= tonumber(ARGV[10]) then
    return {'err', 'slot_unavailable'}
  end
  if tonumber(s[4]) >= tonumber(s[2]) then return {'err', 'slot_full'} end
  if redis.call('EXISTS', KEYS[4]) == 1 then return {'err', 'conflict'} end
  redis.call('HSET', KEYS[4], 'json', ARGV[8], 'conversation', ARGV[9],
    'slot', ARGV[6], 'cancelled', ARGV[11], 'reason', ARGV[12], 'attended', ARGV[13])
  redis.call('RPUSH', KEYS[5], ARGV[7])
  redis.call('HINCRBY', KEYS[3], 'booked', 1)
elseif op == 'cancel' then
  local b = redis.call('HMGET', KEYS[4], 'conversation', 'cancelled', 'slot')
  if b[1] ~= ARGV[5] or b[2] ~= '' then return {'err', 'not_found'} end
  -- The node named the slot from a read of the booking; a booking that
  -- appeared after that read means the record moved on.
  if b[3] ~= ARGV[6] then return {'err', 'conflict'} end
  if ARGV[10] == nil or ARGV[10] == '' then return {'err', 'conflict'} end
  redis.call('HSET', KEYS[4], 'cancelled', ARGV[8], 'reason', ARGV[9], 'json', ARGV[10])
  redis.call('HINCRBY', KEYS[3], 'booked', -1)
elseif op == 'repin' then
  local b = redis.call('HMGET', KEYS[4], 'conversation', 'cancelled')
  if b[1] ~= ARGV[5] or b[2] ~= '' then return {'err', 'not_found'} end
  redis.call('HSET', KEYS[4], 'pin', ARGV[8])
elseif op == 'move' then
  local b = redis.call('HMGET', KEYS[4], 'conversation', 'cancelled', 'slot')
  if b[1] ~= ARGV[5] or b[2] ~= '' then return {'err', 'not_found'} end
  if b[3] ~= ARGV[6] then return {'err', 'conflict'} end
  local s = redis.call('HMGET', KEYS[6], 'starts', 'capacity', 'cancelled', 'booked')
  if not s[1] or s[3] ~= '' or tonumber(s[1]) <= tonumber(ARGV[9])
    or ARGV[8] == ARGV[6] then
    return {'err', 'slot_unavailable'}
  end
  if tonumber(s[4]) >= tonumber(s[2]) then return {'err', 'slot_full'} end
  redis.call('HSET', KEYS[4], 'slot', ARGV[8], 'moved', ARGV[9])
  redis.call('HINCRBY', KEYS[3], 'booked', -1)
  redis.call('LREM', KEYS[5], 0, ARGV[7])
  redis.call('HINCRBY', KEYS[6], 'booked', 1)
  redis.call('RPUSH', KEYS[7], ARGV[7])
elseif op ~= 'keep' then
  return {'err', 'unknown_op'}
end
redis.call('HSET', KEYS[2], 'rev', ARGV[3], 'json', ARGV[4])
return {'ok'}
