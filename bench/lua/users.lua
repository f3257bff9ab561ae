-- GET requests with a Bearer token, each request the next token of a list: as many
-- callers (users) as tokens, interleaved, as real traffic is. The requests are built
-- once per thread; each request only picks the next one.
--
-- Environment:
--   BENCH_ACCESS_TOKENS  file of access tokens, one per line (one per benchmark user)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local path = assert(os.getenv("BENCH_ACCESS_TOKENS"), "BENCH_ACCESS_TOKENS is not set")
local requests = {}
local next_request = 0

function init(args)
   local file = assert(io.open(path, "r"))
   for token in file:lines() do
      if token ~= "" then
         requests[#requests + 1] =
            wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
      end
   end
   file:close()
   assert(#requests > 0, "no access token in " .. path)
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end
