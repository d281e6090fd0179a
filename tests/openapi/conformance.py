#!/usr/bin/python3
"""The OpenAPI document held true: for every operation and every response code the document
declares, a real request to a running jobsd (SQLite or PostgreSQL store, the test broker) must get
that code, a declared content type, the declared required headers, and a body valid against the
declared schema (JSON Schema 2020-12, Debian's python3-jsonschema). Requests that succeed must also
be valid against the declared request schema, so the request side cannot drift either.

A code the document declares without a recipe below fails the walk, and so does a recipe for a
code the document does not declare: describing a new route means adding its recipes here
(RECIPES, keyed by method, path and code). tests/openapi_routes_tests.cpp checks the other half,
that every route of the route table is in the document.

With --browser it loads /docs in headless Chromium instead, under the page's Content-Security-
Policy, and requires every operation rendered and no violation reported.

Usage: conformance.py --store sqlite|postgres | --browser
Environment: JOBSD_BIN, JOBSD_TEST_DATA, JOBSD_OPENAPI (the repository's document),
JOBSD_TEST_AMQP_URL, JOBSD_TEST_MANAGEMENT_URL, JOBSD_TEST_PG_URL (postgres only).
"""
import argparse
import base64
import http.client
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

from jsonschema import Draft202012Validator, FormatChecker

KEY_A = "key-a-5d1c8e7f2b9a4c6e"
KEY_B = "key-b-9e4a2f6c1d7b3e8a"
KEY_C = "key-c-3b7e1a9d5f2c8e4b"
OPERATOR_KEY = "op-key-8f2c4a6e1b9d7c3e"
PROJECT_A1 = "468ea7a0-66e1-4357-a760-236e54167f3e"
PROJECT_STRICT = "7d1e5c3a-9b2f-4e8d-a6c4-1f3b5d7e9a2c"
UNKNOWN_UUID = "00000000-0000-7000-8000-000000000000"
JOB = {"job_type": "ai_talking_video", "template_id": PROJECT_A1, "version": 2, "session_id": "walk",
       "values": {"headline": "Hello", "avatar": {"image_url": "https://cdn.example.com/a.png"}}}

FORMATS = FormatChecker()


@FORMATS.checks("date-time")
def is_date_time(value):
    return not isinstance(value, str) or re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value) is not None


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set (ctest sets it; see tests/openapi.cmake)")
    return value


class Jobsd:
    """One jobsd child on a store of its own, with extra JOBSD_* settings."""

    def __init__(self, store_url, settings, work):
        self.work = work
        os.makedirs(work, exist_ok=True)
        data = env("JOBSD_TEST_DATA")
        child_env = dict(os.environ, **settings)
        self.log = open(os.path.join(work, "jobsd.stderr.log"), "w")
        self.proc = subprocess.Popen(
            [env("JOBSD_BIN"), "--config", f"{data}/jobsd_test.json", "--store", store_url,
             "--seed", f"{data}/seed_test.json"],
            cwd=work, env=child_env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1)
            if ready:
                line = self.proc.stdout.readline()
                found = re.search(r"listening on http://([\d.]+):(\d+)", line)
                if found:
                    self.host, self.port = found.group(1), int(found.group(2))
                    return
                if not line:
                    break
        self.stop()
        sys.exit("jobsd did not start: " + open(os.path.join(work, "jobsd.stderr.log")).read())

    def request(self, method, target, headers=None, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request(method, target, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def wait_for(what, check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


# ------------------------------------------------------------------------------------------
# Recipes: (method, path, code) -> function(ctx) returning one request or a list of them. A
# request is a dict: server ("main"; "limited": 2 jobs, then 429; "backlogged": publishing off and
# the outbox past its bound), method and target, key (sent as x-api-key), json (a body sent as
# application/json) or body and headers, stream (read the status and headers only) and setup (sent,
# not checked).

def post_job(body=None, key=KEY_A, server="main", headers=None, target="/jobs/v2"):
    return {"server": server, "method": "POST", "target": target, "key": key, "json": body or JOB,
            "headers": headers or {}}


def setup(req):
    """A request whose answer is not checked: it prepares the one that is."""
    return dict(req, setup=True)


def batch(jobs):
    return {"jobs": jobs}


def created_uuid(ctx):
    status, _, data = ctx.send(post_job())
    assert status == 201, data
    return json.loads(data)["job"]["uuid"]


def hook_request(method, target, key=KEY_A, body=None, headers=None):
    req = {"server": "main", "method": method, "target": target, "key": key, "headers": headers or {}}
    if body is not None:
        req["json"] = body
    return req


def created_endpoint(ctx):
    status, _, data = ctx.send(hook_request("POST", "/api/webhooks", body={"url": HOOK_URL}))
    assert status == 201, data
    return json.loads(data)["id"]


def endpoint_with_delivery(ctx):
    """An endpoint of account A and one delivery to it: a job, then its SUCCESS event published on
    the walk's events exchange as a worker would (through the management API). The receiver
    (.invalid) never resolves, so the delivery stays pending with its failed attempts."""
    if not hasattr(ctx, "hooked"):
        endpoint = created_endpoint(ctx)
        ctx.broker.publish_event(JOB["job_type"], created_uuid(ctx), "SUCCESS")
        target = f"/api/webhooks/{endpoint}/deliveries"

        def delivered():
            status, _, data = ctx.send(hook_request("GET", target))
            return status == 200 and json.loads(data)["data"]
        wait_for("a webhook delivery recorded for the published event", delivered)
        ctx.hooked = endpoint, json.loads(ctx.send(hook_request("GET", target))[2])["data"][0]["id"]
    return ctx.hooked


HOOK_URL = "https://hooks.invalid/jobs"  # RFC 2606: never resolves, so nothing leaves this machine
HOOKED_JOB = dict(JOB, webhook=HOOK_URL, webhook_events=["job.started", "job.failed"])
NO_ENDPOINT = "ep_000000000000000000000000"

WEBHOOK_RECIPES = {
    ("post", "/api/webhooks", "201"): lambda ctx: [
        hook_request("POST", "/api/webhooks", body={"url": HOOK_URL}),
        hook_request("POST", "/api/webhooks", body={"url": HOOK_URL, "events": ["job.progress"], "enabled": False})],
    ("post", "/api/webhooks", "400"): lambda ctx: [
        hook_request("POST", "/api/webhooks", body={"url": "ftp://hooks.invalid/x"}),
        hook_request("POST", "/api/webhooks", body={"url": HOOK_URL, "events": ["job.done"]}),
        hook_request("POST", "/api/webhooks", body=[HOOK_URL])],
    ("post", "/api/webhooks", "401"): lambda ctx: hook_request("POST", "/api/webhooks", key="wrong", body={"url": HOOK_URL}),
    ("post", "/api/webhooks", "413"): lambda ctx: hook_request("POST", "/api/webhooks", body={"url": HOOK_URL, "note": "x" * 70000}),
    ("post", "/api/webhooks", "415"): lambda ctx: dict(hook_request("POST", "/api/webhooks", headers={"Content-Type": "text/plain"}),
                                                       body=json.dumps({"url": HOOK_URL})),
    ("get", "/api/webhooks", "200"): lambda ctx: [setup(hook_request("POST", "/api/webhooks", body={"url": HOOK_URL})),
                                                  hook_request("GET", "/api/webhooks")],
    ("get", "/api/webhooks", "401"): lambda ctx: hook_request("GET", "/api/webhooks", key=None),
    ("delete", "/api/webhooks/{id}", "204"): lambda ctx: hook_request("DELETE", "/api/webhooks/" + created_endpoint(ctx)),
    ("delete", "/api/webhooks/{id}", "401"): lambda ctx: hook_request("DELETE", "/api/webhooks/" + NO_ENDPOINT, key=None),
    ("delete", "/api/webhooks/{id}", "404"): lambda ctx: [hook_request("DELETE", "/api/webhooks/" + NO_ENDPOINT),
                                                          hook_request("DELETE", "/api/webhooks/" + created_endpoint(ctx), key=KEY_C)],
    ("get", "/api/webhooks/{id}/deliveries", "200"): lambda ctx: [
        hook_request("GET", f"/api/webhooks/{endpoint_with_delivery(ctx)[0]}/deliveries?limit=5"),
        hook_request("GET", "/api/webhooks/default/deliveries")],
    ("get", "/api/webhooks/{id}/deliveries", "400"): lambda ctx: hook_request("GET", "/api/webhooks/default/deliveries?limit=0"),
    ("get", "/api/webhooks/{id}/deliveries", "401"): lambda ctx: hook_request("GET", "/api/webhooks/default/deliveries", key="wrong"),
    ("get", "/api/webhooks/{id}/deliveries", "404"): lambda ctx: hook_request("GET", f"/api/webhooks/{NO_ENDPOINT}/deliveries"),
    ("post", "/api/webhooks/deliveries/{id}/redeliver", "202"): lambda ctx: hook_request(
        "POST", f"/api/webhooks/deliveries/{endpoint_with_delivery(ctx)[1]}/redeliver"),
    ("post", "/api/webhooks/deliveries/{id}/redeliver", "401"): lambda ctx: hook_request(
        "POST", "/api/webhooks/deliveries/msg_00/redeliver", key=None),
    ("post", "/api/webhooks/deliveries/{id}/redeliver", "404"): lambda ctx: [
        hook_request("POST", "/api/webhooks/deliveries/msg_00000000000000000000000000000000/redeliver"),
        hook_request("POST", f"/api/webhooks/deliveries/{endpoint_with_delivery(ctx)[1]}/redeliver", key=KEY_C)],
    ("get", "/api/webhooks/default/secret", "200"): lambda ctx: [hook_request("GET", "/api/webhooks/default/secret")] * 2,
    ("get", "/api/webhooks/default/secret", "401"): lambda ctx: hook_request("GET", "/api/webhooks/default/secret", key=None),
    ("post", "/api/webhooks/{id}/rotate-secret", "200"): lambda ctx: [
        hook_request("POST", "/api/webhooks/default/rotate-secret"),
        hook_request("POST", f"/api/webhooks/{created_endpoint(ctx)}/rotate-secret")],
    ("post", "/api/webhooks/{id}/rotate-secret", "401"): lambda ctx: hook_request("POST", "/api/webhooks/default/rotate-secret", key="x"),
    ("post", "/api/webhooks/{id}/rotate-secret", "404"): lambda ctx: hook_request("POST", f"/api/webhooks/{NO_ENDPOINT}/rotate-secret"),
}

def job_status(ctx, job_uuid):
    status, _, data = ctx.send({"server": "main", "method": "GET", "target": "/jobs/" + job_uuid, "key": KEY_A})
    assert status == 200, data
    return json.loads(data)["job_status"]


def job_in(ctx, status):
    """A new job of account A on the main jobsd, brought to `status` by a worker's status event
    (published on the test broker's events exchange as a worker would) when not QUEUED."""
    job_uuid = created_uuid(ctx)
    if status != "QUEUED":
        ctx.broker.publish_event(JOB["job_type"], job_uuid, status)
        wait_for(f"job {job_uuid} to be {status}", lambda: job_status(ctx, job_uuid) == status)
    return job_uuid


def lifecycle(action, job_uuid, body=None, key=KEY_A, raw=None, headers=None):
    """POST /jobs/{id}/cancel or /retry: no body, a JSON body, or raw bytes with their headers."""
    req = {"server": "main", "method": "POST", "target": f"/jobs/{job_uuid}/{action}", "key": key,
           "headers": headers or {}}
    if body is not None:
        req["json"] = body
    if raw is not None:
        req["body"] = raw
    return req


def cancelled_job(ctx):
    job_uuid = created_uuid(ctx)
    ctx.send(lifecycle("cancel", job_uuid))
    return job_uuid


LIFECYCLE_RECIPES = {
    ("post", "/jobs/{id}/cancel", "200"): lambda ctx: (lambda u, v: [
        lifecycle("cancel", u), lifecycle("cancel", u, {}), lifecycle("cancel", v, {})])(created_uuid(ctx), created_uuid(ctx)),
    ("post", "/jobs/{id}/cancel", "202"): lambda ctx: (lambda u, v: [
        lifecycle("cancel", u), lifecycle("cancel", u), lifecycle("cancel", v, {})])(job_in(ctx, "STARTED"),
                                                                                     job_in(ctx, "IN_PROGRESS")),
    ("post", "/jobs/{id}/cancel", "400"): lambda ctx: (lambda u: [
        lifecycle("cancel", u, {"reason": "changed my mind"}), lifecycle("cancel", u, []),
        lifecycle("cancel", u, raw="{", headers={"Content-Type": "application/json"})])(created_uuid(ctx)),
    ("post", "/jobs/{id}/cancel", "401"): lambda ctx: lifecycle("cancel", UNKNOWN_UUID, key="wrong-key"),
    ("post", "/jobs/{id}/cancel", "404"): lambda ctx: [
        lifecycle("cancel", UNKNOWN_UUID), lifecycle("cancel", "not-a-uuid"),
        lifecycle("cancel", created_uuid(ctx), key=KEY_B)],
    ("post", "/jobs/{id}/cancel", "409"): lambda ctx: [lifecycle("cancel", job_in(ctx, "SUCCESS")),
                                                       lifecycle("cancel", job_in(ctx, "FAILED"), {})],
    ("post", "/jobs/{id}/cancel", "413"): lambda ctx: lifecycle("cancel", UNKNOWN_UUID, {"pad": "x" * 5000}),
    ("post", "/jobs/{id}/cancel", "415"): lambda ctx: lifecycle("cancel", UNKNOWN_UUID, raw="{}",
                                                                headers={"Content-Type": "text/plain"}),
    ("post", "/jobs/{id}/retry", "202"): lambda ctx: [
        lifecycle("retry", cancelled_job(ctx)), lifecycle("retry", cancelled_job(ctx), {"expires_in_s": 600}),
        lifecycle("retry", job_in(ctx, "FAILED"), {})],
    ("post", "/jobs/{id}/retry", "400"): lambda ctx: (lambda u: [
        lifecycle("retry", u, {"expires_in_s": 0}), lifecycle("retry", u, {"expires_in_s": "soon"}),
        lifecycle("retry", u, {"attempts": 5}), lifecycle("retry", u, "again")])(cancelled_job(ctx)),
    ("post", "/jobs/{id}/retry", "401"): lambda ctx: lifecycle("retry", UNKNOWN_UUID, key=None),
    ("post", "/jobs/{id}/retry", "404"): lambda ctx: [
        lifecycle("retry", UNKNOWN_UUID), lifecycle("retry", "not-a-uuid"),
        lifecycle("retry", cancelled_job(ctx), key=KEY_B)],
    ("post", "/jobs/{id}/retry", "409"): lambda ctx: [lifecycle("retry", created_uuid(ctx)),
                                                      lifecycle("retry", job_in(ctx, "STARTED")),
                                                      lifecycle("retry", job_in(ctx, "SUCCESS"), {})],
    ("post", "/jobs/{id}/retry", "413"): lambda ctx: lifecycle("retry", UNKNOWN_UUID, {"pad": "x" * 5000}),
    ("post", "/jobs/{id}/retry", "415"): lambda ctx: lifecycle("retry", UNKNOWN_UUID, raw="{}",
                                                               headers={"Content-Type": "text/plain"}),
}


RECIPES = {
    ("post", "/jobs/v2", "201"): lambda ctx: [post_job(), post_job(headers={"Idempotency-Key": "walk-1"}),
                                              post_job(headers={"Idempotency-Key": "walk-1"}), post_job(HOOKED_JOB)],
    ("post", "/jobs/v2", "400"): lambda ctx: [post_job({"template_id": PROJECT_A1}),
                                              post_job(dict(JOB, webhook="ftp://hooks.invalid/x")),
                                              post_job(dict(JOB, webhook=HOOK_URL, webhook_events=["job.done"])),
                                              post_job({"job_type": "video", "template_id": UNKNOWN_UUID}),
                                              post_job({"job_type": "ai_talking_video", "template_id": PROJECT_STRICT,
                                                        "values": {"colour": "red"}}, key=KEY_C)],
    ("post", "/jobs/v2", "401"): lambda ctx: post_job(key="wrong-key"),
    ("post", "/jobs/v2", "413"): lambda ctx: post_job(dict(JOB, note="x" * 70000)),
    ("post", "/jobs/v2", "415"): lambda ctx: {"server": "main", "method": "POST", "target": "/jobs/v2", "key": KEY_A,
                                              "body": json.dumps(JOB), "headers": {"Content-Type": "text/plain"}},
    ("post", "/jobs/v2", "422"): lambda ctx: [setup(post_job(headers={"Idempotency-Key": "walk-2"})),
                                              post_job(dict(JOB, session_id="other"), headers={"Idempotency-Key": "walk-2"})],
    ("post", "/jobs/v2", "429"): lambda ctx: [setup(post_job(server="limited")), setup(post_job(server="limited")),
                                              post_job(server="limited")],
    ("post", "/jobs/v2", "503"): lambda ctx: post_job(server="backlogged"),
    ("get", "/jobs/v2", "200"): lambda ctx: [
        {"server": "main", "method": "GET", "target": "/jobs/v2?limit=1&session_id=walk", "key": KEY_A},
        {"server": "main", "method": "GET", "target": "/jobs/v2?status=QUEUED&status=SUCCESS&limit=1000", "key": KEY_A},
        {"server": "main", "method": "GET", "target": "/jobs/v2?job_type=pdf", "key": KEY_A}],
    ("get", "/jobs/v2", "400"): lambda ctx: [
        {"server": "main", "method": "GET", "target": "/jobs/v2?limit=0", "key": KEY_A},
        {"server": "main", "method": "GET", "target": "/jobs/v2?cursor=tampered", "key": KEY_A}],
    ("get", "/jobs/v2", "401"): lambda ctx: {"server": "main", "method": "GET", "target": "/jobs/v2", "key": None},
    ("post", "/jobs/v2/batch", "201"): lambda ctx: [
        post_job(batch([JOB, dict(JOB, job_type="video"), HOOKED_JOB]), target="/jobs/v2/batch"),
        post_job(batch([JOB]), target="/jobs/v2/batch", headers={"Idempotency-Key": "walk-b1"}),
        post_job(batch([JOB]), target="/jobs/v2/batch", headers={"Idempotency-Key": "walk-b1"})],
    ("post", "/jobs/v2/batch", "400"): lambda ctx: [
        post_job(batch([JOB, {"template_id": PROJECT_A1}]), target="/jobs/v2/batch"),
        post_job(batch([JOB, dict(JOB, webhook="not a url")]), target="/jobs/v2/batch"),
        post_job(batch([]), target="/jobs/v2/batch"),
        post_job({"items": []}, target="/jobs/v2/batch")],
    ("post", "/jobs/v2/batch", "401"): lambda ctx: post_job(batch([JOB]), key="wrong-key", target="/jobs/v2/batch"),
    ("post", "/jobs/v2/batch", "413"): lambda ctx: post_job(batch([dict(JOB, note="x" * 60000)] * 5), target="/jobs/v2/batch"),
    ("post", "/jobs/v2/batch", "415"): lambda ctx: {"server": "main", "method": "POST", "target": "/jobs/v2/batch",
                                                    "key": KEY_A, "body": json.dumps(batch([JOB])),
                                                    "headers": {"Content-Type": "application/xml"}},
    ("post", "/jobs/v2/batch", "422"): lambda ctx: [
        setup(post_job(batch([JOB]), target="/jobs/v2/batch", headers={"Idempotency-Key": "walk-b2"})),
        post_job(batch([JOB, JOB]), target="/jobs/v2/batch", headers={"Idempotency-Key": "walk-b2"})],
    ("post", "/jobs/v2/batch", "429"): lambda ctx: [setup(post_job(batch([JOB]), target="/jobs/v2/batch", server="limited"))] * 2
    + [post_job(batch([JOB]), target="/jobs/v2/batch", server="limited")],
    ("post", "/jobs/v2/batch", "503"): lambda ctx: post_job(batch([JOB]), target="/jobs/v2/batch", server="backlogged"),
    ("get", "/jobs/v2/events", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/jobs/v2/events?session_id=walk",
                                                    "key": KEY_A, "stream": True},
    ("get", "/jobs/v2/events", "400"): lambda ctx: {"server": "main", "method": "GET", "target": "/jobs/v2/events", "key": KEY_A},
    ("get", "/jobs/v2/events", "429"): lambda ctx: [
        setup({"server": "limited", "method": "GET", "target": "/jobs/v2/events?session_id=walk", "key": KEY_A,
               "stream": True, "hold": True}),
        {"server": "limited", "method": "GET", "target": "/jobs/v2/events?session_id=walk-2", "key": KEY_A}],
    ("get", "/jobs/v2/events", "401"): lambda ctx: {"server": "main", "method": "GET", "target": "/jobs/v2/events?session_id=walk",
                                                    "key": "wrong-key"},
    ("get", "/jobs/{id}", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/jobs/" + created_uuid(ctx), "key": KEY_A},
    ("get", "/jobs/{id}", "401"): lambda ctx: {"server": "main", "method": "GET", "target": "/jobs/" + UNKNOWN_UUID, "key": None},
    ("get", "/jobs/{id}", "404"): lambda ctx: [{"server": "main", "method": "GET", "target": "/jobs/" + UNKNOWN_UUID, "key": KEY_A},
                                               {"server": "main", "method": "GET", "target": "/jobs/not-a-uuid", "key": KEY_A}],
    ("get", "/api/provider/projects/active", "200"): lambda ctx: {"server": "main", "method": "GET",
                                                                  "target": "/api/provider/projects/active", "key": KEY_A},
    ("get", "/api/provider/projects/active", "401"): lambda ctx: {"server": "main", "method": "GET",
                                                                  "target": "/api/provider/projects/active", "key": None},
    ("get", "/api/provider/projects/{projectId}/mapping-fields", "200"): lambda ctx: {
        "server": "main", "method": "GET", "target": f"/api/provider/projects/{PROJECT_A1}/mapping-fields", "key": KEY_A},
    ("get", "/api/provider/projects/{projectId}/mapping-fields", "401"): lambda ctx: {
        "server": "main", "method": "GET", "target": f"/api/provider/projects/{PROJECT_A1}/mapping-fields", "key": "wrong"},
    ("get", "/api/provider/projects/{projectId}/mapping-fields", "404"): lambda ctx: {
        "server": "main", "method": "GET", "target": f"/api/provider/projects/{UNKNOWN_UUID}/mapping-fields", "key": KEY_A},
    ("get", "/healthz", "200"): lambda ctx: [{"server": "main", "method": "GET", "target": "/healthz"},
                                             {"server": "backlogged", "method": "GET", "target": "/healthz"}],
    ("get", "/readyz", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/readyz"},
    ("get", "/readyz", "503"): lambda ctx: {"server": "backlogged", "method": "GET", "target": "/readyz"},
    ("get", "/metrics", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/metrics"},
    ("get", "/api/queues", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/api/queues", "key": OPERATOR_KEY},
    ("get", "/api/queues", "401"): lambda ctx: {"server": "main", "method": "GET", "target": "/api/queues", "key": None},
    ("get", "/api/queues", "403"): lambda ctx: {"server": "main", "method": "GET", "target": "/api/queues", "key": KEY_A},
    ("get", "/api/queues", "503"): lambda ctx: {"server": "backlogged", "method": "GET", "target": "/api/queues",
                                                "key": OPERATOR_KEY},
    ("get", "/api/dashboard", "200"): lambda ctx: [{"server": "main", "method": "GET", "target": "/api/dashboard", "key": OPERATOR_KEY},
                                                   {"server": "backlogged", "method": "GET", "target": "/api/dashboard",
                                                    "key": OPERATOR_KEY}],
    ("get", "/api/dashboard", "401"): lambda ctx: {"server": "main", "method": "GET", "target": "/api/dashboard", "key": "wrong"},
    ("get", "/api/dashboard", "403"): lambda ctx: {"server": "main", "method": "GET", "target": "/api/dashboard", "key": KEY_A},
    ("get", "/dashboard", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/dashboard"},
    ("get", "/dashboard/{file}", "200"): lambda ctx: [{"server": "main", "method": "GET", "target": "/dashboard/dashboard.js"},
                                                      {"server": "main", "method": "GET", "target": "/dashboard/dashboard.css"}],
    ("get", "/dashboard/{file}", "404"): lambda ctx: {"server": "main", "method": "GET", "target": "/dashboard/nope.txt"},
    ("get", "/openapi.json", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/openapi.json"},
    ("get", "/docs", "200"): lambda ctx: {"server": "main", "method": "GET", "target": "/docs"},
    ("get", "/docs/{file}", "200"): lambda ctx: [{"server": "main", "method": "GET", "target": "/docs/docs.js"},
                                                 {"server": "main", "method": "GET", "target": "/docs/docs.css"},
                                                 {"server": "main", "method": "GET", "target": "/docs/index.html"}],
    ("get", "/docs/{file}", "404"): lambda ctx: {"server": "main", "method": "GET", "target": "/docs/openapi.json"},
    **WEBHOOK_RECIPES,
    **LIFECYCLE_RECIPES,
}


class Walk:
    def __init__(self, doc, servers, broker):
        self.doc = doc
        self.servers = servers
        self.broker = broker
        self.failures = []
        self.checked = 0
        self.held = []  # streams a recipe keeps open ("hold") for the requests after it

    def send(self, req):
        server = self.servers[req["server"]]
        headers = dict(req.get("headers", {}))
        if req.get("key"):
            headers["x-api-key"] = req["key"]
        body = req.get("body")
        if "json" in req:
            body = json.dumps(req["json"])
            headers.setdefault("Content-Type", "application/json")
        if req.get("stream"):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            conn.request(req["method"], req["target"], headers=headers)
            res = conn.getresponse()
            first = res.fp.readline()
            if req.get("hold"):
                self.held.append(res)  # the response owns the socket once the stream's header is read
            else:
                conn.close()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, first
        return server.request(req["method"], req["target"], headers, body)

    def schema_validator(self, schema):
        return Draft202012Validator(dict(schema, components=self.doc["components"]), format_checker=FORMATS)

    def resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj and len(obj) == 1:
            node = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def fail(self, where, problem):
        self.failures.append(f"{where}: {problem}")

    def check(self, method, path, code, operation, req):
        where = f"{method.upper()} {path} {code} ({req['method']} {req['target']})"
        status, headers, data = self.send(req)
        self.checked += 1
        if str(status) != code:
            return self.fail(where, f"got {status}: {data[:300]!r}")
        if code.startswith("2") and "json" in req and "requestBody" in operation:
            schema = self.resolve(operation["requestBody"])["content"]["application/json"]["schema"]
            for error in self.schema_validator(schema).iter_errors(req["json"]):
                self.fail(where, f"the request is not valid against the documented request schema: {error.message}")
        declared = self.resolve(operation["responses"][code])
        for name, header in declared.get("headers", {}).items():
            if header.get("required") and name.lower() not in headers:
                self.fail(where, f"required header {name} is missing")
        content = declared.get("content", {})
        if not content:  # a response declared without a body (204) must have none
            if data:
                self.fail(where, f"a body where none is declared: {data[:200]!r}")
            return
        media = headers.get("content-type", "").split(";")[0].strip()
        if media not in content:
            return self.fail(where, f"content type {media!r} is not one of {sorted(content)}")
        if media != "application/json":
            return
        try:
            body = json.loads(data)
        except ValueError as e:
            return self.fail(where, f"the body is not JSON ({e}): {data[:200]!r}")
        for error in self.schema_validator(content[media]["schema"]).iter_errors(body):
            self.fail(where, f"{error.message} at {'/'.join(map(str, error.absolute_path))}")
        if path == "/jobs/v2" and method == "get" and body.get("next"):
            if headers.get("link") != f'<{body["next"]}>; rel="next"':
                self.fail(where, f"Link header {headers.get('link')!r} does not match next {body['next']!r}")

    def run(self):
        declared = set()
        for path, item in self.doc["paths"].items():
            for method, operation in item.items():
                for code in operation["responses"]:
                    if code == "default":
                        continue
                    declared.add((method, path, code))
                    recipe = RECIPES.get((method, path, code))
                    if recipe is None:
                        self.fail(f"{method.upper()} {path} {code}", "declared, but the walk has no recipe for it")
                        continue
                    requests = recipe(self)
                    for req in requests if isinstance(requests, list) else [requests]:
                        if req.get("setup"):
                            self.send(req)
                        else:
                            self.check(method, path, code, operation, req)
        for stale in sorted(set(RECIPES) - declared):
            self.fail(" ".join(stale), "a recipe for a code the document does not declare")


def check_document(doc, served, repo_text):
    problems = []
    if served != repo_text:
        problems.append("GET /openapi.json is not the repository's openapi/openapi.json byte for byte")
    if not str(doc.get("openapi", "")).startswith("3.1."):
        problems.append("not an OpenAPI 3.1 document")
    for name, schema in doc["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # noqa: BLE001 - any schema error is a finding
            problems.append(f"components.schemas.{name}: {e}")
    refs = re.findall(r'"\$ref": "#/([^"]+)"', repo_text)
    for ref in set(refs):
        node = doc
        for part in ref.split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            problems.append(f"$ref #/{ref} resolves to nothing")
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    if len(ids) != len(set(ids)):
        problems.append("operationId values repeat")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if "security" not in op:
                problems.append(f"{method.upper()} {path}: no security requirement stated")
    return problems


class Broker:
    """The queues and exchanges one jobsd declares under its own prefix, deleted afterwards."""

    def __init__(self, prefix):
        self.prefix = prefix
        url = urllib.parse.urlsplit(env("JOBSD_TEST_MANAGEMENT_URL"))
        self.base = f"{url.scheme}://{url.hostname}:{url.port}/api"
        self.auth = "Basic " + base64.b64encode(f"{url.username}:{url.password}".encode()).decode()

    def settings(self):
        p = self.prefix
        return {"JOBSD_AMQP_ENABLED": "true", "JOBSD_AMQP_URLS": env("JOBSD_TEST_AMQP_URL"),
                "JOBSD_AMQP_MANAGEMENT_URL": env("JOBSD_TEST_MANAGEMENT_URL"), "JOBSD_AMQP_EXCHANGE": p + "jobs",
                "JOBSD_AMQP_QUEUE_PREFIX": p, "JOBSD_AMQP_DEAD_EXCHANGE": p + "dead",
                "JOBSD_AMQP_DEAD_QUEUE_PREFIX": p + "dead.", "JOBSD_AMQP_EVENTS_EXCHANGE": p + "events",
                "JOBSD_AMQP_EVENTS_QUEUE": p + "events", "JOBSD_AMQP_CONTROL_EXCHANGE": p + "control",
                "JOBSD_AMQP_CONTROL_QUEUE_PREFIX": p + "control."}

    def publish_event(self, job_type, job_uuid, status):
        """A worker's status event for attempt 1 of the job, through the management API."""
        body = {"properties": {"type": status, "message_id": str(uuid.uuid4()), "content_type": "application/json",
                               "delivery_mode": 2},
                "routing_key": f"{job_type}.{status}",
                "payload": json.dumps({"uuid": job_uuid, "job_status": status, "attempt": 1}),
                "payload_encoding": "string"}
        exchange = urllib.parse.quote(self.prefix + "events", safe="")
        req = urllib.request.Request(f"{self.base}/exchanges/%2F/{exchange}/publish", data=json.dumps(body).encode(),
                                     method="POST", headers={"Authorization": self.auth,
                                                             "Content-Type": "application/json"})
        answer = json.load(urllib.request.urlopen(req, timeout=10))
        if not answer.get("routed"):
            sys.exit(f"the {status} event of {job_uuid} was not routed to jobsd's events queue")

    def cleanup(self):
        for kind in ("queues", "exchanges"):
            req = urllib.request.Request(f"{self.base}/{kind}/%2F", headers={"Authorization": self.auth})
            try:
                for entry in json.load(urllib.request.urlopen(req, timeout=10)):
                    if entry["name"].startswith(self.prefix):
                        name = urllib.parse.quote(entry["name"], safe="")
                        urllib.request.urlopen(urllib.request.Request(
                            f"{self.base}/{kind}/%2F/{name}", method="DELETE", headers={"Authorization": self.auth}),
                            timeout=10)
            except OSError as e:
                print(f"cleanup of {self.prefix}* {kind} failed: {e}")


def store_urls(kind, work):
    """One store per server: SQLite files, or fresh schemas on the test cluster (psql)."""
    if kind == "sqlite":
        return {name: f"sqlite:{work}/{name}.db" for name in ("main", "limited", "backlogged")}, lambda: None
    base = env("JOBSD_TEST_PG_URL")
    names = {name: f"walk_{name}_{uuid.uuid4().hex[:12]}" for name in ("main", "limited", "backlogged")}
    for schema in names.values():
        subprocess.run(["psql", base, "-q", "-c", f"CREATE SCHEMA {schema}"], check=True)
    sep = "&" if "?" in base else "?"
    urls = {name: f"{base}{sep}options=-c%20search_path%3D{schema}" for name, schema in names.items()}

    def drop():
        for schema in names.values():
            subprocess.run(["psql", base, "-q", "-c", f"DROP SCHEMA {schema} CASCADE"], check=False)
    return urls, drop


def start_servers(kind, work):
    urls, drop = store_urls(kind, work)
    broker = Broker(f"walk{uuid.uuid4().hex[:8]}.")
    servers = {}
    try:
        servers["main"] = Jobsd(urls["main"], dict(broker.settings(), JOBSD_SERVER_BATCH_BODY_LIMIT="262144"),
                                f"{work}/main")
        servers["limited"] = Jobsd(urls["limited"], {"JOBSD_SERVER_RATE_LIMIT_PER_SECOND": "0.001",
                                                     "JOBSD_SERVER_RATE_LIMIT_BURST": "2",
                                                     "JOBSD_SERVER_MAX_STREAMS_PER_ACCOUNT": "1"}, f"{work}/limited")
        servers["backlogged"] = Jobsd(urls["backlogged"], {"JOBSD_SERVER_MAX_OUTBOX_BACKLOG": "1"}, f"{work}/backlogged")
        main, backlogged = servers["main"], servers["backlogged"]
        wait_for("the main jobsd's broker connection", lambda: main.request("GET", "/readyz")[0] == 200)
        for _ in range(2):
            backlogged.request("POST", "/jobs/v2", {"x-api-key": KEY_A, "Content-Type": "application/json"}, json.dumps(JOB))
        wait_for("the outbox bound (measured every second)", lambda: backlogged.request("GET", "/readyz")[0] == 503)
    except BaseException:
        for s in servers.values():
            s.stop()
        broker.cleanup()
        drop()
        raise

    def stop():
        for s in servers.values():
            s.stop()
        broker.cleanup()
        drop()
    return servers, stop, broker


def walk(kind):
    repo_text = open(env("JOBSD_OPENAPI"), encoding="utf-8").read()
    work = tempfile.mkdtemp(prefix="jobsd-openapi-")
    servers, stop, broker = start_servers(kind, work)
    try:
        served = servers["main"].request("GET", "/openapi.json")[2].decode("utf-8")
        doc = json.loads(served)
        problems = check_document(doc, served, repo_text)
        w = Walk(doc, servers, broker)
        w.run()
        problems += w.failures
    finally:
        stop()
    for p in problems:
        print("FAIL", p)
    print(f"{w.checked} requests checked against {sum(len(i) for i in doc['paths'].values())} operations "
          f"on {kind}; {len(problems)} problems")
    if problems:
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


def browser():
    """/docs in headless Chromium: every operation rendered, no CSP violation in its log."""
    work = tempfile.mkdtemp(prefix="jobsd-docs-")
    server = Jobsd(f"sqlite:{work}/jobs.db", {}, f"{work}/jobsd")
    try:
        expected = sum(len(i) for i in json.loads(server.request("GET", "/openapi.json")[2])["paths"].values())
        status, headers, _ = server.request("GET", "/docs")
        csp = headers.get("content-security-policy", "")
        if status != 200 or "default-src 'self'" not in csp or "'unsafe-inline'" in csp:
            print(f"FAIL /docs answered {status} with Content-Security-Policy {csp!r}")
            return 1
        chromium = "/usr/bin/chromium"
        if not os.path.exists(chromium):
            print(f"FAIL {chromium} is missing; scripts/setup.sh installs Debian's chromium")
            return 1
        url = f"http://{server.host}:{server.port}/docs"
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  f"--user-data-dir={work}/chromium", "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]
        run = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
        dom, log = run.stdout, run.stderr
        problems = []
        if 'data-loaded="true"' not in dom:
            problems.append("the page never rendered the document")
        rendered = re.search(r'data-operations="(\d+)"', dom)
        if not rendered or int(rendered.group(1)) != expected:
            problems.append(f"{rendered.group(1) if rendered else 'no'} operations rendered, {expected} in the document")
        for op_id in ("createBatch", "listJobs", "createJob"):
            if f'id="{op_id}"' not in dom:
                problems.append(f"no section for {op_id}")
        violations = [line for line in log.splitlines() if "Content Security Policy" in line or "Refused to" in line]
        problems += [f"CSP: {v}" for v in violations]
        out_dir = os.environ.get("JOBSD_TEST_OUTPUT_DIR")
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            subprocess.run(common + [f"--screenshot={out_dir}/docs.png", "--window-size=1280,1600", url],
                           capture_output=True, timeout=120)
    finally:
        server.stop()
    for p in problems:
        print("FAIL", p)
    print(f"/docs rendered {expected} operations; {len(problems)} problems")
    if not problems:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"])
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    if args.browser:
        return browser()
    if not args.store:
        parser.error("--store or --browser")
    return walk(args.store)


if __name__ == "__main__":
    sys.exit(main())
