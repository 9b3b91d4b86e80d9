-- CreateClient: store a client unless its id is taken.
-- KEYS[1] id index (set), KEYS[2] client; ARGV[1] id, ARGV[2..] client field/value pairs
-- Returns 1, or 0 when the id is taken.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('SADD', KEYS[1], ARGV[1])
return 1
