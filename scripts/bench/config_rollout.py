#!/usr/bin/env python3
"""Configuration over the air, measured (issue 14): how long a push takes to be APPLIED, on one vehicle and on a
fleet in waves, and what a profile update costs on the vehicle's link. Three phases, each printing JSON lines:

  config-push      one `axled` (the demo sedan on `--simulate city-drive`, `--config-trial TRIAL`) and PUSHES
                   successive versions (1, 2, …; odd versions add a collection rule to the demo profile, even ones
                   remove it again), each signed with `axle-fleet config sign --vehicle ID` and pushed with
                   `axle-fleet config push --vehicle ID`, which returns once the vehicle has reported APPLIED. Per push:
                   seconds from the push's start to its exit 0, and from its start (wall clock) to the `at_ms` of the
                   vehicle's APPLIED report on {prefix}/{vehicle}/config/state. Median, min and max of each, and the
                   same minus the trial: the cost of fetching, verifying, staging, switching and reporting.
  config-fleet     FLEET `axled` on `city-drive`, one push of one bundle to all with `--vehicles FILE --waves WAVES`:
                   seconds from the push's start to its exit 0 (every vehicle APPLIED), and per wave (from the
                   progress lines of `push --json` on standard error, timestamped as they are read) when it was
                   asked and when its last vehicle's APPLIED report was made.
  config-wire      one more `axled` (`--simulate parked`, `--telemetry-batch 3600`: no telemetry record falls due while
                   measuring) connected to the broker through a TCP relay here that counts the bytes each way on its
                   connection (MQTT bytes: TCP payload; IP and TCP headers are not counted). For the demo profile
                   (DBC + profile.toml) and for a large one (the same plus an 800 KB file, as a large real DBC would
                   be): bytes vehicle←broker and vehicle→broker from the push's start until the link is quiet after
                   APPLIED, minus the bytes of a window of the same length with no push right after (keepalives,
                   the odd status record: reported as `idle_*`), against the bundle's size. The relay also splits
                   each direction into MQTT packets, so the bytes are given by kind (the chunks, the desired message,
                   the reports, SUBSCRIBE/UNSUBSCRIBE, acknowledgements) and without the records the switch itself
                   sends (the open telemetry batch and the feature state).

Usage: python3 scripts/bench/config_rollout.py [--bin DIR] [--trial 5s] [--pushes 5] [--fleet 20]
           [--waves 1,10,50,100] [--large-kib 800] [--phases push,fleet,wire] [--results FILE]

--bin: the folder of axled and axle-fleet; by default .build/release when its binaries are newer than the newest
commit touching Sources/, else .build/debug (the line says which). Each JSON line is printed and, with --results,
appended to FILE. A private mosquitto on a free loopback port; everything started is stopped and every temporary
file removed at the end. Figures are reported, never asserted: exits 1 when a vehicle did not start or a push did not
end with every vehicle APPLIED.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_PROFILE = os.path.join(ROOT, "Firmware-Profiles", "demo-sedan")
PREFIX = "axle/v1"
# mosquitto started as root switches to the user "mosquitto", which could not write into the private folder.
RUN_AS = "user root\n" if os.geteuid() == 0 else ""
# The rule odd versions add and even versions remove: a change the vehicle's allow-list lets through.
ADDED_RULE = '\n[[rules]]\nname = "bench-pushed-speed"\nsignals = ["Vehicle.Speed"]\nperiodic = "2s"\n'
# Progress lines of `config push` on standard error (docs/configuration.md, "Pushing to a fleet").
WAVE_ASKED = re.compile(r"^wave (\d+) of (\d+) \(")
WAVE_DONE = re.compile(r"^wave (\d+) of (\d+): (\d+) APPLIED, (\d+) failed")


def log(message: str) -> None:
    print(f"config bench: {message}", file=sys.stderr, flush=True)


class Results:
    """Prints each JSON line, and appends it to --results when given."""

    def __init__(self, path: str | None, build: str):
        self.path = path
        self.build = build
        self.lines: list[dict] = []

    def emit(self, line: dict) -> None:
        line = {"benchmark": line.pop("benchmark"), "implementation": "axle", "build": self.build,
                "cores": os.cpu_count(), **line,
                # Other work on the machine (builds) slows the agents: the 1-minute load average as the line is made.
                "load_average_1m": round(os.getloadavg()[0], 2)}
        self.lines.append(line)
        text = json.dumps(line)
        print(text, flush=True)
        if self.path:
            with open(self.path, "a") as out:
                out.write(text + "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, deadline: float, what: str, poll: float = 0.05):
    """Polls `condition` until it returns something true; raises naming `what` at the deadline."""
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise RuntimeError(f"{what}: not within its deadline")


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (such as 5s, 500ms, 1m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def choose_binaries(requested: str | None) -> tuple[str, str]:
    """The binaries' folder, and how to name it in the results: release when fresher than Sources/'s last commit."""
    if requested:
        return requested, os.path.relpath(os.path.abspath(requested), ROOT)
    committed = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%ct", "--", "Sources"],
                               capture_output=True, text=True).stdout.strip()
    release = os.path.join(ROOT, ".build", "release")
    names = ("axled", "axle-fleet")
    if committed and all(os.path.exists(os.path.join(release, name)) for name in names) \
            and all(os.path.getmtime(os.path.join(release, name)) > int(committed) for name in names):
        return release, ".build/release"
    return os.path.join(ROOT, ".build", "debug"), ".build/debug"


# --------------------------------------------------------------------------
# The broker, the backend's view of the reports, the relay

class Broker:
    """Debian's mosquitto on a free loopback port, with a private configuration; ready once it accepts a connection."""

    def __init__(self, work: str):
        self.port = free_port()
        self.config = os.path.join(work, "mosquitto.conf")
        with open(self.config, "w") as out:
            out.write(f"{RUN_AS}listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                      f"log_dest file {work}/mosquitto.log\n")
        self.process: subprocess.Popen | None = None
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(["mosquitto", "-c", self.config], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0
        wait_for(listening, time.monotonic() + 10, f"mosquitto listening on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        stop_process(self.process)


class Reports:
    """Every configuration report of every vehicle (`mosquitto_sub` on {prefix}/+/config/state), parsed, in order."""

    def __init__(self, port: int):
        self.lock = threading.Lock()
        self.reports: list[tuple[str, dict]] = []
        self.process = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1", "-v",
             "-t", f"{PREFIX}/+/config/state"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        for line in self.process.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            try:
                report = json.loads(payload)
            except ValueError:
                continue
            vehicle = topic[len(PREFIX) + 1:].split("/")[0]
            with self.lock:
                self.reports.append((vehicle, report))

    def of(self, vehicle: str) -> list[dict]:
        with self.lock:
            return [report for name, report in self.reports if name == vehicle]

    def applied(self, vehicle: str, version: int) -> dict | None:
        """The first report of `vehicle` saying `version` is APPLIED."""
        for report in self.of(vehicle):
            last = report.get("last") or {}
            if last.get("version") == version and last.get("status") == "APPLIED":
                return report
        return None

    def stop(self) -> None:
        stop_process(self.process)


class PacketCounter:
    """Splits one direction of an MQTT connection into packets and adds each one's bytes to its kind: PUBLISH by
    topic (the chunks, the desired message, the configuration report, telemetry and the rest), the others by type."""

    TYPES = {1: "connect", 2: "connack", 4: "puback", 5: "pubrec", 6: "pubrel", 7: "pubcomp", 8: "subscribe",
             9: "suback", 10: "unsubscribe", 11: "unsuback", 12: "pingreq", 13: "pingresp", 14: "disconnect",
             15: "auth"}

    def __init__(self, kinds: dict[str, tuple[int, int]]):
        self.kinds = kinds
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            length, shift, index = 0, 0, 1
            while True:
                if index >= len(self.buffer):
                    return
                byte = self.buffer[index]
                length |= (byte & 0x7F) << shift
                shift += 7
                index += 1
                if not byte & 0x80:
                    break
            total = index + length
            if len(self.buffer) < total:
                return
            packet, self.buffer = self.buffer[:total], self.buffer[total:]
            kind = packet[0] >> 4
            if kind == 3:
                topic_length = int.from_bytes(packet[index:index + 2], "big")
                name = "publish " + self.topic_kind(packet[index + 2:index + 2 + topic_length].decode(errors="replace"))
            else:
                name = self.TYPES.get(kind, f"type {kind}")
            packets, size = self.kinds.get(name, (0, 0))
            self.kinds[name] = (packets + 1, size + total)

    @staticmethod
    def topic_kind(topic: str) -> str:
        if "/config/bundles/" in topic:
            return "config/bundles (chunks)"
        for suffix in ("config/desired", "config/state", "telemetry", "events", "status", "features"):
            if topic.endswith("/" + suffix):
                return suffix
        return "other"


class Relay:
    """A TCP relay between a vehicle and the broker, counting the bytes each way (TCP payload: MQTT packets)."""

    def __init__(self, broker_port: int):
        self.broker_port = broker_port
        self.lock = threading.Lock()
        self.to_broker = 0  # vehicle → broker
        self.to_vehicle = 0  # broker → vehicle
        self.connections = 0
        # Packets and bytes by packet kind, each way: what the totals are made of.
        self.kinds = {"to_broker": {}, "to_vehicle": {}}
        self.last_change = time.monotonic()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while not self.closed:
            try:
                vehicle, _ = self.listener.accept()
            except OSError:
                return
            broker = socket.create_connection(("127.0.0.1", self.broker_port))
            for end in (vehicle, broker):
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections += 1
                self.sockets += [vehicle, broker]
            threading.Thread(target=self.pump, args=(vehicle, broker, "to_broker"), daemon=True).start()
            threading.Thread(target=self.pump, args=(broker, vehicle, "to_vehicle"), daemon=True).start()

    def pump(self, source: socket.socket, sink: socket.socket, counter: str) -> None:
        packets = PacketCounter(self.kinds[counter])
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                with self.lock:
                    setattr(self, counter, getattr(self, counter) + len(data))
                    packets.feed(data)
                    self.last_change = time.monotonic()
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def counters(self) -> dict:
        with self.lock:
            return {"to_vehicle": self.to_vehicle, "to_broker": self.to_broker, "connections": self.connections,
                    "kinds": {way: dict(kinds) for way, kinds in self.kinds.items()}}

    def quiet_for(self, seconds: float) -> bool:
        with self.lock:
            return time.monotonic() - self.last_change >= seconds

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        with self.lock:
            for end in self.sockets:
                try:
                    end.close()
                except OSError:
                    pass


def stop_process(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------
# Vehicles, profiles, bundles, pushes

class Vehicle:
    """One `axled` on the simulator with the demo profile, trusting the bench's configuration key."""

    def __init__(self, bench: "Bench", vehicle_id: str, broker_url: str, scenario: str, extra: list[str] = ()):
        self.id = vehicle_id
        self.folder = os.path.join(bench.work, vehicle_id)
        os.makedirs(self.folder)
        self.log_path = os.path.join(self.folder, "axled.log")
        with open(self.log_path, "w") as log_file:
            self.process = subprocess.Popen(
                [bench.axled, "--profile", DEMO_PROFILE, "--vehicle-id", vehicle_id, "--broker", broker_url,
                 "--data-dir", os.path.join(self.folder, "data"), "--control-socket",
                 os.path.join(self.folder, "axled.sock"), "--simulate", scenario, "--config-key", bench.key + ".pub",
                 "--config-trial", bench.trial_text, "--log-level", "notice", *extra],
                stdout=subprocess.DEVNULL, stderr=log_file)

    def log_tail(self) -> str:
        with open(self.log_path, errors="replace") as log_file:
            return "".join(log_file.readlines()[-8:])


class Bench:
    def __init__(self, args, work: str, results: Results):
        self.args = args
        self.work = work
        self.results = results
        self.axled = os.path.join(args.bin, "axled")
        self.fleet = os.path.join(args.bin, "axle-fleet")
        self.trial_text = args.trial
        self.trial = parse_duration(args.trial)
        self.key = os.path.join(work, "config-bench")
        self.vehicles: list[Vehicle] = []
        self.next_version = 1
        self.reports: Reports | None = None
        self.broker = Broker(work)
        try:
            self.broker.start()
            self.reports = Reports(self.broker.port)
            run([self.fleet, "config", "keygen", "--out", self.key])
        except BaseException:
            self.stop()  # main() has no Bench to stop yet
            raise

    def stop_vehicles(self, vehicles: list[Vehicle] | None = None) -> None:
        """Stops `vehicles` (default: all), so that a phase does not share the cores with the last one's."""
        vehicles = list(self.vehicles if vehicles is None else vehicles)
        for vehicle in vehicles:
            if vehicle.process.poll() is None:
                vehicle.process.send_signal(signal.SIGTERM)
        for vehicle in vehicles:
            stop_process(vehicle.process)
        self.vehicles = [vehicle for vehicle in self.vehicles if vehicle not in vehicles]

    def stop(self) -> None:
        self.stop_vehicles()
        if self.reports:
            self.reports.stop()
        self.broker.stop()

    def start_vehicles(self, ids: list[str], scenario: str, broker_url: str | None = None,
                       extra: list[str] = ()) -> list[Vehicle]:
        """Starts the vehicles and waits until each has published its configuration report (it does at connect)."""
        started = [Vehicle(self, vehicle_id, broker_url or self.broker.url, scenario, extra) for vehicle_id in ids]
        self.vehicles += started

        def all_reported() -> bool:
            for vehicle in started:
                if vehicle.process.poll() is not None:
                    raise RuntimeError(f"axled {vehicle.id} exited with {vehicle.process.returncode}; its log ends:\n"
                                       f"{vehicle.log_tail()}")
            return all(self.reports.of(vehicle.id) for vehicle in started)
        wait_for(all_reported, time.monotonic() + 30 + 3 * len(ids),
                 f"the configuration reports of {len(ids)} vehicle(s) (connected and reporting)", poll=0.1)
        return started

    def profile(self, version: int, with_rule: bool, large_bytes: int = 0) -> str:
        """A copy of the demo profile (DBC and profile.toml; the sample log stays behind) for `version`."""
        folder = os.path.join(self.work, "profiles", f"v{version}", "demo-sedan")
        os.makedirs(folder)
        shutil.copy(os.path.join(DEMO_PROFILE, "demo_sedan.dbc"), folder)
        with open(os.path.join(DEMO_PROFILE, "profile.toml")) as source:
            toml = source.read()
        with open(os.path.join(folder, "profile.toml"), "w") as out:
            out.write(toml + (ADDED_RULE if with_rule else ""))
        if large_bytes:
            # Stands in for a large real DBC (docs/configuration.md: 807 KB, 13 chunks). Random bytes in hex: the
            # bundle is not compressed, and nothing on the way could compress them either.
            os.makedirs(os.path.join(folder, "reference"))
            with open(os.path.join(folder, "reference", "full_vehicle.dbc"), "w") as out:
                out.write(os.urandom(large_bytes // 2).hex())
        return folder

    def sign(self, folder: str, version: int, vehicle: str | None) -> str:
        bundle = os.path.join(self.work, f"v{version}.axlecfg")
        run([self.fleet, "config", "sign", "--key", self.key + ".key", "--version", str(version), "--profile", folder,
             "--out", bundle] + (["--vehicle", vehicle] if vehicle else []))
        return bundle

    def push(self, bundle: str, selection: list[str], timeout: float) -> dict:
        """Runs `config push --json`; returns its document, exit status, seconds, wall start and stderr lines (each
        with the monotonic time it was read)."""
        lines: list[tuple[float, str]] = []
        started_wall_ms = time.time() * 1000
        started = time.monotonic()
        process = subprocess.Popen(
            [self.fleet, "config", "push", "--broker", self.broker.url, "--bundle", bundle, "--json",
             "--wave-timeout", f"{int(timeout)}s", *selection],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def read_stderr() -> None:
            for line in process.stderr:
                lines.append((time.monotonic(), line.rstrip("\n")))
        output: list[str] = []
        readers = [threading.Thread(target=read_stderr, daemon=True),
                   threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        seconds = time.monotonic() - started
        for reader in readers:
            reader.join(5)
        stdout = "".join(output)
        try:
            document = json.loads(stdout) if stdout.strip() else {}
        except ValueError:
            document = {}
        return {"status": process.returncode, "seconds": seconds, "started": started,
                "started_wall_ms": started_wall_ms, "document": document, "stderr": lines}


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:4])}: exit {result.returncode}: {result.stderr.strip()}")


def push_failure(what: str, push: dict) -> str:
    tail = "\n".join(line for _, line in push["stderr"][-6:])
    return f"{what}: push exited with {push['status']} after {push['seconds']:.1f} s:\n{tail}"


# --------------------------------------------------------------------------
# Phases

def push_phase(bench: Bench) -> dict:
    """Successive pushes to one vehicle on city-drive."""
    vehicle_id = "bench-config-single"
    vehicles = bench.start_vehicles([vehicle_id], "city-drive")
    log(f"one vehicle reporting; {bench.args.pushes} pushes, trial {bench.trial_text}")
    to_exit, to_applied = [], []
    bundle_bytes = []
    for number in range(bench.args.pushes):
        version = bench.next_version
        bench.next_version += 1
        bundle = bench.sign(bench.profile(version, with_rule=version % 2 == 1), version, vehicle_id)
        bundle_bytes.append(os.path.getsize(bundle))
        push = bench.push(bundle, ["--vehicle", vehicle_id], timeout=60 + 10 * bench.trial)
        if push["status"] != 0:
            raise RuntimeError(push_failure(f"version {version}", push))
        report = wait_for(lambda: bench.reports.applied(vehicle_id, version), time.monotonic() + 10,
                          f"the APPLIED report of version {version}")
        to_exit.append(push["seconds"])
        to_applied.append((report["at_ms"] - push["started_wall_ms"]) / 1000)
        log(f"version {version} ({'adds' if version % 2 else 'removes'} a rule): push exited 0 after "
            f"{push['seconds']:.2f} s, APPLIED report made {to_applied[-1]:.2f} s after the push started")
    bench.stop_vehicles(vehicles)
    line = {
        "benchmark": "config-push", "vehicles": 1, "scenario": "city-drive", "trial_seconds": bench.trial,
        "pushes": len(to_exit), "bundle_bytes": summary(bundle_bytes),
        "push_to_exit_seconds": summary(to_exit),
        "push_to_applied_report_seconds": summary(to_applied),
        "overhead_to_exit_seconds": summary([seconds - bench.trial for seconds in to_exit]),
        "overhead_to_applied_report_seconds": summary([seconds - bench.trial for seconds in to_applied]),
        "each_push_to_exit_seconds": [round(seconds, 3) for seconds in to_exit],
        "each_push_to_applied_report_seconds": [round(seconds, 3) for seconds in to_applied],
    }
    bench.results.emit(line)
    return line


def fleet_phase(bench: Bench) -> dict:
    """One push to FLEET vehicles in waves."""
    ids = [f"bench-config-fleet-{number:03d}" for number in range(bench.args.fleet)]
    log(f"starting {len(ids)} vehicles on city-drive")
    started = time.monotonic()
    vehicles = bench.start_vehicles(ids, "city-drive")
    log(f"{len(ids)} vehicles reporting after {time.monotonic() - started:.1f} s; one push in waves {bench.args.waves}")
    vehicles_file = os.path.join(bench.work, "fleet.txt")
    with open(vehicles_file, "w") as out:
        out.write("# the bench fleet, in rollout order\n" + "\n".join(ids) + "\n")
    version = bench.next_version
    bench.next_version += 1
    bundle = bench.sign(bench.profile(version, with_rule=True), version, None)
    push = bench.push(bundle, ["--vehicles", vehicles_file, "--waves", bench.args.waves],
                      timeout=120 + 20 * bench.trial)
    if push["status"] != 0:
        raise RuntimeError(push_failure(f"the fleet's version {version}", push))
    applied_at = {}
    for vehicle_id in ids:
        report = wait_for(lambda: bench.reports.applied(vehicle_id, version), time.monotonic() + 10,
                          f"{vehicle_id}'s APPLIED report of version {version}")
        applied_at[vehicle_id] = (report["at_ms"] - push["started_wall_ms"]) / 1000
    bench.stop_vehicles(vehicles)
    # The waves as the progress lines told them: when each was asked and when push saw the last of it APPLIED.
    asked, done = {}, {}
    for when, line in push["stderr"]:
        if match := WAVE_ASKED.match(line):
            asked[int(match.group(1))] = when - push["started"]
        elif match := WAVE_DONE.match(line):
            done[int(match.group(1))] = when - push["started"]
    document_waves = push["document"].get("waves", [])
    vehicles_by_wave: dict[int, list[str]] = {}
    for entry in push["document"].get("vehicles", []):
        vehicles_by_wave.setdefault(entry.get("wave"), []).append(entry.get("vehicle"))
    waves = []
    for wave in document_waves:
        number = wave.get("wave")
        members = vehicles_by_wave.get(number, [])
        entry = {"wave": number, "percent": wave.get("percent"), "vehicles": len(members)}
        if number in asked:
            entry["asked_seconds"] = round(asked[number], 3)
        if members:
            entry["last_applied_report_seconds"] = round(max(applied_at[member] for member in members), 3)
        if number in done:
            entry["done_seconds"] = round(done[number], 3)
            if number in asked:
                entry["wave_seconds"] = round(done[number] - asked[number], 3)
        waves.append(entry)
    line = {
        "benchmark": "config-fleet", "vehicles": len(ids), "scenario": "city-drive", "trial_seconds": bench.trial,
        "waves": bench.args.waves, "bundle_bytes": os.path.getsize(bundle),
        "push_to_exit_seconds": round(push["seconds"], 3),
        "push_to_last_applied_report_seconds": round(max(applied_at.values()), 3),
        "trials_in_sequence_seconds": round(bench.trial * len(document_waves), 3),
        "per_wave": waves,
    }
    bench.results.emit(line)
    return line


def wire_phase(bench: Bench) -> list[dict]:
    """Bytes on one vehicle's connection for a demo-profile update and a large one."""
    vehicle_id = "bench-config-wire"
    relay = Relay(bench.broker.port)
    lines = []
    try:
        bench.start_vehicles([vehicle_id], "parked", f"mqtt://127.0.0.1:{relay.port}", ["--telemetry-batch", "3600"])
        # What the vehicle sends at connect (birth status, features, its first report, subscriptions) is over before
        # the first window: the link has been quiet for a second.
        wait_for(lambda: relay.quiet_for(1.0), time.monotonic() + 30, "a quiet link after the vehicle connected")
        for name, large_bytes in (("demo", 0), ("large", bench.args.large_kib * 1000)):
            version = bench.next_version
            bench.next_version += 1
            bundle = bench.sign(bench.profile(version, with_rule=version % 2 == 1, large_bytes=large_bytes), version,
                                vehicle_id)
            before = relay.counters()
            push = bench.push(bundle, ["--vehicle", vehicle_id], timeout=60 + 20 * bench.trial)
            if push["status"] != 0:
                raise RuntimeError(push_failure(f"the {name} profile's version {version}", push))
            # The broker forwards the APPLIED report to push as the vehicle's PUBACK travels back: the window ends
            # once the link has been quiet for a second after the push's exit.
            wait_for(lambda: relay.quiet_for(1.0), time.monotonic() + 30, "a quiet link after APPLIED")
            after = relay.counters()
            window = time.monotonic() - push["started"]
            # The same length without a push: what the connection carries anyway (keepalives, the odd record).
            idle_before = relay.counters()
            time.sleep(window)  # the comparison window itself: a duration, not a wait for readiness
            idle_after = relay.counters()
            down = after["to_vehicle"] - before["to_vehicle"]
            up = after["to_broker"] - before["to_broker"]
            idle_down = idle_after["to_vehicle"] - idle_before["to_vehicle"]
            idle_up = idle_after["to_broker"] - idle_before["to_broker"]
            size = os.path.getsize(bundle)

            def by_kind(way: str) -> dict[str, dict[str, int]]:
                kinds = {}
                for kind, (packets, total) in after["kinds"][way].items():
                    counts = [packets, total]
                    for snapshot, sign in ((before, -1), (idle_after, -1), (idle_before, 1)):
                        earlier = snapshot["kinds"][way].get(kind, (0, 0))
                        counts = [counts[0] + sign * earlier[0], counts[1] + sign * earlier[1]]
                    if counts[1]:
                        kinds[kind] = {"packets": counts[0], "bytes": counts[1]}
                return dict(sorted(kinds.items(), key=lambda item: -item[1]["bytes"]))
            document = push["document"]
            up_kinds = by_kind("to_broker")
            records = sum(count["bytes"] for kind, count in up_kinds.items()
                          if kind.startswith("publish ") and not kind.startswith("publish config/"))
            total = down - idle_down + up - idle_up
            reconnects = after["connections"] - before["connections"]
            line = {
                "benchmark": "config-wire", "profile": name, "scenario": "parked", "telemetry_batch_seconds": 3600,
                "trial_seconds": bench.trial, "bundle_bytes": size, "chunks": document.get("chunks"),
                "chunk_bytes": document.get("chunk_bytes"), "window_seconds": round(window, 3),
                "measured_to_vehicle_bytes": down, "measured_to_broker_bytes": up,
                "idle_to_vehicle_bytes": idle_down, "idle_to_broker_bytes": idle_up,
                "to_vehicle_bytes": down - idle_down, "to_broker_bytes": up - idle_up,
                "to_vehicle_by_packet": by_kind("to_vehicle"), "to_broker_by_packet": up_kinds,
                "total_bytes": total, "overhead_ratio": round(total / size, 4),
                # The switch itself sends records: the open telemetry batch goes out (docs/configuration.md,
                # "Applying a version") and the feature state is published again. Counted above; without them:
                "switch_records_bytes": records,
                "configuration_bytes": total - records,
                "configuration_overhead_ratio": round((total - records) / size, 4),
                "to_vehicle_over_bundle": down - idle_down - size,
                "bytes_published_by_push": (document.get("bytes_published") or {}).get("total"),
                "reconnects_in_window": reconnects,
            }
            bench.results.emit(line)
            lines.append(line)
            log(f"{name} profile: bundle {size} bytes in {line['chunks']} chunks; "
                f"{line['to_vehicle_bytes']} bytes to the vehicle, {line['to_broker_bytes']} from it")
    finally:
        relay.close()
    return lines


def print_summary(push: dict | None, fleet: dict | None, wire: list[dict], build: str, trial: float) -> None:
    print(f"\nconfiguration over the air ({build}, {os.cpu_count()} cores, trial {trial:g} s):")
    if push:
        exit_, applied = push["push_to_exit_seconds"], push["push_to_applied_report_seconds"]
        overhead = push["overhead_to_applied_report_seconds"]
        print(f"  one vehicle, {push['pushes']} pushes of a {push['bundle_bytes']['median']:.0f}-byte bundle: push to "
              f"exit 0 median {exit_['median']:.2f} s ({exit_['min']:.2f}-{exit_['max']:.2f}); push to the APPLIED "
              f"report {applied['median']:.2f} s ({applied['min']:.2f}-{applied['max']:.2f}), of which the trial "
              f"{trial:g} s: overhead {overhead['median']:.2f} s ({overhead['min']:.2f}-{overhead['max']:.2f})")
    if fleet:
        waves = ", ".join(f"wave {w['wave']} ({w['vehicles']}) {w.get('wave_seconds', float('nan')):.2f} s"
                          for w in fleet["per_wave"])
        print(f"  {fleet['vehicles']} vehicles, waves {fleet['waves']}: push to exit 0 "
              f"{fleet['push_to_exit_seconds']:.2f} s (last APPLIED report at {fleet['push_to_last_applied_report_seconds']:.2f} s); {waves}")
    for line in wire:
        print(f"  {line['profile']} profile on the wire: bundle {line['bundle_bytes']} bytes, {line['chunks']} "
              f"chunk(s); vehicle<-broker {line['to_vehicle_bytes']} bytes, vehicle->broker {line['to_broker_bytes']} "
              f"bytes (idle window of {line['window_seconds']:.1f} s subtracted: {line['idle_to_vehicle_bytes']} and "
              f"{line['idle_to_broker_bytes']}); {line['overhead_ratio']:.4f} x the bundle; without the "
              f"{line['switch_records_bytes']} bytes of records the switch sends (open telemetry batch, feature "
              f"state): {line['configuration_bytes']} bytes, {line['configuration_overhead_ratio']:.4f} x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", help="the folder of axled and axle-fleet (default: see above)")
    parser.add_argument("--trial", default="5s", help="the vehicles' --config-trial (default 5s)")
    parser.add_argument("--pushes", type=int, default=5, help="successive pushes to one vehicle (default 5)")
    parser.add_argument("--fleet", type=int, default=20, help="vehicles of the fleet phase (default 20)")
    parser.add_argument("--waves", default="1,10,50,100", help="the fleet push's --waves (default 1,10,50,100)")
    parser.add_argument("--large-kib", type=int, default=800, help="KB added for the large profile (default 800)")
    parser.add_argument("--phases", default="push,fleet,wire", help="push, fleet, wire (comma-separated)")
    parser.add_argument("--results", help="also append each JSON line to this file")
    args = parser.parse_args()
    parse_duration(args.trial)
    args.bin, build = choose_binaries(args.bin)
    phases = args.phases.split(",")
    work = tempfile.mkdtemp(prefix="axle-config-bench.")
    results = Results(args.results, build)
    log(f"binaries from {build}; trial {args.trial}; phases {args.phases}")
    bench = None
    push = fleet = None
    wire: list[dict] = []
    try:
        bench = Bench(args, work, results)
        if "push" in phases:
            push = push_phase(bench)
        if "fleet" in phases:
            fleet = fleet_phase(bench)
        if "wire" in phases:
            wire = wire_phase(bench)
        print_summary(push, fleet, wire, build, bench.trial)
        return 0
    except (RuntimeError, OSError) as error:
        log(f"stopped: {error}")
        results.emit({"benchmark": "config-rollout", "error": str(error).splitlines()[0]})
        return 1
    finally:
        if bench:
            bench.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
