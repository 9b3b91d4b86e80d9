-- SetUserNotBefore: move a user's not-before time and its end forward (each keeps the later of
-- the stored and the given value), and drop up to 100 entries that ended more than a grace ago by
-- this server's clock.
-- KEYS[1] the not-before times (hash: user id -> "<not before>:<keep until>", unix ms),
-- KEYS[2] their ends (sorted set: user id -> keep until), for dropping ended entries
-- ARGV[1] user id, ARGV[2] not before (unix ms), ARGV[3] keep until (unix ms), ARGV[4] grace (ms)
-- Returns 1. Both keys expire a grace after their latest entry ends.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local grace = tonumber(ARGV[4])
local ended = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - grace), 'LIMIT', 0, 100)
if #ended > 0 then
  redis.call('HDEL', KEYS[1], unpack(ended))
  redis.call('ZREM', KEYS[2], unpack(ended))
end
local t, keep = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ot, okeep = string.match(old, '^(%d+):(%d+)$')
  if tonumber(ot) and tonumber(ot) > t then t = tonumber(ot) end
  if tonumber(okeep) and tonumber(okeep) > keep then keep = tonumber(okeep) end
end
local ks = string.format('%d', keep)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', t) .. ':' .. ks)
redis.call('ZADD', KEYS[2], ks, ARGV[1])
local drop = keep + grace
for i = 1, 2 do
  if redis.call('PEXPIRETIME', KEYS[i]) < drop then
    redis.call('PEXPIREAT', KEYS[i], string.format('%d', drop))
  end
end
return 1
