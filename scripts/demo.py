#!/usr/bin/env python3
"""`make demo`: the whole agent on one machine, in about a minute.

A private mosquitto on a free loopback port; `axled` with the demo-sedan profile on the simulated vehicle (a city
drive in which the coolant starts leaking); a subscriber that decodes what arrives. The link is cut for 20 s (the
broker is stopped) while the agent keeps collecting into its outbox; when the broker is back the backlog drains,
the coolant-overheat alert among the first records out. The backend then reads the engine ECU's stored fault code
(P0217, engine over-temperature) remotely with a signed diagnostics.read_dtc, and a courier's trunk.open is refused
while driving and carried out once parked. Last, the fleet team adds a collection rule with a signed configuration
bundle pushed over MQTT: the running agent stages it, switches to it without a restart, keeps it after a trial. Ends
with a summary, and removes everything it started.

    .venv/bin/python scripts/demo.py [--bin .build/release] [--cut-seconds 20]
"""

import argparse
import getpass
import json
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))

import decode_telemetry  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402

VEHICLE = "demo-car"
SHOWN = ["Vehicle.Speed", "Vehicle.Powertrain.CombustionEngine.Speed", "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature",
         "Vehicle.CurrentLocation.Latitude", "Vehicle.CurrentLocation.Longitude"]


def say(text=""):
    print(text, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """Debian's mosquitto on a loopback port, persisting sessions so the subscriber misses nothing across the cut."""

    def __init__(self, directory, port):
        self.port = port
        self.config = os.path.join(directory, "mosquitto.conf")
        with open(self.config, "w") as f:
            # As this user: started as root, mosquitto would switch to its own user and could not save the sessions
            # into this private directory.
            f.write(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {directory}/\nlog_dest file {directory}/mosquitto.log\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["mosquitto", "-c", self.config], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("demo: mosquitto did not start; see the log in " + os.path.dirname(self.config))

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class Subscriber:
    """Decodes every telemetry batch and event that arrives for the demo vehicle (persistent session, QoS 1)."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.sequences = set()
        self.records = 0
        self.samples = 0
        self.payload_bytes = 0
        self.latest = {}
        self.events = []
        self.status = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="axle-demo-subscriber",
                                  clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe(f"axle/v1/{VEHICLE}/#", qos=1)
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def on_message(self, client, userdata, message):
        topic = message.topic.rsplit("/", 1)[-1]
        if topic == "status":
            self.status = message.payload.decode(errors="replace")
            return
        if "/cmd/res" in message.topic or topic == "features" or message.topic.endswith("/config/state"):
            # Command answers, the feature state and the configuration report go through the outbox too, and carry
            # their record's "seq":
            # counted with the telemetry's, so that a gap means a lost record whatever it held (docs/mqtt.md).
            try:
                sequence = json.loads(message.payload).get("seq")
            except (ValueError, AttributeError):
                sequence = None
            if isinstance(sequence, int):
                with self.lock:
                    self.sequences.add(sequence)
            return
        if topic not in ("telemetry", "events"):
            return
        try:
            batch = decode_telemetry.parse(message.payload)
            lines = list(decode_telemetry.sample_lines(batch))
        except decode_telemetry.PayloadError as error:
            say(f"  ! undecodable payload on {message.topic}: {error}")
            return
        with self.lock:
            self.records += 1
            self.payload_bytes += len(message.payload)
            self.sequences.add(batch.sequence)
            for line in lines:
                if "event" in line:
                    self.events.append(line)
                    if not line["event"].startswith("outbox."):
                        window = line.get("window", [])
                        say(f"  >> EVENT {line['event']} ({line['priority']}) record #{batch.sequence}: "
                            f"{line['attributes'].get('condition', '')}; {len(window)} window samples")
                elif "status" in line:
                    # A value that was not a reading (J1939 "not available" or "error"): shown as such, not counted.
                    self.latest[line["signal"]] = (line["status"], "", line["time_us"])
                else:
                    self.samples += 1
                    self.latest[line["signal"]] = (line["value"], line["unit"], line["time_us"])

    def snapshot(self):
        with self.lock:
            return self.records, self.samples, dict(self.latest), set(self.sequences)

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def show_latest(subscriber):
    records, samples, latest, _ = subscriber.snapshot()
    values = []
    for name in SHOWN:
        if name in latest:
            value, unit, _ = latest[name]
            shown = value if isinstance(value, str) else f"{value:.5g}"
            values.append(f"{name.rsplit('.', 1)[-1] if 'Location' not in name else name.rsplit('.', 1)[-1][:3]}="
                          f"{shown} {unit}".rstrip())
    say(f"  {records:4d} records, {samples:6d} samples | " + ", ".join(values))


def outbox_records(axle, socket_path):
    """Records waiting in the agent's outbox, from `axle outbox --json` (None if the agent did not answer)."""
    result = subprocess.run([axle, "outbox", "--socket", socket_path, "--json"], capture_output=True, text=True,
                            timeout=10)
    try:
        return sum(c["records"] for c in json.loads(result.stdout)["classes"])
    except (ValueError, KeyError, TypeError):
        return None


def rule_names(axle, socket_path):
    """The names of the rules the running agent collects with (axle rules --json)."""
    result = subprocess.run([axle, "rules", "--socket", socket_path, "--json"], capture_output=True, text=True)
    try:
        return [rule["name"] for rule in json.loads(result.stdout)["rules"]]
    except (ValueError, KeyError):
        return []


def wait_for(condition, seconds, what):
    """Polls `condition` until it returns something true; stops the demo naming `what` at the deadline."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"demo: {what} did not happen within {seconds} s")


def uplink_connected(axle, socket_path):
    """Whether the running agent says its MQTT link is up (axle status --json)."""
    result = subprocess.run([axle, "status", "--socket", socket_path, "--json"], capture_output=True, text=True)
    try:
        return json.loads(result.stdout)["uplink"]["state"] == "connected"
    except (ValueError, KeyError, TypeError):
        return False


def last_sequence(axle, socket_path, data_directory):
    """The outbox's last sequence number, read from its file once the agent has stopped (axle outbox)."""
    result = subprocess.run([axle, "outbox", "--socket", socket_path, "--data-dir", data_directory, "--json"],
                            capture_output=True, text=True)
    try:
        return json.loads(result.stdout)["last_sequence"]
    except (ValueError, KeyError, TypeError):
        return None


def run_cli(binary, *arguments):
    result = subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=10)
    for line in (result.stdout or result.stderr).rstrip().splitlines():
        say("    " + line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    parser.add_argument("--cut-seconds", type=float, default=20)
    parser.add_argument("--speed", default="6", help="simulation speed (the leak needs ~150 simulated seconds)")
    arguments = parser.parse_args()
    axled, axle = os.path.join(arguments.bin, "axled"), os.path.join(arguments.bin, "axle")
    directory = tempfile.mkdtemp(prefix="axle-demo-")
    port = free_port()
    broker = Broker(directory, port)
    agent = None
    subscriber = None
    socket_path = os.path.join(directory, "axled.sock")
    agent_log = os.path.join(directory, "axled.log")
    try:
        say(f"== A private mosquitto on 127.0.0.1:{port}")
        broker.start()
        subscriber = Subscriber(port)
        say("== axled: demo-sedan profile, simulated city drive with a coolant leak, "
            f"{arguments.speed}x real time, 1 s telemetry batches")
        started = time.time()
        fleet = os.path.join(arguments.bin, "axle-fleet")
        key_prefix = os.path.join(directory, "backend")
        subprocess.run([fleet, "keygen", "--out", key_prefix], check=True, capture_output=True)
        # Configuration bundles are signed by a key of their own role (docs/configuration.md).
        config_key = os.path.join(directory, "config-2026")
        subprocess.run([fleet, "config", "keygen", "--out", config_key], check=True, capture_output=True)

        def start_agent(scenario, log_mode):
            with open(agent_log, log_mode) as log:
                return subprocess.Popen(
                    [axled, "--profile", os.path.join(ROOT, "Firmware-Profiles", "demo-sedan"), "--simulate",
                     scenario, "--simulate-speed", arguments.speed, "--vehicle-id", VEHICLE, "--broker",
                     f"mqtt://127.0.0.1:{port}", "--data-dir", os.path.join(directory, "data"), "--control-socket",
                     socket_path, "--telemetry-batch", "1", "--reconnect-cap", "1", "--log-level", "notice",
                     "--trust-key", key_prefix + ".pub", "--config-key", config_key + ".pub", "--config-trial", "3s"],
                    stderr=log)

        def send_command(*words):
            """axle-fleet command send …: prints the statuses as they arrive; returns the final one."""
            signing = [] if "--payload" in words else ["--key", key_prefix + ".key"]
            result = subprocess.run([fleet, *words, "--broker", f"mqtt://127.0.0.1:{port}", "--vehicle", VEHICLE,
                                     *signing, "--json"], capture_output=True, text=True, timeout=60)
            final = None
            for line in result.stdout.splitlines():
                try:
                    status = json.loads(line)
                except ValueError:
                    continue
                final = status
                reason = f"  {status.get('reason')}: {status.get('text', '')}" if status.get("reason") else ""
                say(f"  {status['status']}{reason}")
                if "result" in status:
                    say(f"    result: {json.dumps(status['result'])}")
            return final

        agent = start_agent("coolant-leak", "w")
        say()
        say("== 1. Decoded telemetry arriving at the subscriber")
        for _ in range(8):
            time.sleep(1)
            show_latest(subscriber)
        say()
        say(f"== 2. The link is cut for {arguments.cut_seconds:.0f} s (broker stopped); the agent keeps collecting")
        broker.stop()
        cut_records = subscriber.snapshot()[0]
        time.sleep(arguments.cut_seconds / 2)
        say("  axle status, halfway through the blind spot:")
        run_cli(axle, "status", "--socket", socket_path)
        time.sleep(arguments.cut_seconds / 2)
        say()
        say("== 3. The link is back: the backlog drains (alerts first)")
        backlog = outbox_records(axle, socket_path) or 0
        say(f"  {backlog} records waiting in the outbox when the broker comes back")
        broker.start()
        drain_start = time.time()
        while time.time() - drain_start < 30:
            time.sleep(0.25)
            waiting = outbox_records(axle, socket_path)
            if waiting is not None and waiting <= 1:  # the live batch of the moment may be in flight
                break
        drained = time.time() - drain_start
        # The subscriber reconnects on its own schedule; the broker kept its session and hands it the backlog.
        caught_up = time.time() + 10
        while subscriber.snapshot()[0] - cut_records < backlog and time.time() < caught_up:
            time.sleep(0.1)
        say(f"  the agent's outbox was empty {drained:.1f} s after the broker came back; the subscriber has "
            f"{subscriber.snapshot()[0] - cut_records} records from the blind spot and after")
        say()
        say("== 4. The technician's view: axle signals, axle events")
        run_cli(axle, "signals", "--socket", socket_path, "Vehicle.Powertrain")
        run_cli(axle, "events", "--socket", socket_path)
        say()
        say("== 5. A courier asks for the trunk, signed by the backend (axle-fleet command send trunk.open)")
        say("  while the car is driving:")
        refused = send_command("command", "send", "trunk.open")
        say()
        say("== 6. The backend reads the engine ECU's fault codes remotely (axle-fleet command send diagnostics.read_dtc);")
        say("  the agent asks the ECU over OBD-II (modes 03 and 07) between its own polls:")
        fault_codes = send_command("command", "send", "diagnostics.read_dtc")
        stored = ((fault_codes or {}).get("result") or {}).get("engine", {}).get("stored", [])
        say()
        say("== 7. Stopping the agent (SIGTERM): the open batch is written and sent, 'offline' published")
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(timeout=10)
        with open(agent_log) as f:
            text = f.read()
        match = re.search(r"stopped after .*", text)
        say()
        say("== 8. The car is parked at the delivery address; the agent starts again and the courier asks again")
        agent = start_agent("parked", "a")
        wait_for(lambda: uplink_connected(axle, socket_path), 20, "the restarted agent's connection to the broker")
        payload = os.path.join(directory, "trunk-open.json")
        subprocess.run([fleet, "command", "create", "--vehicle", VEHICLE, "--key", key_prefix + ".key", "--out",
                        payload, "trunk.open"], check=True, capture_output=True)
        opened = send_command("command", "send", "--payload", payload)
        say("  the same signed request sent again (a replay):")
        replayed = send_command("command", "send", "--payload", payload)
        say("  a feature bought over the air for 24 hours (axle-fleet feature grant):")
        granted = send_command("feature", "grant", "--feature", "performance-boost", "--duration", "24h")
        run_cli(axle, "features", "--socket", socket_path)
        run_cli(axle, "commands", "--socket", socket_path)
        say()
        say("== 9. The fleet team adds a collection rule over the air: a signed configuration bundle, pushed to the")
        say("  running car (axle-fleet config sign, config push); it runs on trial, then applies, without a restart")
        pushed_rule = "tyre-watch"
        profile_copy = os.path.join(directory, "demo-sedan-v1", "demo-sedan")
        os.makedirs(profile_copy)
        for name in ("profile.toml", "demo_sedan.dbc"):
            shutil.copy(os.path.join(ROOT, "Firmware-Profiles", "demo-sedan", name), profile_copy)
        with open(os.path.join(profile_copy, "profile.toml"), "a") as f:
            f.write(f'\n[[rules]]\nname = "{pushed_rule}"\nsignals = ["Vehicle.Private.Chassis.TireTemperature"]\n'
                    'periodic = "2s"\n')
        bundle = os.path.join(directory, "demo-sedan-1.axlecfg")
        signed = subprocess.run([fleet, "config", "sign", "--key", config_key + ".key", "--version", "1", "--profile",
                                 profile_copy, "--out", bundle, "--vehicle", VEHICLE], capture_output=True, text=True)
        say("  " + signed.stdout.strip())
        rules_before = rule_names(axle, socket_path)
        push_started = time.time()
        push = subprocess.run([fleet, "config", "push", "--bundle", bundle, "--vehicle", VEHICLE, "--broker",
                               f"mqtt://127.0.0.1:{port}", "--wave-timeout", "60s"],
                              capture_output=True, text=True, timeout=120)
        push_seconds = time.time() - push_started
        for line in (push.stdout + push.stderr).strip().splitlines():
            say("  " + line)
        run_cli(axle, "config", "--socket", socket_path)
        rules_after = rule_names(axle, socket_path)
        say(f"  rules before: {len(rules_before)}, after: {len(rules_after)} "
            f"({pushed_rule} {'collecting' if pushed_rule in rules_after else 'missing'}); "
            f"the agent {'kept running (pid ' + str(agent.pid) + ')' if agent.poll() is None else 'stopped'}")
        agent.send_signal(signal.SIGTERM)
        second_code = agent.wait(timeout=10)
        # Everything the agent wrote has reached the subscriber (its last records go out as it stops).
        last = last_sequence(axle, socket_path, os.path.join(directory, "data")) or 0
        try:
            wait_for(lambda: set(range(1, last + 1)) <= subscriber.snapshot()[3], 10, "the subscriber's last records")
        except SystemExit as timeout:
            say(f"  {timeout}")  # counted as missing below
        records, samples, _, sequences = subscriber.snapshot()
        missing = sorted(set(range(1, max(sequences) + 1)) - sequences) if sequences else []
        events = [e for e in subscriber.events if not e["event"].startswith("outbox.")]
        say()
        say("== Summary")
        say(f"  agent exit status {code}: {match.group(0) if match else 'no summary line (see ' + agent_log + ')'}")
        say(f"  subscriber: {records} records, {samples} samples, {subscriber.payload_bytes} payload bytes "
            f"({subscriber.payload_bytes / max(samples, 1):.2f} B/sample); "
            f"sequence numbers 1..{max(sequences) if sequences else 0}, {len(missing)} missing")
        say(f"  events: {len(events)} ({', '.join(sorted({e['event'] for e in events})) or 'none'})")
        outcome = lambda status: (status or {}).get("status", "no answer") + (
            f" ({status['reason']})" if status and status.get("reason") else "")
        say(f"  remote commands: trunk.open while driving {outcome(refused)}, parked {outcome(opened)}; "
            f"the same request again {outcome(replayed)}; performance-boost {outcome(granted)}; "
            f"fault codes read remotely {outcome(fault_codes)}: {', '.join(stored) or 'none'}")
        say(f"  configuration over the air: version 1 pushed, {'APPLIED' if push.returncode == 0 else 'not applied'} "
            f"{push_seconds:.1f} s after the push (a 3 s trial included), rule {pushed_rule} "
            f"{'added' if pushed_rule in rules_after and pushed_rule not in rules_before else 'not added'} "
            f"without a restart")
        say(f"  took {time.time() - started:.0f} s")
        ok = (code == 0 and second_code == 0 and not missing and records > 0
              and any(e["event"] == "engine-overheat" for e in events)
              and (refused or {}).get("reason") == "precondition_failed"
              and (opened or {}).get("status") == "SUCCEEDED" and (replayed or {}).get("reason") == "replay"
              and (granted or {}).get("status") == "SUCCEEDED"
              and (fault_codes or {}).get("status") == "SUCCEEDED" and "P0217" in stored
              and push.returncode == 0 and pushed_rule in rules_after and pushed_rule not in rules_before)
        if not ok:
            say("demo: something did not happen as expected; the agent's log: " + agent_log)
            with open(agent_log) as f:
                say(f.read()[-3000:])
            return 1
        return 0
    finally:
        if agent and agent.poll() is None:
            agent.kill()
        if subscriber:
            subscriber.stop()
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
