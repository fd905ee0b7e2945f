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
  -- Optional fixed pacing: BENCH_DELAY_MS per connection between requests.
  pacing = tonumber(args[1] or "0")
end

function request()
  counter = counter + 1
  local body = "email=bench" .. thread_id .. "x" .. counter .. "%40example.net&name=bench"
  return wrk.format("POST", "/lists/bench/subscribe",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end

function delay()
  return pacing
end
