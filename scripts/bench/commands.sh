#!/usr/bin/env bash
# The remote-command latency benchmark (issue 6), printed as one JSON line (scripts/bench/report.py reads it):
#   command-latency  `axled` simulating the demo sedan parked, trusting a fresh backend key, and a private mosquitto on
#                    loopback; scripts/bench/command_latency.py publishes COMMANDS signed commands (doors.lock and
#                    doors.unlock in turn, signed beforehand by `axle-fleet command create`, in batches of 250 so
#                    that each is sent within its 5 min validity) strictly one at a time, each after the previous
#                    one's final status, over MQTT 5 with a Response Topic and Correlation Data,
#                    and times the statuses coming back: publish → IN_PROGRESS (the agent publishes it right after
#                    handing the first CAN frame to the bus: the issue's "publish to CAN frame sent to response
#                    published", target p99 <= 10 ms) and publish → the final status (which adds the repeat frames,
#                    20 ms apart, and the simulated vehicle's own reaction: for information). Also the agent's RSS
#                    after the run. The agent is pinned to one core, the broker and the client to the other.
# Figures are reported, never asserted: the exit status is non-zero only when a step failed (the agent or the
# broker did not start, a payload could not be made); commands that did not succeed are counted in the JSON.
#
# Usage: scripts/bench/commands.sh AXLED AXLE_FLEET
#   AXLED       the axled to measure; AXLE_FLEET the axle-fleet that makes the key and signs the commands
# Environment: COMMANDS (default 1000), COMMAND_BATCH (default 250: commands signed at a time), BENCH_CPU (default 1: the core the agent is pinned to), BROKER_TCP_NODELAY
# (default true: mosquitto's set_tcp_nodelay; false measures with Nagle's algorithm on in the broker, its default).
set -euo pipefail
cd "$(dirname "$0")/../.."
axled=$1
fleet=$2
python=${PYTHON:-.venv/bin/python}
count=${COMMANDS:-1000}
cpu=${BENCH_CPU:-1}
profile=Firmware-Profiles/demo-sedan
vehicle=bench-car
work=$(mktemp -d /tmp/axle-command-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for binary in "$axled" "$fleet"; do
  if [ ! -x "$binary" ]; then
    echo "command bench: $binary is not an executable: build it first (scripts/bench.sh builds both)" >&2
    exit 1
  fi
done

pin=()
other_pin=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt 1 ]; then
  pin=(taskset -c "$cpu")
  other_pin=(taskset -c "$(( cpu == 0 ? 1 : 0 ))")
fi

# ---- the backend key (command_latency.py signs the commands with it, in batches, while the agent idles) ----
"$fleet" keygen --out "$work/backend" > /dev/null

# ---- a private mosquitto on loopback, on the other core ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# set_tcp_nodelay: mosquitto leaves Nagle's algorithm on by default, and a status written to the client while the
# previous one is unacknowledged would then wait for the client's delayed ACK (up to 40 ms), a figure of the test
# broker's configuration rather than the agent's. BROKER_TCP_NODELAY=false measures with mosquitto's default.
printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay %s\n' "$port" "${BROKER_TCP_NODELAY:-true}" > "$work/broker.conf"
"${other_pin[@]}" mosquitto -c "$work/broker.conf" > "$work/broker.log" 2>&1 &
pids+=($!)
broker_up=""
for _ in $(seq 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then broker_up=1; break; fi
  sleep 0.05
done
if [ -z "$broker_up" ]; then
  echo "command bench: mosquitto did not start on 127.0.0.1:$port (is it installed? scripts/setup.sh installs it):" >&2
  cat "$work/broker.log" >&2
  exit 1
fi

# ---- the agent: the demo sedan parked (ignition off, doors closed: both commands' preconditions hold) ----
# The rate limit is raised so that 1,000 commands in a row measure latency, not the limiter.
"${pin[@]}" "$axled" --profile "$profile" --vehicle-id "$vehicle" --broker "mqtt://127.0.0.1:$port" \
  --data-dir "$work/data" --simulate parked --trust-key "$work/backend.pub" --command-rate-limit 10000 \
  --control-socket "$work/ctl.sock" 2> "$work/axled.log" &
agent=$!
pids+=("$agent")
ready=""
for _ in $(seq 600); do
  if grep -qs "ready in " "$work/axled.log"; then ready=1; break; fi
  if ! kill -0 "$agent" 2>/dev/null; then break; fi
  sleep 0.05
done
if [ -z "$ready" ]; then
  echo "command bench: $axled did not log 'ready in' within 30 s; its last lines:" >&2
  tail -n 20 "$work/axled.log" >&2
  exit 1
fi
# Let the simulated vehicle's first frames arrive, so that the preconditions have fresh values to check.
sleep 1

# ---- the measurement: one JSON line on stdout, a table on stderr ----
"${other_pin[@]}" "$python" scripts/bench/command_latency.py --host 127.0.0.1 --port "$port" --vehicle "$vehicle" \
  --fleet "$fleet" --key "$work/backend.key" --count "$count" --batch "${COMMAND_BATCH:-250}" --agent-pid "$agent" \
  --note broker_tcp_nodelay="${BROKER_TCP_NODELAY:-true}" --note axled="$axled"
if ! kill -0 "$agent" 2>/dev/null; then
  echo "command bench: axled exited during the run; its last lines:" >&2
  tail -n 20 "$work/axled.log" >&2
  exit 1
fi
