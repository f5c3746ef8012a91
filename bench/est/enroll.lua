-- wrk script for bench/est/run.sh: POSTs one fixed body on every request and sends exactly
-- COUNT requests in all, split over wrk's threads, then stops. wrk has no request-count
-- option, so the bound is kept here:
--   * delay() runs before every request on every connection: it grants a request while the
--     thread's share is not used up, and parks the connection (an hour's delay) once it is,
--     so no request beyond the share is ever written;
--   * response() counts answers; when the thread has its share answered it stops its event
--     loop and drops a file in DONE_DIR, which run.sh waits for before it interrupts wrk
--     (wrk's main thread otherwise sleeps out the whole -d duration).
-- Nothing is in flight when a thread stops, so every request sent has been answered.
-- Elapsed time is measured here (CLOCK_MONOTONIC through LuaJIT's ffi) from the scripts'
-- init, just before wrk connects, to the last answer of the slowest thread.
--   BODY_FILE      path of the request body
--   CONTENT_TYPE   its content type (application/pkcs10 for EST, application/json for REST)
--   AUTHORIZATION  value of the Authorization header (Basic ... or Bearer ...)
--   COUNT          requests in all, over every thread
--   THREADS        wrk's -t (a thread cannot see how many others there are)
--   DONE_DIR       where each thread drops "done-<n>" once its share is answered
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } est_bench_timespec;
  int clock_gettime(int clock_id, est_bench_timespec *tp);
]]
local ts = ffi.new("est_bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: one clock for every thread
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = assert(os.getenv("CONTENT_TYPE"), "CONTENT_TYPE is not set")
wrk.headers["Authorization"] = assert(os.getenv("AUTHORIZATION"), "AUTHORIZATION is not set")
local total = assert(tonumber(os.getenv("COUNT")), "COUNT is not set")
local nthreads = assert(tonumber(os.getenv("THREADS")), "THREADS is not set")
local done_dir = assert(os.getenv("DONE_DIR"), "DONE_DIR is not set")

-- setup() runs in the main Lua state once per thread, before that thread's init(). Thread i
-- of n gets floor(total / n) requests, and the first total % n threads one more.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  local i = #threads
  thread:set("id", i)
  thread:set("quota", math.floor(total / nthreads) + ((i <= total % nthreads) and 1 or 0))
end

function init(args)
  granted, answered, ok, non2xx, statuses = 0, 0, 0, 0, ""
  seen = {}
  start_us, last_us = now_us(), 0
end

function delay()
  if granted < quota then
    granted = granted + 1
    return 0
  end
  return 3600 * 1000 -- parked: this thread has sent its share
end

function response(status, headers, resp_body)
  answered = answered + 1
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
    seen[status] = (seen[status] or 0) + 1
    local parts = {}
    for s, n in pairs(seen) do parts[#parts + 1] = s .. ":" .. n end
    statuses = table.concat(parts, ",")
  end
  if answered == quota then
    last_us = now_us()
    wrk.thread:stop()
    local marker = assert(io.open(done_dir .. "/done-" .. id, "w"))
    marker:close()
  end
end

function done(summary, latency, requests)
  local sent, okt, bad, first, last, all_stopped, st = 0, 0, 0, math.huge, 0, true, {}
  for _, t in ipairs(threads) do
    sent = sent + t:get("answered")
    okt = okt + t:get("ok")
    bad = bad + t:get("non2xx")
    first = math.min(first, t:get("start_us"))
    if t:get("last_us") == 0 then all_stopped = false end
    last = math.max(last, t:get("last_us"))
    if t:get("statuses") ~= "" then st[#st + 1] = t:get("statuses") end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT answered=%d ok=%d non2xx=%d statuses=%s complete=%d elapsed_us=%d " ..
    "all_stopped=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
    sent, okt, bad, (#st > 0) and table.concat(st, ",") or "-", summary.requests,
    all_stopped and (last - first) or 0, all_stopped and 1 or 0,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.timeout))
end
