#!/usr/bin/python3
"""A webhook receiver that verifies every request as the Standard Webhooks spec says.

Written from the spec's text ("Verifying webhook authenticity"), not from jobsd's code:
the signed content is "<webhook-id>.<webhook-timestamp>.<raw body>"; the key is the secret
without its "whsec_" prefix, base64-decoded; the signature is base64 of HMAC-SHA256 over the
content; webhook-signature holds space-separated "v1,<base64>" entries, any of which may match
(two during a secret rotation); comparisons are constant-time; a timestamp more than five
minutes away from now is refused (replay protection).

Usage: webhook_receiver.py --port-file F --secret-file S --log L [--status 204]
Listens on 127.0.0.1 (a free port, written to F), reads the secret from S at each request (the
test writes it once the endpoint exists), and appends one JSON line per request to L.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


def verify(secret, msg_id, timestamp, signature_header, body):
    """Returns (valid, reason)."""
    if not msg_id or not timestamp or not signature_header:
        return False, "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(timestamp)
    except ValueError:
        return False, "webhook-timestamp is not an integer"
    if abs(time.time() - ts) > TOLERANCE_SECONDS:
        return False, "webhook-timestamp is too far from now"
    if not secret.startswith("whsec_"):
        return False, "secret is not a whsec_ secret"
    key = base64.b64decode(secret[len("whsec_"):])
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for entry in signature_header.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True, ""
    return False, "no signature matches"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--status", type=int, default=204)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                with open(args.secret_file) as f:
                    secret = f.read().strip()
            except OSError:
                secret = ""
            valid, reason = verify(secret, self.headers.get("webhook-id"), self.headers.get("webhook-timestamp"),
                                   self.headers.get("webhook-signature"), body)
            record = {"id": self.headers.get("webhook-id"), "valid": valid, "reason": reason,
                      "signatures": len((self.headers.get("webhook-signature") or "").split())}
            try:
                payload = json.loads(body)
                record.update(type=payload.get("type"), uuid=payload["data"]["uuid"],
                              job_status=payload["data"]["job_status"])
            except (ValueError, KeyError, TypeError):
                record["type"] = None
            with open(args.log, "a") as f:
                f.write(json.dumps(record) + "\n")
            self.send_response(args.status if valid else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *unused):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
