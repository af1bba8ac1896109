#!/usr/bin/env python3
"""make bench, stage diag: the bus load of the agent's own poll schedule against its budget (issue 13).

The release axled runs the demo sedan on the simulator in real time (city-drive, ignition on): its diagnostics
service polls the engine ECU for the profile's five PIDs and reads its fault codes every 10 s, within the profile's
budget (1 % of 500 kbit/s). After polling has begun, the CAN frames diagnostics put on and drew from the bus are read
from `axle status --json` at the start and the end of a window, and one JSON line is printed.

    python3 scripts/bench/diag_poll_load.py AXLED AXLE [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A classic frame with 8 data bytes is at most 135 bits after bit stuffing: the budget's own worst case.
BITS_PER_FRAME = 135
BITRATE = 500_000


def status(axle: str, socket_path: str) -> dict | None:
    result = subprocess.run([axle, "status", "--socket", socket_path, "--json"], capture_output=True, text=True)
    try:
        return json.loads(result.stdout).get("diagnostics")
    except ValueError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("axled")
    parser.add_argument("axle")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="axle-diag-load-")
    socket_path = os.path.join(work, "axled.sock")
    log_path = os.path.join(work, "axled.log")
    agent = None
    try:
        with open(log_path, "w") as log:
            # No broker listens on port 9: the agent collects into its outbox and retries, as in a blind spot.
            agent = subprocess.Popen(
                [args.axled, "--profile", os.path.join(ROOT, "Firmware-Profiles", "demo-sedan"), "--simulate",
                 "city-drive", "--simulate-speed", "1", "--vehicle-id", "bench-diag", "--broker", "mqtt://127.0.0.1:9",
                 "--data-dir", os.path.join(work, "data"), "--control-socket", socket_path, "--log-level", "notice"],
                stderr=log)
        deadline = time.monotonic() + 60
        first = None
        while time.monotonic() < deadline:
            report = status(args.axle, socket_path)
            if report and report.get("polling") and report.get("frames", 0) > 0:
                first = (time.monotonic(), report)
                break
            time.sleep(0.2)
        if first is None:
            with open(log_path) as log:
                tail = log.read()[-2000:]
            print(json.dumps({"benchmark": "diag-poll-load", "implementation": "axle",
                              "error": f"the agent did not start polling within 60 s; its log: {tail}"}), flush=True)
            return 1
        time.sleep(args.seconds)  # the measurement window (not a wait for readiness)
        last = (time.monotonic(), status(args.axle, socket_path))
        elapsed = last[0] - first[0]
        frames = last[1]["frames"] - first[1]["frames"]
        engine0, engine1 = first[1]["ecus"][0], last[1]["ecus"][0]
        per_second = frames / elapsed
        budget = last[1]["budget_frames_per_s"]
        print(json.dumps({
            "benchmark": "diag-poll-load", "implementation": "axle", "profile": "demo-sedan", "scenario": "city-drive",
            "seconds": round(elapsed, 2), "frames": frames, "frames_per_s": round(per_second, 2),
            "budget_frames_per_s": budget, "share_of_budget": round(per_second / budget, 4),
            "bus_percent": round(per_second * BITS_PER_FRAME / BITRATE * 100, 3),
            "requests": engine1["requests"] - engine0["requests"], "answers": engine1["answers"] - engine0["answers"],
            "timeouts": engine1["timeouts"] - engine0["timeouts"],
        }), flush=True)
        return 0
    finally:
        if agent and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
