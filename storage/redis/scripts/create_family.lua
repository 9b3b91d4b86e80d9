-- CreateFamily: store a family, its first token and the user's family index.
-- KEYS[1] family, KEYS[2] first token, KEYS[3] the user's family index
-- ARGV[1] family id, ARGV[2] family expiry (unix ms), ARGV[3] token expiry (unix ms, capped),
-- ARGV[4..] family field/value pairs
-- Returns 1, or 0 when the family or the token exists already.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local fexp = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'f', ARGV[1], 'x', ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
local cur = redis.call('PEXPIRETIME', KEYS[3])
if cur < fexp then redis.call('PEXPIREAT', KEYS[3], ARGV[2]) end
return 1
