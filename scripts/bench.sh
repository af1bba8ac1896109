#!/usr/bin/env bash
# `make bench`: Axle's decode, DBC parse and replay throughput, next to cantools on the same DBCs and frames, each
# benchmark pinned to one core; then the outbox and uplink figures (scripts/bench/uplink.sh); then the whole agent
# beside a Python pipeline doing the same job (scripts/bench/agent.sh); then remote-command latency
# (scripts/bench/commands.sh); then 100 agents reconnecting after a broker outage (scripts/bench/reconnect.py); then a
# fleet of 400 agents against one broker and the bytes each vehicle puts on the wire (scripts/bench/fleet.py); then
# the diagnostics scan tool polling a simulated ECU (axle-bench diagnostics) and the agent's own poll schedule against
# its bus-load budget (scripts/bench/diag_poll_load.py).
# Figures are reported, never asserted: the exit status is non-zero only when a step failed (a build error, a crash),
# never because a target was missed. At the end, scripts/bench/report.py prints the figures against their targets,
# and scripts/bench/performance_page.py writes docs/performance.md, docs/fleet-scale.md and the README's Performance
# table from the same results (Benchmarks/.build/results.jsonl). About 40 minutes on two cores.
#
# Environment:
#   BENCH_SKIP      stages to leave out, comma-separated; their figures read "not measured in this run":
#                     decode      axle-bench decode, parse and replay beside cantools (about 2 min)
#                     uplink      outbox append, drain, and link return (the link-return figure needs root and
#                                 `ip netns`; without them uplink.sh reports it skipped)
#                     decode-cli  `axle dbc decode` as a whole process beside cantools + json.dumps (about 1 min)
#                     agent       the whole axled beside the Python pipeline, start-up, shutdown (about 15 min)
#                     commands    1,000 signed commands one at a time (about 7 min)
#                     reconnect   100 agents coming back after a 30 s broker outage (about 2 min)
#                     fleet       400 agents against one broker: a 60 s outage, reconnect spread, backlog drain,
#                                 broker CPU and memory per vehicle; then bytes per vehicle-hour over mutual TLS for
#                                 both profiles (about 8 min; docs/fleet-scale.md)
#                     diag        OBD-II polling against a simulated ECU, on a bus in memory and over a socket pair:
#                                 PIDs/s, request and flow-control latency; the agent's poll schedule against its
#                                 budget (about 70 s)
#   BENCH_QUICK=1   the same as BENCH_SKIP=agent,commands,reconnect,fleet: the long stages and those that need the
#                   static axled build (the rest takes about 5 minutes)
#   BENCH_FLEET_AGENTS  (default 400) how many agents the fleet stage runs: each needs about 0.3 % of a core and
#                   20 MB, so two cores carry about 600 with the broker and nothing else running
#   BENCH_SECONDS   (default 3) how long each decode benchmark runs
#   BENCH_CPU       (default 1) the core everything is pinned to with taskset, when there is more than one
set -euo pipefail
cd "$(dirname "$0")/.."

stages=(decode uplink decode-cli agent commands reconnect fleet diag)
skip_names=${BENCH_SKIP:-}
skip=",$skip_names,"
if [ "${BENCH_QUICK:-0}" = 1 ]; then skip="$skip,agent,commands,reconnect,fleet,"; fi
for stage in ${skip_names//,/ }; do
  case " ${stages[*]} " in
    *" $stage "*) ;;
    *) echo "bench: BENCH_SKIP names '$stage', which is not a stage: use any of ${stages[*]} (comma-separated)" >&2
       exit 2 ;;
  esac
done
skipped() { [[ "$skip" == *",$1,"* ]]; }
skipped_list=""
for stage in "${stages[@]}"; do
  if skipped "$stage"; then skipped_list="$skipped_list${skipped_list:+,}$stage"; fi
done
[ -z "$skipped_list" ] || echo "bench: skipping $skipped_list" >&2

scripts/setup.sh

seconds=${BENCH_SECONDS:-3}
scratch=Benchmarks/.build
inputs=$scratch/inputs
results=$scratch/results.jsonl
python=.venv/bin/python
cantools_bench=scripts/bench/cantools_bench.py
opendbc=.corpus/opendbc/dbc

echo "bench: building Benchmarks in release mode" >&2
swift build -c release --package-path Benchmarks --scratch-path "$scratch"
axle_bench=$scratch/release/axle-bench

pin=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt 1 ]; then
  pin=(taskset -c "${BENCH_CPU:-1}")
fi

# Inputs, made again whenever the script that makes them changed.
mkdir -p "$inputs"
toyota=$inputs/dbc/toyota_nodsu_pt_generated.dbc
if [ ! -f "$toyota" ] || [ "$cantools_bench" -nt "$toyota" ]; then
  echo "bench: generating opendbc's generated DBCs into $inputs/dbc" >&2
  "$python" "$cantools_bench" generate-dbcs --corpus .corpus --out "$inputs/dbc"
fi
make_log() {  # DBC OUT COUNT SEED
  if [ ! -f "$2" ] || [ "$cantools_bench" -nt "$2" ] || [ "$1" -nt "$2" ]; then
    echo "bench: writing $3 frames for $(basename "$1") to $2" >&2
    "$python" "$cantools_bench" frames --dbc "$1" --out "$2" --count "$3" --seed "$4"
  fi
}
make_log "$toyota" "$inputs/toyota_nodsu_pt_generated.frames.log" 100000 1
make_log "$opendbc/vw_mqb.dbc" "$inputs/vw_mqb.frames.log" 100000 1
make_log "$toyota" "$inputs/toyota_nodsu_pt_generated.replay.log" 1000000 2

# What the machine was doing, for reading the figures.
{
  cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  read -r load1 _ < /proc/loadavg
  printf '{"benchmark":"machine","cpu_model":"%s","cores":%s,"load_average":"%s","pinning":"%s",' \
    "$cpu_model" "$(nproc)" "$load1" "${pin[*]:-none}"
  printf '"kernel":"%s","date":"%s","skipped":"%s",' "$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$skipped_list"
  printf '"swift":"%s","cantools":"%s","python":"%s"}\n' \
    "$(swift --version 2>/dev/null | head -1 | sed 's/"//g')" \
    "$("$python" -c 'import cantools; print(cantools.__version__)')" \
    "$("$python" -c 'import platform; print("Python", platform.python_version())')"
} > "$results"

# A stage script that fails (a run of it failed; its other figures are still printed) is remembered, and the page
# is still written, saying which figures are missing; bench.sh then exits 1.
failed=()

run() {  # a benchmark command; its JSON line goes into the results, and is echoed as it comes
  echo "bench: $*" >&2
  "${pin[@]}" "$@" | tee -a "$results"
}

if ! skipped decode; then
  for dbc in "$toyota" "$opendbc/vw_mqb.dbc"; do
    frames=$inputs/$(basename "$dbc" .dbc).frames.log
    run "$axle_bench" decode --dbc "$dbc" --frames "$frames" --seconds "$seconds"
    run "$python" "$cantools_bench" decode --dbc "$dbc" --frames "$frames" --seconds "$seconds"
    run "$python" "$cantools_bench" decode --dbc "$dbc" --frames "$frames" --seconds "$seconds" --no-choices
  done

  run "$axle_bench" parse --dbc "$opendbc/ford_lincoln_base_pt.dbc" --repeat 20
  run "$python" "$cantools_bench" parse --dbc "$opendbc/ford_lincoln_base_pt.dbc" --repeat 2

  run "$axle_bench" replay --dbc "$toyota" --log "$inputs/toyota_nodsu_pt_generated.replay.log" --repeat 5
fi

# Issue 4: an hour of the demo profile into an outbox (append rate, wire bytes per sample), then drained by the
# release axled to a private mosquitto, then the link-return latency in a network namespace.
if ! skipped uplink; then
  echo "bench: building the release axled" >&2
  swift build -c release --product axled
  run "$axle_bench" outbox --dbc Firmware-Profiles/demo-sedan/demo_sedan.dbc --hours 1 --data-dir "$scratch/outbox-hour"
  echo "bench: scripts/bench/uplink.sh" >&2
  scripts/bench/uplink.sh .build/release/axled "$scratch/outbox-hour" | tee -a "$results" || failed+=(uplink)
fi

# Issue "The agent" §8: the whole release axled replaying a demo-sedan log flat out and at 32,000 frames/s, beside
# the Python pipeline (python-can + cantools + paho-mqtt) doing the same job. The release axle simulates the log.
# The axled measured is the one `make install` ships: the Swift runtime linked in statically (--static-swift-stdlib),
# which also leaves out the shared Foundation and ICU libraries that SwiftProtobuf would otherwise load.
if ! skipped decode-cli || ! skipped agent || ! skipped diag; then
  echo "bench: building the release axle (its simulator writes the agent benchmark's log)" >&2
  swift build -c release --product axle
fi
if ! skipped agent || ! skipped commands || ! skipped reconnect || ! skipped fleet || ! skipped diag; then
  echo "bench: building the static release axled" >&2
  swift build -c release --static-swift-stdlib --product axled --scratch-path .build-static
fi

# Issue 16: the decode CLI as a whole process (read, decode, write JSON lines) against cantools + json.dumps, on the
# same million frames of the toyota log.
if ! skipped decode-cli; then
  run "$python" "$cantools_bench" decode-cli --axle .build/release/axle --dbc "$toyota" \
    --log "$inputs/toyota_nodsu_pt_generated.replay.log" --repeat 3
fi
if ! skipped agent; then
  echo "bench: scripts/bench/agent.sh" >&2
  scripts/bench/agent.sh .build-static/release/axled .build/release/axle "$inputs" | tee -a "$results" \
    || failed+=(agent)
fi

# Issue 6: remote-command latency, publish -> first CAN frame sent -> IN_PROGRESS published, over 1,000 signed commands
# sent one at a time to the static release axled (the one measured above) simulating the demo sedan parked.
if ! skipped commands; then
  echo "bench: building the release axle-fleet (it signs the commands)" >&2
  swift build -c release --product axle-fleet
  echo "bench: scripts/bench/commands.sh" >&2
  scripts/bench/commands.sh .build-static/release/axled .build/release/axle-fleet | tee -a "$results" \
    || failed+=(commands)
fi

# Issue 18: a fleet of 100 static release axled coming back after a 30 s broker outage, spread by full jitter.
if ! skipped reconnect; then
  echo "bench: scripts/bench/reconnect.py" >&2
  python3 scripts/bench/reconnect.py .build-static/release/axled --agents 100 --outage 30 --cpu "${BENCH_CPU:-1}" \
    | tee -a "$results" || failed+=(reconnect)
fi

# Issue 15: a fleet of static release axled against one mosquitto (a 60 s outage: reconnect spread, backlog drain;
# broker CPU and memory per vehicle), then bytes per vehicle-hour over mutual TLS for both shipped profiles. The agents
# run on both cores, the broker on core 0 at nice -5: 400 agents need more than one core between them.
if ! skipped fleet; then
  echo "bench: scripts/bench/fleet.py" >&2
  python3 scripts/bench/fleet.py .build-static/release/axled --agents "${BENCH_FLEET_AGENTS:-400}" --outage 60 \
    | tee -a "$results" || failed+=(fleet)
fi

# Issue 13: the scan tool polling OBD-II PIDs from a simulated ECU that answers after 5 ms, on a bus in memory with
# wire time, then over a socket pair (a system call per frame; the build machines' kernel has no CAN): PIDs/s, request
# latency, flow-control latency after a first frame.
if ! skipped diag; then
  run "$axle_bench" diagnostics --seconds 10 --ecu-delay-ms 5 || failed+=(diag)
  run "$axle_bench" diagnostics --seconds 10 --ecu-delay-ms 5 --link socketpair || failed+=(diag)
  # The agent's own poll schedule on the demo sedan in real time, against its bus-load budget (about 40 s).
  echo "bench: scripts/bench/diag_poll_load.py" >&2
  python3 scripts/bench/diag_poll_load.py .build-static/release/axled .build/release/axle --seconds 30 \
    | tee -a "$results" || failed+=(diag)
fi

"$python" scripts/bench/report.py "$results"
python3 scripts/bench/performance_page.py "$results" --page docs/performance.md --readme README.md \
  --fleet-page docs/fleet-scale.md
echo "bench: raw results in $results; docs/performance.md, docs/fleet-scale.md and README.md's Performance table" \
  "written from them" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  echo "bench: these stages failed: ${failed[*]} (their output above says why; the page marks the figures they" \
    "did not measure)" >&2
  exit 1
fi
