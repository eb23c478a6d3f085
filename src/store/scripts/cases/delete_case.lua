-- Forget an anonymous case (CaseStore::delete_case) with its indexes, if
-- it is still the version the node read (its conversations named in KEYS
-- are then exactly the case's).
-- KEYS: 1 the case, 2 its code's index, 3.. each conversation's case_of
-- ARGV: 1 the JSON read
-- Returns {"ok"} or {"err", "conflict"} (nothing changed: read again).
local cur = redis.call('GET', KEYS[1])
if not cur then return {'err', 'not_found'} end
if cur ~= ARGV[1] then return {'err', 'conflict'} end
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
return {'ok'}
