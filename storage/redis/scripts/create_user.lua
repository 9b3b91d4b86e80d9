-- CreateUser: store a user unless its name or id is taken.
-- KEYS[1] name index (hash name -> id), KEYS[2] user
-- ARGV[1] username, ARGV[2] id, ARGV[3..] user field/value pairs
-- Returns 1, or 0 when the name or id is taken.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
return 1
