-- AddFailure: count a failure in the key's window, opening a new window if none is open at now.
-- KEYS[1] throttle key; ARGV[1] now (unix ms), ARGV[2] window (ms)
-- Returns {count, window end (unix ms)}. The key expires at the window's end.
local now = tonumber(ARGV[1])
local e = tonumber(redis.call('HGET', KEYS[1], 'e') or '')
local c
if not e or e <= now then
  e = now + tonumber(ARGV[2])
  c = 1
  redis.call('HSET', KEYS[1], 'c', 1, 'e', string.format('%d', e))
else
  c = redis.call('HINCRBY', KEYS[1], 'c', 1)
end
redis.call('PEXPIREAT', KEYS[1], string.format('%d', e))
return {c, string.format('%d', e)}
