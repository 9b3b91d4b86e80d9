-- Refresh-token chains: each wrk thread presents its own refresh token (grant_type=refresh_token,
-- a form POST to wrk's URL), takes the refresh_token of each 200 answer and presents that one
-- next. The WRKJSON line of common.lua at the end.
--
--   wrk -t2 -c2 -d10s -s scripts/wrk/refresh.lua -H "Authorization: Basic ..." \
--       http://127.0.0.1:8080/token -- tokens=/tmp/refresh-tokens.txt
--
-- Script arguments (after "--"): tokens=FILE (required), one refresh token a line, at least one
-- line per thread: thread N (from 1) starts from line N. Optional client_id= / client_secret=
-- authenticate in the body instead of an Authorization header.
--
-- Run it with -c equal to -t. A thread's connections share its chain, so with two connections
-- a token would be presented twice and the issuer would revoke the chain as stolen (RFC 9700).
-- With one connection a thread's requests are sequential, and they are timed per status too.
--
-- Counters: "refresh_failed" (an answer other than 200: the same token is presented again, which
-- is right after a 503 and wrong after an invalid_grant) and "no_refresh_token" (a 200 without a
-- refresh_token: the chain cannot go on and the thread presents the spent token again).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local token, prefix, req

local function build()
  wrk.body = prefix .. common.urlencode(token)
  req = wrk.format()
end

function init(args)
  local a = common.args(args)
  if not a.tokens then
    common.fail("refresh.lua: give tokens=FILE (one refresh token a line) after -- on wrk's command line")
  end
  local f, err = io.open(a.tokens, "r")
  if not f then common.fail("refresh.lua: " .. tostring(err)) end
  local lines = {}
  for line in f:lines() do
    line = line:gsub("%s+$", "")
    if line ~= "" then lines[#lines + 1] = line end
  end
  f:close()
  local id = wrk_thread_id or 1
  token = lines[id]
  if not token then
    common.fail(string.format("refresh.lua: %s has %d tokens, thread %d needs line %d (one token per thread)",
      a.tokens, #lines, id, id))
  end
  prefix = ""
  if a.client_id then prefix = prefix .. "client_id=" .. common.urlencode(a.client_id) .. "&" end
  if a.client_secret then prefix = prefix .. "client_secret=" .. common.urlencode(a.client_secret) .. "&" end
  prefix = prefix .. "grant_type=refresh_token&refresh_token="
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  build()
end

function request()
  common.sent()
  return req
end

function response(status, headers, body)
  common.observe(status, headers)
  if status ~= 200 then
    common.bump("refresh_failed")
    return
  end
  local next = body and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if not next then
    common.bump("no_refresh_token")
    return
  end
  token = next
  build()
end

common.install("refresh")
