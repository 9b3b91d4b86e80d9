-- KeepNewestFamilies: revoke all but the ARGV[2] newest live families in a user's index.
-- KEYS[1] the user's family index, KEYS[2..] the families the caller read from it;
-- ARGV[1] now (unix ms), ARGV[2] how many to keep, ARGV[3..] the family ids, ARGV[i+1] that of
-- KEYS[i]. Live: stored, not revoked, expiring after ARGV[1]. Newest: the later creation time
-- ('t', unix ms; none is the oldest), then the larger id byte-wise.
-- Returns how many families this call revoked, or -1 (nothing done) when the index holds a
-- family not passed in KEYS: a login came in after the caller read the index, so read it again.
local passed = {}
for i = 3, #ARGV do passed[ARGV[i]] = true end
for _, fid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not passed[fid] then return -1 end
end
local now = tonumber(ARGV[1])
local live = {}
for i = 2, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'c', 'v', 'x', 't')
  if not f[1] then
    redis.call('SREM', KEYS[1], ARGV[i + 1])
  elseif (not f[2] or f[2] == '') and tonumber(f[3]) > now then
    table.insert(live, {key = i, id = ARGV[i + 1], t = tonumber(f[4]) or 0})
  end
end
-- Byte-wise, whatever locale the server's strcoll follows.
local function bytesAfter(a, b)
  local n = math.min(#a, #b)
  for j = 1, n do
    local x, y = string.byte(a, j), string.byte(b, j)
    if x ~= y then return x > y end
  end
  return #a > #b
end
table.sort(live, function(a, b)
  if a.t ~= b.t then return a.t > b.t end
  return bytesAfter(a.id, b.id)
end)
local n = 0
for j = tonumber(ARGV[2]) + 1, #live do
  local k = live[j].key
  redis.call('HSET', KEYS[k], 'v', ARGV[1])
  n = n + 1
end
return n
