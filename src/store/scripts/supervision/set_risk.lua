-- Change a conversation's risk level (Store::set_risk), moving a queued
-- conversation to its new place and storing the alert in the same step.
-- KEYS: 1 meta (hash), 2 queue (zset), 3 alerts (hash), 4 alert order (zset)
-- ARGV: 1 conversation id, 2 "triage" or "staff", 3 alert id, 4 now_ms,
--       5 level names in ascending order (JSON), 6 the queue class of each
--       (JSON, same order), then
--       triage: 7.. (rule id, level, reason JSON) per hit;
--       staff:  7 level, 8 reason JSON
-- Validates (exists, not ended) before writing. Triage applies while
-- queued and while active (a hit mid-chat raises the level too).
-- Returns {"ok", level before, HGETALL meta, alert JSON or ''} or {"err", code}.
local m = redis.call('HMGET', KEYS[1], 'state', 'risk', 'reasons', 'priority',
  'requeued')
if not m[1] then return {'err', 'not_found'} end
if m[1] == 'ended' then return {'err', 'ended'} end
local levels = cjson.decode(ARGV[5])
local prios = cjson.decode(ARGV[6])
local rank = {}
for i, l in ipairs(levels) do rank[l] = i end
local was = m[2]
if not was or was == '' then was = levels[1] end
local reasons = m[3]
if not reasons or reasons == '' then reasons = '[]' end
local level = was
local added = {}
local alert = false
if ARGV[2] == 'triage' then
  local known = {}
  for _, r in ipairs(cjson.decode(reasons)) do
    if r.source == 'triage' then known[r.rule] = true end
  end
  for i = 7, #ARGV, 3 do
    if not known[ARGV[i]] then
      known[ARGV[i]] = true
      table.insert(added, ARGV[i + 2])
      if rank[ARGV[i + 1]] > rank[level] then level = ARGV[i + 1] end
    end
  end
  alert = #added > 0
else
  level = ARGV[7]
  added = {ARGV[8]}
  alert = rank[level] > rank[was]
end
if #added > 0 then
  if reasons == '[]' then
    reasons = '[' .. table.concat(added, ',') .. ']'
  else
    reasons = string.sub(reasons, 1, -2) .. ',' .. table.concat(added, ',') .. ']'
  end
end
local priority = prios[rank[level]]
redis.call('HSET', KEYS[1], 'risk', level, 'reasons', reasons,
  'priority', priority)
if m[1] == 'queued' and priority ~= m[4] then
  -- Arrival time and requeued flag are kept: only the class changes.
  local suffix = ''
  if m[5] == '1' then suffix = '_rq' end
  local score = redis.call('HGET', KEYS[1], 'score_' .. priority .. suffix)
  redis.call('ZADD', KEYS[2], score, ARGV[1])
end
local alert_json = ''
if alert then
  alert_json = '{"id":"' .. ARGV[3] .. '","conversation":"' .. ARGV[1] ..
    '","level":"' .. level .. '","reasons":[' .. table.concat(added, ',') ..
    '],"at_ms":' .. ARGV[4] .. ',"acked_by":null,"acked_at_ms":null}'
  redis.call('HSET', KEYS[3], ARGV[3], alert_json)
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
end
return {'ok', was, redis.call('HGETALL', KEYS[1]), alert_json}
