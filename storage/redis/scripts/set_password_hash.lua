-- SetPasswordHash: replace a user's hash, optionally only if it still equals an expected one.
-- KEYS[1] user; ARGV[1] '1' to compare, ARGV[2] expected, ARGV[3] new hash, ARGV[4] at (unix ms)
-- Returns 1 done, 0 no such user, -1 the stored hash differs from the expected one.
local p = redis.call('HMGET', KEYS[1], 'n', 'p')
if not p[1] then return 0 end
if ARGV[1] == '1' and (p[2] or '') ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'p', ARGV[3], 'u', ARGV[4])
return 1
