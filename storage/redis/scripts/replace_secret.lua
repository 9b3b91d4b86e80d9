-- ReplaceSecret: store ARGV[2] if the stored value is still ARGV[1].
-- KEYS[1] secret; ARGV[1] expected value; ARGV[2] new value
-- Reply: 1 replaced, 0 no such secret, 2 the stored value differs.
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if v ~= ARGV[1] then return 2 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
