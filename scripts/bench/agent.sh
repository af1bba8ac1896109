#!/usr/bin/env bash
# The whole-agent benchmarks (issue "The agent", §8), printed as JSON lines (scripts/bench/report.py reads them):
#   agent-max          the release `axled` replays a demo-sedan candump log flat out, pinned to one core, through
#                      decode → collection → SQLite outbox → MQTT (QoS 1, to a private mosquitto on loopback) and exits
#                      when every record is acknowledged: frames/s (wall, and per CPU second), the decode → outbox part
#                      on its own (start to "source ended"), CPU seconds, peak RSS.
#   agent-32k          the same, paced to 32,000 frames/s (eight buses at full load) for about AGENT_PACED_SECONDS:
#                      CPU % of one core and CPU % per 1,000 frames/s in the steady state (from the "ready" line to
#                      the "source ended" line, read from /proc/PID/stat as the lines arrive), peak RSS.
#   python-agent-max   scripts/bench/python_agent.py (python-can + cantools + paho-mqtt, the same profile, the same
#   python-agent-32k   job) on the same log and broker, measured the same way.
#   agent-ratio        axled against Python: frames/s flat out, CPU per 1,000 frames/s paced, peak RSS.
#   agent-shutdown     axled live on the simulated vehicle, connected, SIGTERM after AGENT_SHUTDOWN_RUNNING seconds
#                      of driving: seconds from the signal to the process's exit and its exit status, over
#                      AGENT_SHUTDOWN_RUNS runs (docs/axled.md promises 2 s; the unit's TimeoutStopSec is 5 s); and
#                      the start-up time each run's "ready in N ms" line states (ready_ms).
# Every process is measured from outside: wall time from start to exit, and user+sys CPU seconds and peak RSS from
# wait4(2)'s rusage (all threads of the process, the MQTT library's included). The broker runs on the other core and
# is not counted. Figures are reported, never asserted: the exit status is non-zero only when a run failed.
#
# Usage: scripts/bench/agent.sh AXLED AXLE INPUTS_DIR
#   AXLED       the release axled; AXLE the release axle (its simulator writes the log, once, into INPUTS_DIR)
# Environment: AGENT_LOG_HOURS (default 6: about 3 M frames of city driving), AGENT_RUNS (default 3: the median
# axled run is reported), AGENT_PACED_SECONDS (default 20), PYTHON_MAX_FRAMES (default 0: the whole log),
# BENCH_CPU (default 1: the core the agents are pinned to).
set -euo pipefail
cd "$(dirname "$0")/../.."
axled=$1
axle=$2
inputs=$3
python=${PYTHON:-.venv/bin/python}
hours=${AGENT_LOG_HOURS:-6}
runs=${AGENT_RUNS:-3}
paced_seconds=${AGENT_PACED_SECONDS:-20}
paced_rate=32000
profile=Firmware-Profiles/demo-sedan
dbc=$profile/demo_sedan.dbc
cpu=${BENCH_CPU:-1}
work=$(mktemp -d /tmp/axle-agent-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

pin=()
broker_pin=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt 1 ]; then
  pin=(taskset -c "$cpu")
  broker_pin=(taskset -c "$(( cpu == 0 ? 1 : 0 ))")
fi

# ---- the log: simulated city driving, made once (the simulator is deterministic for a seed and start) ----
mkdir -p "$inputs"
log=$inputs/demo-sedan.city-drive.${hours}h.log
if [ ! -s "$log" ] || [ "$dbc" -nt "$log" ]; then
  echo "agent bench: simulating $hours h of city-drive into $log" >&2
  "$axle" simulate --dbc "$dbc" --profile demo-sedan --scenario city-drive --duration $(( hours * 3600 )) \
    --seed 1 --start 1767225600 --out "$log.tmp"
  mv "$log.tmp" "$log"
fi
# The log's own frame rate gives the replay-speed factor for 32,000 frames/s; the paced runs read only the first
# AGENT_PACED_SECONDS worth of frames at that rate.
read -r frames_in_log log_rate < <(python3 - "$log" <<'PY'
import os, sys
path = sys.argv[1]
with open(path, "rb") as f:
    first = f.readline()
    f.seek(max(0, os.path.getsize(path) - 4096))
    last = f.read().splitlines()[-1]
    f.seek(0)
    count = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
span = float(last.split()[0][1:-1]) - float(first.split()[0][1:-1])
print(count, count / span if span > 0 else 0)
PY
)
speed=$(python3 -c "print(round($paced_rate / $log_rate, 3))")
paced_frames=$(( paced_rate * paced_seconds ))
paced_log=$work/paced.log
head -n "$paced_frames" "$log" > "$paced_log"
echo "agent bench: $frames_in_log frames at $(printf '%.0f' "$log_rate") frames/s in the log; $paced_rate frames/s is --replay-speed $speed" >&2

# ---- a private mosquitto on loopback, on the other core ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\nmax_inflight_messages 0\n' "$port" > "$work/broker.conf"
"${broker_pin[@]}" mosquitto -c "$work/broker.conf" > "$work/broker.log" 2>&1 &
pids+=($!)
broker_up=""
for _ in $(seq 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then broker_up=1; break; fi
  sleep 0.05
done
if [ -z "$broker_up" ]; then
  echo "agent bench: mosquitto did not start on 127.0.0.1:$port (is it installed? scripts/setup.sh installs it):" >&2
  cat "$work/broker.log" >&2
  exit 1
fi

# ---- measuring one run: wall time, the source's end, rusage of the process (all its threads) ----
cat > "$work/measure.py" <<'PY'
"""measure.py BENCHMARK IMPLEMENTATION TARGET_RATE SPEED LOG -- COMMAND...: runs COMMAND, prints one JSON line."""
import json, os, re, subprocess, sys, threading, time

benchmark, implementation, target_rate, speed, log = sys.argv[1:6]
command = sys.argv[sys.argv.index("--") + 1:]
timeout = float(os.environ.get("AGENT_TIMEOUT", "900"))
start = time.monotonic()
process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
lines = []
ticks = os.sysconf("SC_CLK_TCK")
marks = {}  # "ready" and "source ended": (monotonic time, CPU seconds so far), read while the process runs

def cpu_so_far():
    try:
        with open(f"/proc/{process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime, every thread
    except (OSError, IndexError, ValueError):
        return None

def read():
    for line in process.stderr:
        now = time.monotonic()
        for mark, text in (("ready", "ready in "), ("source", "source ended:")):
            if text in line and mark not in marks:
                marks[mark] = (now, cpu_so_far())
        lines.append((now, line.rstrip("\n")))

reader = threading.Thread(target=read, daemon=True)
reader.start()
timer = threading.Timer(timeout, process.kill)
timer.start()
_, status, usage = os.wait4(process.pid, 0)
end = time.monotonic()
timer.cancel()
reader.join(5)
source_end = marks.get("source", (None,))[0]
summary = next((line for _, line in lines if "stopped after" in line), "")
numbers = {}
for key, pattern in (("frames", r"(\d+) frames"), ("signals_decoded", r"(\d+) signals decoded"),
                     ("samples", r"(\d+) samples"), ("records", r"(\d+) telemetry records"),
                     ("published", r"(\d+) published"), ("acknowledged", r"(\d+) acknowledged")):
    found = re.search(pattern, summary)
    numbers[key] = int(found.group(1)) if found else None
wall = end - start
cpu = usage.ru_utime + usage.ru_stime
frames = numbers["frames"] or 0
source_seconds = source_end - start if source_end else None
result = {
    "benchmark": benchmark, "implementation": implementation, "log": os.path.basename(log),
    "exit_status": os.waitstatus_to_exitcode(status), **numbers,
    "seconds": round(wall, 3), "source_seconds": round(source_seconds, 3) if source_seconds else None,
    "cpu_seconds": round(cpu, 3), "user_seconds": round(usage.ru_utime, 3), "system_seconds": round(usage.ru_stime, 3),
    "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
    "frames_per_s": round(frames / wall, 1) if wall > 0 else None,
    "frames_per_s_cpu": round(frames / cpu, 1) if cpu > 0 else None,
    "frames_per_s_source": round(frames / source_seconds, 1) if source_seconds else None,
    "cpu_percent": round(100 * cpu / wall, 2) if wall > 0 else None,
}
if speed != "max":
    # Paced: what counts is the steady state, from "ready" (the source starts) to "source ended": the rate achieved
    # (the log's span ÷ the speed, when the process keeps up) and the CPU used meanwhile (/proc/PID/stat, in clock
    # ticks). Start-up (DBC, profile, SQLite) and the final drain are in the whole-run figures above.
    ready, source = marks.get("ready"), marks.get("source")
    steady = None
    if ready and source and ready[1] is not None and source[1] is not None and source[0] > ready[0]:
        span = source[0] - ready[0]
        steady = {"steady_seconds": round(span, 3), "achieved_frames_per_s": round(frames / span, 1),
                  "steady_cpu_seconds": round(source[1] - ready[1], 3),
                  "steady_cpu_percent": round(100 * (source[1] - ready[1]) / span, 2)}
        steady["cpu_percent_per_1k_frames_per_s"] = round(
            steady["steady_cpu_percent"] / (steady["achieved_frames_per_s"] / 1000), 4)
    result.update({"target_frames_per_s": float(target_rate), "replay_speed": float(speed), **(steady or {})})
    if steady is None:
        result["error"] = "no 'ready' and 'source ended' lines to measure the steady state between"
if result["exit_status"] != 0 or not summary:
    result["error"] = "; ".join(line for _, line in lines[-5:]) or "no summary line"
print(json.dumps(result), flush=True)
sys.exit(0 if "error" not in result else 1)
PY

status=0
results=$work/results.jsonl
# axled logs at info: its "ready" and "source ended" lines are what the steady state is measured between.
axled_run() {  # BENCHMARK SPEED LOG RUN
  local data=$work/axled-$1-$4
  python3 "$work/measure.py" "$1" axle "$paced_rate" "$2" "$3" -- "${pin[@]}" "$axled" --profile "$profile" \
    --vehicle-id "bench-$1-$4" --broker "mqtt://127.0.0.1:$port" --data-dir "$data" --replay "$3" \
    --replay-speed "$2" --exit-when-drained --control-socket "$data/axled.sock" --log-level info || status=1
  rm -rf "$data"
}
python_run() {  # BENCHMARK SPEED LOG
  local data=$work/python-$1
  python3 "$work/measure.py" "$1" python "$paced_rate" "$2" "$3" -- "${pin[@]}" "$python" scripts/bench/python_agent.py \
    --profile "$profile" --vehicle-id "bench-$1" --broker "mqtt://127.0.0.1:$port" --data-dir "$data" \
    --replay "$3" --replay-speed "$2" --max-frames "${PYTHON_MAX_FRAMES:-0}" || status=1
  rm -rf "$data"
}

# The page cache is warmed by the frame count above; axled runs AGENT_RUNS times and the median is kept.
for run in $(seq "$runs"); do
  echo "agent bench: axled flat out, run $run of $runs" >&2
  axled_run agent-max max "$log" "$run" >> "$work/agent-max.jsonl"
done
echo "agent bench: axled at $paced_rate frames/s for $paced_seconds s" >&2
axled_run agent-32k "$speed" "$paced_log" 1 >> "$results"
echo "agent bench: python_agent.py flat out (this takes a while)" >&2
python_run python-agent-max max "$log" >> "$results"
echo "agent bench: python_agent.py at $paced_rate frames/s" >&2
python_run python-agent-32k "$speed" "$paced_log" >> "$results"

# ---- shutdown: SIGTERM to a live, connected axled; time to exit ----
cat > "$work/shutdown.py" <<'PY'
"""shutdown.py RUNS RUNNING_SECONDS -- COMMAND...: the seconds from SIGTERM to exit, as one JSON line."""
import json, os, re, signal, statistics, subprocess, sys, threading, time

runs, running = int(sys.argv[1]), float(sys.argv[2])
command = sys.argv[sys.argv.index("--") + 1:]
seconds, statuses, errors, ready_ms = [], [], [], []
for run in range(runs):
    process = subprocess.Popen(command + ["--vehicle-id", f"bench-shutdown-{run}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    ready = threading.Event()
    lines = []
    def read():
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            found = re.search(r"ready in (\d+) ms", line)
            if found and not ready.is_set():
                ready_ms.append(int(found.group(1)))  # axled's own count, from its start to READY
                ready.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(60):
        process.kill()
        errors.append("no 'ready' line within 60 s: " + "; ".join(lines[-3:]))
        continue
    # Driving for a while first (a duration, not a wait for readiness): an open batch, records in flight.
    time.sleep(running)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        status = process.wait()
    seconds.append(round(time.monotonic() - signalled, 3))
    statuses.append(status)
    reader.join(5)
result = {"benchmark": "agent-shutdown", "implementation": "axle", "runs": runs, "running_seconds": running,
          "seconds": seconds, "exit_statuses": statuses, "ready_ms": ready_ms}
if seconds:
    result.update({"median_seconds": statistics.median(seconds), "max_seconds": max(seconds)})
if errors or any(status != 0 for status in statuses):
    result["error"] = "; ".join(errors) or f"exit statuses {statuses}"
print(json.dumps(result), flush=True)
sys.exit(1 if "error" in result else 0)
PY
echo "agent bench: axled shutdown on SIGTERM, live and connected" >&2
shutdown_data=$work/axled-shutdown
python3 "$work/shutdown.py" "${AGENT_SHUTDOWN_RUNS:-5}" "${AGENT_SHUTDOWN_RUNNING:-3}" -- "${pin[@]}" "$axled" \
  --profile "$profile" --broker "mqtt://127.0.0.1:$port" --data-dir "$shutdown_data" --simulate city-drive \
  --control-socket "$shutdown_data/axled.sock" --log-level info >> "$results" || status=1
rm -rf "$shutdown_data"

python3 - "$work/agent-max.jsonl" "$results" "$frames_in_log" "$log_rate" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
rest = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
good = [r for r in runs if "error" not in r] or runs
median = sorted(good, key=lambda r: r["frames_per_s"] or 0)[len(good) // 2]
median["runs"] = len(runs)
median["frames_per_s_runs"] = [r["frames_per_s"] for r in runs]
median["frames_in_log"], median["log_frames_per_s"] = int(sys.argv[3]), round(float(sys.argv[4]), 1)
by_name = {r["benchmark"]: r for r in rest}
print(json.dumps(median))
for r in rest:
    print(json.dumps(r))
python = by_name.get("python-agent-max")
paced, python_paced = by_name.get("agent-32k"), by_name.get("python-agent-32k")
ratio = {"benchmark": "agent-ratio"}
if python and python.get("frames_per_s") and median.get("frames_per_s"):
    ratio["frames_per_s_wall"] = round(median["frames_per_s"] / python["frames_per_s"], 1)
    ratio["frames_per_s_cpu"] = round(median["frames_per_s_cpu"] / python["frames_per_s_cpu"], 1)
if paced and python_paced and paced.get("cpu_percent_per_1k_frames_per_s") and python_paced.get("cpu_percent_per_1k_frames_per_s"):
    ratio["cpu_per_1k_frames_per_s"] = round(python_paced["cpu_percent_per_1k_frames_per_s"] / paced["cpu_percent_per_1k_frames_per_s"], 1)
if python and python.get("max_rss_mb") and median.get("max_rss_mb"):
    ratio["max_rss"] = round(python["max_rss_mb"] / median["max_rss_mb"], 1)
print(json.dumps(ratio))
PY
exit "$status"
