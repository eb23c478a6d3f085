-- Write an anonymous case (CaseStore::take_return_code, join_case) with
-- its indexes, if it is still the version it was read as (compare and
-- set on the whole JSON; Rust computed the new version with the model's
-- rules, shared with the memory store).
-- KEYS: 1 the case (string, JSON), 2 the new code's index,
--       3 the earlier code's index (= KEYS[2] when the code is unchanged
--       or the case is new), 4.. each conversation's case_of
-- ARGV: 1 the JSON read ("" = must not exist yet), 2 the new JSON,
--       3 the case id
-- Returns {"ok"} or {"err", "conflict"} (nothing changed: read again).
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return {'err', 'conflict'} end
-- A new case: its one conversation must not have a case already.
if ARGV[1] == '' and redis.call('EXISTS', KEYS[4]) == 1 then return {'err', 'conflict'} end
if KEYS[3] ~= KEYS[2] then redis.call('DEL', KEYS[3]) end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
for i = 4, #KEYS do redis.call('SET', KEYS[i], ARGV[3]) end
return {'ok'}
