-- SwapKeySet: replace the key set if its version still equals the expected one, and tell every
-- watcher (WatchKeySet) in the same step.
-- KEYS[1] key set; ARGV[1] expected version, ARGV[2] keys (JSON), ARGV[3] change channel
-- Returns the new version, or -1 when the stored version differs.
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local nxt = string.format('%d', cur + 1)
if cur ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', nxt, 'k', ARGV[2])
-- A channel, not a key: PUBLISH reaches subscribers on every node of a Cluster.
redis.call('PUBLISH', ARGV[3], nxt)
return cur + 1
