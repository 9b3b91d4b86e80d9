-- DeleteClient: remove a client and its id from the index.
-- KEYS[1] id index (set), KEYS[2] client; ARGV[1] id
-- Returns 1, or 0 when there is no such client.
local n = redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
return n
