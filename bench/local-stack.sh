#!/usr/bin/env bash
# Local stack timings (docs/local.md, "Speed"), on this machine, with the real
# Pulumi engine: `make up` from nothing (images already built), a no-op
# `make up` and `make preview`, a replica change (2 -> 3 -> 2) and an env
# change under a client polling through nginx (failed requests counted),
# `make down` and `make destroy`.
#
# It brings STACK (default local) up and destroys it at the end, data
# included: run it when that stack holds nothing you need. It edits
# config/$STACK.json for the changes and restores it on exit. Traffic goes to
# 127.0.0.1 only, bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-local}
export STACK
cfg=config/$STACK.json
backup=$(mktemp)
cp "$cfg" "$backup"
poll_pid=
cleanup() {
  cp "$backup" "$cfg"; rm -f "$backup"
  [[ -z $poll_pid ]] || kill "$poll_pid" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }
timed() { # NAME CMD...: runs CMD quietly, prints its wall time
  local name=$1 t0 t1; shift
  t0=$(now)
  "$@" >/tmp/bench-local-stack.log 2>&1 || { tail -n 30 /tmp/bench-local-stack.log; echo "$name failed"; exit 1; }
  t1=$(now)
  awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-44s %6.1f s\n", n, b - a }'
}
set_field() { # SECTION FIELD JSON-VALUE
  python3 - "$cfg" "$1" "$2" "$3" <<'PY'
import json, sys
path, section, field, value = sys.argv[1:]
d = json.load(open(path))
d.setdefault(section, {})[field] = json.loads(value)
json.dump(d, open(path, "w"), indent=2)
PY
}
# poll URL SECONDS: GETs every 50 ms for at most SECONDS; prints sent/failed.
poll() {
  local url=$1 end=$((SECONDS + $2)) sent=0 failed=0 code
  while [[ $SECONDS -lt $end && ! -f /tmp/bench-local-stack.stop ]]; do
    code=$(curl -s --cacert /tmp/bench-local-stack.ca.pem -o /dev/null -m 10 -w '%{http_code}' "$url" || true)
    sent=$((sent + 1))
    if [[ $code != 200 ]]; then failed=$((failed + 1)); echo "$(date +%T.%N) $code" >>/tmp/bench-local-stack.failures; fi
    sleep 0.05
  done
  echo "$sent $failed"
}

echo "== warming: make program image (not measured)"
make -s program image >/dev/null
make -s destroy >/dev/null 2>&1 || true

up_start=$(date +%s)
timed "make up (from nothing, images built)" make up
up_end=$(($(date +%s) + 1))
# What the monitoring containers add to `make up`: when the last of them is
# ready (healthy, or started when it has no health check) after the last of
# the others, from the engine's own events. They deploy beside the app, so
# only that tail lengthens the deploy.
docker=${DOCKER:-docker}
"$docker" events --since "$up_start" --until "$up_end" --filter "label=dev.shipyard.stack=$STACK" --filter type=container \
  --format '{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}}' | awk '
  $2 == "start" || $2 == "health_status:" || $2 == "die" {
    if ($2 == "health_status:" && $3 != "healthy") next
    name = $NF; t = $1 / 1e9
    if (!(name in ready) || t > ready[name]) ready[name] = t
  }
  END {
    for (n in ready) {
      if (n ~ /-(prometheus|nginx-exporter)$/) { if (ready[n] > mon) mon = ready[n] }
      else if (ready[n] > rest) rest = ready[n]
    }
    add = mon - rest; if (add < 0) add = 0
    printf "%-44s %6.1f s\n", "  of which Prometheus adds (ready after the rest)", add
  }'
timed "make up (no change)" make up
timed "make preview (no change)" make preview

# Only the JSON: a make prerequisite may print a line before it.
make -s outputs | sed -n '/^{/,$p' >/tmp/bench-local-stack.outputs
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' /tmp/bench-local-stack.outputs) \
  || { cat /tmp/bench-local-stack.outputs; exit 1; }
# The url is HTTPS with a certificate of the stack's local CA.
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tlsCaCert"], end="")' /tmp/bench-local-stack.outputs >/tmp/bench-local-stack.ca.pem
rm -f /tmp/bench-local-stack.stop /tmp/bench-local-stack.failures
poll "$url/version" 300 >/tmp/bench-local-stack.poll &
poll_pid=$!
sleep 1
set_field local webReplicas 3
timed "make up (web replicas 2 -> 3)" make up
set_field local webReplicas 2
timed "make up (web replicas 3 -> 2)" make up
set_field app logLevel '"warn"'
timed "make up (env change: every app container)" make up
sleep 1
touch /tmp/bench-local-stack.stop
wait "$poll_pid"; poll_pid=
read -r sent failed </tmp/bench-local-stack.poll
rm -f /tmp/bench-local-stack.stop /tmp/bench-local-stack.poll
printf '%-44s %s\n' "requests through nginx during the changes" "$sent sent, $failed failed"
[[ $failed == 0 ]] || { echo "failed requests (time, status):"; cat /tmp/bench-local-stack.failures; }
cp "$backup" "$cfg"

# Prometheus's resident memory after scraping through the changes.
prom_pid=$("$docker" inspect --format '{{.State.Pid}}' "shipyard-$STACK-prometheus")
awk '/^VmRSS:/ {printf "%-44s %6.1f MiB\n", "Prometheus RSS after the changes", $2 / 1024}' "/proc/$prom_pid/status"

timed "make down (keeps data)" make down
timed "make up (on kept data)" make up
timed "make destroy (data too)" make destroy
