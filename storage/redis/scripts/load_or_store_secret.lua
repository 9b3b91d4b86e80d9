-- LoadOrStoreSecret: the stored value, storing ARGV[1] first if there is none.
-- KEYS[1] secret; ARGV[1] value
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
