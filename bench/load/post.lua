-- wrk script for bench/load/run.sh: POSTs one JSON body on every request and counts the
-- response statuses, so the run can fail if any answer is not the expected one.
--   BODY_FILE      path of the request body (JSON)
--   AUTHORIZATION  value of the Authorization header (optional)
--   EXPECT_STATUS  the status every response must have (201 for certward, 200 for cfssl)
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTHORIZATION")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
local expect = tonumber(os.getenv("EXPECT_STATUS") or "201")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, bad, other_status = 0, 0, 0
end

function response(status, headers, resp_body)
  if status == expect then
    ok = ok + 1
  else
    bad = bad + 1
    other_status = status
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, seen = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
    if t:get("other_status") ~= 0 then seen = t:get("other_status") end
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT ok=%d bad=%d last_bad_status=%d requests=%d duration_us=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    ok_total, bad_total, seen, summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
