"""A tiny HTTP service (standard library only), standing in for users and orders.

GET /health answers 503 for the first WARMUP_SECONDS (a service that accepts
connections before it can serve: exactly what an open port does not tell you),
then 200. Any other path answers a small JSON document.
"""

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("SERVICE_NAME", "service")
WARMUP = float(os.environ.get("WARMUP_SECONDS", "5"))
STARTED = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        warming = time.monotonic() - STARTED < WARMUP
        if self.path == "/health":
            status, doc = (503, {"status": "warming up"}) if warming else (200, {"status": "ok"})
        else:
            status, doc = 200, {"service": NAME, "path": self.path}
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{NAME}: {fmt % args}\n")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
    print(f"{NAME}: listening on :8080, healthy in {WARMUP:g}s", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
