-- wrk script: POST the subscribe form for a new address each time (distinct per
-- thread and request), so every request does the full intake work.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  -- Optional fixed pacing: milliseconds per connection between requests.
  pacing = tonumber(args[1] or "0")
  -- A tag per wrk run, so a second run posts new addresses too rather than repeats
  -- (a repeat within 15 minutes takes the cheap "already mailed" path).
  run = args[2] or "a"
end

function request()
  counter = counter + 1
  local body = "email=bench" .. run .. thread_id .. "x" .. counter .. "%40example.net&name=bench"
  return wrk.format("POST", "/lists/bench/subscribe",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function delay()
  return pacing
end
