-- POST grant_type=password to wrk's URL (the token endpoint), counting the answers by status
-- (200, 400, 401, 429, 503, ...) and the 429 and 503 answers that carried Retry-After; the
-- WRKJSON line of common.lua at the end.
--
--   wrk -t50 -c50 -d10s --timeout 10s -s scripts/wrk/password.lua \
--       -H "Authorization: Basic $(printf 'app:%s' "$SECRET" | base64 -w0)" \
--       http://127.0.0.1:8080/token -- username=alice 'password=correct horse battery staple'
--
-- Script arguments (after "--"): username= and password= (required), scope= (optional), and
-- client_id= / client_secret= to authenticate in the body (client_secret_post) instead of an
-- Authorization header. With honor_retry_after=1 a thread waits as long as a 429 or 503 answer's
-- Retry-After says before its next request, as a well-behaved client does (exact with one
-- connection per thread); without it every connection asks again at once, the worst case.
-- With -c equal to -t the answers are also timed per status ("status_latency_us": how long a 200
-- took, and how long a 503).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local req
local honor, wait_ms = false, 0

function init(args)
  local a = common.args(args)
  if not a.username or not a.password then
    common.fail("password.lua: give username=NAME and password=SECRET after -- on wrk's command line")
  end
  local body = "grant_type=password&username=" .. common.urlencode(a.username) ..
    "&password=" .. common.urlencode(a.password)
  if a.scope then body = body .. "&scope=" .. common.urlencode(a.scope) end
  if a.client_id then body = body .. "&client_id=" .. common.urlencode(a.client_id) end
  if a.client_secret then body = body .. "&client_secret=" .. common.urlencode(a.client_secret) end
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  req = wrk.format()
  if a.honor_retry_after == "1" then
    honor = true
    -- Defined only here: wrk calls delay() before every request when it exists.
    function delay()
      local d = wait_ms
      wait_ms = 0
      return d
    end
  end
end

function request()
  common.sent()
  return req
end

function response(status, headers, body)
  common.observe(status, headers)
  if honor and (status == 429 or status == 503) then
    local secs = tonumber(common.header(headers, "retry-after"))
    if secs and secs > 0 then
      wait_ms = secs * 1000
      common.bump("retry_after_waits")
    end
  end
end

common.install("password")
