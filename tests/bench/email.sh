#!/usr/bin/env bash
# The email plugin: how fast scripts queue mail, and how fast the outbox
# delivers it to a local SMTP server (Debian's aiosmtpd, the tests' server:
# tests/services/smtp_server.py, which writes each message to a file).
#   queued/s     wrk -t2 -c16 on a route whose script calls email::send with a
#                small text message (message row + job in one transaction,
#                SQLite, durable commits), while delivery runs
#   delivered/s  messages the relay took, from the first send until the
#                last one queued was sent
# Every message queued is checked to arrive (the count must match).
source "$(dirname "$0")/lib.bash"
command -v wrk >/dev/null || { echo "wrk is not installed (./dev bench installs it)"; exit 1; }
DURATION="${DURATION:-10s}"
ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"

SMTP_PORT=$(free_port)
mkdir -p "$BENCH_TMP/smtp"
/usr/bin/python3 "$ROOT_DIR/tests/services/smtp_server.py" --port "$SMTP_PORT" --out "$BENCH_TMP/smtp" &
BENCH_PIDS+=($!)
for _ in $(seq 1 500); do [ -f "$BENCH_TMP/smtp/ready" ] && break; sleep 0.02; done

bench_picloud email "sqlite:./picloud.db" PICLOUD_PLUGINS_ENABLED=email PICLOUD_ADMIN_IP_HOSTS=false \
  PICLOUD_EMAIL_SMTP_HOST=127.0.0.1 PICLOUD_EMAIL_SMTP_PORT="$SMTP_PORT" PICLOUD_EMAIL_SMTP_TLS=none \
  PICLOUD_EMAIL_HELO_NAME=bench.picloud.test PICLOUD_EMAIL_MAX_MESSAGES_PER_APP_PER_HOUR=0
python3 - "$ADMIN" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method=method,
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
call("POST", "/apps", {"slug": "bench", "hostnames": ["127.0.0.1"]})
source = '''void handle(request@ req, response@ res) {
  json m = {{"from", "Bench <bench@example.com>"}, {"to", "reader@example.com"},
            {"subject", "A receipt"}, {"text", "Thank you for your order. It is on its way."}};
  res.text(email::send(m));
}'''
call("POST", "/apps/bench/scripts", {"name": "send", "source": source})
call("POST", "/apps/bench/routes", {"script": "send", "path": "/send", "methods": ["GET"]})
PY
DB="$BENCH_TMP/email/picloud.db"
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30); print(c.execute(sys.argv[2]).fetchone()[0])' "$DB" "$1"; }

machine_line
start=$(date +%s%N)
out=$(wrk -t2 -c16 -d"$DURATION" --latency "http://127.0.0.1:$PORT/send")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
p99=$(awk '$1=="99%" {print $2}' <<<"$out")
queued=$(sql "SELECT count(*) FROM email_messages")
for _ in $(seq 1 6000); do
  [ "$(sql "SELECT count(*) FROM email_messages WHERE status = 'sent'")" -ge "$queued" ] && break
  sleep 0.1
done
end=$(date +%s%N)
sent=$(sql "SELECT count(*) FROM email_messages WHERE status = 'sent'")
received=$(ls "$BENCH_TMP/smtp" | grep -c '\.eml$' || true)
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
printf 'queued:    %8s sends/s  (p99 %s, %s messages)\n' "$rps" "$p99" "$queued"
printf 'delivered: %8s msgs/s   (%s sent, %s received by the relay, in %s s)\n' \
  "$(awk -v n="$sent" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')" "$sent" "$received" "$seconds"
[ "$sent" = "$queued" ] && [ "$received" = "$queued" ] || { echo "error: not every queued message arrived" >&2; exit 1; }
