-- Chained /refresh/ rotations, as browsers do them. Run wrk with as many threads as
-- connections (`-t N -c N`): each thread then has one connection and one session, and
-- always presents the refresh token that its previous rotation returned.
--
-- Environment:
--   BENCH_TOKENS        file of refresh tokens, one per line, at least one per thread
--                       (fresh logins: a run cannot continue the chains of an earlier
--                       one, because wrk stops with requests in flight that the server
--                       may have rotated, and presenting their token again is a replay,
--                       which closes the session)
--   BENCH_REFRESH_MODE  "cookie" (default: the refresh_token cookie) or "body" (the
--                       `refresh` field), as the server's REFRESH_TOKEN_AS_COOKIE
--   BENCH_TRACE         when set, thread N writes one line per request to
--                       $BENCH_TRACE.N: "<start, µs since the epoch> <latency, µs> <status>"
--
-- A response that is not 200 with a new token counts as a failure and the chain keeps
-- its previous token (which the server then treats as a replay: the failures go on).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local ffi = require("ffi")
ffi.cdef [[
   typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
   int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_REALTIME = 0
local clock = ffi.new("bench_timespec")

local function now_us()
   ffi.C.clock_gettime(CLOCK_REALTIME, clock)
   return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local tokens_path = os.getenv("BENCH_TOKENS")
local mode = os.getenv("BENCH_REFRESH_MODE") or "cookie"
local trace_prefix = os.getenv("BENCH_TRACE")

local function read_tokens(path)
   local tokens = {}
   local file = assert(io.open(assert(path, "BENCH_TOKENS is not set"), "r"))
   for line in file:lines() do
      if line ~= "" then
         tokens[#tokens + 1] = line
      end
   end
   file:close()
   return tokens
end

-- The main state: hands each thread its chain.
local tokens = read_tokens(tokens_path)
local threads = {}

function setup(thread)
   local index = #threads + 1
   if not tokens[index] then
      error("BENCH_TOKENS holds " .. #tokens .. " tokens: one per wrk thread is needed")
   end
   thread:set("index", index)
   thread:set("token", tokens[index])
   threads[index] = thread
end

-- Each thread's state: its chain and its counts.
rotations = 0
failures = 0
local started = 0
local trace = nil

function init(args)
   if trace_prefix then
      trace = assert(io.open(trace_prefix .. "." .. index, "w"))
   end
end

function request()
   if trace then
      started = now_us()
   end
   if mode == "body" then
      return wrk.format("POST", "/refresh/", { ["Content-Type"] = "application/json" },
         '{"refresh":"' .. token .. '"}')
   end
   return wrk.format("POST", "/refresh/", { ["Cookie"] = "refresh_token=" .. token }, nil)
end

local function new_token(headers, body)
   if mode == "body" then
      return body:match('"refresh"%s*:%s*"([^"]+)"')
   end
   for name, value in pairs(headers) do
      if name:lower() == "set-cookie" then
         return value:match("refresh_token=([^;]+)")
      end
   end
   return nil
end

function response(status, headers, body)
   if trace then
      trace:write(string.format("%.0f %.0f %d\n", started, now_us() - started, status))
   end
   local token_next = status == 200 and new_token(headers, body) or nil
   if token_next then
      token = token_next
      rotations = rotations + 1
   else
      failures = failures + 1
   end
end

function done(summary, latency, requests)
   local rotated, failed = 0, 0
   for _, thread in ipairs(threads) do
      rotated = rotated + thread:get("rotations")
      failed = failed + thread:get("failures")
   end
   report_result(summary, latency, string.format("rotations=%d failures=%d", rotated, failed))
end
