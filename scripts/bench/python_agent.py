#!/usr/bin/env python3
"""The Python pipeline that scripts/bench/agent.sh runs beside `axled`: the same job, done with the usual libraries.

    .venv/bin/python scripts/bench/python_agent.py --profile Firmware-Profiles/demo-sedan --vehicle-id bench-python \
        --broker mqtt://127.0.0.1:1883 --data-dir DIR --replay LOG [--replay-speed X|max] [--max-frames N]

What it does, stage by stage, as `axled --replay LOG --exit-when-drained` does:
  read      python-can's candump log reader (`can.CanutilsLogReader`), paced at X times the log's rate or flat out
  decode    cantools, with the DBC of the profile's bus, only the messages the signal catalog names (as the agent's
            compiled decoder does), physical values, no value labels
  collect   the profile's collection rules from profile.toml (read with `tomllib`), on the frames' clock:
            periodic (the latest fresh value at each interval boundary), on-change (a move beyond the deadband, and
            a heartbeat), aggregate (min/max/mean/count/last at the end of each window)
  batch     telemetry samples in 5 s batches on the frames' clock (at most 50,000 samples), encoded as the agent
            encodes them: the `axle.telemetry.v1` protobuf (examples/python/axle_telemetry_pb2.py), columnar and
            delta-encoded, compressed with zstd level 3
  outbox    SQLite in WAL mode (synchronous=NORMAL), one transaction per batch
  publish   paho-mqtt 2.x, MQTT 5, QoS 1, at most 64 messages in flight; each record is published from memory right
            after its transaction (the agent's drainer reads it back from the outbox), and deleted from the outbox
            when the broker acknowledges it; the process exits once the log has ended and the outbox is empty

Left out, to keep it simple (each costs the agent more, not less): event rules (conditions, pre/post-trigger windows),
splitting payloads larger than the broker's limit, expiry and the disk cap, reconnecting, several buses per profile.

At exit it writes a summary line on standard error in the agent's words, which agent.sh reads:
    <5>python-agent: stopped after S s: N frames, M signals decoded, K samples and 0 events collected, R telemetry
    records written; P published, A acknowledged, 0 dead-lettered
and `<6>python-agent: ready in N ms: …` when it starts reading, `<6>source: source ended: N frames` when the log has
ended (agent.sh measures the paced runs' steady state between these two lines).

Needs python-can, cantools, paho-mqtt, protobuf and zstandard (scripts/setup.sh installs them into .venv).
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import sqlite3
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python"))

import can  # noqa: E402
import cantools  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import zstandard  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

import axle_telemetry_pb2 as telemetry  # noqa: E402

BATCH_MICROS = 5_000_000  # the agent's default telemetry batch (UplinkPolicy.standard)
BATCH_MAX_SAMPLES = 50_000
TIME_UNIT_MICROS = 1000
MAX_INFLIGHT = 64  # the agent's default window
EXPIRY_MILLIS = 7 * 86_400 * 1000
TELEMETRY_CLASS = 2  # PriorityClass.telemetry: the top byte of an outbox position, as in the agent's outbox


def log(level: int, component: str, text: str) -> None:
    sys.stderr.write(f"<{level}>{component}: {text}\n")
    sys.stderr.flush()


class ProfileError(Exception):
    """profile.toml cannot be used; the message says where and what to do."""


# ---------------------------------------------------------------------------------------------------------------
# The profile: buses, signal catalog and collection rules (events are not read).


@dataclass
class CatalogSignal:
    name: str
    bus: str
    message: str
    signal: str
    unit: str
    stale_after_micros: int


@dataclass
class Rule:
    name: str
    kind: str  # periodic | on-change | aggregate
    signals: list[str]
    interval_micros: int = 0  # periodic interval or aggregate window
    deadband: float = 0.0
    heartbeat_micros: int = 0
    functions: list[str] = field(default_factory=list)


@dataclass
class Profile:
    name: str
    directory: str
    dbc_by_bus: dict[str, str]
    catalog: list[CatalogSignal]
    rules: list[Rule]


DURATION_UNITS = (("ms", 1e-3), ("min", 60.0), ("s", 1.0), ("h", 3600.0), ("d", 86400.0))


def seconds(value: Any, where: str) -> float:
    """A duration as profiles write it: a number of seconds, or "250ms", "10s", "5min", "2h", "1d"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        for suffix, scale in DURATION_UNITS:
            if text.endswith(suffix):
                try:
                    return float(text[: -len(suffix)]) * scale
                except ValueError:
                    break
    raise ProfileError(f"{where}: '{value}' is not a duration such as \"250ms\", \"10s\" or \"5min\"")


def catalog_entries(table: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """[signals] as (VSS name, entry): an entry is a table with `source`; dotted keys may nest tables."""
    found = []
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            found.extend([(name, value)] if "source" in value else catalog_entries(value, name))
    return found


def load_profile(directory: str) -> Profile:
    """The parts of profile.toml (docs/profiles.md) the pipeline uses. The agent's loader checks far more; this
    trusts a profile the agent accepts."""
    path = os.path.join(directory, "profile.toml")
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ProfileError(f"cannot read {path}: {error.strerror}; give the profile folder with --profile") from None
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: {error}") from None
    name = document.get("profile", {}).get("name", os.path.basename(os.path.normpath(directory)))

    dbc_by_bus = {bus: os.path.join(directory, table["dbc"]) for bus, table in document.get("buses", {}).items()}
    if not dbc_by_bus:
        raise ProfileError(f"{path}: no [buses.NAME] with dbc = FILE; the profile needs at least one bus")

    catalog: list[CatalogSignal] = []
    for vss, entry in catalog_entries(document.get("signals", {})):
        where = f"{path}: [signals] \"{vss}\""
        message, _, signal = str(entry["source"]).partition(".")
        stale = entry.get("stale-after")
        catalog.append(CatalogSignal(
            vss, entry.get("bus") or next(iter(dbc_by_bus)), message, signal, entry.get("unit", ""),
            int(seconds(stale, where) * 1e6) if stale is not None else -1))  # -1: the DBC's default, set later

    rules: list[Rule] = []
    for number, entry in enumerate(document.get("rules", []), start=1):
        rule_name = entry.get("name", f"rule {number}")
        where = f"{path}: [[rules]] {rule_name}"
        if entry.get("enabled", True) is False:
            continue
        rule = Rule(rule_name, "", list(entry.get("signals", [])))
        if "periodic" in entry:
            rule.kind = "periodic"
            rule.interval_micros = int(seconds(entry["periodic"], where) * 1e6)
        elif "on-change" in entry:
            rule.kind = "on-change"
            rule.deadband = float(entry["on-change"].get("deadband", 0.0))
            heartbeat = entry["on-change"].get("heartbeat")
            rule.heartbeat_micros = int(seconds(heartbeat, where) * 1e6) if heartbeat is not None else 0
        elif "aggregate" in entry:
            rule.kind = "aggregate"
            rule.interval_micros = int(seconds(entry["aggregate"]["window"], where) * 1e6)
            rule.functions = list(entry["aggregate"]["functions"])
        else:
            raise ProfileError(f"{where}: give one of periodic, on-change or aggregate")
        if rule.kind != "on-change" and rule.interval_micros <= 0:
            raise ProfileError(f"{where}: the interval must be longer than 0")
        rules.append(rule)
    known = {s.name for s in catalog}
    # Signals only the GNSS receiver feeds ([location.signals] without a [signals] entry) get no value in a replay,
    # which has no receiver (axled runs none with --replay either): rules keep their other signals.
    receiver_only = set(document.get("location", {}).get("signals", {})) - known
    # The same for values polled from ECUs ([diagnostics.signals]): a replay has no ECU to ask, and axled runs no
    # diagnostics service with --replay. A rule of polled values only is left out.
    polled_only = set(document.get("diagnostics", {}).get("signals", {})) - known
    for rule in rules:
        rule.signals = [signal for signal in rule.signals if signal not in receiver_only and signal not in polled_only]
    rules = [rule for rule in rules if rule.signals]
    for rule in rules:
        for signal in rule.signals:
            if signal not in known:
                raise ProfileError(f"{path}: rule {rule.name} names {signal}, which is not in [signals]")
    return Profile(name, directory, dbc_by_bus, catalog, rules)


# ---------------------------------------------------------------------------------------------------------------
# Collection on the frames' clock: values in, (series, time, value) samples out.


@dataclass
class Series:
    name: str
    unit: str
    factor: float
    offset: float


class OnChangeSlot:
    """One signal of one on-change rule, with what it last sent."""

    __slots__ = ("series", "signal", "deadband", "heartbeat", "has_sent", "last_value", "last_time")

    def __init__(self, series: int, signal: int, deadband: float, heartbeat: int):
        self.series, self.signal, self.deadband, self.heartbeat = series, signal, deadband, heartbeat
        self.has_sent, self.last_value, self.last_time = False, 0.0, 0


class AggregateSlot:
    """One signal of one aggregate rule: the running statistics of the open window."""

    __slots__ = ("count", "total", "minimum", "maximum", "last", "outputs")

    def __init__(self, outputs: list[tuple[str, int]]):
        self.outputs = outputs
        self.last = 0.0
        self.restart()

    def restart(self) -> None:
        self.count, self.total, self.minimum, self.maximum = 0, 0.0, math.inf, -math.inf


class Collector:
    """The profile's periodic, on-change and aggregate rules, driven by the frames' timestamps."""

    def __init__(self, profile: Profile, scaling: dict[int, tuple[float, float]]):
        self.catalog = profile.catalog
        self.stale = [s.stale_after_micros for s in profile.catalog]
        index = {s.name: i for i, s in enumerate(profile.catalog)}
        self.series: list[Series] = []
        self.latest: list[tuple[int, float] | None] = [None] * len(profile.catalog)
        self.on_change_by_signal: list[list[OnChangeSlot]] = [[] for _ in profile.catalog]
        self.aggregate_by_signal: list[list[AggregateSlot]] = [[] for _ in profile.catalog]
        self.periodic: list[list[Any]] = []  # [interval, next boundary, [(signal, series)]]
        self.aggregates: list[list[Any]] = []  # [window, window end, [slot]]
        self.heartbeats: list[OnChangeSlot] = []
        self.samples: list[tuple[int, int, float]] = []
        # The earliest frame time at which something is due without a new value (-inf: not started).
        self.next_deadline = -math.inf

        series_by_key: dict[tuple[int, str], int] = {}

        def add_series(signal: int, function: str = "") -> int:
            """One series per signal for periodic and on-change rules, one per (signal, function) for aggregates,
            named and scaled as the agent names and scales them."""
            key = (signal, function)
            if key not in series_by_key:
                entry = self.catalog[signal]
                # Counts and means are not on the signal's DBC scaling: plain numbers, as in the agent.
                plain = function in ("count", "mean")
                factor, offset = (1.0, 0.0) if plain else scaling.get(signal, (0.0, 0.0))
                self.series.append(Series(f"{entry.name}:{function}" if function else entry.name,
                                          "" if function == "count" else entry.unit, factor, offset))
                series_by_key[key] = len(self.series) - 1
            return series_by_key[key]

        for rule in profile.rules:
            members = [index[name] for name in rule.signals]
            if rule.kind == "periodic":
                self.periodic.append([rule.interval_micros, None, [(s, add_series(s)) for s in members]])
            elif rule.kind == "on-change":
                for s in members:
                    slot = OnChangeSlot(add_series(s), s, rule.deadband, rule.heartbeat_micros)
                    self.on_change_by_signal[s].append(slot)
                    if rule.heartbeat_micros:
                        self.heartbeats.append(slot)
            else:
                slots = []
                for s in members:
                    outputs = [(fn, add_series(s, fn)) for fn in rule.functions]
                    slot = AggregateSlot(outputs)
                    slots.append(slot)
                    self.aggregate_by_signal[s].append(slot)
                self.aggregates.append([rule.interval_micros, None, slots])

    def ingest(self, signal: int, time_us: int, value: float) -> None:
        self.latest[signal] = (time_us, value)
        for slot in self.on_change_by_signal[signal]:
            if not slot.has_sent or (abs(value - slot.last_value) > slot.deadband if slot.deadband > 0
                                     else value != slot.last_value):
                slot.has_sent, slot.last_value, slot.last_time = True, value, time_us
                self.samples.append((slot.series, time_us, value))
        for slot in self.aggregate_by_signal[signal]:
            slot.count += 1
            slot.total += value
            if value < slot.minimum:
                slot.minimum = value
            if value > slot.maximum:
                slot.maximum = value
            slot.last = value

    def advance(self, now: int) -> None:
        """Everything due up to `now` on the frames' clock: interval boundaries, window ends, heartbeats. Called
        before the values of a frame at or past `next_deadline` are ingested, so that a boundary sees the values
        from before it."""
        for rule in self.periodic:
            interval = rule[0]
            if rule[1] is None:
                rule[1] = (now // interval + 1) * interval
            while rule[1] <= now:
                boundary = rule[1]
                for signal, series in rule[2]:
                    latest = self.latest[signal]
                    if latest is not None and boundary - latest[0] <= self.stale[signal]:
                        self.samples.append((series, boundary, latest[1]))
                rule[1] += interval
        for rule in self.aggregates:
            window = rule[0]
            if rule[1] is None:
                rule[1] = (now // window + 1) * window
            while rule[1] <= now:
                end = rule[1]
                for slot in rule[2]:
                    if slot.count:
                        for fn, series in slot.outputs:
                            if fn == "min":
                                value = slot.minimum
                            elif fn == "max":
                                value = slot.maximum
                            elif fn == "mean":
                                value = slot.total / slot.count
                            elif fn == "count":
                                value = float(slot.count)
                            else:
                                value = slot.last
                            self.samples.append((series, end, value))
                    slot.restart()
                rule[1] += window
        deadline = math.inf
        for slot in self.heartbeats:
            while slot.has_sent and slot.last_time + slot.heartbeat <= now:
                due = slot.last_time + slot.heartbeat
                latest = self.latest[slot.signal]
                if latest is not None and due - latest[0] <= self.stale[slot.signal]:
                    slot.last_value, slot.last_time = latest[1], due
                    self.samples.append((slot.series, due, latest[1]))
                else:
                    slot.has_sent = False  # stale: the next fresh value is sent as a change
            if slot.has_sent:
                deadline = min(deadline, slot.last_time + slot.heartbeat)
        for rule in self.periodic:
            deadline = min(deadline, rule[1])
        for rule in self.aggregates:
            deadline = min(deadline, rule[1])
        self.next_deadline = deadline


# ---------------------------------------------------------------------------------------------------------------
# Telemetry batches, encoded as the agent encodes them.


class Recorder:
    """Samples into 5 s batches on the frames' clock; each closed batch becomes one payload."""

    def __init__(self, series: list[Series], vehicle_id: str, profile: str):
        self.series = series
        self.vehicle_id = vehicle_id
        self.profile = profile
        self.columns: list[list[tuple[int, float]]] = [[] for _ in series]
        self.count = 0
        self.start: int | None = None
        self.compressor = zstandard.ZstdCompressor(level=3)

    def append(self, series: int, time_us: int, value: float) -> bytes | None:
        closed = None
        if self.start is not None and time_us - self.start >= BATCH_MICROS:
            closed = self.close()
        if self.start is None:
            self.start = time_us
        self.columns[series].append((time_us, value))
        self.count += 1
        if self.count >= BATCH_MAX_SAMPLES:
            closed = self.close()
        return closed

    def due(self, now: int) -> bool:
        return self.start is not None and now - self.start >= BATCH_MICROS

    def close(self) -> bytes | None:
        """The open batch as a TelemetryBatch without its sequence (the outbox adds it), or None when empty."""
        self.start = None
        if not self.count:
            return None
        self.count = 0
        earliest = min(column[0][0] for column in self.columns if column)
        base = earliest // TIME_UNIT_MICROS * TIME_UNIT_MICROS
        batch = telemetry.TelemetryBatch(
            schema_version=1, vehicle_id=self.vehicle_id, profile=self.profile, time_base_unix_micros=base,
            time_unit_micros=TIME_UNIT_MICROS)
        for description, column in zip(self.series, self.columns):
            if not column:
                continue
            out = batch.series.add(name=description.name, unit=description.unit, factor=description.factor,
                                   offset=description.offset)
            previous = 0
            deltas = []
            for time_us, _ in column:
                step = (time_us - base + TIME_UNIT_MICROS // 2) // TIME_UNIT_MICROS
                deltas.append(step - previous)
                previous = step
            out.time_deltas.extend(deltas)
            raws = exact_raws(column, description.factor, description.offset)
            if raws is not None:
                previous = 0
                raw_deltas = []
                for raw in raws:
                    raw_deltas.append(raw - previous)
                    previous = raw
                out.raw_deltas.extend(raw_deltas)
            else:
                out.values.extend(value for _, value in column)
            column.clear()
        return batch.SerializeToString()

    def payload(self, body: bytes, sequence: int) -> bytes:
        # Field 3 (sequence) appended after the body, as the agent does: protobuf readers take fields in any order.
        tail = bytearray([3 << 3])
        while sequence >= 0x80:
            tail.append((sequence & 0x7F) | 0x80)
            sequence >>= 7
        tail.append(sequence)
        return self.compressor.compress(body + bytes(tail))


def exact_raws(column: list[tuple[int, float]], factor: float, offset: float) -> list[int] | None:
    """The DBC raw integers of every value, or None when one value has none (the series then carries doubles)."""
    if factor == 0 or not math.isfinite(factor) or not math.isfinite(offset):
        return None
    raws = []
    for _, value in column:
        if not math.isfinite(value):
            return None
        raw = round((value - offset) / factor)
        if raw * factor + offset != value:
            return None
        raws.append(raw)
    return raws


# ---------------------------------------------------------------------------------------------------------------
# The outbox and the uplink.


class Outbox:
    """SQLite in WAL mode, one transaction per batch; rows are deleted when the broker acknowledges them."""

    def __init__(self, directory: str):
        os.makedirs(directory, exist_ok=True)
        self.db = sqlite3.connect(os.path.join(directory, "outbox.db"), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS records(position INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, "
            "expires_at INTEGER, topic TEXT NOT NULL, qos INTEGER NOT NULL, payload BLOB NOT NULL)")
        row = self.db.execute("SELECT max(position) FROM records").fetchone()
        self.last_sequence = (row[0] or 0) & ((1 << 56) - 1)

    def append(self, topic: str, build) -> tuple[int, bytes]:
        self.last_sequence += 1
        sequence = self.last_sequence
        position = TELEMETRY_CLASS << 56 | sequence
        payload = build(sequence)
        now = int(time.time() * 1000)
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO records VALUES (?, ?, ?, ?, 1, ?)",
                        (position, now, now + EXPIRY_MILLIS, topic, payload))
        self.db.execute("COMMIT")
        return position, payload

    def delete(self, positions: list[int]) -> None:
        if not positions:
            return
        self.db.execute("BEGIN")
        self.db.executemany("DELETE FROM records WHERE position = ?", ((p,) for p in positions))
        self.db.execute("COMMIT")

    def depth(self) -> int:
        return self.db.execute("SELECT count(*) FROM records").fetchone()[0]


class Uplink:
    """paho-mqtt with its network thread; acknowledgements are handed to the main thread, which owns the outbox.

    No lock of ours is held around paho's calls: paho calls `on_publish` holding its own lock, so a lock taken in both
    places deadlocks. The callback only appends the message id to a deque (atomic), and the main thread, which made
    the id → position map right after `publish` returned, looks the ids up."""

    def __init__(self, url: str, client_id: str):
        parsed = urlparse(url)
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise SystemExit(f"python_agent: --broker takes mqtt://HOST:PORT, not '{url}'")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(MAX_INFLIGHT)
        self.client.max_queued_messages_set(0)
        self.acked_mids: collections.deque[int] = collections.deque()
        self.position_by_mid: dict[int, int] = {}
        self.published = 0
        self.acknowledged = 0
        self.connected = threading.Event()
        self.client.on_connect = lambda client, userdata, flags, reason, properties: self.connected.set()
        self.client.on_publish = lambda client, userdata, mid, reason, properties: self.acked_mids.append(mid)
        try:
            self.client.connect(parsed.hostname, parsed.port or 1883, keepalive=60)
        except OSError as error:
            raise SystemExit(f"python_agent: cannot connect to {url}: {error}; is the broker running?") from None
        self.client.loop_start()
        if not self.connected.wait(10):
            raise SystemExit(f"python_agent: no CONNACK from {url} within 10 s; is the broker running?")

    def publish(self, topic: str, position: int, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        self.position_by_mid[info.mid] = position
        self.published += 1

    def take_acknowledged(self) -> list[int]:
        """The outbox positions acknowledged since the last call."""
        positions = []
        while self.acked_mids:
            position = self.position_by_mid.pop(self.acked_mids.popleft(), None)
            if position is not None:
                positions.append(position)
        self.acknowledged += len(positions)
        return positions

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ---------------------------------------------------------------------------------------------------------------


def default_stale_after_micros(message: Any, signal: Any) -> int:
    """Three cycles of the message (times the multiplexer's values for a multiplexed signal), else 5 s: the
    agent's default (ProfileLoader.defaultStaleAfter)."""
    if not message.cycle_time:
        return 5_000_000
    frames = 1
    if signal.multiplexer_ids:
        values = set()
        for other in message.signals:
            if other.multiplexer_signal == signal.multiplexer_signal and other.multiplexer_ids:
                values.update(other.multiplexer_ids)
        frames = max(1, len(values))
    return int(3 * message.cycle_time * 1000 * frames)


def build_decoders(profile: Profile):
    """(arbitration id, extended) → (cantools message, [(DBC signal name, catalog index)]), catalog messages only.

    Keyed by the extended flag too: the demo DBC has a standard and an extended frame with id 0x200, which cantools'
    own lookup by frame id would confuse."""
    if len(profile.dbc_by_bus) != 1:
        raise ProfileError(f"{profile.directory}: the Python pipeline reads profiles with one bus, not {len(profile.dbc_by_bus)}")
    bus, dbc = next(iter(profile.dbc_by_bus.items()))
    database = cantools.database.load_file(dbc, strict=False)
    by_name = {message.name: message for message in database.messages}
    routes: dict[tuple[int, bool], tuple[Any, list[tuple[str, int]]]] = {}
    scaling: dict[int, tuple[float, float]] = {}
    for index, entry in enumerate(profile.catalog):
        message = by_name.get(entry.message)
        if message is None:
            raise ProfileError(f"{profile.directory}: signal {entry.name}: {dbc} has no message {entry.message}")
        try:
            signal = message.get_signal_by_name(entry.signal)
        except KeyError:
            raise ProfileError(f"{profile.directory}: signal {entry.name}: {entry.message} has no signal {entry.signal}") from None
        scaling[index] = (float(signal.scale), float(signal.offset))
        if entry.stale_after_micros < 0:
            entry.stale_after_micros = default_stale_after_micros(message, signal)
        key = (message.frame_id, message.is_extended_frame)
        routes.setdefault(key, (message, []))[1].append((entry.signal, index))
    return routes, scaling


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True)
    parser.add_argument("--vehicle-id", default="bench-python")
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--replay", required=True)
    parser.add_argument("--replay-speed", default="max")
    parser.add_argument("--max-frames", type=int, default=0, help="stop reading after this many frames (0: all)")
    parser.add_argument("--topic-prefix", default="axle/v1")
    options = parser.parse_args()
    speed = None if options.replay_speed == "max" else float(options.replay_speed)

    started = time.monotonic()
    try:
        profile = load_profile(options.profile.rstrip("/"))
        routes, scaling = build_decoders(profile)
    except ProfileError as error:
        log(3, "python-agent", str(error))
        return 1
    collector = Collector(profile, scaling)
    recorder = Recorder(collector.series, options.vehicle_id, profile.name)
    outbox = Outbox(options.data_dir)
    topic = f"{options.topic_prefix}/{options.vehicle_id}/telemetry"
    uplink = Uplink(options.broker, f"python-agent-{options.vehicle_id}")
    frames = decoded_signals = samples = records = undecoded = 0

    def store(body: bytes | None) -> None:
        nonlocal records
        if body is None:
            return
        position, payload = outbox.append(topic, lambda sequence: recorder.payload(body, sequence))
        uplink.publish(topic, position, payload)
        records += 1
        outbox.delete(uplink.take_acknowledged())

    def drain_samples() -> None:
        nonlocal samples
        for series, time_us, value in collector.samples:
            store(recorder.append(series, time_us, value))
        samples += len(collector.samples)
        collector.samples.clear()

    log(6, "python-agent", f"ready in {int((time.monotonic() - started) * 1000)} ms: profile {profile.name}, "
        f"vehicle {options.vehicle_id}, broker {options.broker}")
    reader = can.CanutilsLogReader(options.replay)
    wall_start = time.monotonic()
    first_time = None
    newest = None
    for message in reader:
        if message.is_error_frame or message.is_remote_frame:
            continue
        if options.max_frames and frames >= options.max_frames:
            break
        frames += 1
        time_us = int(round(message.timestamp * 1e6))
        if speed is not None:
            if first_time is None:
                first_time = time_us
            ahead = (time_us - first_time) / 1e6 / speed - (time.monotonic() - wall_start)
            if ahead > 0:
                time.sleep(ahead)
        route = routes.get((message.arbitration_id, message.is_extended_id))
        values = None
        if route is not None:
            try:
                values = route[0].decode(message.data, decode_choices=False)
            except Exception:  # noqa: BLE001 - a frame cantools cannot decode is counted and skipped, as in the agent
                pass
        if values is None:
            undecoded += 1
        else:
            if time_us >= collector.next_deadline:
                collector.advance(time_us)
            if newest is None or time_us > newest:
                newest = time_us
            for name, index in route[1]:
                value = values.get(name)
                if value is not None:
                    collector.ingest(index, time_us, float(value))
                    decoded_signals += 1
        # Samples go to the recorder once per 256 frames, as the agent hands on frames in batches of up to 256.
        if frames % 256 == 0 and newest is not None:
            drain_samples()
            if recorder.due(newest):
                store(recorder.close())
    if newest is not None:
        collector.advance(newest)
    drain_samples()
    store(recorder.close())
    log(6, "source", f"source ended: {frames} frames")

    while True:
        outbox.delete(uplink.take_acknowledged())
        if outbox.depth() == 0:
            break
        time.sleep(0.02)
    log(5, "python-agent", "source ended and the outbox is empty: exiting")
    uplink.stop()
    log(5, "python-agent",
        f"stopped after {time.monotonic() - started:.3f} s: {frames} frames, {decoded_signals} signals decoded, "
        f"{samples} samples and 0 events collected, {records} telemetry records written; {uplink.published} "
        f"published, {uplink.acknowledged} acknowledged, 0 dead-lettered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
