-- RevokeAccessToken: denylist a jti until its token's expiry (keeping the later expiry when it is
-- listed already), and drop the entries that ended more than a grace ago by this server's clock.
-- KEYS[1] the denylist (sorted set: jti -> expiry, unix ms)
-- ARGV[1] jti, ARGV[2] expiry (unix ms), ARGV[3] grace (ms)
-- Returns 1. The set expires a grace after its latest entry ends, so it is gone once all have.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local grace = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - grace))
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
local keep = tonumber(ARGV[2]) + grace
if redis.call('PEXPIRETIME', KEYS[1]) < keep then
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', keep))
end
return 1
