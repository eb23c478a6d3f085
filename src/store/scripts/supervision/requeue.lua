-- Hand an active conversation back to the front of the queue
-- (Store::requeue).
-- KEYS: 1 meta (hash), 2 from counsellor (hash), 3 from held (set),
--       4 queue (zset), 5 notes (list)
-- ARGV: 1 conversation id, 2 from id, 3 note JSON ('' = none)
-- Checks, before any write: active with `from` (else not_yours,
-- not_active when queued, ended). Then queued, requeued, counsellor and
-- assigned_at cleared, the place and the held entry released,
-- transfers + 1, the note added.
-- Returns {"ok", HGETALL meta} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'priority', 'transfers')
if not m[1] then return {'err', 'not_found'} end
if m[1] == 'ended' then return {'err', 'ended'} end
if m[1] == 'queued' then return {'err', 'not_active'} end
if m[2] ~= ARGV[2] then return {'err', 'not_yours'} end
local score = redis.call('HGET', KEYS[1], 'score_' .. (m[3] or 'normal') .. '_rq')
if not score then return {'err', 'bad_record'} end
redis.call('HSET', KEYS[1], 'state', 'queued', 'requeued', '1',
  'counsellor', '', 'assigned_at', '',
  'transfers', tostring(tonumber(m[4] or '0') + 1))
redis.call('ZADD', KEYS[4], score, ARGV[1])
local active = tonumber(redis.call('HGET', KEYS[2], 'active') or '0')
if active > 0 then redis.call('HINCRBY', KEYS[2], 'active', -1) end
redis.call('SREM', KEYS[3], ARGV[1])
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[5], ARGV[3]) end
return {'ok', redis.call('HGETALL', KEYS[1])}
