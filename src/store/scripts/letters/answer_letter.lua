-- Answer a waiting letter (issue 22): the counsellor's message becomes
-- the next in its log, the letter leaves the letters index, and its end
-- (the purge's clock) moves to now.
-- KEYS: 1 meta (hash), 2 log (stream), 3 seen (hash), 4 letters (zset),
--       5 ended (zset)
-- ARGV: 1 counsellor id, 2 "1" if there is an author name, 3 author name,
--       4 client id, 5 text, 6 now_ms, 7, 8 the message's event JSON
--       before and after its sequence number, 9 the events channel,
--       10 conversation id
-- A resend (same counsellor, same client id) is answered first:
-- {"dup", seq}. Then: not a letter -> not_found; answered or erased ->
-- conflict.
-- Returns {"ok", seq, HGETALL meta}, {"dup", seq} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'static', 'assigned_at', 'erased', 'last_seq')
if not m[1] then return {'err', 'not_found'} end
local seen_field = 'counsellor:' .. ARGV[1] .. ':' .. ARGV[4]
local seen = redis.call('HGET', KEYS[3], seen_field)
if seen then return {'dup', tonumber(seen)} end
if not cjson.decode(m[1]).letter then return {'err', 'not_found'} end
if (m[2] or '') ~= '' or (m[3] or '') ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[10])
  return {'err', 'conflict'}
end
local seq = tonumber(m[4]) + 1
local entry = {'XADD', KEYS[2], string.format('%d-0', seq), 'from', 'counsellor',
  'cid', ARGV[4], 'text', ARGV[5], 'at', ARGV[6], 'author', ARGV[1]}
if ARGV[2] == '1' then
  table.insert(entry, 'name'); table.insert(entry, ARGV[3])
end
redis.call(unpack(entry))
redis.call('HSET', KEYS[3], seen_field, string.format('%d', seq))
redis.call('HSET', KEYS[1], 'last_seq', string.format('%d', seq),
  'lcmsg', ARGV[6], 'counsellor', ARGV[1], 'assigned_at', ARGV[6],
  'ended_at', ARGV[6])
redis.call('ZREM', KEYS[4], ARGV[10])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[10])
redis.call('PUBLISH', ARGV[9], ARGV[7] .. string.format('%d', seq) .. ARGV[8])
return {'ok', seq, redis.call('HGETALL', KEYS[1])}
