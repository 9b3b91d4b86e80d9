-- Rotate: spend one refresh token and store its successor, in one atomic step.
-- KEYS[1] presented token, KEYS[2] successor token, KEYS[3] the family the presented token names,
-- KEYS[4] the family's grace record (the response kept for its latest spend, while it replays)
-- ARGV[1] now (unix ms), ARGV[2] client id, ARGV[3] successor's idle expiry (unix ms),
-- ARGV[4] family id (of KEYS[3]), ARGV[5] run-by time on this server's clock (unix ms),
-- ARGV[6] grace (ms; 0: none), ARGV[7] the response to keep for the grace (empty without grace),
-- ARGV[8..] requested scope
-- A token not stored under the family ARGV[4] is not found (code 1), and nothing changes.
-- Reached after ARGV[5], the caller has stopped waiting: code 8, and nothing changes.
-- A spent token presented again by the client that spent it, while the grace record still
-- names it and has not ended at ARGV[1], replays: {9, response}, and nothing changes.
-- Returns {code} on refusal, {0, family fields...} on success. Codes: see refresh.go.
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(ARGV[5]) then return {8} end
local now = tonumber(ARGV[1])
local tok = redis.call('HMGET', KEYS[1], 'f', 'x', 's')
local fid = tok[1]
if not fid or fid ~= ARGV[4] then return {1} end
local fam = redis.call('HMGET', KEYS[3], 'c', 'x', 's', 'v')
if not fam[1] then return {1} end
if fam[4] and fam[4] ~= '' then return {2} end
if tok[3] and tok[3] ~= '' then
  local g = redis.call('HMGET', KEYS[4], 'k', 'c', 'e', 'r')
  if g[1] == KEYS[1] and g[2] == ARGV[2] and tonumber(g[3]) > now then return {9, g[4]} end
  redis.call('HSET', KEYS[3], 'v', ARGV[1])
  return {3}
end
local fexp = tonumber(fam[2])
if tonumber(tok[2]) <= now or fexp <= now then return {4} end
if fam[1] ~= ARGV[2] then return {5} end
if #ARGV > 7 then
  local granted = {}
  if fam[3] and fam[3] ~= '' then
    for _, s in ipairs(cjson.decode(fam[3])) do granted[s] = true end
  end
  for i = 8, #ARGV do
    if not granted[ARGV[i]] then return {6} end
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {7} end
redis.call('HSET', KEYS[1], 's', ARGV[1])
local nexp = tonumber(ARGV[3])
if nexp > fexp then nexp = fexp end
redis.call('HSET', KEYS[2], 'f', fid, 'x', string.format('%d', nexp))
redis.call('PEXPIREAT', KEYS[2], fam[2])
local grace = tonumber(ARGV[6])
if grace > 0 then
  redis.call('HSET', KEYS[4], 'k', KEYS[1], 'c', ARGV[2], 'e', string.format('%d', now + grace), 'r', ARGV[7])
  -- Relative to Redis's own clock, with a second to spare: 'e' decides, the TTL only cleans up.
  redis.call('PEXPIRE', KEYS[4], grace + 1000)
else
  redis.call('DEL', KEYS[4])
end
local out = redis.call('HGETALL', KEYS[3])
table.insert(out, 1, 0)
return out
