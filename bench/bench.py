"""whenready benchmarks: one-shot checks, gate latency, the cost of waiting, scale, size.

Run through bench/run.sh. Every comparison runs in the same invocation on the same
machine; servers (PostgreSQL, Redis, HTTP, TCP listeners) are started here on free
loopback ports and stopped at the end. Prints Markdown tables.
"""

import calendar
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.server

WHENREADY = os.path.abspath(sys.argv[1])
SECTIONS = sys.argv[2:] or ["size", "oneshot", "gate", "pggate", "idle", "scale"]
PG_BIN = "/usr/lib/postgresql/15/bin"
PG_PASSWORD = "bench-pw"
TMP = tempfile.mkdtemp(prefix="whenready-bench-")
os.chmod(TMP, 0o755)  # the unprivileged PostgreSQL user must reach its data dir
random.seed(7)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    sys.stdout.flush()


def as_pg_user(args):
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + args
    return args


class Postgres:
    """A PostgreSQL 15 cluster of our own (scram-sha-256 over TCP)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pg-", dir=TMP)
        os.chmod(self.dir, 0o755)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PG_PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(self.dir, 65534, 65534)
            shutil.chown(pwfile, 65534, 65534)
        self.data = os.path.join(self.dir, "data")
        subprocess.run(as_pg_user([f"{PG_BIN}/initdb", "-D", self.data, "-U", "app", "--auth-host=scram-sha-256",
                                   "--auth-local=trust", "--no-sync", f"--pwfile={pwfile}"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = free_port()
        self.log = os.path.join(self.dir, "log.txt")

    def opts(self):
        return (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c log_line_prefix='%m ' -c log_timezone=UTC")

    def start(self, wait=True):
        args = [f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-o", self.opts()]
        args += ["-w", "start"] if wait else ["-W", "start"]
        subprocess.run(as_pg_user(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        subprocess.run(as_pg_user([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def url(self):
        return f"postgres://app:{PG_PASSWORD}@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def ready_times(self):
        """Epoch seconds of every 'ready to accept connections' line in the log
        (log_line_prefix '%m ' with log_timezone UTC: '2026-11-23 19:00:00.123 UTC')."""
        out = []
        with open(self.log) as f:
            for line in f:
                if "ready to accept connections" in line:
                    day, clock = line.split()[:2]
                    whole, _, frac = clock.partition(".")
                    t = calendar.timegm(time.strptime(f"{day} {whole}", "%Y-%m-%d %H:%M:%S"))
                    out.append(t + float("0." + (frac or "0")))
        return out


class Redis:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                return
            except OSError:
                time.sleep(0.01)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Http:
    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Listener:
    """A TCP listener that accepts and closes connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
                c.close()
            except OSError:
                return


def hyperfine(commands, runs=100):
    path = os.path.join(TMP, "hf.json")
    args = ["hyperfine", "-N", "--warmup", "10", "--runs", str(runs), "--export-json", path]
    for name, cmd in commands:
        args += ["-n", name, cmd]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(path) as f:
        results = json.load(f)["results"]
    return [(r["command"], r["times"]) for r in results]


def oneshot():
    pg, rd, web, tcp = Postgres(), Redis(), Http(), Listener()
    pg.start()
    try:
        groups = [
            ("TCP port", [("whenready --once", f"{WHENREADY} --once 127.0.0.1:{tcp.port}"),
                          ("nc -z", f"nc -z 127.0.0.1 {tcp.port}")]),
            ("PostgreSQL", [("whenready --once (login + SELECT 1)", f"{WHENREADY} --once {pg.url()}"),
                            ("pg_isready (no login)", f"pg_isready -q -h 127.0.0.1 -p {pg.port}"),
                            ("psql -c 'select 1'", f"psql {pg.url()} -Atqc 'select 1'")]),
            ("Redis", [("whenready --once (PING)", f"{WHENREADY} --once redis://127.0.0.1:{rd.port}"),
                       ("redis-cli ping", f"redis-cli -p {rd.port} ping")]),
            ("HTTP", [("whenready --once (GET)", f"{WHENREADY} --once http://127.0.0.1:{web.port}/"),
                      ("curl -fsS", f"curl -fsS -o /dev/null http://127.0.0.1:{web.port}/")]),
        ]
        rows = []
        for label, commands in groups:
            results = hyperfine(commands, runs=100)
            base = statistics.median(results[0][1])
            for name, times in results:
                med = statistics.median(times)
                rows.append([label, f"`{name}`", f"{med * 1000:.2f}", f"{pct(times, 0.9) * 1000:.2f}",
                             f"{med / base:.2f}x" if name != results[0][0] else "1.00x"])
        table("One-shot check (wall time per invocation, 100 runs after 10 warm-ups)",
              ["target", "command", "median ms", "p90 ms", "vs whenready"], rows)
    finally:
        pg.stop()
        rd.stop()


def gate_trial(command):
    """Starts `command` (which ends by exec'ing `date +%s.%N`), opens the port at a
    random moment 1-5 s later, returns command start minus readiness, in seconds."""
    port = free_port()
    proc = subprocess.Popen([c.replace("PORT", str(port)) for c in command],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(1, 5))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    ready = time.time()
    out, _ = proc.communicate(timeout=60)
    s.close()
    return float(out.split()[-1]) - ready


def gate():
    tools = [
        ("whenready (defaults)", [WHENREADY, "-q", "127.0.0.1:PORT", "--", "date", "+%s.%N"]),
        ("250 ms poller (nc -z loop)", ["sh", "-c", "until nc -z 127.0.0.1 PORT; do sleep 0.25; done; exec date +%s.%N"]),
        ("1 s poller (wait-for-it style)", ["sh", "-c", "until nc -z 127.0.0.1 PORT; do sleep 1; done; exec date +%s.%N"]),
    ]
    trials = 20
    rows = []
    for name, cmd in tools:
        lat = [gate_trial(cmd) for _ in range(trials)]
        rows.append([name, f"{statistics.median(lat) * 1000:.0f}", f"{pct(lat, 0.9) * 1000:.0f}",
                     f"{max(lat) * 1000:.0f}"])
    table(f"Gate latency, TCP: port opens 1-5 s after the start; command start minus readiness ({trials} trials)",
          ["waiter", "median ms", "p90 ms", "max ms"], rows)


def pggate():
    pg = Postgres()
    trials = 20
    tools = [
        ("whenready (login + SELECT 1)", [WHENREADY, "-q", pg.url(), "--", "date", "+%s.%N"]),
        ("pg_isready loop, 1 s", ["sh", "-c", f"until pg_isready -q -h 127.0.0.1 -p {pg.port}; do sleep 1; done; exec date +%s.%N"]),
    ]
    rows = []
    for name, cmd in tools:
        lat = []
        for _ in range(trials):
            before = len(pg.ready_times()) if os.path.exists(pg.log) else 0
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            time.sleep(random.uniform(1, 5))
            pg.start(wait=False)
            out, _ = proc.communicate(timeout=60)
            started = float(out.split()[-1])
            for _ in range(100):
                times = pg.ready_times()
                if len(times) > before:
                    break
                time.sleep(0.05)
            lat.append(started - times[-1])
            pg.stop()
        rows.append([name, f"{statistics.median(lat) * 1000:.0f}", f"{pct(lat, 0.9) * 1000:.0f}",
                     f"{max(lat) * 1000:.0f}"])
    table(f"Gate latency, PostgreSQL started 1-5 s after the waiter; command start minus the server's "
          f"'ready to accept connections' log time ({trials} trials)", ["waiter", "median ms", "p90 ms", "max ms"], rows)


def measure_idle(cmd):
    """CPU seconds, peak RSS (KiB) and connect() calls while waiting 10 s."""
    tv = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    fields = {}
    for line in tv.stderr.splitlines():
        if ":" in line:
            k, v = line.strip().rsplit(":", 1)
            fields[k.strip()] = v.strip()
    cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
    rss = int(fields["Maximum resident set size (kbytes)"])
    st = subprocess.run(["strace", "-f", "-c", "-e", "trace=connect"] + cmd, capture_output=True, text=True)
    calls = 0
    for line in st.stderr.splitlines():
        parts = line.split()
        if parts and parts[-1] == "connect":
            calls = int(parts[3]) if len(parts) >= 5 else int(parts[2])
    return cpu, rss, calls


def idle():
    port = free_port()
    target = f"127.0.0.1:{port}"
    loop1 = f"end=$(($(date +%s)+10)); until nc -z 127.0.0.1 {port}; do [ $(date +%s) -ge $end ] && exit 1; sleep 1; done"
    loop25 = f"end=$(($(date +%s)+10)); until nc -z 127.0.0.1 {port}; do [ $(date +%s) -ge $end ] && exit 1; sleep 0.25; done"
    rows = []
    for name, cmd in [("whenready -t 10s", [WHENREADY, "-q", "-t", "10s", target]),
                      ("bash loop, nc -z every 1 s", ["bash", "-c", loop1]),
                      ("bash loop, nc -z every 250 ms", ["bash", "-c", loop25])]:
        cpu, rss, calls = measure_idle(cmd)
        rows.append([name, f"{cpu * 1000:.0f}", f"{rss / 1024:.1f}", calls])
    table("Cost of waiting 10 s for a closed port (CPU includes children; RSS is the largest process)",
          ["waiter", "CPU ms", "peak RSS MiB", "connect() calls"], rows)


def scale():
    n = 1000
    listeners = [Listener() for _ in range(n)]
    targets = [f"127.0.0.1:{l.port}" for l in listeners]
    path = os.path.join(TMP, "targets")
    rows = []
    for label, extra in [("1,000 TCP targets, all up", [])]:
        env = dict(os.environ, WHENREADY_TARGETS=",".join(targets))
        t0 = time.time()
        tv = subprocess.run(["/usr/bin/time", "-v", WHENREADY, "-q", "-t", "60s"], env=env, capture_output=True, text=True)
        wall = time.time() - t0
        rss = [l for l in tv.stderr.splitlines() if "Maximum resident" in l][0].split(":")[1].strip()
        rows.append([label, tv.returncode, f"{wall * 1000:.0f}", f"{int(rss) / 1024:.1f}"])
    # 200 targets that accept and never answer (HTTP): how far past the deadline?
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4096)
    sp = silent.getsockname()[1]
    urls = ",".join(f"http://127.0.0.1:{sp}/{i}" for i in range(200))
    env = dict(os.environ, WHENREADY_TARGETS=urls)
    over = []
    for _ in range(10):
        t0 = time.time()
        r = subprocess.run([WHENREADY, "-q", "-t", "1s"], env=env, capture_output=True, text=True)
        over.append(time.time() - t0 - 1.0)
    rows.append(["200 hanging HTTP targets, -t 1s: overshoot past the deadline", r.returncode,
                 f"median {statistics.median(over) * 1000:.0f}, max {max(over) * 1000:.0f}", "–"])
    table("Scale", ["run", "exit", "wall ms", "peak RSS MiB"], rows)


def size():
    st = os.stat(WHENREADY).st_size
    table("Size", ["artifact", "bytes"], [["static musl binary (whenready)", f"{st:,}"],
                                          ["image FROM scratch (the binary plus 4 hard links to it)", f"~{st:,}"]])


def main():
    print(f"Machine: {os.cpu_count()} CPUs, {os.uname().release}; binary {WHENREADY}")
    try:
        for s in SECTIONS:
            globals()[s]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


main()
