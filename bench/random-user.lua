-- wrk script for scripts/bench.sh: every request is GET <prefix><id> for a
-- random user 1..N (N = first script argument, default 100000; prefix = the
-- second, default /user/), read by that customer (x-client-id: shop,
-- x-user-id: <id>). With "sequential" as the third argument, ids go 1, 2, ...
-- N in turn instead (thread t of the fourth argument's count, default 2,
-- takes t, t + count, ...), to warm a cache; "gzip" as the fifth argument
-- adds Accept-Encoding: gzip, as a browser sends it. Counts the non-2xx answers by
-- status, and those 429/503 answers that lack a Retry-After header. done()
-- prints requestsPerSecond (every answer) and okPerSecond (2xx answers only);
-- one JSON line, the only line of wrk's output that starts with "{".
-- With "light" as the sixth argument the script reads no answers: wrk then
-- hands it no headers or body (it does so only when a response() function
-- exists), which on a machine that runs wrk beside the server leaves the
-- server the CPU that copying every answer into Lua took (about a fifth of
-- the throughput of cached pages of 1.4 KB, measured on 2 cores). Non-2xx
-- is then wrk's own count of answers of status 400 or more, "statuses" and
-- the Retry-After check are empty: for loads that expect no 3xx answer.
--
--   wrk -t2 -c64 -d30s -s bench/random-user.lua http://127.0.0.1:8090 -- 100000

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  users = tonumber(args[1]) or 100000
  prefix = args[2] or "/user/"
  sequential = args[3] == "sequential"
  step = tonumber(args[4]) or 2 -- wrk's -t: thread t takes t, t + step, ...
  next_id = thread_number
  gzip = args[5] == "gzip"
  light = args[6] == "light"
  if light then
    response = nil
  end
  statuses = {}
  shed_without_retry_after = 0
  math.randomseed(os.time() * 1000 + thread_number)
end

function request()
  local n
  if sequential then
    n = next_id
    next_id = next_id + step
    if next_id > users then
      next_id = thread_number
    end
  else
    n = math.random(1, users)
  end
  local id = tostring(n)
  local headers = { ["x-client-id"] = "shop", ["x-user-id"] = id }
  if gzip then
    headers["Accept-Encoding"] = "gzip"
  end
  return wrk.format("GET", prefix .. id, headers)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    return
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 429 or status == 503 then
    local found = false
    for name, value in pairs(headers) do
      if string.lower(name) == "retry-after" and value ~= "" then
        found = true
      end
    end
    if not found then
      shed_without_retry_after = shed_without_retry_after + 1
    end
  end
end

function done(summary, latency, requests)
  local merged = {}
  local non2xx = 0
  local shed = 0
  local missing = 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
      non2xx = non2xx + n
      if status == "429" or status == "503" then
        shed = shed + n
      end
    end
    missing = missing + thread:get("shed_without_retry_after")
  end
  local parts = {}
  for status, n in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local e = summary.errors
  if threads[1]:get("light") then
    non2xx = e.status
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests": %d, "durationSeconds": %.3f, "requestsPerSecond": %.2f, "okPerSecond": %.2f, ' ..
    '"latencyMs": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f}, ' ..
    '"non2xx": %d, "statuses": {%s}, "shed": %d, "shedWithoutRetryAfter": %d, ' ..
    '"socketErrors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, seconds, summary.requests / seconds, (summary.requests - non2xx) / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    non2xx, table.concat(parts, ", "), shed, missing,
    e.connect, e.read, e.write, e.timeout))
end
