#!/usr/bin/env python3
"""A fleet of real agents against one broker, and what each vehicle costs on the wire (scripts/bench.sh's `fleet`
stage). Two phases, each printing JSON lines:

  fleet   AGENTS copies of `axled` (even numbers the demo sedan on `city-drive`, odd numbers the fleet truck on
          `highway`; each its own vehicle id, data directory and control socket; telemetry batches of 5 s, the
          default) connected over plain MQTT 5 to one private mosquitto on loopback, with one backend subscriber on
          the shared subscription `$share/fleet-bench/axle/v1/+/telemetry` (what a Kafka bridge would hold).
          The agents run on every core; the broker and the subscriber are pinned to core 0 at nice -5 (as root), so
          that a busy fleet does not delay the broker it measures.
            fleet-broker     broker CPU seconds and resident memory per connected vehicle over STEADY seconds, from
                             /proc/PID/stat and /proc/PID/status of the mosquitto process; the agents' own CPU and
                             memory; what the rest of the machine used meanwhile (other builds show up there)
            fleet-reconnect  the broker is stopped for OUTAGE seconds and started again on the same port: seconds
                             from its restart to each agent's CONNECT (the broker's log), as a one-second histogram,
                             its largest bucket's share of the fleet (the goal: at most 5 %), first/median/p90/last
            fleet-drain      the backlog built during the outage (records in every outbox, read over each agent's
                             control socket as `axle outbox --json` does) and the seconds from the restart until
                             every agent's outbox has been empty once
  wire    one agent per setting (profile, scenario, batch interval) on a mutual-TLS listener of its own (a CA,
          server and vehicle certificates made with openssl here), so that each connection's kernel counters are
          that agent's alone. From `ss -tin` on the agent's side of the connection: payload bytes both ways
          (bytes_sent, bytes_received: MQTT inside TLS records) plus 40 bytes of IPv4 + TCP header (52 when the
          connection uses the TCP timestamp option, which `ss` lists as "ts") for every segment both ways (segs_out,
          segs_in: pure ACKs included) and 8 more for each of the SYN and SYN-ACK. Link-layer framing (and
          cellular's own) is not counted.
            fleet-wire       per setting: bytes from just after one batch to just after the last one within
                             WIRE_SECONDS (whole batch exchanges), per batch and per hour; and the connection's cost
                             (TCP and TLS handshakes, CONNECT, SUBSCRIBE, the birth status, the features at start),
                             read 1.5 s after the broker logged the connection, before the first batch is due
            fleet-keepalive  one idle `mosquitto_sub` (libmosquitto, as in the agent) with a 5 s keepalive on the
                             same kind of listener: bytes per PINGREQ/PINGRESP exchange
            fleet-payload    payload bytes of the telemetry messages per profile, as the backend subscriber of the
                             fleet phase received them (AWS IoT Core bills them in 5 KB units)

Usage: python3 scripts/bench/fleet.py AXLED [--agents 400] [--outage 60] [--steady 60] [--wire-seconds 120]
                                            [--cpu -1] [--profiles Firmware-Profiles] [--phases fleet,wire]
                                            [--reconnect-cap 60]

Figures are reported, never asserted: exits 1 only when the agents could not be started or did not connect.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from broker_log import BrokerLog, percentile

# What each vehicle of the fleet runs. The frame rates are the simulator's for these profiles, counted with
# `axle simulate --dbc … --profile … --scenario … --duration 60 --out x.log` (8,340 and 5,340 lines a minute).
VEHICLES = (
    {"profile": "demo-sedan", "scenario": "city-drive", "frames_per_second": 139},
    {"profile": "fleet-truck-j1939", "scenario": "highway", "frames_per_second": 89},
)
BATCH_SECONDS = 5  # axled's default telemetry batch
KEEPALIVE_SECONDS = 30  # axled's default keepalive
# The wire phase: (profile index, scenario, batch seconds). The shipped default first for each profile.
WIRE_SETTINGS = (
    (0, "city-drive", 5), (1, "highway", 5), (0, "parked", 5), (1, "parked", 5),
    (0, "city-drive", 1), (0, "city-drive", 10), (0, "city-drive", 20),
    (1, "highway", 1), (1, "highway", 10), (1, "highway", 20),
)
PING_KEEPALIVE_SECONDS = 5
GOAL_MAX_BUCKET_SHARE = 0.05
CONNECTED = re.compile(r"New client connected from \S+ as axled-(\S+) ")
IP_TCP_HEADER_BYTES = 52  # IPv4 20 + TCP 20 + timestamp option 12 (when negotiated; 40 without it)
SYN_EXTRA_BYTES = 8  # a SYN and a SYN-ACK carry MSS, SACK-permitted and window scale besides the timestamp
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# mosquitto started as root switches to the user "mosquitto", which could not read the keys made here (0600).
RUN_AS = "user root\n" if os.geteuid() == 0 else ""


def log(message: str) -> None:
    print(f"fleet bench: {message}", file=sys.stderr, flush=True)


def emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# --------------------------------------------------------------------------
# /proc


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as source:
        fields = source.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as source:
        for line in source:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds every core spent on anything but idle and iowait since boot (/proc/stat)."""
    with open("/proc/stat") as source:
        values = [int(v) for v in source.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def memory_mb() -> int:
    """The machine's memory (MemTotal), for how many agents it could hold."""
    with open("/proc/meminfo") as source:
        for line in source:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def load_average() -> str:
    with open("/proc/loadavg") as source:
        return source.read().split()[0]


def others_building() -> int:
    """How many compiler and build processes of anyone are running now (other helpers may be building)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as source:
                    if source.read().strip() in ("swift-frontend", "swift-build", "clang", "ld", "ld.gold", "lld"):
                        count += 1
            except OSError:
                pass
    return count


# --------------------------------------------------------------------------
# The broker


def any_exited(agents: list[Agent]) -> bool:
    """An agent that has exited will never connect: waiting for it is pointless."""
    return any(agent.process.poll() is not None for agent in agents)


def wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{port} within its deadline")


# --------------------------------------------------------------------------
# Agents


class Agent:
    def __init__(self, axled: str, vehicle: str, profile: dict, scenario: str, broker: str, folder: str,
                 pin: list[str], extra: list[str] | None = None, batch: int = BATCH_SECONDS):
        self.vehicle, self.profile, self.scenario, self.batch = vehicle, profile, scenario, batch
        self.folder = folder
        self.socket = os.path.join(folder, "axled.sock")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "axled.log"), "w") as agent_log:
            self.process = subprocess.Popen(
                pin + [axled, "--profile", profile["folder"], "--vehicle-id", vehicle, "--broker", broker,
                       "--data-dir", folder, "--simulate", scenario, "--control-socket", self.socket,
                       "--telemetry-batch", str(batch), "--log-level", "notice"] + (extra or []),
                stdout=subprocess.DEVNULL, stderr=agent_log)
        self.started = time.monotonic()

    def outbox_records(self) -> int | None:
        """Records waiting in the agent's outbox, every class, as `axle outbox --json` reads them (one request line
        on the control socket, docs/control.md); None when the agent does not answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(2)
                client.connect(self.socket)
                client.sendall(b'{"request":"outbox"}\n')
                answer = b""
                while not answer.endswith(b"\n"):
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            report = json.loads(answer)
        except (OSError, ValueError):
            return None
        if not report.get("ok"):
            return None
        return sum(item["records"] for item in report["result"].get("classes", []))

    def log_tail(self) -> str:
        with open(os.path.join(self.folder, "axled.log")) as source:
            return "".join(source.readlines()[-10:])


def stop_all(agents: list[Agent]) -> None:
    for agent in agents:
        if agent.process.poll() is None:
            agent.process.send_signal(signal.SIGTERM)
    for agent in agents:
        try:
            agent.process.wait(15)
        except subprocess.TimeoutExpired:
            agent.process.kill()
            agent.process.wait()


# --------------------------------------------------------------------------
# The fleet phase


class Subscriber:
    """The backend: `mosquitto_sub` on the shared subscription, counting messages and payload bytes per profile."""

    def __init__(self, port: int, pin: list[str], profile_of: dict[str, str]):
        self.profile_of = profile_of
        self.messages = 0
        self.payload: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            pin + ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1", "-i",
                   "fleet-bench-backend", "-t", "$share/fleet-bench/axle/v1/+/telemetry", "-F", "%t %l"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self) -> None:
        for line in self.process.stdout:
            topic, _, length = line.strip().rpartition(" ")
            vehicle = topic.split("/")[2] if topic.count("/") >= 3 else ""
            with self.lock:
                self.messages += 1
                self.payload.setdefault(self.profile_of.get(vehicle, "?"), []).append(int(length or 0))

    def count(self) -> int:
        with self.lock:
            return self.messages

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def fleet_phase(args, work: str, pin: list[str], broker_pin: list[str]) -> int:
    port = free_port()
    config = os.path.join(work, "fleet-broker.conf")
    with open(config, "w") as out:
        # Notice level carries the connection lines; a fleet of this size needs nothing else from the defaults.
        out.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type notice\n{RUN_AS}")
    broker = BrokerLog(config, broker_pin, CONNECTED)
    agents: list[Agent] = []
    subscriber = None
    try:
        broker.start()
        wait_listening(port, time.monotonic() + 10)
        time.sleep(1)  # a settled empty broker's memory is the baseline, not its first millisecond
        empty_rss = rss_kib(broker.process.pid)
        profile_of = {}
        for number in range(args.agents):
            vehicle = args.vehicles[number % 2]
            name = f"fleet-{number:04d}"
            profile_of[name] = vehicle["profile"]
            agents.append(Agent(args.axled, name, vehicle, vehicle["scenario"], f"mqtt://127.0.0.1:{port}",
                                os.path.join(work, name), pin, ["--reconnect-cap", f"{args.reconnect_cap:g}"]))
        subscriber = Subscriber(port, broker_pin, profile_of)
        names = {agent.vehicle for agent in agents}
        connected = broker.wait_for(names, 0, time.monotonic() + 180, give_up=lambda: any_exited(agents))
        if len(connected) < len(names):
            exited = [a.vehicle for a in agents if a.process.poll() is not None]
            log(f"only {len(connected)} of {len(names)} agents connected within 180 s"
                f"{f'; exited: {exited[:5]}' if exited else ''}; the first agent's log ends:\n{agents[0].log_tail()}")
            emit({"benchmark": "fleet-broker", "implementation": "axle", "agents": args.agents,
                  "error": f"{len(connected)} of {args.agents} agents connected"})
            return 1
        log(f"{args.agents} agents connected; {args.steady:g} s of steady state")
        time.sleep(BATCH_SECONDS * 2)  # past every agent's first batch: steady state, not start-up
        pids = [a.process.pid for a in agents]
        broker_cpu0, agents_cpu0 = cpu_seconds(broker.process.pid), sum(cpu_seconds(p) for p in pids)
        subscriber_cpu0 = cpu_seconds(subscriber.process.pid)
        busy0, messages0, load0, start = machine_busy_seconds(), subscriber.count(), load_average(), time.monotonic()
        builds = others_building()
        time.sleep(args.steady)  # the steady window itself: a duration to measure over, not a wait for anything
        elapsed = time.monotonic() - start
        broker_cpu = cpu_seconds(broker.process.pid) - broker_cpu0
        agents_cpu = sum(cpu_seconds(p) for p in pids) - agents_cpu0
        subscriber_cpu = cpu_seconds(subscriber.process.pid) - subscriber_cpu0
        busy = machine_busy_seconds() - busy0
        messages = subscriber.count() - messages0
        broker_rss = rss_kib(broker.process.pid)
        agent_rss = sorted(rss_kib(p) for p in pids)
        builds = max(builds, others_building())
        emit({"benchmark": "fleet-broker", "implementation": "axle", "agents": args.agents,
              "vehicles": list(VEHICLES),
              "batch_seconds": BATCH_SECONDS, "steady_seconds": round(elapsed, 1),
              "broker_cpu_seconds": round(broker_cpu, 2),
              "broker_cpu_percent": round(100 * broker_cpu / elapsed, 2),
              "broker_cpu_ms_per_vehicle_minute": round(1000 * broker_cpu / args.agents / (elapsed / 60), 3),
              "broker_rss_mb": round(broker_rss / 1024, 1), "broker_rss_empty_mb": round(empty_rss / 1024, 1),
              "broker_rss_kb_per_vehicle": round((broker_rss - empty_rss) / args.agents, 1),
              "messages_per_second": round(messages / elapsed, 1),
              # What the fleet sends when every agent keeps up with its simulated vehicle: fewer says it did not.
              "expected_messages_per_second": round(args.agents / BATCH_SECONDS, 1),
              "agents_cpu_percent": round(100 * agents_cpu / elapsed, 1),
              "agent_cpu_percent_each": round(100 * agents_cpu / elapsed / args.agents, 3),
              "agent_rss_mb_median": round(agent_rss[len(agent_rss) // 2] / 1024, 1),
              "agents_rss_mb_total": round(sum(agent_rss) / 1024),
              "subscriber_cpu_percent": round(100 * subscriber_cpu / elapsed, 1),
              "others_cpu_percent": round(100 * (busy - broker_cpu - agents_cpu - subscriber_cpu) / elapsed, 1),
              "build_processes_seen": builds, "load_average_start": load0, "load_average_end": load_average(),
              "cores": os.cpu_count(), "memory_mb": memory_mb(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})

        log(f"broker down for {args.outage:g} s")
        broker.stop()
        time.sleep(max(0.0, args.outage - 5))  # the outage itself: a duration, not a wait for anything
        outage_end = time.monotonic() + 5
        # The backlog, read in the outage's last seconds: what the fleet will have to send when the broker returns.
        backlog = [a.outbox_records() for a in agents]
        time.sleep(max(0.0, outage_end - time.monotonic()))
        restarted = broker.start()
        wait_listening(port, restarted + 10)
        # Drained: the first time after the restart an agent's outbox reads empty. Polled in rounds over the agents
        # not yet drained, while the broker's log collects the reconnections.
        drained: dict[str, float] = {}
        pending = list(agents)
        deadline = restarted + 300
        while pending and time.monotonic() < deadline:
            still = []
            for agent in pending:
                records = agent.outbox_records()
                if records == 0:
                    drained[agent.vehicle] = time.monotonic() - restarted
                else:
                    still.append(agent)
            pending = still
            if pending:
                time.sleep(0.2)
        back = broker.wait_for(names, restarted, restarted + args.reconnect_cap + 30)
        times = sorted(when - restarted for when in back.values())
        result = {"benchmark": "fleet-reconnect", "implementation": "axle", "agents": args.agents,
                  "outage_seconds": args.outage, "reconnected": len(times),
                  "backoff_cap_seconds": args.reconnect_cap,
                  "goal_max_bucket_share": GOAL_MAX_BUCKET_SHARE}
        if times:
            buckets = [0] * (int(times[-1]) + 1)
            for t in times:
                buckets[int(t)] += 1
            largest = max(range(len(buckets)), key=lambda i: buckets[i])
            result.update({"histogram": buckets, "max_bucket_share": round(buckets[largest] / args.agents, 4),
                           "max_bucket_second": largest,
                           "first_seconds": round(times[0], 3), "median_seconds": round(percentile(times, 50), 3),
                           "p90_seconds": round(percentile(times, 90), 3), "last_seconds": round(times[-1], 3)})
        if len(times) < args.agents:
            result["error"] = (f"{len(times)} of {args.agents} agents reconnected within "
                               f"{args.reconnect_cap + 30:g} s of the restart")
        emit(result)
        known = [b for b in backlog if b is not None]
        drain = {"benchmark": "fleet-drain", "implementation": "axle", "agents": args.agents,
                 "outage_seconds": args.outage, "backlog_records": sum(known),
                 "backlog_records_per_agent_max": max(known, default=0), "agents_read": len(known),
                 "drained_agents": len(drained)}
        if drained:
            order = sorted(drained.values())
            drain.update({"median_seconds": round(percentile(order, 50), 2),
                          "p90_seconds": round(percentile(order, 90), 2),
                          "all_drained_seconds": round(order[-1], 2)})
            # Each agent's own drain, from its reconnection to its empty outbox: the reconnect spread taken out.
            own = sorted(max(0.0, drained[v] - (back[v] - restarted)) for v in drained if v in back)
            if own:
                drain.update({"after_connect_median_seconds": round(percentile(own, 50), 2),
                              "after_connect_max_seconds": round(own[-1], 2)})
        if pending:
            drain["error"] = f"{len(pending)} of {args.agents} outboxes were not empty 300 s after the restart"
        emit(drain)
        with subscriber.lock:
            payload = {profile: sizes[:] for profile, sizes in subscriber.payload.items()}
        for vehicle in args.vehicles:
            sizes = payload.get(vehicle["profile"], [])
            if sizes:
                emit({"benchmark": "fleet-payload", "implementation": "axle", "profile": vehicle["profile"],
                      "scenario": vehicle["scenario"], "batch_seconds": BATCH_SECONDS, "messages": len(sizes),
                      "mean_bytes": round(sum(sizes) / len(sizes), 1), "max_bytes": max(sizes),
                      "aws_units_of_5kb_mean": round(sum(math.ceil(s / 5120) or 1 for s in sizes) / len(sizes), 3)})
        return 0
    finally:
        stop_all(agents)
        if subscriber:
            subscriber.stop()
        broker.stop()


# --------------------------------------------------------------------------
# The wire phase


def openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=60)


def make_certificates(folder: str, clients: list[str]) -> dict[str, str]:
    """A CA, a server certificate naming 127.0.0.1 in its subjectAltName, and one client certificate per vehicle
    (its CN is the vehicle id, the broker's username), as Tests/AxleTestSupport/TestCertificates.swift makes them."""
    ca_key, ca_crt = os.path.join(folder, "ca.key"), os.path.join(folder, "ca.crt")
    openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", ca_key, "-out", ca_crt, "-days", "3", "-subj", "/CN=fleet bench CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def signed(name: str, extensions: str) -> None:
        stem = os.path.join(folder, name)
        with open(stem + ".ext", "w") as out:
            out.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n" + extensions)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", stem + ".key", "-out", stem + ".csr", "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", stem + ".csr", "-CA", ca_crt, "-CAkey", ca_key, "-set_serial",
                str(int.from_bytes(os.urandom(7), "big")), "-days", "3", "-extfile", stem + ".ext",
                "-out", stem + ".crt")
        os.chmod(stem + ".key", 0o600)

    signed("broker", "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for client in clients:
        signed(client, "extendedKeyUsage=clientAuth\n")
    return {"ca": ca_crt, "folder": folder}


def parse_counters(text: str) -> dict[str, int]:
    counters = {key: int(value) for key, value in re.findall(r"\b(bytes_sent|bytes_received|segs_out|segs_in|"
                                                             r"data_segs_out|data_segs_in):(\d+)", text)}
    for key in ("bytes_sent", "bytes_received", "segs_out", "segs_in", "data_segs_out", "data_segs_in"):
        counters.setdefault(key, 0)
    local = re.match(r"\s*\S+\s+\S+\s+127\.0\.0\.1:(\d+)", text)
    counters["local_port"] = int(local.group(1)) if local else 0
    counters["timestamps"] = 1 if re.search(r"(^|\s)ts(\s|$)", text) else 0
    return counters


def all_connection_counters(ports: dict[str, int]) -> dict[str, dict[str, int]]:
    """The kernel's counters of the established connection to each 127.0.0.1:PORT, seen from the client's side
    (`ss -tin`); a port with no connection, or more than one, is left out."""
    output = subprocess.run(["ss", "-tinH", "state", "established"], capture_output=True, text=True,
                            check=True).stdout
    return counters_by_port(output, ports)


def counters_by_port(output: str, ports: dict[str, int]) -> dict[str, dict[str, int]]:
    """`ss -tinH state established` output read for all_connection_counters: a record is an address line (Recv-Q,
    Send-Q, local, peer) and an indented line of counters."""
    by_port: dict[int, list[str]] = {}
    for record in re.split(r"\n(?=\S)", output.strip()):
        peer = re.match(r"\s*\S+\s+\S+\s+\S+\s+127\.0\.0\.1:(\d+)", record)
        if peer:
            by_port.setdefault(int(peer.group(1)), []).append(record)
    found = {}
    for name, port in ports.items():
        records = by_port.get(port, [])
        if len(records) == 1:
            found[name] = parse_counters(records[0])
    return found


def batch_window(series: list[tuple[float, dict[str, int]]], seconds: float):
    """From one connection's readings: the reading just after its first send and the reading just after its last
    send no more than `seconds` later, both on the same connection; None without two sends."""
    sends = [i for i in range(1, len(series) - 1)
             if series[i][1]["data_segs_out"] > series[i - 1][1]["data_segs_out"]
             and series[i][1]["local_port"] == series[0][1]["local_port"]]
    if len(sends) < 2:
        return None
    first = sends[0]
    last = max((i for i in sends if series[i][0] - series[first][0] <= seconds + 0.5), default=first)
    if last == first or series[last + 1][1]["local_port"] != series[first][1]["local_port"]:
        return None
    # The reading a quarter second after the send: on loopback the PUBACK and the ACKs are in by then.
    return series[first + 1], series[last + 1]


def wire_bytes(now: dict[str, int], before: dict[str, int] | None = None) -> dict[str, int]:
    """Bytes on the wire both ways between two readings (or since the connection began, with its handshake)."""
    header = IP_TCP_HEADER_BYTES if now["timestamps"] else IP_TCP_HEADER_BYTES - 12
    base = before or {key: 0 for key in now}
    up = now["bytes_sent"] - base["bytes_sent"] + header * (now["segs_out"] - base["segs_out"])
    down = now["bytes_received"] - base["bytes_received"] + header * (now["segs_in"] - base["segs_in"])
    if before is None:
        up, down = up + SYN_EXTRA_BYTES, down + SYN_EXTRA_BYTES
    return {"up": up, "down": down, "total": up + down,
            "segments": now["segs_out"] - base["segs_out"] + now["segs_in"] - base["segs_in"],
            "payload_up": now["bytes_sent"] - base["bytes_sent"],
            "payload_down": now["bytes_received"] - base["bytes_received"],
            "data_segments_up": now["data_segs_out"] - base["data_segs_out"]}


def wire_phase(args, work: str, pin: list[str], broker_pin: list[str]) -> int:
    folder = os.path.join(work, "pki")
    os.makedirs(folder)
    names = [f"wire-{n}" for n in range(len(WIRE_SETTINGS))] + ["wire-ping"]
    pki = make_certificates(folder, names)
    ports = {name: free_port() for name in names}
    config = os.path.join(work, "wire-broker.conf")
    with open(config, "w") as out:
        # One mutual-TLS listener per vehicle, as production brokers are set up (docs/mqtt.md): the certificate's CN
        # is the username. TLS version left to the two sides (TLS 1.3 between Debian's OpenSSL 3 on both).
        out.write(f"per_listener_settings false\nallow_anonymous false\nlog_dest stderr\nlog_type notice\n{RUN_AS}")
        for name in names:
            out.write(f"listener {ports[name]} 127.0.0.1\ncafile {pki['ca']}\ncertfile {folder}/broker.crt\n"
                      f"keyfile {folder}/broker.key\nrequire_certificate true\nuse_identity_as_username true\n")
    broker = BrokerLog(config, broker_pin, CONNECTED)
    agents: list[Agent] = []
    pinger = None
    try:
        broker.start()
        for name in names:
            wait_listening(ports[name], time.monotonic() + 10)
        for name, (profile_index, scenario, batch) in zip(names, WIRE_SETTINGS):
            stem = os.path.join(folder, name)
            tls = ["--ca-file", pki["ca"], "--cert-file", stem + ".crt", "--key-file", stem + ".key"]
            agents.append(Agent(args.axled, name, args.vehicles[profile_index], scenario,
                                f"mqtts://127.0.0.1:{ports[name]}", os.path.join(work, name), pin, tls, batch))
        stem = os.path.join(folder, "wire-ping")
        pinger = subprocess.Popen(
            broker_pin + ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(ports["wire-ping"]), "-V", "mqttv5",
                          "--cafile", pki["ca"], "--cert", stem + ".crt", "--key", stem + ".key", "-i", "wire-ping",
                          "-k", str(PING_KEEPALIVE_SECONDS), "-t", "axle/v1/wire-ping/nothing"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        connected = broker.wait_for(set(names[:-1]), 0, time.monotonic() + 60, give_up=lambda: any_exited(agents))
        if len(connected) < len(agents):
            missing = [a.vehicle for a in agents if a.vehicle not in connected]
            log(f"{len(missing)} wire agents did not connect over TLS within 60 s ({missing[0]}'s log ends):\n"
                + next(a for a in agents if a.vehicle == missing[0]).log_tail())
            emit({"benchmark": "fleet-wire", "implementation": "axle", "error": f"{missing} did not connect"})
            return 1
        # The connection's cost: 1.5 s after the broker logged each connection, before the first batch is due.
        connect_costs: dict[str, dict] = {}
        for agent in sorted(agents, key=lambda a: connected[a.vehicle]):
            time.sleep(max(0.0, connected[agent.vehicle] + 1.5 - time.monotonic()))
            counters = all_connection_counters({agent.vehicle: ports[agent.vehicle]}).get(agent.vehicle)
            if counters and time.monotonic() - agent.started < agent.batch - 0.5:
                connect_costs[agent.vehicle] = wire_bytes(counters)
        time.sleep(max(s[2] for s in WIRE_SETTINGS) + 2)  # past every agent's first batch, and the pinger's pings
        # Every connection's counters, read four times a second for the window and one longest batch interval more,
        # so that each agent's window can run from just after one of its batches to just after a later one: a whole
        # number of batch exchanges (PUBLISH, PUBACK, their ACKs), whatever the phase of its batches.
        log(f"wire: {len(agents)} agents over mutual TLS, read for {args.wire_seconds:g} s")
        samples: dict[str, list[tuple[float, dict[str, int]]]] = {name: [] for name in names}
        end = time.monotonic() + args.wire_seconds + max(s[2] for s in WIRE_SETTINGS) + 1
        while time.monotonic() < end:
            now = time.monotonic()
            for name, counters in all_connection_counters(ports).items():
                samples[name].append((now, counters))
            time.sleep(0.25)
        for name, agent in zip(names, agents):
            line = {"benchmark": "fleet-wire", "implementation": "axle", "profile": agent.profile["profile"],
                    "scenario": agent.scenario, "batch_seconds": agent.batch, "keepalive_seconds": KEEPALIVE_SECONDS,
                    "transport": "MQTT 5, mutual TLS, IPv4 loopback"}
            if name in connect_costs:
                line["connect_bytes"] = connect_costs[name]["total"]
                line["connect_segments"] = connect_costs[name]["segments"]
            window = batch_window(samples[name], args.wire_seconds)
            if window is None:
                line["error"] = "no two batches were seen on one connection in the window (a reconnect, or silence)"
                emit(line)
                continue
            (first_time, before), (last_time, after) = window
            batches = max(1, round((last_time - first_time) / agent.batch))
            used = wire_bytes(after, before)
            line.update({"window_seconds": round(last_time - first_time, 1), "batches": batches,
                         "tcp_timestamps": bool(after["timestamps"]),
                         "bytes_up": used["up"], "bytes_down": used["down"], "segments": used["segments"],
                         "payload_bytes_up": used["payload_up"], "payload_bytes_down": used["payload_down"],
                         "data_segments_up": used["data_segments_up"],
                         "bytes_per_batch": round(used["total"] / batches, 1),
                         "bytes_per_hour": round(used["total"] / batches * 3600 / agent.batch)})
            emit(line)
        first_ping, last_ping = samples["wire-ping"][:1], samples["wire-ping"][-1:]
        before = first_ping[0][1] if first_ping else None
        after = last_ping[0][1] if last_ping else None
        elapsed = last_ping[0][0] - first_ping[0][0] if first_ping else 0
        ping = {"benchmark": "fleet-keepalive", "implementation": "axle", "keepalive_seconds": PING_KEEPALIVE_SECONDS,
                "window_seconds": round(elapsed, 1), "transport": "MQTT 5, mutual TLS, IPv4 loopback"}
        if before and after and before["local_port"] == after["local_port"]:
            used = wire_bytes(after, before)
            pings = used["data_segments_up"]
            ping.update({"pings": pings, "bytes": used["total"],
                         "bytes_per_ping": round(used["total"] / pings, 1) if pings else None})
            if not pings:
                ping["error"] = "no PINGREQ was sent in the window"
        else:
            ping["error"] = "the idle client's connection was missing or replaced during the window"
        emit(ping)
        return 0
    finally:
        stop_all(agents)
        if pinger and pinger.poll() is None:
            pinger.terminate()
            pinger.wait(10)
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("axled")
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--outage", type=float, default=60, help="seconds the broker stays down")
    parser.add_argument("--steady", type=float, default=60, help="seconds of steady state the broker is measured over")
    parser.add_argument("--wire-seconds", type=float, default=120, help="seconds the wire counters are read over")
    parser.add_argument("--cpu", type=int, default=-1,
                        help="the core the agents are pinned to (the broker gets another); -1 (the default): the "
                             "agents run on every core, the broker and the backend on core 0 at nice -5, so that "
                             "they are served first (as root; without it at the agents' priority)")
    parser.add_argument("--phases", default="fleet,wire", help="fleet, wire or both (comma-separated)")
    parser.add_argument("--reconnect-cap", type=float, default=60,
                        help="the agents' --reconnect-cap in seconds (60, axled's default, unless trying another)")
    parser.add_argument("--profiles", default="Firmware-Profiles",
                        help="the folder holding the demo-sedan and fleet-truck-j1939 profiles")
    args = parser.parse_args()
    args.vehicles = [dict(vehicle, folder=os.path.join(args.profiles, vehicle["profile"])) for vehicle in VEHICLES]
    if args.outage < 5:
        parser.error("--outage must be at least 5 s: the backlog is read during the outage's last 5 s")

    pin, broker_pin = [], []
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        if args.cpu < 0:
            # 400 agents need more than a core between them: one core is not enough for them and the broker.
            broker_pin = (["nice", "-n", "-5"] if os.geteuid() == 0 else []) + ["taskset", "-c", "0"]
        else:
            pin, broker_pin = ["taskset", "-c", str(args.cpu)], ["taskset", "-c", "0" if args.cpu else "1"]
    work = tempfile.mkdtemp(prefix="axle-fleet-bench.")
    status = 0
    try:
        phases = args.phases.split(",")
        if "fleet" in phases:
            status |= fleet_phase(args, work, pin, broker_pin)
        if "wire" in phases:
            status |= wire_phase(args, work, pin, broker_pin)
        return status
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
