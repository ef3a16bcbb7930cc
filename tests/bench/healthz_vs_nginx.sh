#!/usr/bin/env bash
# /healthz throughput, side by side with nginx `return 200` in the same run.
# Goal (foundation issue): PiCloud / nginx >= 0.5.
source "$(dirname "$0")/lib.bash"

DURATION="${DURATION:-10s}"
pc_port=$(free_port)
mkdir -p "$BENCH_TMP/pc"
(cd "$BENCH_TMP/pc" && PICLOUD_SERVER_PORT=$pc_port PICLOUD_LOG_LEVEL=warn exec "$PICLOUD" serve) &
BENCH_PIDS+=($!)
wait_ready "http://127.0.0.1:$pc_port/healthz" >/dev/null

start_nginx_200
ng_port=$NGINX_PORT

machine_line
read -r pc_rps pc_p50 pc_p99 <<<"$(wrk_run "http://127.0.0.1:$pc_port/healthz" "$DURATION")"
read -r ng_rps ng_p50 ng_p99 <<<"$(wrk_run "http://127.0.0.1:$ng_port/healthz" "$DURATION")"
ratio=$(awk -v a="$pc_rps" -v b="$ng_rps" 'BEGIN {printf "%.2f", a/b}')
printf '%-22s %10s %8s %8s\n' "server (wrk -t2 -c64)" "req/s" "p50" "p99"
printf '%-22s %10s %8s %8s\n' "picloud /healthz" "$pc_rps" "$pc_p50" "$pc_p99"
printf '%-22s %10s %8s %8s\n' "nginx return 200" "$ng_rps" "$ng_p50" "$ng_p99"
echo "ratio picloud/nginx: $ratio (goal >= 0.5)"
