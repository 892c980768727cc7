#!/usr/bin/python3
"""A service's webhook receiver, as a city's system would run one, for dispatch's tests.

It checks every request as docs/design/dispatch.md tells a receiver to: the timestamp
within 5 minutes, and X-Vigil-Signature = sha256=HMAC-SHA256(secret, timestamp + "." +
body), compared in constant time. It records each request as one JSON line in --log
(the idempotency key of the header and of the signed body, whether the signature held,
whether the key was seen before, the event and the incident's number), and drops a repeat
by the body's key (the header is not signed): the key was seen, so nothing is done twice. Written from the design, not from Vigil's code: the standard library only.

--fail N answers 503 to the first N requests (not acted on); --hang-first acts on the first
and never answers it (the test kills Vigil while it waits). Prints READY when it listens.
"""
import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--secret-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail", type=int, default=0)
parser.add_argument("--hang-first", action="store_true")
args = parser.parse_args()
secret = open(args.secret_file, "rb").read().strip()
lock = threading.Lock()
seen = set()
count = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        if length < 0 or length > 1 << 20:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        stamp = self.headers.get("X-Vigil-Timestamp", "")
        given = self.headers.get("X-Vigil-Signature", "")
        header_key = self.headers.get("Idempotency-Key", "")
        expected = "sha256=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 300
        valid = fresh and hmac.compare_digest(expected, given)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        # Repeats are dropped by the key inside the signed body: the header is not signed.
        key = payload.get("idempotencyKey", "") if valid else ""
        with lock:
            count += 1
            n = count
            repeat = key in seen
            # Acted on (a refusal with 503 is not): a repeat of it is dropped.
            if valid and n > args.fail:
                seen.add(key)
            line = {
                "n": n, "key": header_key, "valid": valid, "repeat": repeat, "event": payload.get("event"),
                "number": payload.get("incident", {}).get("number"), "bodyKey": payload.get("idempotencyKey"),
                "path": self.path,
            }
            with open(args.log, "a") as f:
                f.write(json.dumps(line) + "\n")
        if not valid:
            self.send_error(401, "bad signature")
        elif args.hang_first and n == 1:
            time.sleep(3600)
        elif n <= args.fail:
            self.send_error(503, "busy, try later")
        else:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("READY", flush=True)
server.serve_forever()
