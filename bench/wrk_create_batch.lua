-- wrk script: POST /jobs/v2/batch with BATCH copies of the demo seed's example job (100 default).
-- usage: BATCH=100 wrk -c16 -t2 -d10s -s bench/wrk_create_batch.lua http://127.0.0.1:8080
-- Jobs per second = requests per second x BATCH. Key and project as in wrk_create_job.lua.
wrk.method = "POST"
wrk.path = "/jobs/v2/batch"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = os.getenv("JOBSD_KEY") or "demo-key-7c1f4e2a9b3d"
local template = os.getenv("JOBSD_TEMPLATE") or "468ea7a0-66e1-4357-a760-236e54167f3e"
local n = tonumber(os.getenv("BATCH") or "100")
local job = '{"job_type":"ai_talking_video","template_id":"' .. template .. '","version":2,' ..
  '"session_id":"bench","values":{"headline":"Hello","voiceover":{"audio_url":"https://cdn.example/v.mp3",' ..
  '"effects":[]},"avatar":{"image_url":"https://cdn.example/a.png"}}}'
local jobs = {}
for i = 1, n do jobs[i] = job end
wrk.body = '{"jobs":[' .. table.concat(jobs, ",") .. ']}'

local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write(string.format("jobs/s %.0f  (%d jobs per request)\n", summary.requests / (summary.duration / 1e6) * n, n))
  io.write(string.format("p50 %.2f ms  p99 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
