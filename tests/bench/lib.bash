# Shared helpers for the benchmark scripts (sourced, not run).
set -euo pipefail

BUILD_DIR="$(cd "${BUILD_DIR:?BUILD_DIR must point at a build tree}" && pwd)"
PICLOUD="$BUILD_DIR/picloud"
BENCH_TMP="$(mktemp -d /tmp/picloud-bench.XXXXXX)"
BENCH_PIDS=()

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until URL answers 200; prints the milliseconds waited.
wait_ready() {
  local url="$1" start end
  start=$(date +%s%N)
  for _ in $(seq 1 2000); do
    if curl -fs -o /dev/null "$url"; then
      end=$(date +%s%N); echo $(( (end - start) / 1000000 )); return 0
    fi
    sleep 0.005
  done
  echo "timeout waiting for $url" >&2; return 1
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

machine_line() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(. /etc/os-release; echo "$PRETTY_NAME"), load $(cut -d' ' -f1 /proc/loadavg)"
}

# wrk -t2 -c64 -d10s: prints "req/s p50_ms p99_ms".
wrk_run() {
  local url="$1" duration="${2:-10s}" out
  wrk -t2 -c64 -d2s "$url" >/dev/null 2>&1 || true   # warm-up
  out=$(wrk -t2 -c64 -d"$duration" --latency "$url")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}
