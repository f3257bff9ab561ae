-- POST /login/ with the password of the benchmark users: wrk thread N logs in as user
-- ((N - 1) mod BENCH_USERS) + 1, every request a full login (argon2id verification and
-- a new session).
--
-- Environment:
--   BENCH_EMAIL     the e-mail address pattern, with %d for the user number
--                   (e.g. bench%d@example.com)
--   BENCH_USERS     how many users exist (numbered from 1)
--   BENCH_PASSWORD  their password (a throwaway benchmark password)

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local email_pattern = assert(os.getenv("BENCH_EMAIL"), "BENCH_EMAIL is not set")
local users = assert(tonumber(os.getenv("BENCH_USERS")), "BENCH_USERS is not set")
local password = assert(os.getenv("BENCH_PASSWORD"), "BENCH_PASSWORD is not set")

local count = 0

function setup(thread)
   count = count + 1
   thread:set("user", ((count - 1) % users) + 1)
end

function init(args)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = string.format('{"email":"%s","password":"%s"}',
      string.format(email_pattern, user), password)
end
