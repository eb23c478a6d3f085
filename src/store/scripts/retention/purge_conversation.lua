-- Purge one ended conversation past its retention: keep its anonymous
-- facts, delete everything else, and stamp (or delete) its handoff.
-- KEYS: 1 meta (hash), 2 log (stream), 3 seen (hash), 4 notes (list),
--       5 ended (zset), 6 facts (list), 7 held (set) of its counsellor
--       (a placeholder if none), 8 handoff (hash), 9 handoff expiry (zset),
--       10 line (hash), 11 line deliveries (hash), 12 line lease (string),
--       13 the LINE user's index entry (string; a placeholder if the link
--       has no user), 14 the handoff link index (string), 15 the handoff
--       link (string; a placeholder if none), 16 whispers (list),
--       17 its case (string, JSON; a placeholder if none), 18 the case's
--       code index (a placeholder if none), 19 this conversation's case_of,
--       20.. case_of of the case's other conversations no longer stored
-- ARGV: 1 conversation id, 2 ended_at the node read, 3 outcome read,
--       4 assessment read, 5 facts JSON (computed by the node from what
--       it read), 6 handoff rev read ('' = none), 7 handoff: 'keep' or
--       'delete', 8 stamped handoff JSON, 9 its rev, 10 its expiry (ms),
--       11 the handoff link's token hash read ('' = none), 12 the case
--       JSON read ('' = none), 13 case: 'none', 'put' (ARGV 14 is the
--       case without this conversation) or 'delete' (none of its
--       conversations is left: the case and its indexes go), 14 the case
--       JSON after, 15 the case id read ('' = none), 16 the hearing
--       sheet read without its free text ('' = none)
-- The node computed the facts from the record and handoff it read; if
-- either changed since (an outcome recorded, a hearing sheet saved, a
-- handoff step, a new handoff link), nothing is written and it answers {"retry"}, and the
-- node reads again. The LINE keys and the handoff link belong to the
-- conversation and go with it; the user's index entry only if it still
-- names this conversation (a newer one keeps its own). The case is
-- compared as a whole: a join, a new code or a keep-longer consent since
-- the read answers {"retry"} (the consent may now keep it).
-- Returns {"ok"}, {"retry"} or {"err", "not_found"}.
local m = redis.call('HMGET', KEYS[1], 'state', 'ended_at', 'outcome', 'assess', 'hs')
if not m[1] then
  redis.call('ZREM', KEYS[5], ARGV[1])
  return {'err', 'not_found'}
end
if m[1] ~= 'ended' or m[2] ~= ARGV[2] or (m[3] or '') ~= ARGV[3]
  or (m[4] or '') ~= ARGV[4] or (m[5] or '') ~= ARGV[16] then
  return {'retry'}
end
local rev = redis.call('HGET', KEYS[8], 'rev')
if (rev or '') ~= ARGV[6] then return {'retry'} end
if (redis.call('GET', KEYS[14]) or '') ~= ARGV[11] then return {'retry'} end
if (redis.call('GET', KEYS[19]) or '') ~= ARGV[15] then return {'retry'} end
if (redis.call('GET', KEYS[17]) or '') ~= ARGV[12] then return {'retry'} end
redis.call('RPUSH', KEYS[6], ARGV[5])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('DEL', KEYS[10], KEYS[11], KEYS[12], KEYS[14], KEYS[15], KEYS[16])
if redis.call('GET', KEYS[13]) == ARGV[1] then redis.call('DEL', KEYS[13]) end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[7], ARGV[1])
if rev then
  if ARGV[7] == 'delete' then
    redis.call('DEL', KEYS[8])
    redis.call('ZREM', KEYS[9], ARGV[1])
  else
    redis.call('HSET', KEYS[8], 'json', ARGV[8], 'rev', ARGV[9])
    redis.call('ZADD', KEYS[9], ARGV[10], ARGV[1])
  end
end
if ARGV[13] ~= 'none' then
  redis.call('DEL', KEYS[19])
  for i = 20, #KEYS do
    if redis.call('GET', KEYS[i]) == ARGV[15] then redis.call('DEL', KEYS[i]) end
  end
  if ARGV[13] == 'put' then
    redis.call('SET', KEYS[17], ARGV[14])
  else
    redis.call('DEL', KEYS[17])
    if redis.call('GET', KEYS[18]) == ARGV[15] then redis.call('DEL', KEYS[18]) end
  end
end
return {'ok'}
