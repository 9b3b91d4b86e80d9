-- Shared by the scenario scripts in this folder (get.lua, password.lua, refresh.lua); not a
-- scenario itself. A scenario loads it with
--
--   local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
--
-- calls common.sent() in its request() (when it has one) and common.observe(status, headers) in
-- its response(), and ends with common.install("name"), which defines setup() and done().
--
-- done() prints ONE line to standard output, after wrk's own report:
--
--   WRKJSON {"script":"get","requests":N,"duration_us":N,"rps":F,"bytes":N,
--            "latency_us":{"mean":F,"p50":N,"p90":N,"p99":N,"max":N},
--            "status":{"200":N,...},"classes":{"2xx":N,"3xx":N,"4xx":N,"5xx":N,"other":N},
--            "responses":N,"non2xx":N,
--            "errors":{"connect":N,"read":N,"write":N,"timeout":N,"status":N},
--            "retry_after":{"503":N,...},
--            "status_latency_us":{"200":{"n":N,"p50":N,"p90":N,"p99":N,"max":N},...},
--            "counters":{"name":N,...}}
--
-- Latencies are microseconds. "latency_us" is wrk's own histogram over every response. "status"
-- counts responses by exact code, "classes" by class; "non2xx" is responses outside 2xx.
-- "errors" are wrk's: socket errors (connect, read, write), timeouts (no answer within --timeout)
-- and "status", wrk's count of codes above 399. "retry_after" counts the responses of each code
-- that carried a Retry-After header. "counters" are whatever a scenario counted with
-- common.bump(name).
--
-- "status_latency_us" times each request from request() to response() in Lua, per status code
-- (log buckets, about 1% wide). It is only right when every wrk thread has one connection
-- (-c equal to -t), so that a thread's requests never overlap; with more connections per thread
-- the figures are meaningless and the Go side (internal/wrk) drops them. Scripts without a
-- request() (get.lua) do not time at all.

local M = {}

M.marker = "WRKJSON "

-- This thread's counts: a global, so that done() (which runs in another Lua state) can read it
-- with thread:get("wrkstats"). It is one flat table on purpose: wrk 4.1.0 (Debian 12's) crashes
-- copying a table that holds a table. Keys: "status:CODE", "retry_after:CODE",
-- "lat:CODE:BUCKET", "latmax:CODE" and "counter:NAME".
wrkstats = {}

-- A monotonic clock in microseconds, through LuaJIT's FFI (wrk is built with LuaJIT). Without
-- it, nothing is timed per status.
local now_us
do
  local ok, ffi = pcall(require, "ffi")
  if ok and ffi then
    pcall(ffi.cdef, [[
      typedef struct { long tv_sec; long tv_nsec; } wrk_common_timespec;
      int clock_gettime(int clk_id, wrk_common_timespec *tp);
    ]])
    local monotonic = 1 -- CLOCK_MONOTONIC on Linux
    if ffi.os == "OSX" then monotonic = 6 end
    local ts = ffi.new("wrk_common_timespec")
    now_us = function()
      ffi.C.clock_gettime(monotonic, ts)
      return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
    end
  end
end

local sent_at = nil   -- when this thread's outstanding request was handed to wrk
local buckets = 100   -- histogram buckets per factor e: each about 1% wide

-- args turns the script's arguments (after "--" on wrk's command line) into a table of
-- key=value pairs. wrk also passes the URL (at index 0); it has no "key=" prefix and is skipped.
function M.args(args)
  local out = {}
  for _, a in pairs(args or {}) do
    local k, v = tostring(a):match("^([%w_]+)=(.*)$")
    if k then out[k] = v end
  end
  return out
end

-- urlencode escapes s for an application/x-www-form-urlencoded body.
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

-- fail stops wrk with a message: an unprotected error in a wrk thread would abort the process
-- without saying why.
function M.fail(msg)
  io.stderr:write(msg, "\n")
  io.stderr:flush()
  os.exit(2)
end

-- bump adds one to the scenario's counter name.
function M.bump(name)
  local k = "counter:" .. name
  wrkstats[k] = (wrkstats[k] or 0) + 1
end

-- sent notes when a request is handed to wrk; call it in request().
function M.sent()
  if now_us then sent_at = now_us() end
end

-- header returns the value of the header lname (lower case) in a response's headers, or nil.
function M.header(headers, lname)
  if headers == nil then return nil end
  for k, v in pairs(headers) do
    if string.lower(k) == lname then return v end
  end
  return nil
end

-- keys caches the wrkstats keys of each status code.
local keys = {}

local function keys_of(status)
  local k = keys[status]
  if k == nil then
    k = { status = "status:" .. status, retry = "retry_after:" .. status, max = "latmax:" .. status,
          lat = "lat:" .. status .. ":", buckets = {} }
    keys[status] = k
  end
  return k
end

-- observe counts one response; call it in response().
function M.observe(status, headers)
  local s, k = wrkstats, keys_of(status)
  s[k.status] = (s[k.status] or 0) + 1
  if headers ~= nil and (headers["Retry-After"] ~= nil or (status >= 300 and M.header(headers, "retry-after") ~= nil)) then
    s[k.retry] = (s[k.retry] or 0) + 1
  end
  if sent_at ~= nil then
    local us = now_us() - sent_at
    sent_at = nil
    if us < 1 then us = 1 end
    local b = math.floor(math.log(us) * buckets)
    local bk = k.buckets[b]
    if bk == nil then
      bk = k.lat .. b
      k.buckets[b] = bk
    end
    s[bk] = (s[bk] or 0) + 1
    if us > (s[k.max] or 0) then s[k.max] = us end
  end
end

-- The done() side: merging the threads' counts and writing the JSON line.

local function int(n)
  return string.format("%.0f", tonumber(n) or 0)
end

local function num(n)
  n = tonumber(n) or 0
  if n ~= n or n == math.huge or n == -math.huge then n = 0 end
  return string.format("%.3f", n)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- object encodes a table of counts as a JSON object (keys are codes or counter names).
local function object(t, encode)
  encode = encode or int
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do
    local key = tostring(k):gsub('[%c"\\]', "_")
    parts[#parts + 1] = '"' .. key .. '":' .. encode(t[k])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- percentiles of a merged log histogram: the upper edge of the bucket holding each rank, never
-- above the largest value seen.
local function hist_summary(h, max)
  local keys, n = {}, 0
  for b, c in pairs(h) do
    keys[#keys + 1] = b
    n = n + c
  end
  table.sort(keys)
  local function at(p)
    local rank, seen = math.max(1, math.ceil(n * p / 100)), 0
    for _, b in ipairs(keys) do
      seen = seen + h[b]
      if seen >= rank then return math.min(math.exp((b + 1) / buckets), max) end
    end
    return max
  end
  return '{"n":' .. int(n) .. ',"p50":' .. int(at(50)) .. ',"p90":' .. int(at(90)) ..
    ',"p99":' .. int(at(99)) .. ',"max":' .. int(max) .. "}"
end

local threads = {}

-- install defines the global setup() and done() for the scenario called name. setup() numbers
-- the threads from 1 (the global wrk_thread_id of each thread, set before its init()).
function M.install(name)
  function setup(thread)
    threads[#threads + 1] = thread
    thread:set("wrk_thread_id", #threads)
  end

  function done(summary, latency, requests)
    local status, retry, counters, lat, latmax = {}, {}, {}, {}, {}
    for _, t in ipairs(threads) do
      for key, v in pairs(t:get("wrkstats") or {}) do
        local kind, rest = tostring(key):match("^([%a_]+):(.*)$")
        local code = tonumber(rest)
        if kind == "status" then
          status[code] = (status[code] or 0) + v
        elseif kind == "retry_after" then
          retry[code] = (retry[code] or 0) + v
        elseif kind == "counter" then
          counters[rest] = (counters[rest] or 0) + v
        elseif kind == "latmax" then
          if v > (latmax[code] or 0) then latmax[code] = v end
        elseif kind == "lat" then
          local c, b = rest:match("^(%d+):(-?%d+)$")
          c, b = tonumber(c), tonumber(b)
          lat[c] = lat[c] or {}
          lat[c][b] = (lat[c][b] or 0) + v
        end
      end
    end
    local classes = { ["2xx"] = 0, ["3xx"] = 0, ["4xx"] = 0, ["5xx"] = 0, other = 0 }
    local responses = 0
    for code, n in pairs(status) do
      local class = math.floor(code / 100)
      local key = (class >= 2 and class <= 5) and (class .. "xx") or "other"
      classes[key] = classes[key] + n
      responses = responses + n
    end
    local per_status = {}
    for code, h in pairs(lat) do per_status[code] = hist_summary(h, latmax[code] or 0) end

    local secs = summary.duration / 1e6
    local rps = 0
    if secs > 0 then rps = summary.requests / secs end
    local e = summary.errors
    local line = table.concat({
      '{"script":"', (tostring(name):gsub('[%c"\\]', "_")), '"',
      ',"requests":', int(summary.requests),
      ',"duration_us":', int(summary.duration),
      ',"rps":', num(rps),
      ',"bytes":', int(summary.bytes),
      ',"latency_us":{"mean":', num(latency.mean),
      ',"p50":', int(latency:percentile(50)),
      ',"p90":', int(latency:percentile(90)),
      ',"p99":', int(latency:percentile(99)),
      ',"max":', int(latency.max), "}",
      ',"status":', object(status),
      ',"classes":', object(classes),
      ',"responses":', int(responses),
      ',"non2xx":', int(responses - classes["2xx"]),
      ',"errors":{"connect":', int(e.connect), ',"read":', int(e.read), ',"write":', int(e.write),
      ',"timeout":', int(e.timeout), ',"status":', int(e.status), "}",
      ',"retry_after":', object(retry),
      ',"status_latency_us":', object(per_status, function(s) return s end),
      ',"counters":', object(counters),
      "}",
    })
    io.write(M.marker, line, "\n")
    io.flush()
  end
end

return M
