-- RevokeUserFamilies: revoke every live family in a user's index; forget those that expired.
-- KEYS[1] the user's family index; ARGV[1] now (unix ms), ARGV[2] family key prefix,
-- ARGV[3] family key suffix
-- Returns how many families this call revoked.
local n = 0
for _, fid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fkey = ARGV[2] .. fid .. ARGV[3]
  local v = redis.call('HMGET', fkey, 'c', 'v')
  if not v[1] then
    redis.call('SREM', KEYS[1], fid)
  elseif not v[2] or v[2] == '' then
    redis.call('HSET', fkey, 'v', ARGV[1])
    n = n + 1
  end
end
return n
