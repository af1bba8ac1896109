#!/usr/bin/env bash
# Issue 4's uplink benchmarks, printed as JSON lines (scripts/bench/report.py reads them):
#   outbox-drain  one simulated hour of the demo profile buffered offline (by `axle-bench outbox`, in DATA_DIR), then
#                 drained by the release `axled` to a private mosquitto on loopback: records/s and seconds to empty.
#   link-return   `axled` in its own network namespace, its veth link taken down for BLIND_SECONDS and brought back:
#                 seconds from the link returning to the first record delivered to a subscriber in the root
#                 namespace (the broker sends PUBACK and the delivery together). Needs root and `ip netns`; skipped
#                 with a note otherwise.
# Usage: scripts/bench/uplink.sh AXLED DATA_DIR
set -euo pipefail
axled=$1
data=$2
blind=${BLIND_SECONDS:-10}
rounds=${LINK_ROUNDS:-3}
profile=Firmware-Profiles/demo-sedan
work=$(mktemp -d /tmp/axle-uplink-bench.XXXXXX)
pids=()
ns=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; ip link del "axb0-$$" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

start_broker() {  # ADDRESS PORT NAME
  printf 'listener %s %s\nallow_anonymous true\nmax_queued_messages 1000000\nmax_inflight_messages 0\n' "$2" "$1" > "$work/$3.conf"
  mosquitto -c "$work/$3.conf" > "$work/$3.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if python3 -c "import socket,sys; socket.create_connection(('$1',$2),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "uplink bench: mosquitto did not start on $1:$2" >&2; cat "$work/$3.log" >&2; exit 1
}

# ---- (b) drain one hour of buffered telemetry ----
port=$(free_port)
start_broker 127.0.0.1 "$port" drain
records=$(python3 -c "import sqlite3; print(sqlite3.connect('file:$data/outbox.db?mode=ro', uri=True).execute('select count(*) from records').fetchone()[0])" 2>/dev/null || echo 0)
mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t 'axle/v1/bench-car/telemetry' -F '%U' > "$work/drain-sub.txt" &
pids+=($!)
sleep 0.3
start=$(now)
"$axled" --profile "$profile" --vehicle-id bench-car --data-dir "$data" --broker "mqtt://127.0.0.1:$port" \
  --replay /dev/null --exit-when-drained --log-level notice 2> "$work/drain.log"
end=$(now)
sleep 0.5
python3 - "$start" "$end" "$work/drain.log" "$work/drain-sub.txt" "$records" <<'PY'
import json, re, sys
start, end, log, sub, records = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
text = open(log).read()
acked = re.search(r"(\d+) acknowledged", text)
acked = int(acked.group(1)) if acked else 0
times = [float(line) for line in open(sub) if line.strip()]
print(json.dumps({
    "benchmark": "outbox-drain", "implementation": "axle", "records_in_outbox": records,
    "records_acknowledged": acked, "records_delivered": len(times),
    "seconds_to_empty": round(end - start, 3),
    "records_per_second": round(acked / (end - start), 1) if end > start else None,
    "seconds_first_to_last_delivery": round(times[-1] - times[0], 3) if len(times) > 1 else None,
}))
PY

# ---- (d) link returning → first delivery ----
if [ "$(id -u)" != 0 ] || ! ip netns add "axle-bench-$$" 2>/dev/null; then
  echo '{"benchmark":"link-return","implementation":"axle","skipped":"needs root and ip netns"}'
  exit 0
fi
ns="axle-bench-$$"
ip link add "axb0-$$" type veth peer name "axb1-$$"
ip link set "axb1-$$" netns "$ns"
ip addr add 10.213.0.1/24 dev "axb0-$$"
ip link set "axb0-$$" up
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip addr add 10.213.0.2/24 dev "axb1-$$"
ip netns exec "$ns" ip link set "axb1-$$" up
link_port=$(free_port)
start_broker 10.213.0.1 "$link_port" link
mosquitto_sub -h 10.213.0.1 -p "$link_port" -q 1 -t 'axle/v1/bench-link/telemetry' -F '%U' > "$work/link-sub.txt" &
pids+=($!)
ip netns exec "$ns" "$axled" --profile "$profile" --vehicle-id bench-link --data-dir "$work/link-data" \
  --broker "mqtt://10.213.0.1:$link_port" --simulate city-drive --telemetry-batch 0.1 --log-level info 2> "$work/link.log" &
pids+=($!)
sleep 3
results=()
for round in $(seq "$rounds"); do
  ip netns exec "$ns" ip link set "axb1-$$" down
  sleep "$blind"
  up=$(now)
  ip netns exec "$ns" ip link set "axb1-$$" up
  first=""
  for _ in $(seq 300); do
    first=$(awk -v up="$up" '$1 > up { print $1; exit }' "$work/link-sub.txt")
    [ -n "$first" ] && break
    sleep 0.02
  done
  if [ -n "$first" ]; then
    results+=("$(python3 -c "print(round($first - $up, 3))")")
  else
    results+=("null")
  fi
  sleep 2
done
printf '{"benchmark":"link-return","implementation":"axle","blind_seconds":%s,"seconds_to_first_delivery":[%s]}\n' \
  "$blind" "$(IFS=,; echo "${results[*]}")"
