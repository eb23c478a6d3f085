-- Add a counsellor's private note to an existing conversation.
-- KEYS: 1 meta (hash), 2 notes (list of JSON)
-- ARGV: 1 note JSON
if redis.call('EXISTS', KEYS[1]) == 0 then return {'err', 'not_found'} end
redis.call('RPUSH', KEYS[2], ARGV[1])
return {'ok'}
