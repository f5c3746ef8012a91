-- wrk script for bench/ocsp/run.sh: plain GETs of the URL given to wrk, and one
-- machine-readable line at the end. It defines no `request` or `response` hook, so wrk sends
-- its pre-built request and does not hand bodies to Lua: the load generator costs the same
-- for every server measured. Non-2xx/3xx answers are in err_status (wrk counts them itself);
-- the run fails on any.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d bytes=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
