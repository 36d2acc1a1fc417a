-- wrk script for scripts/bench-events.sh: every request is POST /purchases
-- of a new purchase (an id no other request of the run uses: the run's tag,
-- the thread and a counter), as checkout, for one of 1,000 customers.
-- With a number as the second argument, each connection waits that many
-- milliseconds between requests (a steady load, for the soak). done() prints
-- one JSON line: created (201s), other (everything else).
--
--   wrk -t2 -c8 -d10s -s bench/create-purchase.lua http://127.0.0.1:8090 -- run1 [delay_ms]

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] or "run"
  pause = tonumber(args[2]) or 0
  counter = 0
  created = 0
  other = 0
end

function delay()
  return pause
end

function request()
  counter = counter + 1
  local id = string.format("%s-%d-%d", tag, thread_number, counter)
  local user = string.format("u%d", counter % 1000)
  local body = '{"id":"' .. id .. '","userId":"' .. user .. '","status":"placed",' ..
    '"items":[{"id":"mug","title":"Mug","brand":"Potter","imgUrl":null,"currency":"GBP",' ..
    '"pricePerUnitPence":900,"quantity":1,"priceTotalPence":900}],"pricePence":900,' ..
    '"currency":"GBP","datePurchased":"2024-04-18T10:17:19.039Z","payment":{"method":"card",' ..
    '"lastDigits":"4242","receiptUrl":null},"delivery":{"method":"standard",' ..
    '"storeLocation":null,"dateDelivered":null}}'
  return wrk.format("POST", "/purchases", {
    ["x-client-id"] = "checkout", ["x-user-id"] = "bench",
    ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    o = o + thread:get("other")
  end
  io.write(string.format('{"created": %d, "other": %d, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    c, o, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
