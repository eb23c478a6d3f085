-- Put an active conversation back at the front of the queue because its
-- counsellor has been away past the grace period. Re-checks the
-- counsellor's absence and the conversation's state (found by a plain
-- read), so only one of several sweeping nodes requeues it.
-- KEYS: 1 counsellor (hash), 2 held (set), 3 queue (zset), 4 meta (hash)
-- ARGV: 1 conversation id, 2 counsellor id, 3 now_ms, 4 grace_ms, or
-- 'now' whatever the counsellor's presence (their account was
-- deactivated or its role changed: `requeue_held`)
-- Returns 1 if requeued, 0 if not.
local c = redis.call('HMGET', KEYS[1], 'off', 'active')
if ARGV[4] ~= 'now' then
  if not c[1] or c[1] == '' then return 0 end
  if math.max(0, tonumber(ARGV[3]) - tonumber(c[1])) < tonumber(ARGV[4]) then
    return 0
  end
end
local m = redis.call('HMGET', KEYS[4], 'state', 'counsellor', 'priority')
if m[1] ~= 'active' or m[2] ~= ARGV[2] then return 0 end
local score = redis.call('HGET', KEYS[4], 'score_' .. (m[3] or 'normal') .. '_rq')
if not score then return 0 end
-- They no longer have it: no notes, no outcome, no acks (see memory/conversations.rs).
redis.call('HSET', KEYS[4], 'state', 'queued', 'requeued', '1',
  'assigned_at', '', 'counsellor', '')
redis.call('ZADD', KEYS[3], score, ARGV[1])
if tonumber(c[2] or '0') > 0 then redis.call('HINCRBY', KEYS[1], 'active', -1) end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
