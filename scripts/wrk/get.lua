-- A plain GET of wrk's URL, counting the answers by status; the WRKJSON line of common.lua at
-- the end. For example, the public key set:
--
--   wrk -t2 -c8 -d10s -s scripts/wrk/get.lua http://127.0.0.1:8080/.well-known/jwks.json
--
-- Extra -H headers are sent as given. The request is built once (no request() function), so
-- nothing is timed per status: the figures are wrk's own.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function response(status, headers, body)
  common.observe(status, headers)
end

common.install("get")
