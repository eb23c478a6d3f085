-- Shared by end_conversation.lua and sweep_abandon.lua (prepended to each
-- when the scripts are loaded, src/store/redis/mod.rs): every supervisor
-- access still open on a conversation that ends is closed in the end's
-- own step. One leave_by_end entry per access is pushed on `audit`, made
-- from `template` (the entry's JSON with the nil account id as a
-- placeholder and no duration_ms) with the supervisor and the access's
-- duration, and the record's sups are emptied.
local function close_accesses(meta, audit, sups, template, now)
  local nil_id = '00000000-0000-0000-0000-000000000000'
  local at = string.find(template, nil_id, 1, true)
  for _, s in ipairs(sups) do
    local since = tonumber(s.since_ms or 0) or 0
    local d = 0
    if since > 0 and now > since then d = now - since end
    local entry = string.sub(template, 1, at - 1) .. s.supervisor ..
      string.sub(template, at + #nil_id)
    entry = string.sub(entry, 1, -2) .. ',"duration_ms":' .. string.format('%.0f', d) .. '}'
    redis.call('LPUSH', audit, entry)
  end
  if #sups > 0 then redis.call('HSET', meta, 'sups', '[]') end
end
