-- POST one fixed application/x-www-form-urlencoded body to wrk's URL, counting the answers by
-- status; the WRKJSON line of common.lua at the end. For example, client_credentials, or an
-- introspection of one access token:
--
--   wrk -t2 -c8 -d10s -s scripts/wrk/post.lua -H "Authorization: Basic ..." \
--       http://127.0.0.1:8080/token -- 'body=grant_type=client_credentials&scope=read'
--
-- Script argument (after "--"): body= (required), the form exactly as it is to be sent (already
-- encoded; everything after the first "=" is the body). Client authentication by header goes in
-- wrk's -H. The request is built once (no request() function), as in get.lua, so nothing is timed
-- per status: the figures are wrk's own.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  local a = common.args(args)
  if not a.body or a.body == "" then
    common.fail("post.lua: give body=FORM after -- on wrk's command line")
  end
  wrk.method = "POST"
  wrk.body = a.body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function response(status, headers, body)
  common.observe(status, headers)
end

common.install("post")
