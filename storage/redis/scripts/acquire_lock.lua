-- AcquireLock: take the lock for an owner if it is free, expired at the caller's now, or held by
-- that owner already; then it is the owner's until expiry (the caller's now + ttl).
-- KEYS[1] lock; ARGV[1] owner, ARGV[2] now (unix ms), ARGV[3] expiry (unix ms), ARGV[4] ttl (ms)
-- Returns 1 when the owner holds the lock now, 0 (changing nothing) when another owner holds it.
-- The key's PX TTL of ttl is only garbage collection: expiry is decided on the stored expiry and
-- the caller's now, like every other expiry (see storage.LockStore).
local held = redis.call('HMGET', KEYS[1], 'o', 'x')
if held[1] and held[1] ~= ARGV[1] and tonumber(held[2]) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'x', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
