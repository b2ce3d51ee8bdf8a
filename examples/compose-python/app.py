"""A stand-in web app: it only starts once PostgreSQL and Redis are ready.

Standard library only. whenready did the waiting before this process existed
(it exec'd into `python app.py`), so there is no retry loop here.
"""

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.time()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(
            {
                "status": "ok",
                "database": os.environ.get("DATABASE_HOST", "db"),
                "cache": os.environ.get("REDIS_HOST", "cache"),
                "uptime_seconds": round(time.time() - STARTED, 1),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    # After the exec this process is PID 1: without a handler the kernel drops
    # SIGTERM, and `docker compose stop` would wait out its grace period.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"app: dependencies ready, listening on :{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
