-- RevokeUserFamilies: revoke every live family in a user's index; forget those that expired.
-- KEYS[1] the user's family index, KEYS[2..] the families the caller read from it;
-- ARGV[1] now (unix ms), ARGV[2..] the family ids, ARGV[i] that of KEYS[i]
-- Returns how many families this call revoked, or -1 (nothing done) when the index holds a
-- family not passed in KEYS: a login came in after the caller read the index, so read it again.
local passed = {}
for i = 2, #ARGV do passed[ARGV[i]] = true end
for _, fid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not passed[fid] then return -1 end
end
local n = 0
for i = 2, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'c', 'v')
  if not v[1] then
    redis.call('SREM', KEYS[1], ARGV[i])
  elseif not v[2] or v[2] == '' then
    redis.call('HSET', KEYS[i], 'v', ARGV[1])
    n = n + 1
  end
end
return n
