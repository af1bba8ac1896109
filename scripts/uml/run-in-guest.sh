#!/usr/bin/env bash
# Runs one command inside a user-mode-linux (UML) guest that has the real Linux CAN stack, and exits with the
# command's exit status. The guest sees the host's file system read-write (hostfs), so host-built binaries run
# unchanged; it gets its own /tmp, /run and /dev/shm (tmpfs), CAN modules loaded, and these links up:
#   vcan0  virtual CAN, mtu 72 (CAN FD)      vcan1  virtual CAN, mtu 16 (classic only)      lo
#
# Usage: scripts/uml/run-in-guest.sh [options] -- COMMAND [ARGS...]
#   --mem SIZE        guest memory (default 512M; env AXLE_UML_MEM)
#   --timeout SECS    kill the guest after SECS seconds (default 600; env AXLE_UML_TIMEOUT)
#   --env NAME        also pass variable NAME into the guest (repeatable)
#   --share PATH      make host PATH visible although it lies under the guest's private /tmp, /run or /dev/shm
#                     (repeatable; the working directory, AXLE_UML_RESULTS and the command's directory are
#                     shared automatically)
#   --module NAME     also insmod kernel module NAME (e.g. can-bcm, can-gw, vxcan, can-j1939; repeatable)
#   --host-tmp        let the guest use the host's /tmp instead of a private tmpfs
#   --keep            keep the run directory (console log, init log) even on success
#   -v, --verbose     report boot and command timings on stderr
#
# Inside the guest the command runs as root in the caller's working directory with stdin from /dev/null and
# only these variables: PATH, HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, SWIFT_*, AXLE_*, the --env ones,
# plus TMPDIR=/tmp, TERM=dumb and AXLE_UML_GUEST=1. Write results that must come back to the host into a
# directory on the host, e.g. AXLE_UML_RESULTS=/abs/dir (created if missing, passed in, shared). Its stdout
# and stderr are streamed to this script's stdout and stderr while it runs (kernel messages never are).
#
# Exit status: the command's own; 124 if the timeout hit; 125 if the guest could not boot or set up, or died
# before the command finished (the reason and the end of the console log are printed).
#
# Other environment: AXLE_UML_KERNEL (default linux.uml on PATH), AXLE_UML_RUNDIR (parent of run directories,
# default /var/tmp), AXLE_UML_MEMDIR (where UML keeps its memory file, default /dev/shm when it has room),
# AXLE_UML_XSTATE_SHIM=0 (do not preload xstate-shim.c; see that file), CC (compiler for the shim),
# AXLE_UML_TRACE=1 (trace the guest init with timestamps into the run directory's setup.log; use with --keep).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=run-in-guest

exec {stderr}>&2   # our own messages go here, also from inside blocks whose stderr is silenced
die() { echo "$prog: $*" >&"$stderr"; exit 125; }
usage() { # usage STATUS: the header comment; on stdout for --help, on stderr after a mistake
  local text
  text=$(sed -n '/^# Usage:/,/^# Exit status/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//')
  if [ "$1" = 0 ]; then echo "$text"; else echo "$text" >&2; fi
  exit "$1"
}

mem=${AXLE_UML_MEM:-512M}
timeout=${AXLE_UML_TIMEOUT:-600}
keep=0 verbose=0 host_tmp=0
extra_env=() shares=() modules=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --mem=*) mem=${1#*=}; shift ;;
    --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
    --timeout=*) timeout=${1#*=}; shift ;;
    --env) extra_env+=("${2:?--env needs a name}"); shift 2 ;;
    --share) shares+=("${2:?--share needs a path}"); shift 2 ;;
    --module) modules+=("${2:?--module needs a name}"); shift 2 ;;
    --host-tmp) host_tmp=1; shift ;;
    --keep) keep=1; shift ;;
    -v|--verbose) verbose=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "$prog: unknown option '$1' (the command goes after --)" >&2; usage 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "$prog: no command given" >&2; usage 2; }
[[ "$timeout" =~ ^[0-9]+$ ]] && [ "$timeout" -gt 0 ] || die "--timeout must be a positive number of seconds, not '$timeout'"
[[ "$mem" =~ ^[0-9]+[kKmMgG]$ ]] || die "--mem must look like 512M, not '$mem'"

# ---- the kernel and its modules ----------------------------------------------------------------------------
kernel=${AXLE_UML_KERNEL:-$(command -v linux.uml || echo /usr/bin/linux.uml)}
[ -x "$kernel" ] || die "user-mode-linux is not installed: no executable $kernel (scripts/setup.sh installs the Debian package user-mode-linux)"
kver=$("$kernel" --version 2>/dev/null | head -n1) || true
[ -n "$kver" ] || die "user-mode-linux did not start: '$kernel --version' printed nothing"
[ -f "/usr/lib/uml/modules/$kver/kernel/drivers/net/can/vcan.ko" ] ||
  die "no CAN modules for UML kernel $kver under /usr/lib/uml/modules/$kver (reinstall user-mode-linux)"
for t in insmod ip; do
  PATH=$PATH:/usr/sbin:/sbin command -v "$t" >/dev/null || die "'$t' is missing on the host, and the guest uses the host's programs (install kmod and iproute2)"
done

# ---- the run directory: job description in, results out (reached by the guest through hostfs) ---------------
rundir_parent=${AXLE_UML_RUNDIR:-/var/tmp}
mkdir -p "$rundir_parent"
run=$(mktemp -d "$rundir_parent/axle-uml.XXXXXX")
case "$run$here" in *[[:space:]]*) die "paths with white space do not survive the kernel command line: $run, $here" ;; esac
: > "$run/stdout"; : > "$run/stderr"; : > "$run/setup.log"

uml_pid='' tail_pids=() saved_stty='' finished=0
if [ -t 0 ]; then saved_stty=$(stty -g 2>/dev/null || true); fi
kill_guest() {
  [ -n "$uml_pid" ] || return 0
  kill -TERM -- "-$uml_pid" 2>/dev/null || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$uml_pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL -- "-$uml_pid" 2>/dev/null || true
}
cleanup() {
  kill_guest
  local p
  for p in "${tail_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$saved_stty" ]; then stty "$saved_stty" 2>/dev/null || true; fi
  if [ "$finished" = 1 ] && [ "$keep" = 0 ]; then rm -rf "$run"; else echo "$prog: run directory kept: $run" >&"$stderr"; fi
}
trap cleanup EXIT
trap 'echo "$prog: interrupted, stopping the guest" >&"$stderr"; exit 130' INT
trap 'echo "$prog: terminated, stopping the guest" >&"$stderr"; exit 143' TERM HUP

# Variables passed in.
if [ -n "${AXLE_UML_RESULTS:-}" ]; then
  mkdir -p "$AXLE_UML_RESULTS"
  AXLE_UML_RESULTS=$(cd "$AXLE_UML_RESULTS" && pwd)
  export AXLE_UML_RESULTS
  shares+=("$AXLE_UML_RESULTS")
fi
env_kv=("TMPDIR=/tmp" "TERM=dumb" "AXLE_UML_GUEST=1")
while IFS= read -r name; do
  case "$name" in
    PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_*|TZ|SWIFT_*|AXLE_*) ;;
    *) continue ;;
  esac
  case "$name" in AXLE_UML_GUEST|AXLE_UML_KERNEL|AXLE_UML_RUNDIR|AXLE_UML_MEMDIR|AXLE_UML_XSTATE_SHIM) continue ;; esac
  env_kv+=("$name=${!name}")
done < <(compgen -e)
for name in "${extra_env[@]}"; do
  [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env needs a variable name, not '$name'"
  if [ -n "${!name+set}" ]; then env_kv+=("$name=${!name}"); fi
done

# Host paths the guest must see even though they lie under its private /tmp, /run or /dev/shm.
shares+=("$run" "$PWD")
case "$1" in
  */*) cmd_path=$(realpath -m -- "$1")
       case "${cmd_path%/*}" in /tmp|/run|/dev/shm|'') shares+=("$cmd_path") ;; *) shares+=("${cmd_path%/*}") ;; esac ;;
esac
share_abs=()
for p in "${shares[@]}"; do
  p=$(realpath -m -- "$p")
  [ -e "$p" ] || die "--share $p: no such file or directory"
  if [ "$p" = /tmp ]; then host_tmp=1; fi
  share_abs+=("$p")
done
# Sorted, so a directory is bound before anything inside it (which would otherwise be hidden).
mapfile -t share_abs < <(printf '%s\n' "${share_abs[@]}" | LC_ALL=C sort -u)

{
  printf 'AXLE_GUEST_CMD=('; printf ' %q' "$@"; printf ' )\n'
  printf 'AXLE_GUEST_ENV=('; printf ' %q' "${env_kv[@]}"; printf ' )\n'
  printf 'AXLE_GUEST_SHARES=('; printf ' %q' "${share_abs[@]}"; printf ' )\n'
  printf 'AXLE_GUEST_MODULES=('; [ ${#modules[@]} -eq 0 ] || printf ' %q' "${modules[@]}"; printf ' )\n'
  printf 'AXLE_GUEST_CWD=%q\n' "$PWD"
  printf 'AXLE_GUEST_HOST_TMP=%q\n' "$host_tmp"
  printf 'AXLE_GUEST_TRACE=%q\n' "${AXLE_UML_TRACE:-0}"
} > "$run/job.sh"

# ---- the xstate shim (see xstate-shim.c: needed on hosts with AMX, harmless elsewhere) ------------------------
preload=''
if [ "${AXLE_UML_XSTATE_SHIM:-1}" != 0 ]; then
  src=$here/xstate-shim.c
  sum=$(sha256sum "$src" | cut -c1-16)
  cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/axle-uml
  so=$cache/xstate-shim-$sum.so
  if [ ! -f "$so" ]; then
    mkdir -p "$cache" 2>/dev/null || { cache=$run; so=$run/xstate-shim.so; }
    cc=''
    for c in "${CC:-}" cc gcc clang /opt/swift/usr/bin/clang; do
      [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { cc=$c; break; }
    done
    if [ -n "$cc" ] && "$cc" -shared -fPIC -O2 -o "$so.$$" "$src" -ldl 2>"$run/shim-build.log"; then
      mv -f "$so.$$" "$so"
      find "$cache" -maxdepth 1 -name 'xstate-shim-*.so' ! -path "$so" -delete 2>/dev/null || true  # older versions
    else
      rm -f "$so.$$"
      echo "$prog: warning: could not build $src (no working C compiler${cc:+: see $run/shim-build.log});" \
           "UML will crash on hosts with AMX (Intel Xeon 4th gen and later)" >&2
      so=''
    fi
  fi
  preload=$so
fi

# ---- where UML keeps guest memory: a tmpfs with room, else the disk (a too-small /dev/shm means SIGBUS) -------
case "$mem" in *[kK]) unit=1 ;; *[mM]) unit=1024 ;; *) unit=1048576 ;; esac
mem_kib=$(( ${mem%?} * unit ))
memdir=${AXLE_UML_MEMDIR:-}
if [ -z "$memdir" ]; then
  memdir=$run
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
    if [ -n "$shm_free" ] && [ "$shm_free" -gt $(( mem_kib + 65536 )) ]; then memdir=/dev/shm; fi
  fi
fi

# ---- boot ------------------------------------------------------------------------------------------------------
umid=axle-$$-$RANDOM
args=(mem="$mem" root=/dev/root rootfstype=hostfs rootflags=/ rw init="$here/guest-init.sh"
      con=null ssl=null con0=fd:0,fd:1 umid="$umid" uml_dir="$run/uml" axle_run="$run")
t0=$(date +%s.%N)
# setsid: UML and every process it forks form one process group we can kill, and none of it can reach our tty.
env ${preload:+LD_PRELOAD="$preload"} TMPDIR="$memdir" setsid "$kernel" "${args[@]}" </dev/null >"$run/console.log" 2>&1 &
uml_pid=$!

tail -f -n +1 -s 0.2 --pid="$uml_pid" "$run/stdout" &
tail_pids+=($!)
tail -f -n +1 -s 0.2 --pid="$uml_pid" "$run/stderr" >&2 &
tail_pids+=($!)

timed_out=0
deadline=$(( SECONDS + timeout ))
exec {tick}<> <(:)   # a pipe nobody writes to: `read -t` on it sleeps without forking
set +e
{ # stderr to /dev/null: no "Aborted" job notice from bash when UML dies of a signal (a kernel panic)
  while kill -0 "$uml_pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then timed_out=1; kill_guest; break; fi
    read -r -t 0.2 -u "$tick" _
  done
  wait "$uml_pid"; uml_rc=$?
} 2>/dev/null
set -e
uml_pid=''
t1=$(date +%s.%N)
for p in "${tail_pids[@]}"; do wait "$p" 2>/dev/null; done
tail_pids=()

# ---- verdict ---------------------------------------------------------------------------------------------------
console_tail() {
  echo "---- last lines of the UML console log ($run/console.log) ----" >&2
  grep -v '^ \[<' "$run/console.log" | tail -n 25 >&2
  if [ -s "$run/setup.log" ]; then
    echo "---- guest init log ($run/setup.log) ----" >&2
    tail -n 15 "$run/setup.log" >&2
  fi
  echo "----" >&2
}
if [ "$verbose" = 1 ] && [ -f "$run/booted" ]; then
  boot=$(awk -v a="$t0" -v b="$(cat "$run/booted")" 'BEGIN { printf "%.2f", b - a }')
  msg="$prog: init started ${boot}s after launch"
  if [ -f "$run/timing" ]; then
    # shellcheck source=/dev/null
    . "$run/timing"
    msg+=$(awk -v a="$t0" -v s="$command_start" -v e="$command_end" -v z="$t1" \
      'BEGIN { printf ", command started at %.2fs, ran %.2fs, guest gone at %.2fs", s - a, e - s, z - a }')
  fi
  echo "$msg" >&2
fi
if [ "$timed_out" = 1 ]; then
  echo "$prog: TIMEOUT: the guest was still running after ${timeout}s; killed user-mode-linux" >&2
  console_tail
  exit 124
fi
if [ -f "$run/status" ]; then
  status=$(cat "$run/status")
  [[ "$status" =~ ^[0-9]+$ ]] || die "the guest wrote a malformed exit status '$status'"
  finished=1
  exit "$status"
fi
if [ ! -f "$run/booted" ]; then
  reason="user-mode-linux did not start the guest (exit status $uml_rc)"
  if grep -q 'ptrace set fp regs failed' "$run/console.log"; then
    reason+="; 'ptrace set fp regs failed': this host's XSAVE area does not match UML's, and the xstate shim"
    reason+=" was not loaded (AXLE_UML_XSTATE_SHIM=0 or no C compiler); see $here/xstate-shim.c"
  elif grep -q 'check_ptrace\|ptrace: Operation not permitted' "$run/console.log"; then
    reason+="; ptrace is not permitted here (UML needs it; it also cannot run under strace or gdb)"
  fi
  echo "$prog: $reason" >&2
elif [ -f "$run/setup-error" ]; then
  echo "$prog: the guest booted but its setup failed: $(cat "$run/setup-error")" >&2
else
  echo "$prog: the guest stopped before the command finished (UML exit status $uml_rc); no exit status was written" >&2
fi
console_tail
exit 125
