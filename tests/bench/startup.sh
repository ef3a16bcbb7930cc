#!/usr/bin/env bash
# Start-up time to /readyz = 200 (SQLite, every built-in plugin enabled) and
# idle RSS after start-up, for a first start (new database and master key)
# and a restart on what it left. Goals (foundation issue): < 300 ms, < 25 MB.
source "$(dirname "$0")/lib.bash"
RUNS="${RUNS:-10}"
machine_line
python3 - "$PICLOUD" "$BENCH_TMP" "$RUNS" <<'PY'
import http.client, os, statistics, subprocess, sys, time, socket

binary, tmp, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/readyz")
        return c.getresponse().status == 200
    except OSError:
        return False

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

times, rss, rss_restart, fresh = [], [], [], []
for i in range(runs):
    # Every other run is a restart: the data directory of the run before
    # (database, master key file) as it was left.
    work = os.path.join(tmp, f"run{i - i % 2}")
    os.makedirs(work, exist_ok=True)
    port = free_port()
    env = dict(os.environ, PICLOUD_SERVER_PORT=str(port), PICLOUD_LOG_LEVEL="warn")
    start = time.perf_counter()
    p = subprocess.Popen([binary, "serve"], cwd=work, env=env)
    while not ready(port):
        if p.poll() is not None:
            sys.exit(f"picloud exited with {p.returncode}")
        time.sleep(0.001)
    elapsed = (time.perf_counter() - start) * 1000
    (fresh if i % 2 == 0 else times).append(elapsed)
    time.sleep(1.0)
    (rss if i % 2 == 0 else rss_restart).append(rss_kib(p.pid) / 1024)
    p.terminate(); p.wait()

plugins = subprocess.run([binary, "plugins"], capture_output=True, text=True).stdout.strip().splitlines()
print(f"plugins enabled: {max(0, len(plugins) - 4)} ({', '.join(l.split()[0] for l in plugins[4:]) or 'none built yet'})")
print(f"start-up to /readyz, new database:      median {statistics.median(fresh):6.1f} ms  max {max(fresh):6.1f} ms  (goal < 300 ms)")
print(f"start-up to /readyz, restart:           median {statistics.median(times):6.1f} ms  max {max(times):6.1f} ms  (goal < 300 ms)")
print(f"idle RSS 1 s after ready, first start:  median {statistics.median(rss):6.1f} MiB max {max(rss):6.1f} MiB (goal < 25 MB = 23.84 MiB)")
print(f"idle RSS 1 s after ready, restart:      median {statistics.median(rss_restart):6.1f} MiB max {max(rss_restart):6.1f} MiB (goal < 25 MB = 23.84 MiB)")
PY
