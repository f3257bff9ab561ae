-- The result line of a wrk run, read by bench/lib/wrk.sh:
--   BENCH_RESULT requests=N seconds=S rps=R p50_ms=X p99_ms=Y status_errors=N socket_errors=N
-- `status_errors` counts responses with a status of 400 or more (wrk's own count),
-- `socket_errors` connect, read, write and timeout errors. A case script loads this file
-- with `dofile` and may define `done` itself, calling `report_result`.

function report_result(summary, latency, extra)
   local errors = summary.errors
   local seconds = summary.duration / 1e6
   local line = string.format(
      "BENCH_RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f"
         .. " status_errors=%d socket_errors=%d",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      errors.status, errors.connect + errors.read + errors.write + errors.timeout)
   if extra then
      line = line .. " " .. extra
   end
   io.write(line .. "\n")
end

function done(summary, latency, requests)
   report_result(summary, latency)
end
