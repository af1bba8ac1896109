#!/bin/bash
# PID 1 inside the user-mode-linux guest started by run-in-guest.sh. Not meant to be run by hand.
#
# The kernel passes unknown boot parameters to init as environment variables; run-in-guest.sh puts
# axle_run=<run directory> on the command line. That directory (on the host, reached through hostfs) holds
# job.sh (what to run) and receives: booted, setup.log, setup-error, stdout, stderr, status, timing.
run=${axle_run:-}
if [ -z "$run" ] || [ ! -f "$run/job.sh" ]; then
  echo "axle guest init: no axle_run=<dir> with a job.sh on the kernel command line" >&2
  halt -f; echo o > /proc/sysrq-trigger; sleep 10
fi

now() { local t; read -r t _ < /proc/uptime 2>/dev/null && echo "$t"; }
power_off() {
  sync
  halt -f >/dev/null 2>&1
  echo o > /proc/sysrq-trigger 2>/dev/null
  poweroff -f >/dev/null 2>&1
  sleep 30
}
fail() {
  echo "guest setup failed: $*"
  printf '%s\n' "$*" > "$run/setup-error"
  power_off
}

exec </dev/null >>"$run/setup.log" 2>&1
date +%s.%N > "$run/booted"

# shellcheck source=/dev/null
source "$run/job.sh" || fail "cannot read $run/job.sh"
if [ "${AXLE_GUEST_TRACE:-0}" = 1 ]; then PS4='+ [$(now)] '; set -x; fi

mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
echo "guest: booted at uptime $(now)s, kernel $(uname -r)"
grep -q ' /dev devtmpfs ' /proc/mounts || mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs on /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "mount devpts"
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
# devtmpfs lacks the links udev would make; bash's <(...) and many tools need /dev/fd and /dev/std*.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount tmpfs on /dev/shm"

# Guest-private /run and /tmp, so guest processes never collide with the host's files there. The host's file
# system stays reachable at /run/axle-host; host paths under /run and /tmp that the job needs (the run
# directory, the working directory, the results directory, the command, --share paths) are bound back in place.
mount -t tmpfs -o mode=755 tmpfs /run || fail "mount tmpfs on /run"
mkdir -p /run/axle-host /run/lock
mount -t hostfs -o / hostfs /run/axle-host || fail "mount hostfs on /run/axle-host"
if [ "${AXLE_GUEST_HOST_TMP:-0}" != 1 ]; then
  mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "mount tmpfs on /tmp"
fi
for p in "${AXLE_GUEST_SHARES[@]}"; do
  case "$p" in
    /tmp|/tmp/*) [ "${AXLE_GUEST_HOST_TMP:-0}" != 1 ] || continue ;;
    /run|/run/*|/dev/shm|/dev/shm/*) ;;
    *) continue ;;
  esac
  src=/run/axle-host$p
  if [ -d "$src" ]; then mkdir -p "$p"
  elif [ -e "$src" ]; then mkdir -p "${p%/*}" && : >> "$p"
  else fail "shared path $p does not exist on the host"
  fi
  mount --bind "$src" "$p" || fail "bind $p from the host"
done

# The CAN stack: modules of the running UML kernel, in dependency order (vcan needs can-dev).
moddir=/usr/lib/uml/modules/$(uname -r)/kernel
[ -d "$moddir" ] || fail "no module directory $moddir (is the user-mode-linux package complete?)"
for m in net/can/can.ko net/can/can-raw.ko drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko "${AXLE_GUEST_MODULES[@]}"; do
  if [ "${m#*/}" = "$m" ]; then   # a bare module name from --module: find its file
    f=$(find "$moddir" -name "$m.ko" -print -quit)
    [ -n "$f" ] || fail "module $m not found under $moddir"
  else
    f=$moddir/$m
  fi
  out=$(insmod "$f" 2>&1) || case "$out" in
    *"File exists"*) ;;
    *) fail "insmod $f: $out" ;;
  esac
done
ip link set lo up || fail "ip link set lo up"
ip link add dev vcan0 type vcan || fail "ip link add vcan0"
ip link set vcan0 mtu 72 || fail "ip link set vcan0 mtu 72 (CAN FD)"
ip link add dev vcan1 type vcan || fail "ip link add vcan1"
ip link set vcan1 mtu 16 || fail "ip link set vcan1 mtu 16 (classic CAN only; vcan defaults to 72)"
ip link set vcan0 up || fail "ip link set vcan0 up"
ip link set vcan1 up || fail "ip link set vcan1 up"
echo "guest: CAN ready at uptime $(now)s"

cd "$AXLE_GUEST_CWD" || fail "cd $AXLE_GUEST_CWD"
start=$(date +%s.%N)
(
  # Only the variables run-in-guest.sh chose, nothing of this init's own environment.
  for v in $(compgen -e); do unset "$v"; done
  for kv in "${AXLE_GUEST_ENV[@]}"; do export "${kv?}"; done
  exec "${AXLE_GUEST_CMD[@]}"
) </dev/null >>"$run/stdout" 2>>"$run/stderr"
rc=$?
end=$(date +%s.%N)
sync
echo "guest: command exited with status $rc at uptime $(now)s"
printf 'command_start=%s\ncommand_end=%s\n' "$start" "$end" > "$run/timing"
echo "$rc" > "$run/status"
power_off
