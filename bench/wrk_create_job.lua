-- wrk script: POST /jobs/v2 with the demo seed's example job.
-- usage: wrk -c64 -t2 -d10s -s bench/wrk_create_job.lua http://127.0.0.1:8080
-- The key and project come from conf/seed.json; override with JOBSD_KEY / JOBSD_TEMPLATE.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = os.getenv("JOBSD_KEY") or "demo-key-7c1f4e2a9b3d"
local template = os.getenv("JOBSD_TEMPLATE") or "468ea7a0-66e1-4357-a760-236e54167f3e"
wrk.body = '{"job_type":"ai_talking_video","template_id":"' .. template .. '","version":2,' ..
  '"session_id":"bench","values":{"headline":"Hello","voiceover":{"audio_url":"https://cdn.example/v.mp3",' ..
  '"effects":[]},"avatar":{"image_url":"https://cdn.example/a.png"}}}'

local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write(string.format("p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
