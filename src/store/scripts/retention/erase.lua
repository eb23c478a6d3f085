-- "Erase my chat": delete an ended conversation's text at once.
-- KEYS: 1 meta (hash), 2 log (stream), 3 seen (hash), 4 notes (list),
--       5 the handoff link index (string), 6 the handoff link (string; a
--       placeholder if none), 7 whispers (list; deleted with the log)
-- ARGV: 1 now_ms, 2 the static JSON without the first message,
--       3 '1' to delete the notes too, 4 the handoff link's token hash
--       the node read ('' = none)
-- The node ends a live conversation first (end_conversation); this only
-- erases an ended one. Erasing twice changes nothing.
-- Returns {"ok", HGETALL meta}, {"retry"} (not ended: the node ends it
-- and tries again) or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'erased')
if not m[1] then return {'err', 'not_found'} end
if m[1] ~= 'ended' then return {'retry'} end
if (redis.call('GET', KEYS[5]) or '') ~= ARGV[4] then return {'retry'} end
redis.call('DEL', KEYS[5], KEYS[6])
if not m[2] or m[2] == '' then
  redis.call('HSET', KEYS[1], 'erased', ARGV[1], 'static', ARGV[2])
  -- The relay sheets (the visitor's answers passed on) go; their links
  -- then find no relay.
  redis.call('HDEL', KEYS[1], 'relays')
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[7])
  if ARGV[3] == '1' then
    redis.call('DEL', KEYS[4])
    -- The hearing sheet's free text is the counsellor's notes too.
    redis.call('HDEL', KEYS[1], 'hst')
  end
end
return {'ok', redis.call('HGETALL', KEYS[1])}
