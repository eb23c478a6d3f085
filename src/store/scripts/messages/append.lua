-- Append one message to a conversation's log.
-- KEYS: 1 meta (hash), 2 log (stream),
--       3 seen (hash: "party:author id:client id" -> seq; the author id is
--       empty for the visitor, so one counsellor never collides with another)
-- ARGV: 1 from party, 2 author id ('' = none), 3 "1" if there is an author
--       name, 4 author name, 5 client id, 6 text, 7 now_ms,
--       8 required writer id ('' = no requirement),
--       9, 10 the message's event JSON before and after its sequence number,
--       11 the events channel
-- A resend is answered first (even after the end): {"dup", seq}. Then the
-- end and the writer requirement are checked (the conversation is active
-- and the writer is its counsellor or a supervisor who joined:
-- ConversationRecord::writable_by); then the next sequence number is taken,
-- the entry written with the stream id "<seq>-0", and the last message time
-- of its side set (a visitor's message also clears the silence mark),
-- and the event published: one round trip per message, and no event for a
-- message that was not stored.
-- Returns {"ok", seq}, {"dup", seq} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'last_seq', 'sups')
if not m[1] then return {'err', 'not_found'} end
local seen_field = ARGV[1] .. ':' .. ARGV[2] .. ':' .. ARGV[5]
local seen = redis.call('HGET', KEYS[3], seen_field)
if seen then return {'dup', tonumber(seen)} end
if m[1] == 'ended' then return {'err', 'ended'} end
if ARGV[8] ~= '' then
  local ok = false
  if m[1] == 'active' then
    if m[2] == ARGV[8] then ok = true end
    for _, s in ipairs(cjson.decode(m[4] or '[]')) do
      if s.supervisor == ARGV[8] and s.mode == 'join' then ok = true end
    end
  end
  if not ok then return {'err', 'not_yours'} end
end
local seq = tonumber(m[3]) + 1
local entry = {'XADD', KEYS[2], string.format('%d-0', seq), 'from', ARGV[1],
  'cid', ARGV[5], 'text', ARGV[6], 'at', ARGV[7]}
if ARGV[2] ~= '' then
  table.insert(entry, 'author'); table.insert(entry, ARGV[2])
end
if ARGV[3] == '1' then
  table.insert(entry, 'name'); table.insert(entry, ARGV[4])
end
redis.call(unpack(entry))
redis.call('HSET', KEYS[3], seen_field, string.format('%d', seq))
redis.call('HSET', KEYS[1], 'last_seq', string.format('%d', seq))
if ARGV[1] == 'visitor' then
  redis.call('HSET', KEYS[1], 'lvmsg', ARGV[7], 'silent', '')
else
  redis.call('HSET', KEYS[1], 'lcmsg', ARGV[7])
end
redis.call('PUBLISH', ARGV[11], ARGV[9] .. string.format('%d', seq) .. ARGV[10])
return {'ok', seq}
