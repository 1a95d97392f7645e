-- wrk script of the posting benchmark (bench/posting.py): every request posts a different comment.
--
-- wrk -t2 -c32 -d10s -s bench/posting.lua URL -- POSTS_FILE THREADS ORIGIN
--
-- POSTS_FILE holds one prepared post per line: the reader's address, a tab, the JSON body.
-- Thread n of THREADS takes lines n, n + THREADS, ...; each line is sent once, so no text is
-- ever posted twice, and a thread that has sent all of its lines stops (the count is bounded
-- by the file, the time by -d). Every answer's status is counted; done() prints the counts
-- on one line: "posting-statuses 201=..., 202=..., ..." and the posts left unsent.

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, thread_count, origin = args[1], tonumber(args[2]), args[3]
  addresses, bodies = {}, {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % thread_count == thread_number then
      local tab = line:find("\t", 1, true)
      addresses[#addresses + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    line_number = line_number + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = origin
  prepared, sent, statuses, overrun = #bodies, 0, {}, 0
end

function request()
  if sent >= #bodies then
    -- All of this thread's posts are sent: stop. wrk may still write this one request, so
    -- the last post goes again; counted, so the report can say so.
    overrun = overrun + 1
    wrk.thread:stop()
  else
    sent = sent + 1
  end
  local index = math.max(sent, 1)
  wrk.headers["X-Forwarded-For"] = addresses[index]
  return wrk.format(nil, nil, nil, bodies[index])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, unsent, repeated = {}, 0, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
    unsent = unsent + thread:get("prepared") - thread:get("sent")
    repeated = repeated + thread:get("overrun")
  end
  local parts = {}
  for status, count in pairs(total) do
    parts[#parts + 1] = string.format("%d=%d", status, count)
  end
  io.write(string.format("posting-statuses %s\n", table.concat(parts, ",")))
  io.write(string.format("posting-unsent %d\nposting-resent %d\n", unsent, repeated))
end
