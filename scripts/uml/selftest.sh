#!/usr/bin/env bash
# Proves that run-in-guest.sh gives a working Linux CAN stack, using can-utils only:
#   1. a guest boots and a command's exit status comes back (boot time measured);
#   2. inside a guest, candump on vcan0 sees a classic, an extended, a remote (RTR) and a CAN FD frame sent with
#      cansend, then a burst of 1000 frames from cangen, exactly once each and in order; vcan1 takes classic
#      frames and refuses FD ones (mtu 16). The candump log comes back to the host through hostfs.
# Prints PASS or FAIL per check and a summary; exits non-zero on any failure.
# Usage: scripts/uml/selftest.sh [--keep]    (--keep: keep the results directory)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ---- the part that runs inside the guest ------------------------------------------------------------------------
if [ "${1:-}" = --guest ]; then
  out=${AXLE_UML_RESULTS:?AXLE_UML_RESULTS must name the results directory}
  log=$out/candump.log
  fails=0
  check() { # check NAME COMMAND...: runs COMMAND, prints PASS/FAIL
    local name=$1; shift
    if "$@"; then echo "PASS  $name"; else echo "FAIL  $name"; fails=$((fails + 1)); fi
  }
  t0=$(date +%s%N)
  check "vcan0 is up with mtu 72 (CAN FD)" grep -q 'vcan0: <NOARP,UP,LOWER_UP> mtu 72 ' <(ip link show vcan0)
  check "vcan1 is up with mtu 16 (classic)" grep -q 'vcan1: <NOARP,UP,LOWER_UP> mtu 16 ' <(ip link show vcan1)

  # A 1 MiB receive buffer: with the default (212992 bytes) candump loses about half of a cangen -g 0 burst,
  # because the guest has one CPU and the sender runs ahead of the reader.
  candump -L -r 1048576 vcan0 > "$log" &
  dump=$!
  for _ in $(seq 100); do grep -q ' raw$' /proc/net/can/rcvlist_all && break; sleep 0.05; done
  check "candump listening on vcan0" grep -q ' raw$' /proc/net/can/rcvlist_all

  check "cansend classic 123#DEADBEEF" cansend vcan0 123#DEADBEEF
  check "cansend extended 12345678#00112233" cansend vcan0 12345678#00112233
  check "cansend remote 123#R" cansend vcan0 123#R
  check "cansend FD 123##1112233445566778899AABBCC" cansend vcan0 123##1112233445566778899AABBCC
  t1=$(date +%s%N)
  check "cangen burst of 1000 frames (-g 0)" cangen vcan0 -g 0 -n 1000
  t2=$(date +%s%N)
  for _ in $(seq 200); do [ "$(wc -l < "$log")" -ge 1004 ] && break; sleep 0.05; done
  sleep 0.3   # room for frames that should not be there
  kill -INT "$dump"; wait "$dump" || true

  lines=$(wc -l < "$log")
  check "candump logged 1004 frames (got $lines)" [ "$lines" -eq 1004 ]
  ts='^\([0-9]+\.[0-9]{6}\) vcan0 '
  check "frame 1 classic:  $(sed -n 1p "$log")" grep -qE "${ts}123#DEADBEEF\$" <(sed -n 1p "$log")
  check "frame 2 extended: $(sed -n 2p "$log")" grep -qE "${ts}12345678#00112233\$" <(sed -n 2p "$log")
  check "frame 3 remote:   $(sed -n 3p "$log")" grep -qE "${ts}123#R\$" <(sed -n 3p "$log")
  # Flags nibble: BRS (1) as sent; Linux 6.x also sets CANFD_FDF (4) on received FD frames, so 1 or 5.
  check "frame 4 FD:       $(sed -n 4p "$log")" grep -qE "${ts}123##[15]112233445566778899AABBCC\$" <(sed -n 4p "$log")
  bad=$(sed -n '5,$p' "$log" | grep -cvE "${ts}[0-7][0-9A-F]{2}#([0-9A-F]{2}){0,8}\$" || true)
  check "frames 5-1004 are well-formed classic standard frames ($bad bad)" [ "$bad" -eq 0 ]
  check "timestamps never go backwards" awk -F'[()]' 'NR > 1 && $2 < prev { exit 1 } { prev = $2 }' "$log"

  check "vcan1 accepts a classic frame" cansend vcan1 123#11
  check "vcan1 refuses an FD frame" bash -c '! cansend vcan1 123##1112233445566778899AABBCC >/dev/null 2>&1'

  echo "guest: 4 cansend frames took $(( (t1 - t0) / 1000000 )) ms (incl. checks), cangen burst $(( (t2 - t1) / 1000000 )) ms"
  [ "$fails" -eq 0 ]
  exit
fi

# ---- the host part ----------------------------------------------------------------------------------------------
keep=0
[ "${1:-}" = --keep ] && keep=1
run=$here/run-in-guest.sh
start=$(date +%s%N)
results=$(mktemp -d "${AXLE_UML_RUNDIR:-/var/tmp}/axle-uml-selftest.XXXXXX")
fails=0
report() { if [ "$2" = 0 ]; then echo "PASS  $1"; else echo "FAIL  $1"; fails=$((fails + 1)); fi; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

echo "== 1. boot, exit status"
t=$(date +%s%N)
set +e
"$run" -v --timeout 60 -- sh -c 'exit 42' 2> "$results/boot.err"
rc=$?
set -e
boot_ms=$(ms_since "$t")
grep -v '^run-in-guest: init started' "$results/boot.err" >&2 || true
report "a guest boots, runs 'sh -c \"exit 42\"' and returns 42 (got $rc) in ${boot_ms} ms" $(( rc != 42 ))
sed -n 's/^run-in-guest: /      /p' "$results/boot.err"

echo "== 2. CAN stack (can-utils inside the guest)"
t=$(date +%s%N)
set +e
AXLE_UML_RESULTS=$results "$run" -v --timeout 120 -- "$here/selftest.sh" --guest
rc=$?
set -e
report "CAN checks inside the guest (exit status $rc) in $(ms_since "$t") ms" "$rc"
if [ -f "$results/candump.log" ]; then
  n=$(wc -l < "$results/candump.log")
  report "candump.log came back to the host through hostfs ($n lines)" $(( n != 1004 ))
else
  report "candump.log came back to the host through hostfs (missing)" 1
fi

echo "== total $(ms_since "$start") ms"
if [ "$fails" -eq 0 ]; then
  echo "SELFTEST PASS"
  [ "$keep" = 1 ] && echo "results: $results" || rm -rf "$results"
  exit 0
fi
echo "SELFTEST FAIL ($fails failed; results kept in $results)"
exit 1
