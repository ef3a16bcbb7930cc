#!/usr/bin/env bash
# Realtime (realtime issue): SUBSCRIBERS (10,000) server-sent-event streams
# on one node, on SQLite:
#   memory      the server's RSS with every stream open, minus before: per
#               subscriber (goal < 16 KiB);
#   fan-out     PUBLISHES (50) publishes one after another through the
#               admin API, each to every subscriber: latency from the
#               publish request's send to each subscriber reading the event,
#               p50/p99 over all deliveries (goal p99 < 100 ms);
#   /hello      wrk on a script route with the streams open and publishes
#               fanning out meanwhile, beside the same without streams.
# Subscribers and wrk run on the same cores as the server.
source "$(dirname "$0")/lib.bash"
FANOUT="$BUILD_DIR/bench/sse_fanout"
[ -x "$FANOUT" ] || { echo "no $FANOUT: build the benchmarks first"; exit 1; }
SUBSCRIBERS="${SUBSCRIBERS:-10000}"
PUBLISHES="${PUBLISHES:-50}"
ulimit -n "$(ulimit -Hn)"   # ten thousand streams are ten thousand descriptors, on both sides

api() {  # api METHOD PATH JSON
  curl -fsS -o /dev/null -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$3" "$ADMIN$2"
}

bench_picloud realtime "sqlite:./picloud.db" PICLOUD_PLUGINS_SEARCH_PATH="$BUILD_DIR/plugins" \
  PICLOUD_PLUGINS_ENABLED=realtime PICLOUD_ADMIN_IP_HOSTS=false PICLOUD_SERVER_MAX_STREAMS=$((SUBSCRIBERS + 100)) \
  PICLOUD_REALTIME_MAX_SUBSCRIBERS_PER_APP=$((SUBSCRIBERS + 100))
PID="${BENCH_PIDS[-1]}"
api POST /apps '{"slug":"bench","hostnames":["127.0.0.1","bench.localhost"]}'
api POST /apps/bench/scripts '{"name":"hello","source":"void handle(request@ req, response@ res) { res.text(\"hello\"); }"}'
api POST /apps/bench/routes '{"script":"hello","path":"/hello"}'
api POST /apps/bench/realtime/topics '{"name":"fanout","external":true,"auth_mode":"public","confirm_external":true}'

machine_line
hello_alone=$(wrk_run "http://127.0.0.1:$PORT/hello" 5s)
before=$(rss_kib "$PID")
coproc FAN { exec "$FANOUT" "$PORT" bench.localhost fanout "$SUBSCRIBERS" "$PUBLISHES" "$KEY" bench 15; }
read -r word opened <&"${FAN[0]}"
[ "$word" = open ] || { echo "the subscribers did not open"; exit 1; }
sleep 1
after=$(rss_kib "$PID")
awk -v n="$opened" -v b="$before" -v a="$after" \
  'BEGIN {printf "memory: %d streams: RSS %.1f -> %.1f MiB, %.1f KiB per subscriber\n", n, b/1024, a/1024, (a-b)/n}'
hello_idle=$(wrk_run "http://127.0.0.1:$PORT/hello" 5s)
echo go >&"${FAN[1]}"
read -r line <&"${FAN[0]}"
echo "fan-out to $opened subscribers, $PUBLISHES publishes: $line"
# /hello while publishes fan out to every stream (one a second).
( for i in $(seq 1 8); do api POST /apps/bench/realtime/topics/fanout/events '{"message":"tick"}'; sleep 1; done ) &
ticker=$!
hello_busy=$(wrk_run "http://127.0.0.1:$PORT/hello" 5s)
wait "$ticker"
for label in alone idle busy; do
  var="hello_$label"
  read -r rps p50 p99 <<<"${!var}"
  case $label in
    alone) what="no streams";;
    idle) what="$opened streams open";;
    busy) what="$opened streams, a fan-out a second";;
  esac
  printf '/hello (%s): %s req/s, p50 %s, p99 %s\n' "$what" "$rps" "$p50" "$p99"
done
wait "$FAN_PID" 2>/dev/null || true
