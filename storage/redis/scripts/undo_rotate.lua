-- UndoRotate: take back a Rotate whose reply was lost, so its caller's "temporarily unavailable"
-- holds. KEYS[1] the presented token, KEYS[2] the successor that Rotate stored, KEYS[3] the
-- family's grace record. The successor's hash was known only to that caller, which never handed
-- the token out, so its existence proves that this Rotate ran and spent KEYS[1]; no one can have
-- used it. A grace record that Rotate kept for KEYS[1] goes too: it holds that successor.
-- Returns 1 when it undid the Rotate, 0 when there was nothing to undo (the Rotate never ran, or
-- was undone already).
local succ = redis.call('HMGET', KEYS[2], 'f', 's')
if not succ[1] or (succ[2] and succ[2] ~= '') then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 's')
if redis.call('HGET', KEYS[3], 'k') == KEYS[1] then redis.call('DEL', KEYS[3]) end
return 1
