#!/usr/bin/env python3
"""Decode an Axle telemetry payload and print its samples and events as JSON lines.

    .venv/bin/python examples/python/decode_telemetry.py PAYLOAD_FILE...
    mosquitto_sub -h BROKER -t TELEMETRY_TOPIC -C 1 -N | .venv/bin/python examples/python/decode_telemetry.py

Reads each file named (or standard input when none is), whatever its format: zstd-compressed protobuf (what
vehicles send), plain protobuf, or the JSON form. Prints one JSON object per sample:

    {"vehicle_id": "VIN123", "sequence": 42, "signal": "Engine.Speed", "unit": "rpm", "time_us": 1767225600000000,
     "value": 812.5, "raw": 3250}

("raw" only for integer series), then one per event ({"event": "harsh_braking", ...}). Values that JSON cannot
hold (NaN, infinities) are printed as the strings "NaN", "Infinity" and "-Infinity", as protobuf's JSON mapping does.

Needs the `protobuf` and `zstandard` packages (scripts/setup.sh installs both into .venv) and axle_telemetry_pb2.py,
generated from Protos/axle/telemetry/v1/telemetry.proto by scripts/generate-proto.sh, next to this file.
"""

import json
import math
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zstandard  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

import axle_telemetry_pb2 as telemetry  # noqa: E402

SCHEMA_VERSION = 1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Far above any real batch; a decompression bomb stops here instead of filling memory.
MAX_DECOMPRESSED = 4 << 20


class PayloadError(Exception):
    """The bytes are not an Axle telemetry payload this script can read."""


def wrap_int64(value):
    """Running sums wrap at 64 bits on the wire (two's complement), as in the Swift encoder."""
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)


def decompress(data):
    """zstd frames, decompressed, refusing more than MAX_DECOMPRESSED bytes whatever the header claims."""
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    chunks, total = [], 0
    try:
        while True:
            chunk = reader.read(64 * 1024)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_DECOMPRESSED:
                raise PayloadError(f"the zstd payload decompresses to more than {MAX_DECOMPRESSED} bytes")
            chunks.append(chunk)
    except zstandard.ZstdError as error:
        raise PayloadError(f"the zstd payload is corrupt or truncated: {error}") from error
    return b"".join(chunks)


def parse(data):
    """A TelemetryBatch from any of the three formats."""
    if data.startswith(ZSTD_MAGIC):
        data = decompress(data)
    batch = telemetry.TelemetryBatch()
    try:
        if data.lstrip().startswith(b"{"):
            json_format.Parse(data.decode("utf-8"), batch, ignore_unknown_fields=True)
        else:
            batch.ParseFromString(data)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as error:
        raise PayloadError(f"not a telemetry batch: {error}") from error
    if batch.schema_version != SCHEMA_VERSION:
        raise PayloadError(f"schema_version {batch.schema_version}; this script reads version {SCHEMA_VERSION}")
    return batch


def samples(series, batch):
    """(time_us, value, raw or None) for each sample of a series, undoing the delta encoding."""
    times = series.time_deltas
    is_integer = len(series.raw_deltas) > 0
    column = series.raw_deltas if is_integer else series.values
    if len(column) != len(times):
        raise PayloadError(f"series {series.name!r} has {len(times)} times but {len(column)} values")
    offset, raw = 0, 0
    for index, delta in enumerate(times):
        offset = wrap_int64(offset + delta)
        time_us = batch.time_base_unix_micros + offset * batch.time_unit_micros
        if is_integer:
            raw = wrap_int64(raw + column[index])
            yield time_us, raw * series.factor + series.offset, raw
        else:
            yield time_us, column[index], None


def not_readings(series, batch):
    """(time_us, "not_available" or "error") where the series would have had a sample but the vehicle's value was
    not a reading; the times are a running sum of their own, encoded like the samples'."""
    times = series.not_reading_time_deltas
    if len(series.not_readings) != len(times):
        raise PayloadError(f"series {series.name!r} has {len(times)} not_reading_time_deltas "
                           f"but {len(series.not_readings)} not_readings")
    offset = 0
    for index, delta in enumerate(times):
        offset = wrap_int64(offset + delta)
        time_us = batch.time_base_unix_micros + offset * batch.time_unit_micros
        # 0 (never written) and kinds of later schema versions read as "not available": there is no reading either way.
        yield time_us, "error" if series.not_readings[index] == telemetry.NOT_READING_ERROR else "not_available"


def json_number(value):
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def sample_lines(batch):
    header = {"vehicle_id": batch.vehicle_id, "sequence": batch.sequence}
    for series in batch.series:
        for time_us, value, raw in samples(series, batch):
            line = dict(header, signal=series.name, unit=series.unit, time_us=time_us, value=json_number(value))
            if raw is not None:
                line["raw"] = raw
            yield line
        for time_us, status in not_readings(series, batch):
            yield dict(header, signal=series.name, unit=series.unit, time_us=time_us, status=status)
    for event in batch.events:
        line = dict(header, event=event.name, time_us=event.time_unix_micros, priority=event.priority,
                    attributes=dict(event.attributes))
        if event.dropped_ranges:
            line["dropped_ranges"] = [
                {"record_class": r.record_class, "first": r.first, "last": r.last, "count": r.count,
                 "reason": r.reason}
                for r in event.dropped_ranges
            ]
        if event.HasField("window"):
            line["window"] = [
                {"signal": series.name, "time_us": time_us, "value": json_number(value)}
                for series in event.window.series
                for time_us, value, _ in samples(series, batch)
            ]
        yield line


def main(paths):
    sources = paths or ["-"]
    for path in sources:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as file:
                data = file.read()
        try:
            for line in sample_lines(parse(data)):
                print(json.dumps(line, allow_nan=False))
        except PayloadError as error:
            print(f"decode_telemetry: {path}: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    # Piped into `head`: stop quietly when the reader goes away.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main(sys.argv[1:]))
