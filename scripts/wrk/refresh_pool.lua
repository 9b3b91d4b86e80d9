-- Refresh grants from a pool: every request presents a refresh token of the pool that no other
-- request presents (grant_type=refresh_token, a form POST to wrk's URL), so that each token is
-- spent exactly once, whatever the number of threads and connections. The successors in the
-- answers are not used. The WRKJSON line of common.lua at the end.
--
--   wrk -t2 -c8 -d10s -s scripts/wrk/refresh_pool.lua -H "Authorization: Basic ..." \
--       http://127.0.0.1:8080/token -- tokens=/tmp/pool.txt threads=2
--
-- Script arguments (after "--"): tokens=FILE (required), one refresh token a line, each of a
-- sign-in of its own (a refresh-token family: two tokens of one family would make the second a
-- reuse); threads=N (required), wrk's -t: thread K (from 1) takes lines K, K+N, K+2N, ..., so the
-- threads never share a token. Optional client_id= / client_secret= authenticate in the body
-- instead of an Authorization header.
--
-- Size the pool above the requests the run can make. A thread whose share is spent presents
-- "pool-ran-dry" instead (an invalid grant, answered 400) and counts "pool_dry"; the run is then
-- void, and the counters say so. Counters: "pool_used" (tokens handed out: the requests, plus
-- one token of thread 1 that wrk takes when it checks the script at start and never sends),
-- "pool_dry" (requests sent after the thread's share ran out) and "pool_size" (the shares).
--
-- Nothing is timed per status with more connections than threads (see common.lua).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prefix, tokens, next_token = "", {}, 1

function init(args)
  local a = common.args(args)
  if not a.tokens then
    common.fail("refresh_pool.lua: give tokens=FILE (one refresh token a line) after -- on wrk's command line")
  end
  local n = tonumber(a.threads)
  if not n or n < 1 or n ~= math.floor(n) then
    common.fail("refresh_pool.lua: give threads=N (wrk's -t) after -- on wrk's command line")
  end
  local id = wrk_thread_id or 1
  if id > n then
    common.fail(string.format("refresh_pool.lua: thread %d of threads=%d: threads= must equal wrk's -t", id, n))
  end
  local f, err = io.open(a.tokens, "r")
  if not f then common.fail("refresh_pool.lua: " .. tostring(err)) end
  local i = 0
  for line in f:lines() do
    line = line:gsub("%s+$", "")
    if line ~= "" then
      i = i + 1
      if (i - 1) % n == id - 1 then tokens[#tokens + 1] = common.urlencode(line) end
    end
  end
  f:close()
  if #tokens == 0 then
    common.fail(string.format("refresh_pool.lua: %s holds no token for thread %d of %d", a.tokens, id, n))
  end
  wrkstats["counter:pool_size"] = #tokens -- common.lua's per-thread counts
  if a.client_id then prefix = prefix .. "client_id=" .. common.urlencode(a.client_id) .. "&" end
  if a.client_secret then prefix = prefix .. "client_secret=" .. common.urlencode(a.client_secret) .. "&" end
  prefix = prefix .. "grant_type=refresh_token&refresh_token="
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  common.sent()
  local tok = tokens[next_token]
  if tok then
    tokens[next_token] = nil -- handed out: never again
    next_token = next_token + 1
    common.bump("pool_used")
  else
    tok = "pool-ran-dry"
    common.bump("pool_dry")
  end
  return wrk.format(nil, nil, nil, prefix .. tok)
end

function response(status, headers, body)
  common.observe(status, headers)
end

common.install("refresh_pool")
