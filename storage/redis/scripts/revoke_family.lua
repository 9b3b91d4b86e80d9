-- RevokeFamily: mark a family revoked unless it is gone or revoked already.
-- KEYS[1] family; ARGV[1] now (unix ms)
-- Returns 1 when this call revoked it, else 0.
local v = redis.call('HMGET', KEYS[1], 'c', 'v')
if not v[1] or (v[2] and v[2] ~= '') then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
return 1
