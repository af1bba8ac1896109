#!/usr/bin/env python3
"""How a fleet comes back after a broker outage (scripts/bench.sh's `reconnect` stage), as one JSON line:

  reconnect  AGENTS copies of `axled` (the demo sedan parked, each its own vehicle id and data directory) connected to
             a private mosquitto on loopback; the broker is stopped, left down for OUTAGE seconds, and started again
             on the same port. Each agent backs off with full jitter (docs/mqtt.md: every delay drawn from 0 up to a
             ceiling that doubles from 0.5 s to 60 s), so the fleet should come back spread over up to 60 s rather
             than all at one instant. Reported: seconds from the broker's restart to each agent's CONNECT (first,
             median, p90, last) and the spread from the first to the last.

Usage: python3 scripts/bench/reconnect.py AXLED [--agents 100] [--outage 30] [--cpu 1]

The times are the broker's: each "New client connected ... as axled-ID" line of its log, timestamped as it is read.
Figures are reported, never asserted: exits 1 only when the agents could not be started or did not connect before the
outage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from broker_log import BrokerLog, percentile

PROFILE = "Firmware-Profiles/demo-sedan"
VEHICLE_PREFIX = "bench-reconnect-"
CONNECTED = re.compile(r"New client connected from \S+ as axled-(" + re.escape(VEHICLE_PREFIX) + r"\d+)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("axled")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--outage", type=float, default=30, help="seconds the broker stays down")
    parser.add_argument("--cpu", type=int, default=1, help="the core the agents are pinned to; the broker gets another")
    args = parser.parse_args()

    pin, broker_pin = [], []
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        pin, broker_pin = ["taskset", "-c", str(args.cpu)], ["taskset", "-c", "0" if args.cpu else "1"]
    work = tempfile.mkdtemp(prefix="axle-reconnect-bench.")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = os.path.join(work, "broker.conf")
    with open(config, "w") as out:
        # Notice level carries the connection lines; 100 clients need no more than the defaults otherwise.
        out.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type notice\n")
    broker = BrokerLog(config, broker_pin, CONNECTED)
    agents: list[subprocess.Popen] = []
    result = {"benchmark": "reconnect", "implementation": "axle", "agents": args.agents,
              "outage_seconds": args.outage}
    try:
        broker.start()
        for number in range(args.agents):
            data = os.path.join(work, f"agent-{number}")
            os.makedirs(data)
            with open(os.path.join(data, "axled.log"), "w") as log:
                agents.append(subprocess.Popen(
                    pin + [args.axled, "--profile", PROFILE, "--vehicle-id", f"{VEHICLE_PREFIX}{number}",
                           "--broker", f"mqtt://127.0.0.1:{port}", "--data-dir", data, "--simulate", "parked",
                           "--control-socket", os.path.join(data, "axled.sock"), "--log-level", "notice"],
                    stdout=subprocess.DEVNULL, stderr=log))
        connected = broker.wait_for(args.agents, 0, time.monotonic() + 120)
        if len(connected) < args.agents:
            exited = [a.args[a.args.index("--vehicle-id") + 1] for a in agents if a.poll() is not None]
            print(f"reconnect bench: only {len(connected)} of {args.agents} agents connected within 120 s"
                  f"{f'; exited: {exited[:5]}' if exited else ''}; the first agent's log ends:", file=sys.stderr)
            with open(os.path.join(work, "agent-0", "axled.log")) as log:
                print("".join(log.readlines()[-10:]), file=sys.stderr)
            result["error"] = f"{len(connected)} of {args.agents} agents connected before the outage"
            print(json.dumps(result), flush=True)
            return 1
        print(f"reconnect bench: {args.agents} agents connected; broker down for {args.outage:g} s", file=sys.stderr)
        broker.stop()
        time.sleep(args.outage)  # the outage itself: a duration, not a wait for anything
        restarted = broker.start()
        # Every agent's next attempt is at most 60 s (the backoff's cap) away, plus the connection itself.
        back = broker.wait_for(args.agents, restarted, restarted + 90)
        times = sorted(when - restarted for when in back.values())
        result.update({"reconnected": len(times), "backoff_cap_seconds": 60})
        if times:
            result.update({"first_seconds": round(times[0], 3), "median_seconds": round(percentile(times, 50), 3),
                           "p90_seconds": round(percentile(times, 90), 3), "last_seconds": round(times[-1], 3),
                           "spread_seconds": round(times[-1] - times[0], 3)})
        if len(times) < args.agents:
            result["error"] = f"{len(times)} of {args.agents} agents reconnected within 90 s of the restart"
        print(json.dumps(result), flush=True)
        return 0
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
        for agent in agents:
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
