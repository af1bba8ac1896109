#!/usr/bin/env python3
"""Times signed remote commands through a running axled, one at a time (scripts/bench/commands.sh runs it).

Usage: command_latency.py --port PORT --vehicle ID --fleet AXLE_FLEET --key FILE --count N [--batch 250]
                          [--host H] [--agent-pid PID] [--prefix axle/v1] [--timeout SECONDS] [--note KEY=VALUE]...

The commands (doors.lock and doors.unlock in turn) are signed by `axle-fleet command create --ttl 5m` with FILE, in
batches of --batch made before any of the batch is sent: signing takes no CPU from the agent while it is measured,
and every command is sent well within its 5 minutes (the agent refuses a longer validity; 1,000 commands of about
0.4 s each take longer than that). Each payload is published (QoS 1) to PREFIX/VEHICLE/cmd/req over MQTT 5 with
Response Topic bench/replies and the command id as Correlation Data, and the next one only after this one's final
status has arrived: commands on the same CAN message would otherwise be refused as busy. Times are
time.perf_counter() from just before the publish to the arrival (in the client's network thread) of each status:
ACCEPTED, IN_PROGRESS (published by the agent right after the first CAN frame was handed to the bus) and the final
one. Prints one JSON line on stdout, progress and a short table on stderr; the agent's VmRSS and VmHWM come from
/proc/PID/status after the run. Exits 0 when the run completed, whatever the statuses (they are counted in the
JSON); 1 when the broker could not be reached or a command could not be signed.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "INTERRUPTED"}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)
    return {"count": len(values), "p50_ms": ms(percentile(values, 50)), "p90_ms": ms(percentile(values, 90)),
            "p99_ms": ms(percentile(values, 99)), "max_ms": ms(max(values) if values else None),
            "min_ms": ms(min(values) if values else None)}


def memory(pid: int | None) -> dict[str, float | None]:
    found: dict[str, float | None] = {"rss_mb": None, "peak_rss_mb": None}
    if pid is None:
        return found
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vehicle", required=True)
    parser.add_argument("--prefix", default="axle/v1")
    parser.add_argument("--fleet", required=True, help="the axle-fleet that signs the commands")
    parser.add_argument("--key", required=True, help="the signing key (PREFIX.key from axle-fleet keygen)")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=250, help="commands signed before sending them")
    parser.add_argument("--agent-pid", type=int)
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for one command's final status")
    parser.add_argument("--note", action="append", default=[], metavar="KEY=VALUE",
                        help="recorded as is in the JSON line (how the run was set up)")
    args = parser.parse_args()
    # The agent answers only within its own …/cmd/res subtree (docs/mqtt.md, "Answers never leave …/cmd/res"); a Response
    # Topic elsewhere would send the answers to …/cmd/res itself.
    reply_topic = f"{args.prefix}/{args.vehicle}/cmd/res/bench"

    lock = threading.Condition()
    arrivals: dict[str, dict[str, float]] = {}    # command id → status → perf_counter() at arrival
    responses: dict[str, dict[str, Any]] = {}     # command id → the final response
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason, properties):
        if not reason.is_failure:
            client.subscribe(reply_topic, qos=1)

    def on_subscribe(client, userdata, mid, reasons, properties):
        connected.set()

    def on_message(client, userdata, message):
        now = time.perf_counter()
        try:
            response = json.loads(message.payload)
            status = response["status"]
        except (ValueError, KeyError):
            return
        correlation = getattr(message.properties, "CorrelationData", None)
        command_id = correlation.decode() if correlation else response.get("id", "")
        with lock:
            arrivals.setdefault(command_id, {}).setdefault(status, now)
            if status in FINAL:
                responses[command_id] = response
                lock.notify_all()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"axle-command-bench-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(args.host, args.port)
    except OSError as error:
        print(f"command_latency: cannot reach the broker at {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    # paho leaves Nagle's algorithm on: a request written while the PUBACK of the previous status is unacknowledged
    # would wait for the broker's delayed ACK (up to 40 ms). The agent sets TCP_NODELAY on its own socket.
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()
    if not connected.wait(10):
        print(f"command_latency: no CONNACK/SUBACK from {args.host}:{args.port} within 10 s", file=sys.stderr)
        return 1

    topic = f"{args.prefix}/{args.vehicle}/cmd/req"
    load_at_start = os.getloadavg()[0]
    sent: list[tuple[str, str, float]] = []
    measured = 0.0  # seconds spent sending and waiting, signing left out
    payloads = tempfile.mkdtemp(prefix="axle-command-payloads.")
    for first in range(0, args.count, args.batch):
        batch = []
        for n in range(first, min(first + args.batch, args.count)):
            name = "doors.lock" if n % 2 == 0 else "doors.unlock"
            path = os.path.join(payloads, f"p-{n + 1}.json")
            made = subprocess.run([args.fleet, "command", "create", "--vehicle", args.vehicle, "--key", args.key,
                                   "--ttl", "5m", name, "--out", path], capture_output=True, text=True)
            if made.returncode != 0:
                print(f"command_latency: {args.fleet} command create failed ({made.returncode}): "
                      f"{made.stderr.strip()}", file=sys.stderr)
                shutil.rmtree(payloads, ignore_errors=True)
                return 1
            payload = open(path, "rb").read()
            os.remove(path)
            batch.append((json.loads(base64.b64decode(json.loads(payload)["body"]))["id"], name, payload))
        print(f"command bench: signed commands {first + 1}-{first + len(batch)} of {args.count}", file=sys.stderr)
        started = time.monotonic()
        for command_id, name, payload in batch:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = reply_topic
            properties.CorrelationData = command_id.encode()
            t0 = time.perf_counter()
            client.publish(topic, payload, qos=1, properties=properties)
            sent.append((command_id, name, t0))
            with lock:
                lock.wait_for(lambda: command_id in responses, timeout=args.timeout)
            if len(sent) % 100 == 0 or len(sent) == args.count:
                print(f"command bench: {len(sent)} of {args.count} commands done", file=sys.stderr)
        measured += time.monotonic() - started
    shutil.rmtree(payloads, ignore_errors=True)
    seconds = measured
    time.sleep(0.2)  # a late status of the last command
    client.loop_stop()
    client.disconnect()

    to_accepted, to_in_progress, to_final = [], [], []
    statuses: dict[str, int] = {}
    others: list[dict[str, Any]] = []
    with lock:
        for command_id, name, t0 in sent:
            seen = arrivals.get(command_id, {})
            response = responses.get(command_id)
            final = response["status"] if response else "NO_FINAL_STATUS"
            statuses[final] = statuses.get(final, 0) + 1
            if "ACCEPTED" in seen:
                to_accepted.append(seen["ACCEPTED"] - t0)
            if "IN_PROGRESS" in seen:
                to_in_progress.append(seen["IN_PROGRESS"] - t0)
            if response:
                to_final.append(seen[final] - t0)
            if final != "SUCCEEDED" and len(others) < 10:
                others.append({"id": command_id, "name": name, "status": final,
                               "reason": response.get("reason") if response else None,
                               "text": response.get("text") if response else f"nothing within {args.timeout:g} s"})

    result = {
        "benchmark": "command-latency", "implementation": "axle", "commands": len(sent),
        "names": sorted({name for _, name, _ in sent}), "seconds": round(seconds, 3),
        "statuses": statuses, "succeeded": statuses.get("SUCCEEDED", 0),
        "publish_to_accepted": summary(to_accepted),
        "publish_to_in_progress": summary(to_in_progress),
        "publish_to_final": summary(to_final),
        **memory(args.agent_pid),
        "load_average_start": round(load_at_start, 2), "load_average_end": round(os.getloadavg()[0], 2),
        **dict(note.partition("=")[::2] for note in args.note),
    }
    if others:
        result["not_succeeded"] = others

    rows = [("publish -> ACCEPTED", result["publish_to_accepted"]),
            ("publish -> IN_PROGRESS (first frame sent)", result["publish_to_in_progress"]),
            ("publish -> final status (vehicle reaction included)", result["publish_to_final"])]
    width = max(len(label) for label, _ in rows)
    print(f"\ncommand latency: {len(sent)} commands ({', '.join(result['names'])}) one at a time, "
          f"{seconds:.1f} s; statuses {statuses}", file=sys.stderr)
    print(f"  {'':{width}}  {'n':>5}  {'p50 ms':>8}  {'p90 ms':>8}  {'p99 ms':>8}  {'max ms':>8}", file=sys.stderr)
    for label, s in rows:
        cells = [f"{s[k]:8.2f}" if s[k] is not None else f"{'-':>8}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
        print(f"  {label:{width}}  {s['count']:5d}  {'  '.join(cells)}", file=sys.stderr)
    print(f"  agent RSS after the run: {result['rss_mb']} MB (peak {result['peak_rss_mb']} MB)", file=sys.stderr)
    p99 = result["publish_to_in_progress"]["p99_ms"]
    if p99 is not None:
        print(f"  target p99 publish -> IN_PROGRESS <= 10 ms: {p99:.2f} ms, "
              f"{'met' if p99 <= 10 else 'NOT met'}", file=sys.stderr)
    for other in others:
        print(f"  not succeeded: {other}", file=sys.stderr)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
