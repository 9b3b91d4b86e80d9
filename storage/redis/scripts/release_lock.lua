-- ReleaseLock: delete the lock if the owner holds it (compare-and-delete).
-- KEYS[1] lock; ARGV[1] owner
-- Returns 1 when it was deleted, 0 when it was free or another owner's.
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
