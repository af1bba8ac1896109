#!/usr/bin/env python3
"""The cantools side of `make bench`, and the inputs both sides share.

Usage (from the repository root, after scripts/setup.sh), normally through scripts/bench.sh:

    .venv/bin/python scripts/bench/cantools_bench.py generate-dbcs --corpus .corpus --out DIR
    .venv/bin/python scripts/bench/cantools_bench.py frames --dbc FILE --out LOG [--count N] [--seed N]
    .venv/bin/python scripts/bench/cantools_bench.py decode --dbc FILE --frames LOG [--seconds S] [--no-choices]
    .venv/bin/python scripts/bench/cantools_bench.py parse --dbc FILE [--repeat N]

`frames` writes a candump log of seeded random traffic: frames cycle through every message of the DBC in order,
each with the message's length (padded up to a valid CAN FD length where needed), random payload bytes, and every
multiplexer set to a value that selects some signals, so that multiplexed messages decode as they would on a real
bus. Messages that cantools cannot decode (overlapping signals) are left out, and said so on standard error. Axle's
decode benchmark loads the same log, so both decoders see the same frames and do the same work.

`decode` times `Database.decode_message(frame_id, data)` with cantools' defaults (scaling on, choices decoded to
their labels, containers off, truncated frames refused); only `force_extended_id` is passed, for 29-bit frames whose
id is below 0x800, which is what that argument is for. `--no-choices` passes decode_choices=False instead, for
reference. `parse` times reading the file and `cantools.database.load_string(..., strict=False)` (strict mode
refuses several opendbc files).

Every result is one JSON object on standard output, with the same keys as `axle-bench`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cantools

FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)


def read_dbc_text(path: Path) -> str:
    # The rule Axle and the differential test use: UTF-8 when the whole file is valid UTF-8, else cp1252.
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_database(path: Path) -> Any:
    return cantools.database.load_string(read_dbc_text(path), database_format="dbc", strict=False)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def allowed_cpus() -> str:
    try:
        return ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return "?"


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def is_extended(message: Any) -> bool:
    return bool(message.is_extended_frame or message.frame_id > 0x7FF)


# --------------------------------------------------------------------------
# Inputs


def generate_dbcs(args: argparse.Namespace) -> None:
    """opendbc's generated DBCs (toyota_nodsu_pt_generated.dbc and the others), made by opendbc's own generator."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(args.corpus).resolve()))
    from opendbc.dbc.generator.generator import create_all  # type: ignore

    create_all(str(out))
    if not any(out.glob("*_generated.dbc")):
        sys.exit(f"cantools_bench: the opendbc generator wrote nothing into {out}")


def write_bits(buf: bytearray, signal: Any, raw: int) -> None:
    """Writes the low signal.length bits of raw at the signal's place (Intel or Motorola numbering)."""
    if signal.byte_order == "little_endian":
        positions = [signal.start + k for k in reversed(range(signal.length))]
    else:
        positions, pos = [], signal.start
        for _ in range(signal.length):
            positions.append(pos)
            pos = pos + 15 if pos % 8 == 0 else pos - 1
    limit = 8 * len(buf)
    for k, pos in zip(reversed(range(signal.length)), positions):
        if 0 <= pos < limit:
            if (raw >> k) & 1:
                buf[pos // 8] |= 1 << (pos % 8)
            else:
                buf[pos // 8] &= ~(1 << (pos % 8)) & 0xFF


def multiplexer_values(message: Any) -> dict[str, list[int]]:
    """For each multiplexer signal, the selector values that some signal hangs off."""
    values: dict[str, set[int]] = {s.name: set() for s in message.signals if s.is_multiplexer}
    for s in message.signals:
        if s.multiplexer_signal in values and s.multiplexer_ids:
            values[s.multiplexer_signal].update(s.multiplexer_ids)
    return {name: sorted(v for v in ids if 0 <= v < (1 << message.get_signal_by_name(name).length))
            for name, ids in values.items()}


def benchmark_messages(db: Any, label: str) -> list[Any]:
    """Messages both decoders can decode: no containers, no id defined twice, none that cantools refuses.

    cantools refuses a message whose signals overlap ("unpacking failed"); Axle decodes it. Leaving such messages
    out keeps the comparison to the same frames and the same work on both sides.
    """
    count = collections.Counter((m.frame_id, is_extended(m)) for m in db.messages)
    messages = []
    for m in db.messages:
        if m.is_container or count[(m.frame_id, is_extended(m))] > 1:
            print(f"cantools_bench: {label}: {m.name} left out (container or id defined twice)", file=sys.stderr)
            continue
        try:
            m.decode(bytes(m.length))
        except Exception as e:  # noqa: BLE001 - cantools raises several types here
            print(f"cantools_bench: {label}: {m.name} left out, cantools cannot decode it: {e}", file=sys.stderr)
            continue
        messages.append(m)
    return messages


def write_frames(args: argparse.Namespace) -> None:
    db = load_database(Path(args.dbc))
    messages = benchmark_messages(db, Path(args.dbc).name)
    if not messages:
        sys.exit(f"cantools_bench: {args.dbc} has no message to make frames for")
    rng = random.Random(args.seed)
    plans = [(m, multiplexer_values(m)) for m in messages]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    seconds, micros = 1_700_000_000, 0
    with tmp.open("w") as f:
        lines = []
        for i in range(args.count):
            message, mux = plans[i % len(plans)]
            length = next(n for n in FD_LENGTHS if n >= message.length)
            data = bytearray(rng.randbytes(length))
            for name, values in mux.items():
                if values:
                    write_bits(data, message.get_signal_by_name(name), rng.choice(values))
            ident = f"{message.frame_id:08X}" if is_extended(message) else f"{message.frame_id:03X}"
            body = f"#{data.hex().upper()}" if length <= 8 else f"##0{data.hex().upper()}"
            lines.append(f"({seconds}.{micros:06d}) can0 {ident}{body}\n")
            micros += 100  # 10 000 frames per second of log time
            if micros == 1_000_000:
                seconds, micros = seconds + 1, 0
            if len(lines) == 65536:
                f.writelines(lines)
                lines.clear()
        f.writelines(lines)
    tmp.replace(out)


def read_frames(path: Path) -> list[tuple[int, bytes, bool]]:
    """(frame id, payload, force_extended_id) for each line of a log that `write_frames` made."""
    frames = []
    with path.open() as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            ident, _, data = fields[2].partition("#")
            if data.startswith("#"):
                data = data[2:]  # CAN FD: '#', then the flags nibble
            frame_id = int(ident, 16)
            extended = len(ident) == 8
            if len(ident) not in (3, 8) or data.startswith("R"):
                sys.exit(f"cantools_bench: {path}:{number}: not a data frame this script writes")
            frames.append((frame_id, bytes.fromhex(data), extended and frame_id <= 0x7FF))
    return frames


# --------------------------------------------------------------------------
# Benchmarks


def decode(args: argparse.Namespace) -> None:
    db = load_database(Path(args.dbc))
    frames = read_frames(Path(args.frames))
    if not frames:
        sys.exit(f"cantools_bench: {args.frames} holds no frames")
    choices = not args.no_choices
    decode_message = db.decode_message

    # One untimed pass: counts what a pass does (errors are frames cantools refuses, counted, not fatal).
    decoded = failed = signals_per_pass = 0
    for frame_id, data, force in frames:
        try:
            signals_per_pass += len(decode_message(frame_id, data, choices, True, False, False, force))
            decoded += 1
        except Exception:  # noqa: BLE001 - KeyError for an unknown id, DecodeError for a bad frame
            failed += 1

    # Whole passes while there is time left; a pass can take seconds, so the last one stops at the deadline.
    count = signals = 0
    start_wall, start_cpu = time.perf_counter(), cpu_seconds()
    deadline = start_wall + args.seconds
    done = False
    while not done:
        for block in range(0, len(frames), 1000):
            for frame_id, data, force in frames[block:block + 1000]:
                try:
                    signals += len(decode_message(frame_id, data, choices, True, False, False, force))
                except Exception:  # noqa: BLE001
                    pass
            count += min(1000, len(frames) - block)
            if time.perf_counter() >= deadline:
                done = True
                break
    wall = time.perf_counter() - start_wall
    cpu = cpu_seconds() - start_cpu
    busy = cpu if cpu > 0 else wall
    emit({
        "benchmark": "decode",
        "implementation": "cantools" if choices else "cantools-no-choices",
        "cantools_version": cantools.__version__,
        "decode_choices": choices,
        "dbc": Path(args.dbc).name,
        "frames_file": Path(args.frames).name,
        "frames_in_set": len(frames),
        "decoded_per_pass": decoded,
        "failed_per_pass": failed,
        "signals_per_pass": signals_per_pass,
        "signals_per_frame": signals_per_pass / len(frames),
        "frames": count,
        "signals": signals,
        "wall_s": wall,
        "cpu_s": cpu,
        "frames_per_s": count / busy,
        "frames_per_s_wall": count / wall,
        "ns_per_frame": busy * 1e9 / count,
        "ns_per_signal": busy * 1e9 / signals if signals else None,
        "cpus": allowed_cpus(),
    })


def decode_cli(args: argparse.Namespace) -> None:
    """Whole processes over one candump log, output to /dev/null: `axle dbc decode --format jsonl` (median of
    --repeat runs) against cantools' decode_message + json.dumps of a comparable object per frame, in this process.
    The cantools side does less than axle: axle also writes each signal's raw value (a second decode for cantools)."""
    log = Path(args.log)
    command = [args.axle, "dbc", "decode", "--dbc", args.dbc, "--format", "jsonl", str(log)]
    runs = []
    for _ in range(args.repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"cantools_bench: {' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        runs.append((wall, cpu))
    frames = sum(1 for line in log.open() if line.strip())
    wall, cpu = sorted(runs)[len(runs) // 2]
    emit({
        "benchmark": "decode_cli", "implementation": "axle", "dbc": Path(args.dbc).name, "log": log.name,
        "frames": frames, "repeat": args.repeat, "wall_s": wall, "cpu_s": cpu,
        "wall_s_runs": [run_wall for run_wall, _ in runs], "frames_per_s": frames / wall, "output": "jsonl (time, bus, id, flags, message, each signal's raw, value, label)",
    })

    db = load_database(Path(args.dbc))
    decode_message = db.decode_message
    names = {m.frame_id: m.name for m in db.messages}
    dumps = json.dumps
    start = time.perf_counter()
    start_cpu = cpu_seconds()
    count = 0
    with open(os.devnull, "w") as sink, log.open() as source:
        for line in source:
            fields = line.split()
            if len(fields) < 3:
                continue
            ident, _, data = fields[2].partition("#")
            fd = data.startswith("#")
            if fd:
                data = data[2:]
            frame_id = int(ident, 16)
            payload = bytes.fromhex(data)
            try:
                signals = decode_message(frame_id, payload, True, True, False, False, len(ident) == 8 and frame_id <= 0x7FF)
            except Exception:  # noqa: BLE001 - an unknown id or a frame cantools refuses: printed without signals
                signals = {}
            sink.write(dumps({
                "t": float(fields[0][1:-1]), "bus": fields[1], "id": frame_id, "ext": len(ident) == 8, "fd": fd,
                "msg": names.get(frame_id), "sig": {k: str(v) if not isinstance(v, (int, float)) else v for k, v in signals.items()},
            }))
            sink.write("\n")
            count += 1
    wall = time.perf_counter() - start
    emit({
        "benchmark": "decode_cli", "implementation": "cantools", "cantools_version": cantools.__version__,
        "dbc": Path(args.dbc).name, "log": log.name, "frames": count, "repeat": 1, "wall_s": wall,
        "cpu_s": cpu_seconds() - start_cpu, "frames_per_s": count / wall,
        "output": "one json.dumps per frame: time, bus, id, flags, message, each signal's value or label (no raw values)",
    })


def parse(args: argparse.Namespace) -> None:
    path = Path(args.dbc)
    times = []
    db = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        db = load_database(path)
        times.append((time.perf_counter() - start) * 1000)
    emit({
        "benchmark": "parse",
        "implementation": "cantools",
        "cantools_version": cantools.__version__,
        "dbc": path.name,
        "file_bytes": path.stat().st_size,
        "messages": len(db.messages),
        "signals": sum(len(m.signals) for m in db.messages),
        "repeat": args.repeat,
        "first_ms": times[0],
        "min_ms": min(times),
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "cpus": allowed_cpus(),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate-dbcs", help="write opendbc's generated DBCs into a folder")
    p.add_argument("--corpus", default=".corpus", help="folder holding opendbc/ (scripts/setup.sh makes it)")
    p.add_argument("--out", required=True)
    p.set_defaults(run=generate_dbcs)

    p = sub.add_parser("frames", help="write a candump log of seeded random frames for every message of a DBC")
    p.add_argument("--dbc", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(run=write_frames)

    p = sub.add_parser("decode", help="time decode_message over the frames of a log")
    p.add_argument("--dbc", required=True)
    p.add_argument("--frames", required=True)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--no-choices", action="store_true", help="decode_choices=False (numbers instead of labels)")
    p.set_defaults(run=decode)

    p = sub.add_parser("decode-cli", help="time axle dbc decode --format jsonl and cantools + json.dumps on one log")
    p.add_argument("--axle", required=True, help="the axle executable")
    p.add_argument("--dbc", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--repeat", type=int, default=3)
    p.set_defaults(run=decode_cli)

    p = sub.add_parser("parse", help="time loading a DBC")
    p.add_argument("--dbc", required=True)
    p.add_argument("--repeat", type=int, default=2)
    p.set_defaults(run=parse)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
