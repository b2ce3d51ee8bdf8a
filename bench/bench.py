"""whenready benchmarks: one-shot checks, gate latency, the cost of waiting, scale, size.

Run through bench/run.sh. Every comparison runs in the same invocation on the same
machine; servers (PostgreSQL, Redis, HTTP, TCP listeners; for `kinds` Mosquitto,
nats-server, a RabbitMQ node and MariaDB) are started here on free loopback ports and
stopped at the end. Prints Markdown tables.
"""

import calendar
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.server

WHENREADY = os.path.abspath(sys.argv[1])


def _befores():
    """Older builds to measure beside this one, for the ratio of a change:
    WHENREADY_BEFORE holds one path, or several `LABEL=PATH` separated by commas
    (e.g. `non-PIE=/tmp/a/whenready,ffd3316=/tmp/b/whenready`). Each gives rows
    tagged with its label ("before" when it has none)."""
    found = []
    for item in filter(None, os.environ.get("WHENREADY_BEFORE", "").split(",")):
        label, _, path = item.rpartition("=")
        found.append((label or "before", os.path.abspath(path)))
    return found


BEFORES = _befores()
SECTIONS = sys.argv[2:] or ["size", "floor", "oneshot", "kinds", "fakes", "gate", "pathgate", "pggate", "idle",
                            "cost", "charge", "scale"]
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

    def url(self, host="127.0.0.1"):
        return f"postgres://app:{PG_PASSWORD}@{host}:{self.port}/postgres?sslmode=disable"

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


def hyperfine(commands, runs=100, warmup=10, env=None):
    path = os.path.join(TMP, "hf.json")
    args = ["hyperfine", "-N", "--warmup", str(warmup), "--runs", str(runs), "--export-json", path]
    for name, cmd in commands:
        args += ["-n", name, cmd]
    r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=TMP)
    if r.returncode != 0:
        raise RuntimeError(f"hyperfine failed on {[c for _, c in commands]}: {r.stderr.strip()}")
    with open(path) as f:
        results = json.load(f)["results"]
    return [(r["command"], r["times"]) for r in results]


def runs_rows(groups):
    """Table rows for groups of (label, [(name, command, runs, hyperfine options)]):
    each command timed on its own, with its runs, median, p90 and ratio to the
    group's first (whenready)."""
    rows = []
    for label, commands in groups:
        results = []
        for name, cmd, runs, opts in commands:
            results += hyperfine([(name, cmd)], runs=runs, **opts)
        base = statistics.median(results[0][1])
        for i, (name, times) in enumerate(results):
            med = statistics.median(times)
            rows.append([label, f"`{name}`", len(times), f"{med * 1000:.2f}", f"{pct(times, 0.9) * 1000:.2f}",
                         "1.00x" if i == 0 else f"{med / base:.2f}x"])
    return rows


def understood_by(binary, cmd):
    """Whether an older build takes this command line: one that exits 2 (a usage
    error, such as a target form added since) gets no "before:" row."""
    r = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode == 2:
        print(f"(no row for `{cmd}`: {binary} exits 2, a usage error)")
        return False
    return True


def oneshot():
    pg, rd, web, tcp = Postgres(), Redis(), Http(), Listener()
    pg.start()
    try:
        groups = [
            ("TCP port", [("whenready --once 127.0.0.1:PORT", f"{WHENREADY} --once 127.0.0.1:{tcp.port}"),
                          ("whenready --once localhost:PORT", f"{WHENREADY} --once localhost:{tcp.port}"),
                          ("nc -z 127.0.0.1 PORT", f"nc -z 127.0.0.1 {tcp.port}"),
                          ("nc -z localhost PORT", f"nc -z localhost {tcp.port}")]),
            ("PostgreSQL", [("whenready --once (login + SELECT 1)", f"{WHENREADY} --once {pg.url()}"),
                            ("whenready --once, by localhost", f"{WHENREADY} --once {pg.url('localhost')}"),
                            ("pg_isready (no login)", f"pg_isready -q -h 127.0.0.1 -p {pg.port}"),
                            ("pg_isready -h localhost (no login)", f"pg_isready -q -h localhost -p {pg.port}"),
                            ("psql -c 'select 1'", f"psql {pg.url()} -Atqc 'select 1'")]),
            ("PostgreSQL #query=", [("whenready --once '…#query=SELECT count(*) > 0 FROM pg_class'",
                                     f"{WHENREADY} --once '{pg.url()}#query=SELECT count(*) > 0 FROM pg_class'"),
                                    ("psql -c 'SELECT count(*) > 0 FROM pg_class'",
                                     f"psql {pg.url()} -Atqc 'SELECT count(*) > 0 FROM pg_class'")]),
            ("Redis", [("whenready --once (PING)", f"{WHENREADY} --once redis://127.0.0.1:{rd.port}"),
                       ("whenready --once, by localhost", f"{WHENREADY} --once redis://localhost:{rd.port}"),
                       ("redis-cli ping", f"redis-cli -p {rd.port} ping"),
                       ("redis-cli -h localhost ping", f"redis-cli -h localhost -p {rd.port} ping")]),
            ("HTTP", [("whenready --once (GET)", f"{WHENREADY} --once http://127.0.0.1:{web.port}/"),
                      ("whenready --once, by localhost", f"{WHENREADY} --once http://localhost:{web.port}/"),
                      ("curl -fsS", f"curl -fsS -o /dev/null http://127.0.0.1:{web.port}/")]),
        ]
        for tag, before in BEFORES:
            for _, commands in groups:
                commands += [(f"{tag}: {name}", cmd.replace(WHENREADY, before, 1))
                             for name, cmd in commands if cmd.startswith(WHENREADY)
                             and understood_by(before, cmd.replace(WHENREADY, before, 1))]
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


# The brokers and the database of the `kinds` section: each started here, in its own
# process group, on a free port of 127.0.0.1 (never the machine's own instances on the
# standard ports). A watchdog shell holds a pipe from this process: however this process
# ends, even killed, the pipe closes and the watchdog stops the RabbitMQ node and kills
# every process group still listed in TMP/pgids (`kill -KILL -PGID`: dash's kill takes no `--`).
MY_PASSWORD = "bench-my-pw"
RABBIT_BIN = "/usr/lib/rabbitmq/bin"  # Debian's /usr/sbin wrappers switch to the rabbitmq user
_watchdog = None


def watchdog():
    global _watchdog
    if _watchdog is None:
        pgids = os.path.join(TMP, "pgids")
        open(pgids, "w").close()
        script = (f"cat >/dev/null; "
                  f"if [ -f '{TMP}/rabbit-node' ]; then HOME='{TMP}/rabbit/home' ERL_CRASH_DUMP_BYTES=0 "
                  f"'{RABBIT_BIN}/rabbitmqctl' -n \"$(cat '{TMP}/rabbit-node')\" stop >/dev/null 2>&1; fi; "
                  f"for g in $(cat '{pgids}' 2>/dev/null); do kill -KILL -$g 2>/dev/null; done; "
                  f"rm -rf '{TMP}'")
        _watchdog = subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd="/", start_new_session=True)
    return _watchdog


def _pgids(change):
    path = os.path.join(TMP, "pgids")
    with open(path) as f:
        groups = f.read().split()
    groups = change(groups)
    with open(path, "w") as f:
        f.write("\n".join(groups) + "\n")


class Server:
    """A server process in its own process group, known to the watchdog."""

    def spawn(self, args, **kw):
        watchdog()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True, **kw)
        _pgids(lambda g: g + [str(self.proc.pid)])

    def wait_port(self, port, what, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited ({self.proc.returncode}) while starting")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {seconds} s")

    def kill(self):
        if getattr(self, "proc", None) is None:
            return
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
        pid = str(self.proc.pid)
        _pgids(lambda g: [x for x in g if x != pid])
        self.proc = None


class Mosquitto(Server):
    """Mosquitto with a password file: user `u`, password `p`, no anonymous clients."""

    def __init__(self):
        d = os.path.join(TMP, "mosquitto")
        os.makedirs(d)
        self.port = free_port()
        passwd = os.path.join(d, "passwd")
        subprocess.run(["mosquitto_passwd", "-b", "-c", passwd, "u", "p"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            # Started as root, mosquitto otherwise drops to the user mosquitto.
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                    f"user root\npersistence false\nlog_dest none\n")
        self.spawn(["mosquitto", "-c", conf])
        self.wait_port(self.port, "mosquitto")

    def stop(self):
        self.kill()


class Nats(Server):
    def __init__(self):
        self.port = free_port()
        self.spawn(["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "--user", "u", "--pass", "p"])
        self.wait_port(self.port, "nats-server")

    def stop(self):
        self.kill()


class Rabbit(Server):
    """A RabbitMQ node of our own: node name, AMQP and distribution ports, cookie (HOME),
    data and logs in TMP/rabbit; guest/guest (loopback only) on the default vhost."""

    def __init__(self):
        self.dir = os.path.join(TMP, "rabbit")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.node = f"whenready-bench-{os.getpid()}@localhost"
        self.port = free_port()
        cookie = os.path.join(self.home, ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write(f"whenreadybench{random.getrandbits(64)}")
        os.chmod(cookie, 0o400)
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        env = dict(os.environ, HOME=self.home, RABBITMQ_NODENAME=self.node,
                   RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(self.port),
                   RABBITMQ_DIST_PORT=str(free_port()),
                   RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                   RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                   RABBITMQ_CONFIG_FILE=os.path.join(self.dir, "rabbitmq"),
                   RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, "enabled_plugins"),
                   RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"), ERL_CRASH_DUMP_BYTES="0")
        with open(os.path.join(TMP, "rabbit-node"), "w") as f:
            f.write(self.node)  # for the watchdog's rabbitmqctl stop
        self.spawn([f"{RABBIT_BIN}/rabbitmq-server"], env=env, cwd=self.dir)
        self.wait_port(self.port, "rabbitmq-server", seconds=90)
        if not self.ctl(["await_startup", "--timeout", "60"]):
            raise RuntimeError(f"RabbitMQ node {self.node} did not finish booting; see {self.dir}/log")

    def env(self):
        # The CLI tools find the node's cookie in HOME.
        return dict(os.environ, HOME=self.home, ERL_CRASH_DUMP_BYTES="0")

    def ctl(self, args):
        return subprocess.run([f"{RABBIT_BIN}/rabbitmqctl", "-n", self.node] + args, env=self.env(),
                              cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def stop(self):
        if getattr(self, "proc", None) is not None:
            self.ctl(["stop"])
            self.kill()
        try:
            os.remove(os.path.join(TMP, "rabbit-node"))
        except FileNotFoundError:
            pass


class Mariadb(Server):
    """A MariaDB server of our own (data dir and socket in TMP/mariadb), with the user
    `app` (password MY_PASSWORD, mysql_native_password) made over the socket."""

    def __init__(self):
        self.dir = os.path.join(TMP, "mariadb")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.makedirs(self.dir)
        self.port = free_port()
        common = ["--no-defaults", "--user=root", "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
                  "--innodb-flush-log-at-trx-commit=0", "--skip-innodb-doublewrite", "--performance-schema=OFF"]
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root", "--skip-test-db",
                        "--auth-root-authentication-method=normal", f"--datadir={self.data}"] + common[2:],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.spawn(["mariadbd"] + common + [f"--datadir={self.data}", f"--socket={self.sock}",
                                            f"--pid-file={self.dir}/pid", f"--log-error={self.dir}/error.log",
                                            f"--port={self.port}", "--bind-address=127.0.0.1",
                                            "--skip-name-resolve"])
        self.wait_port(self.port, "mariadbd")
        subprocess.run(["mariadb", "--no-defaults", f"--socket={self.sock}", "-uroot", "-e",
                        f"CREATE USER 'app'@'%' IDENTIFIED BY '{MY_PASSWORD}'"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if getattr(self, "proc", None) is not None:
            subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.sock}", "-uroot", "shutdown"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            self.kill()


def knows_mysql():
    """Whether this whenready has the mysql:// kind (merged separately)."""
    r = subprocess.run([WHENREADY, "--once", f"mysql://u:p@127.0.0.1:{free_port()}/"],
                       capture_output=True, text=True)
    return 'unsupported scheme "mysql"' not in r.stderr


def kinds():
    """One-shot checks of the broker and MySQL kinds against the clients users run instead."""
    servers = []
    try:
        mq = Mosquitto()
        servers.append(mq)
        nats = Nats()
        servers.append(nats)
        rabbit = Rabbit()
        servers.append(rabbit)
        groups = [
            ("MQTT (Mosquitto, password file)", [
                ("whenready --once mqtt://u:p@… (CONNECT/CONNACK)",
                 f"{WHENREADY} --once mqtt://u:p@127.0.0.1:{mq.port}", 100, {}),
                ("mosquitto_pub -u u -P p (connect, publish, disconnect)",
                 f"mosquitto_pub -h 127.0.0.1 -p {mq.port} -u u -P p -t whenready/bench -m x", 100, {})]),
            ("NATS (user + password)", [
                ("whenready --once nats://u:p@… (CONNECT, PING/PONG)",
                 f"{WHENREADY} --once nats://u:p@127.0.0.1:{nats.port}", 100, {}),
                ("nc -z (port only; Debian has no NATS client)", f"nc -z 127.0.0.1 {nats.port}", 100, {})]),
            ("RabbitMQ (AMQP 0-9-1)", [
                ("whenready --once amqp://guest:guest@…/ (login, Connection.Open)",
                 f"{WHENREADY} --once amqp://guest:guest@127.0.0.1:{rabbit.port}/", 100, {}),
                ("rabbitmq-diagnostics -q ping (10 runs, 2 warm-ups)",
                 f"{RABBIT_BIN}/rabbitmq-diagnostics -q -n {rabbit.node} ping", 10,
                 {"env": rabbit.env(), "warmup": 2})]),
        ]
        skipped, notes = [], []
        if knows_mysql():
            my = Mariadb()
            servers.append(my)
            admin = f"mariadb-admin ping -h 127.0.0.1 -P {my.port} -u app -p{MY_PASSWORD}"
            groups.append(("MariaDB 10.11 (mysql://)", [
                ("whenready --once mysql://app:…@…/ (login)",
                 f"{WHENREADY} --once mysql://app:{MY_PASSWORD}@127.0.0.1:{my.port}/", 100, {}),
                ("mariadb-admin ping -u app -p…", admin, 100, {}),
                ("mariadb-admin ping --silent -u app -p…", admin + " --silent", 100, {})]))
            groups.append(("MariaDB 10.11 #query=", [
                ("whenready --once 'mysql://app:…@…/#query=SELECT COUNT(*) > 0 FROM information_schema.schemata'",
                 f"{WHENREADY} --once 'mysql://app:{MY_PASSWORD}@127.0.0.1:{my.port}/"
                 "#query=SELECT COUNT(*) > 0 FROM information_schema.schemata'", 100, {}),
                ("mysql -e 'SELECT COUNT(*) > 0 FROM information_schema.schemata'",
                 f"mysql -N -B -h 127.0.0.1 -P {my.port} -u app -p{MY_PASSWORD} "
                 "-e 'SELECT COUNT(*) > 0 FROM information_schema.schemata'", 100, {})]))
            notes.append("mariadb-admin ping exits 0 whenever the server answers, even when it refuses "
                         "the login (mysqld is alive only on a successful one).")
        else:
            skipped.append("MariaDB: this whenready has no mysql:// kind yet")
        rows = runs_rows(groups)
        table("One-shot check, brokers and MySQL (wall time per invocation; 100 runs after 10 warm-ups "
              "unless said otherwise)", ["target", "command", "runs", "median ms", "p90 ms", "vs whenready"], rows)
        for n in notes:
            print(f"\nNote: {n}")
        for s in skipped:
            print(f"\nSkipped: {s}")
    finally:
        for s in reversed(servers):
            s.stop()


# --- Kafka and MongoDB (section fakes) ------------------------------------------------
# No broker or mongod can be installed on the machines this project runs on: the test
# suite's fakes (written from the protocols' specifications and checked there with
# kcat, confluent-kafka, kafka-python and pymongo) stand in, served by benches/fakes.rs.
CLIENTS_PYTHON = os.environ.get("WHENREADY_CLIENTS_PYTHON") or os.path.expanduser(
    os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "whenready-ci/clients-venv/bin/python"))


class Served:
    """One of benches/fakes.rs's servers (`kafka` or `mongodb`), for a few minutes."""

    def __init__(self, what):
        self.proc = subprocess.Popen(["cargo", "bench", "--quiet", "--locked", "--bench", "fakes", "--", what, "900"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                     start_new_session=True)
        self.addr = self.proc.stdout.readline().strip()
        if not self.addr:
            raise RuntimeError(f"benches/fakes.rs did not start a {what} fake")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def fakes():
    """One-shot checks of kafka:// and mongodb:// against kcat and pymongo, against the
    test suite's fakes."""
    servers = []
    try:
        kafka = Served("kafka")
        servers.append(kafka)
        mongo = Served("mongodb")
        servers.append(mongo)
        ping = ("import pymongo; pymongo.MongoClient('mongodb://app:bench-Pw@%s/?directConnection=true', "
                "serverSelectionTimeoutMS=5000).admin.command('ping')" % mongo.addr)
        groups = [
            ("Kafka (fake broker)", [
                ("whenready --once 'kafka://…?topic=orders' (ApiVersions, Metadata)",
                 f"{WHENREADY} --once kafka://{kafka.addr}?topic=orders", 100, {}),
                ("kcat -L -t orders (librdkafka)", f"kcat -L -b {kafka.addr} -t orders -m 5", 100, {})]),
            ("MongoDB (fake server, SCRAM-SHA-256)", [
                ("whenready --once mongodb://app:…@…/ (hello, SCRAM, ping)",
                 f"{WHENREADY} --once mongodb://app:bench-Pw@{mongo.addr}/", 100, {}),
                ("python: pymongo MongoClient(…).admin.command('ping') (10 runs, 2 warm-ups)",
                 f"{CLIENTS_PYTHON} -c \"{ping}\"", 10, {"warmup": 2})]),
        ]
        rows = runs_rows(groups)
        table("One-shot check, Kafka and MongoDB against the test suite's fakes (wall time per invocation; "
              "the fakes run from a release build of benches/fakes.rs, a thread per connection)",
              ["target", "command", "runs", "median ms", "p90 ms", "vs whenready"], rows)
    finally:
        for s in reversed(servers):
            s.stop()


# --- Peers that are not Debian packages (section floor, cost, gate, pathgate) -------
# docker-compose-wait's `/wait`: COMPOSE_WAIT_BIN (a built binary) or COMPOSE_WAIT_SRC
# (a checkout of github.com/ufoscout/docker-compose-wait, built here with cargo for
# the musl target into TMP). wait-on: WAIT_ON (its bin/wait-on, from `npm install
# wait-on`). Rows of a peer that is not given are left out, and the table says so.
_compose_wait = None


def compose_wait():
    global _compose_wait
    if _compose_wait is None:
        _compose_wait = ""
        if os.environ.get("COMPOSE_WAIT_BIN"):
            _compose_wait = os.path.abspath(os.environ["COMPOSE_WAIT_BIN"])
        elif os.environ.get("COMPOSE_WAIT_SRC"):
            target = os.path.join(TMP, "compose-wait-target")
            subprocess.run(["cargo", "build", "--release", "--quiet", "--target", "x86_64-unknown-linux-musl",
                            "--target-dir", target], cwd=os.environ["COMPOSE_WAIT_SRC"], check=True)
            _compose_wait = os.path.join(target, "x86_64-unknown-linux-musl", "release", "wait")
    return _compose_wait or None


def wait_on():
    path = os.environ.get("WAIT_ON")
    return os.path.abspath(path) if path else None


def missing_peers(names):
    if names:
        print(f"\n(Not measured: {', '.join(names)}; set COMPOSE_WAIT_BIN or COMPOSE_WAIT_SRC, and WAIT_ON.)")


def floor():
    """One-shot TCP check against the cost of starting a process, in interleaved
    rounds, every command started through `env` (so that all pay the same exec):
    whenready --once by address and by `localhost`, and its gate form, against
    /bin/true and /wait (its one-shot by address and by name, and its gate form with
    WAIT_COMMAND)."""
    tcp = Listener()
    target = f"127.0.0.1:{tcp.port}"
    by_name = f"localhost:{tcp.port}"
    commands = [("env /bin/true (the floor)", "env /bin/true")]
    cw = compose_wait()
    if cw:
        quiet = "WAIT_LOGGER_LEVEL=off"
        commands += [("docker-compose-wait /wait, WAIT_HOSTS=127.0.0.1:PORT", f"env WAIT_HOSTS={target} {quiet} {cw}"),
                     ("docker-compose-wait /wait, WAIT_HOSTS=localhost:PORT", f"env WAIT_HOSTS={by_name} {quiet} {cw}"),
                     ("docker-compose-wait /wait with WAIT_COMMAND=/bin/true",
                      f"env WAIT_HOSTS={target} {quiet} WAIT_COMMAND=/bin/true {cw}")]
    whenreadys = [("", WHENREADY)] + [(f"{tag}: ", before) for tag, before in BEFORES]
    for tag, binary in whenreadys:
        commands += [(f"{tag}whenready --once 127.0.0.1:PORT", f"env {binary} --once {target}"),
                     (f"{tag}whenready --once localhost:PORT", f"env {binary} --once {by_name}"),
                     (f"{tag}whenready -q -t 30 127.0.0.1:PORT -- true", f"env {binary} -q -t 30 {target} -- /bin/true")]
    rounds, per_round = 10, 40
    times = {name: [] for name, _ in commands}
    for _ in range(rounds):
        order = commands[:]
        random.shuffle(order)
        for (name, _), (_, t) in zip(order, hyperfine(order, runs=per_round, warmup=5)):
            times[name] += t
    floor_med = statistics.median(times[commands[0][0]])
    rows = []
    for name, _ in commands:
        med = statistics.median(times[name])
        rows.append([f"`{name}`", f"{med * 1000:.3f}", f"{pct(times[name], 0.9) * 1000:.3f}",
                     f"{med / floor_med:.2f}x"])
    table(f"One-shot TCP check against the floor, all started through env ({rounds} interleaved rounds of "
          f"{per_round} runs)", ["command", "median ms", "p90 ms", "x env /bin/true"], rows)
    missing_peers([] if cw else ["docker-compose-wait"])


def rusage_of(cmd, env=None):
    """Runs cmd under GNU time; returns (exit status, CPU seconds, peak RSS KiB,
    voluntary context switches, stderr). CPU comes from wait4 on GNU time, which
    includes the command it waited for (GNU time's own start adds ~1 ms here); the
    RSS is GNU time's figure for the command (a child forked from this Python
    process would report Python's own 20-odd MB, which survives exec)."""
    err = os.path.join(TMP, "stderr")
    stats = os.path.join(TMP, "time")
    with open(err, "wb") as f:
        proc = subprocess.Popen(["/usr/bin/time", "-o", stats, "-f", "%x %M %w"] + cmd, stdout=subprocess.DEVNULL,
                                stderr=f, env=env)
        _, _, ru = os.wait4(proc.pid, 0)
    with open(stats) as f:
        code, rss, nvcsw = f.read().split()[-3:]
    with open(err, errors="replace") as f:
        text = f.read()
    return int(code), ru.ru_utime + ru.ru_stime, int(rss), int(nvcsw), text


def cpu_of(cmd, env=None):
    """Runs cmd (posix_spawn: no fork of this process's memory, nothing of GNU time's
    own start); returns (exit status, CPU seconds user + system from wait4, stderr)."""
    err = os.path.join(TMP, "stderr")
    with open(err, "wb") as f, open(os.devnull, "wb") as null:
        pid = os.posix_spawnp(cmd[0], cmd, env if env is not None else os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, null.fileno(), 1),
                                            (os.POSIX_SPAWN_DUP2, f.fileno(), 2)])
        _, status, ru = os.wait4(pid, 0)
    with open(err, errors="replace") as f:
        text = f.read()
    return os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime, text


def connects(cmd, env=None):
    """connect() calls cmd makes (strace; a separate run)."""
    st = subprocess.run(["strace", "-f", "-c", "-e", "trace=connect"] + cmd, capture_output=True, text=True, env=env)
    for line in st.stderr.splitlines():
        parts = line.split()
        if parts and parts[-1] == "connect":
            return int(parts[3]) if len(parts) >= 5 else int(parts[2])
    return 0


def waitfloor():
    """bench/waitfloor.c (the kernel's floor of waiting on whenready's schedule),
    built here with the C compiler; None without one."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    out = os.path.join(TMP, "waitfloor")
    for flags in (["-static"], []):
        if subprocess.run([cc, "-O2", *flags, "-o", out, "bench/waitfloor.c"], capture_output=True).returncode == 0:
            return out
    return None


def cost():
    """CPU and memory of waiting 10 s: one refused port, then 100, by address and by
    `localhost` (wait4 rusage). The floor rows are a minimal C program making the
    same attempts on the same backoff (bench/waitfloor.c): what the kernel charges
    for the schedule alone, on 127.0.0.1, and on 127.0.0.1 then ::1 as `localhost`
    is tried."""
    cw = compose_wait()
    floor_bin = waitfloor()
    rows = []
    for n in (1, 100):
        ports = [free_port() for _ in range(n)]
        numbers = [str(p) for p in ports]
        waiters = []
        for host, families in (("127.0.0.1", "1"), ("localhost", "2")):
            targets = [f"{host}:{p}" for p in ports]
            waiters.append((f"whenready -t 10s {host}:PORT", [WHENREADY, "-t", "10s"] + targets, None))
            for tag, before in BEFORES:
                waiters.append((f"{tag}: whenready -t 10s {host}:PORT", [before, "-t", "10s"] + targets, None))
            if floor_bin:
                share = "1" if n > 1 else "0"
                waiters.append((f"floor: C loop, same backoff{', shared wake-ups' if n > 1 else ''}, {host}",
                                [floor_bin, "10", share, families] + numbers, None))
            if cw:
                env = dict(os.environ, WAIT_HOSTS=",".join(targets), WAIT_TIMEOUT="10", WAIT_LOGGER_LEVEL="off")
                waiters.append((f"docker-compose-wait, WAIT_TIMEOUT=10, {host}:PORT", [cw], env))
        for name, cmd, env in waiters:
            # The run with the median CPU of three (a shared machine's noise); peak RSS
            # and context switches from a fourth run under GNU time.
            runs = sorted((cpu_of(cmd, env) for _ in range(3)), key=lambda r: r[1])
            code, cpu, err = runs[1]
            _, _, rss, nvcsw, _ = rusage_of(cmd, env)
            if name.startswith(("whenready",) + tuple(f"{tag}: " for tag, _ in BEFORES)):
                # The summary says how many attempts each target had.
                attempts = sum(int(w.split("(")[-1].split()[0]) for w in err.splitlines() if w.endswith("attempts)"))
            elif name.startswith("floor"):
                attempts = int(err.split(" attempts")[0].split()[-1])
            else:
                attempts = connects(cmd, env)
            per = f"{cpu * 1000 / attempts:.4f}" if attempts else "–"
            rows.append([n, name, code, f"{cpu * 1000:.1f}", attempts, per, f"{rss / 1024:.2f}", nvcsw])
    table("Cost of waiting 10 s for refused ports (the run with the median CPU of three; CPU user+system from "
          "wait4 on the waiter itself; peak RSS and voluntary context switches from a fourth run under GNU "
          "time; attempts from the final summary, or connect() calls under strace for docker-compose-wait)",
          ["targets", "waiter", "exit", "CPU ms", "attempts", "CPU ms per attempt", "peak RSS MiB",
           "voluntary context switches"], rows)
    missing_peers([] if cw else ["docker-compose-wait"])


def memory_cgroup():
    """A directory in which to make memory cgroups, and how to read one's peak
    charge: ("v2", dir) where the unified hierarchy has the memory controller (the
    cgroup's memory.peak, Linux 5.19+), ("v1", dir) for the memory controller's own
    hierarchy; None without either, or without the right to make one."""
    v2 = "/sys/fs/cgroup"
    try:
        with open(os.path.join(v2, "cgroup.controllers")) as f:
            if "memory" in f.read().split():
                return "v2", v2
    except OSError:
        pass
    v1 = "/sys/fs/cgroup/memory"
    if os.path.exists(os.path.join(v1, "memory.max_usage_in_bytes")):
        return "v1", v1
    return None


def charged(cmd, cgroup, env=None):
    """Runs cmd (its program a fresh copy, so that none of its pages is in the page
    cache) alone in a new memory cgroup after dropping clean caches; returns the
    cgroup's peak charge and its page cache, in KiB: what a container's memory
    limit counts for this command, the binary's file pages included."""
    kind, root = cgroup
    cg = os.path.join(root, f"whenready-bench-{os.getpid()}")
    copy = os.path.join(TMP, "charged-" + os.path.basename(cmd[0]))
    shutil.copy(cmd[0], copy)
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    os.mkdir(cg)
    try:
        procs = os.path.join(cg, "cgroup.procs")
        subprocess.run(["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", copy] + cmd[1:],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        with open(os.path.join(cg, "memory.peak" if kind == "v2" else "memory.max_usage_in_bytes")) as f:
            peak = int(f.read()) // 1024
        with open(os.path.join(cg, "memory.stat")) as f:
            stat = dict(line.split() for line in f)
        cache = int(stat.get("file", stat.get("cache", 0))) // 1024
    finally:
        for _ in range(50):  # an empty cgroup may be busy for a moment
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)
        os.remove(copy)
    return peak, cache


def charge():
    """What a container's memory limit is charged for waiting 2 s on a refused
    `localhost` port, from a cold page cache (a memory cgroup of its own; root
    only): the peak charge and the page cache in it. Peak RSS counts the binary's
    pages a run maps; the charge counts every page read into the page cache
    (readahead reads most of a small binary) and the process's own memory."""
    cgroup = memory_cgroup()
    if os.geteuid() != 0 or cgroup is None:
        print("\n(Not measured: charge needs root and a memory cgroup controller.)")
        return
    port = free_port()
    args = ["-t", "2s", f"localhost:{port}"]
    waiters = [("whenready -t 2s localhost:PORT", [WHENREADY] + args, None)]
    waiters += [(f"{tag}: whenready -t 2s localhost:PORT", [before] + args, None) for tag, before in BEFORES]
    floor_bin = waitfloor()
    if floor_bin:
        waiters.append(("floor: C loop, same backoff, localhost", [floor_bin, "2", "0", "2", str(port)], None))
    cw = compose_wait()
    if cw:
        env = dict(os.environ, WAIT_HOSTS=f"localhost:{port}", WAIT_TIMEOUT="2", WAIT_LOGGER_LEVEL="off")
        waiters.append(("docker-compose-wait, WAIT_TIMEOUT=2, localhost:PORT", [cw], env))
    rows = []
    for name, cmd, env in waiters:
        peak, cache = sorted(charged(cmd, cgroup, env) for _ in range(3))[1]
        rows.append([f"`{name}`", f"{os.stat(cmd[0]).st_size // 1024:,}", f"{cache:,}", f"{peak:,}"])
    table(f"What a memory cgroup ({cgroup[0]}) is charged for a 2 s wait from a cold page cache (the run with "
          "the median peak of three)", ["waiter", "binary KiB", "page cache KiB", "peak charge KiB"], rows)
    missing_peers([] if cw else ["docker-compose-wait"])


def path_trial(command, make, path):
    """Starts `command` (ending by exec'ing `date +%s.%N`), makes `path` ready with
    make(path) at a random moment 1-3 s later; returns command start minus readiness."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(1, 3))
    ready = time.time()
    keep = make(path)
    out, _ = proc.communicate(timeout=60)
    if keep is not None:
        keep.close()
    return float(out.split()[-1]) - ready


def pathgate():
    """Gate latency of file:// and unix:// targets (inotify) against wait-on's file
    and socket waiting and docker-compose-wait's WAIT_PATHS, at their defaults."""
    def make_file(path):
        with open(path, "w") as f:
            f.write("ready\n")

    def make_socket(path):
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(16)
        return s

    cw, wo = compose_wait(), wait_on()
    date = ["date", "+%s.%N"]
    trials = 20
    rows = []
    for kind, make in (("file", make_file), ("unix socket", make_socket)):
        tools = [("whenready (defaults)",
                  lambda p, k=kind: [WHENREADY, "-q", f"{'file' if k == 'file' else 'unix'}://{p}", "--"] + date)]
        if wo:
            tools.append((f"wait-on {'file' if kind == 'file' else 'socket:'} (defaults)",
                          lambda p, k=kind: ["sh", "-c", f"'{wo}' {'file:' if k == 'file' else 'socket:'}{p} "
                                                         f"&& exec date +%s.%N"]))
        if kind == "file" and shutil.which("inotifywait"):
            # The floor: a C program that waits for the kernel's event and checks
            # nothing (inotify-tools); what is left is this machine's wake-up latency.
            tools.insert(0, ("inotifywait -e create (the event alone: the floor)",
                             lambda p: ["sh", "-c", f"inotifywait -qq -e create '{os.path.dirname(p)}' "
                                                    f"&& exec date +%s.%N"]))
        if cw and kind == "file":
            # /wait runs the command itself (WAIT_COMMAND), as in an image.
            tools.append(("docker-compose-wait WAIT_PATHS (defaults)",
                          lambda p: ["env", f"WAIT_PATHS={p}", "WAIT_LOGGER_LEVEL=off",
                                     "WAIT_COMMAND=date +%s.%N", cw]))
        for name, cmd in tools:
            lat = []
            for i in range(trials):
                path = os.path.join(TMP, f"gate-{kind[0]}-{i}")
                if os.path.exists(path):
                    os.unlink(path)
                lat.append(path_trial(cmd(path), make, path))
                if os.path.exists(path):
                    os.unlink(path)
            rows.append([kind, name, f"{statistics.median(lat) * 1000:.1f}", f"{pct(lat, 0.9) * 1000:.1f}",
                         f"{max(lat) * 1000:.1f}"])
    table(f"Gate latency, local paths: the path appears 1-3 s after the start; command start minus "
          f"creation ({trials} trials)", ["path", "waiter", "median ms", "p90 ms", "max ms"], rows)
    missing_peers(([] if cw else ["docker-compose-wait"]) + ([] if wo else ["wait-on"]))


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
    if wait_on():
        tools.append(("wait-on tcp: (defaults)", ["sh", "-c", f"'{wait_on()}' tcp:127.0.0.1:PORT && exec date +%s.%N"]))
    if compose_wait():
        tools.append(("docker-compose-wait (defaults)", ["env", "WAIT_HOSTS=127.0.0.1:PORT", "WAIT_LOGGER_LEVEL=off",
                                                         "WAIT_COMMAND=date +%s.%N", compose_wait()]))
    for i, (tag, before) in enumerate(BEFORES):
        tools.insert(1 + i, (f"{tag}: whenready (defaults)", [before, "-q", "127.0.0.1:PORT", "--", "date", "+%s.%N"]))
    # At the default 250 ms interval the pauses lie in [125, 250] ms, so the port opens
    # 95 ms before the next attempt in the median (p90 181 ms, standard deviation 59 ms,
    # by simulation): the median of 20 trials varies by 19 ms between runs, of 40 by 14.
    trials = int(os.environ.get("GATE_TRIALS", "40"))
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
    # SIGTERM unwinds like Ctrl-C, so every section's finally stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for s in SECTIONS:
            globals()[s]()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


main()
