#!/usr/bin/env bash
# Installs everything `make demo`, `make test` and `make bench` need on a fresh Debian 12 machine.
# Idempotent: each step checks first and does nothing when its work is already done.
# Uses sudo only when not running as root.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: C libraries the Swift targets link against, and the real peers the tests use.
debs=(pkg-config libsqlite3-dev libmosquitto-dev libsocketcan-dev libzstd-dev libssl-dev
      mosquitto mosquitto-clients can-utils user-mode-linux kmod iproute2 openssl python3-venv systemd gpsd)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian enables gpsd's socket on 127.0.0.1:2947 when systemd runs; the tests start private gpsds of their own
  # (Tests/Resources/gnss), and an agent on this machine should not find a system gpsd nobody asked for.
  if [[ " ${missing[*]} " == *" gpsd "* ]] && [ -d /run/systemd/system ]; then
    sudo_if_needed systemctl disable --now gpsd.socket gpsd.service >/dev/null 2>&1 || true
  fi
fi

# Python reference tools, pinned: cantools is the reference decoder of the differential test.
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating Python venv in $venv" >&2
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import cantools, sys; sys.exit(cantools.__version__ != "45.1.0")' 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check cantools==45.1.0
fi
"$venv/bin/python" -c 'import google.protobuf as p, zstandard as z, sys; sys.exit((p.__version__, z.__version__) != ("7.36.2", "0.25.0"))' 2>/dev/null \
  || "$venv/bin/pip" install -q --disable-pip-version-check protobuf==7.36.2 zstandard==0.25.0  # examples/python (docs/payload.md)
# The demo's subscriber and the benchmark's Python pipeline (scripts/demo.py, scripts/bench/python_agent.py).
"$venv/bin/python" -c 'import can, paho.mqtt as m, sys; sys.exit((can.__version__, m.__version__) != ("4.6.1", "2.2.0"))' 2>/dev/null \
  || "$venv/bin/pip" install -q --disable-pip-version-check python-can==4.6.1 paho-mqtt==2.2.0
# The kernel diagnostics tests' ECUs (scripts/diag/uds_ecu.py, obd_ecu.py): user-space ISO-TP and UDS answers, independent of Axle.
"$venv/bin/python" -c 'import isotp, udsoncan, importlib.metadata as m, sys; sys.exit((m.version("can-isotp"), m.version("udsoncan")) != ("2.0.7", "1.26.1"))' 2>/dev/null \
  || "$venv/bin/pip" install -q --disable-pip-version-check can-isotp==2.0.7 udsoncan==1.26.1
# The scan-tool kernel tests' J1939 node (scripts/diag/j1939_ecu.py): address claim, DM1, BAM and RTS/CTS, independent of Axle.
"$venv/bin/python" -c 'import j1939, importlib.metadata as m, sys; sys.exit(m.version("can-j1939") != "2.0.12")' 2>/dev/null \
  || "$venv/bin/pip" install -q --disable-pip-version-check can-j1939==2.0.12

# Reference corpora from PyPI: the opendbc wheel and the cantools source package (its tests/files/dbc).
corpus=.corpus
mkdir -p "$corpus"
if [ ! -d "$corpus/opendbc" ]; then
  tmp=$(mktemp -d)
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$tmp" opendbc==0.3.1
  "$venv/bin/python" -m zipfile -e "$tmp"/opendbc-0.3.1-*.whl "$corpus/opendbc-wheel"
  mv "$corpus/opendbc-wheel/opendbc" "$corpus/opendbc" && rm -rf "$corpus/opendbc-wheel" "$tmp"
fi
if [ ! -d "$corpus/cantools" ]; then
  tmp=$(mktemp -d)
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$tmp" cantools==45.1.0
  tar -xzf "$tmp"/cantools-45.1.0.tar.gz -C "$corpus" && mv "$corpus/cantools-45.1.0" "$corpus/cantools" && rm -rf "$tmp"
fi
