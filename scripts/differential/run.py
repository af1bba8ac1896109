#!/usr/bin/env python3
"""Differential test: Axle's DBC decoder against cantools 45.1.0.

Usage (from the repository root, after scripts/setup.sh):

    .venv/bin/python scripts/differential/run.py --axle .build/debug/axle
        [--corpus .corpus] [--work .build/differential] [--only SUBSTRING]
        [--seed N] [--dry-run] [--verbose]

For every DBC of the corpus (opendbc's hand-written and generated files, and
cantools' own test files) the script synthesises CAN frames for each message,
writes them to a candump log, decodes the log with `axle dbc decode --format
jsonl` and compares every signal's raw value, physical value and label with
what cantools computes for the same bytes.  Files cantools refuses are still
given to `axle dbc inspect`, which must accept them unless they are listed in
EXPECTED_REJECTIONS.

Any disagreement that is not matched by DOCUMENTED fails the file.  The last
line of output is always `N passed, M failed` (counting files); the exit
status is 1 when any file failed.  --dry-run exercises only the generation and
cantools side (no Axle needed), which is how the harness itself is tested.

Everything the run produced (generated DBCs, logs, Axle's output and stderr,
report.json with every disagreement) is left in the work directory so a
failure can be reproduced by hand with the printed command.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import fnmatch
import json
import logging
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cantools

REPO_ROOT = Path(__file__).resolve().parents[2]

# Disagreement classes that are known and intentional.  Keys are fnmatch
# patterns over "CAUSE:FILE:MESSAGE:SIGNAL" (FILE is the label printed in the
# report, e.g. "cantools/vehicle.dbc"; MESSAGE and SIGNAL are empty when the
# disagreement is not about one), values are the one-line justification.
# Causes are the keys of CAUSES below.  Keep every entry narrow: a pattern
# like "value:*" would hide real regressions.
DOCUMENTED: dict[str, str] = {
    # docs/dbc.md, "Multiplexing": SG_MUL_VAL_ names MO2_Mp_Code as the switch of m0..m3, but its own marker is a
    # bare "m"; cantools then never decodes those signals, Axle decodes the one the switch selects.
    "extra-signal:opendbc/vw_pq.dbc:Motor_2:*":
        "switch with a malformed marker named by SG_MUL_VAL_: Axle decodes the selected signal, cantools none",
}

# Files Axle must reject (`axle dbc inspect` exits non-zero), with the reason.
# They are not decoded.  Keys are file labels as printed in the report.
EXPECTED_REJECTIONS: dict[str, str] = {
    "cantools/issue_199_extended.dbc":
        "BO_ 4294967295: the id without the extended flag is 0x7FFFFFFF, beyond 29 bits",
}

# What each disagreement cause means; printed next to the examples.
CAUSES: dict[str, str] = {
    "axle-exit": "axle exited with an unexpected status",
    "axle-output": "axle's output is not one JSON object per input frame",
    # For "frame" the SIGNAL slot of the key holds the field name (t, id, ...).
    "frame": "t/bus/id/ext/fd of an output line does not echo the input frame",
    "msg": "message name differs (or axle did not match the id)",
    "axle-err": "axle reports err on a frame cantools decodes",
    "missing-signal": "cantools decodes a signal axle does not report",
    "extra-signal": "axle reports a signal cantools does not decode",
    "raw": "raw value differs (or int/float kind differs)",
    "value": "scaled value differs (or an integer printed as a float)",
    "label": "VAL_ label differs (text or presence)",
}

# Frame synthesis parameters.  Walking bits and sign-bit patterns catch layout
# mistakes bit by bit; the random payloads catch everything else (sign
# extension, scaling, choices); per-multiplexer-value payloads make sure every
# multiplexed branch is exercised rather than only the ones chance selects.
RANDOM_PAYLOADS = 8
PAYLOADS_PER_MUX_VALUE = 3
# Safety valve for pathological multiplexers (thousands of values).
MAX_FRAMES_PER_MESSAGE = 4000

LOG_BASE_US = 1_700_000_000_000_000  # first timestamp of every log, in µs
AXLE_TIMEOUT_S = 300


@dataclasses.dataclass
class Frame:
    data: bytes
    # Raw values the generator wrote on purpose, keyed by signal name.  Checked
    # against cantools' decode so a bug in write_signal() cannot silently turn
    # the mux/sign tests into more random payloads.
    intended: dict[str, int]


@dataclasses.dataclass
class Disagreement:
    cause: str
    file: str
    message: str = ""
    signal: str = ""
    frame: str = ""  # candump-style "ID#HEX" of the frame, when there is one
    axle: str = ""
    cantools: str = ""
    documented: str | None = None  # the DOCUMENTED reason, when one matches

    def key(self) -> str:
        return f"{self.cause}:{self.file}:{self.message}:{self.signal}"


@dataclasses.dataclass
class FileResult:
    label: str
    path: Path
    refused: str | None = None  # cantools' reason, when it refused the file
    rejected: bool = False  # listed in EXPECTED_REJECTIONS
    messages: int = 0
    frames_compared: int = 0
    cantools_undecodable: int = 0
    # cantools' error messages with the numbers cut off, so they group.
    undecodable_reasons: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    # What Axle did with the frames cantools could not decode: informative.
    undecodable_axle_err: int = 0
    undecodable_axle_decoded: int = 0
    skipped_messages: list[str] = dataclasses.field(default_factory=list)
    disagreements: list[Disagreement] = dataclasses.field(default_factory=list)
    command: list[str] = dataclasses.field(default_factory=list)

    def undocumented(self) -> list[Disagreement]:
        return [d for d in self.disagreements if d.documented is None]

    @property
    def failed(self) -> bool:
        return bool(self.undocumented())


class HarnessError(Exception):
    """A bug in this script rather than a disagreement between decoders."""


# --------------------------------------------------------------------------
# Corpus


def collect_files(corpus: Path, work: Path) -> list[tuple[str, Path]]:
    """Returns (label, path) for every DBC under test, in a stable order."""
    files: list[tuple[str, Path]] = []
    opendbc = corpus / "opendbc" / "dbc"
    files += [(f"opendbc/{p.name}", p) for p in sorted(opendbc.glob("*.dbc"))]

    # The generated files are part of what opendbc users actually load, and
    # they exercise the include mechanism's concatenation artefacts.
    generated_dir = work / "generated"
    generated_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(corpus))
    from opendbc.dbc.generator.generator import create_all  # type: ignore
    create_all(str(generated_dir))
    generated = sorted(generated_dir.glob("*_generated.dbc"))
    if not generated:
        raise HarnessError(f"opendbc generator wrote nothing into {generated_dir}")
    files += [(f"generated/{p.name}", p) for p in generated]

    cantools_dir = corpus / "cantools" / "tests" / "files" / "dbc"
    files += [(f"cantools/{p.name}", p) for p in sorted(cantools_dir.iterdir())
              if p.is_file() and p.suffix.lower() == ".dbc"]
    return files


def read_dbc_text(path: Path) -> str:
    # Same rule as Axle: UTF-8 when the whole file is valid UTF-8, else
    # cp1252 (several Vector-written files in the corpus are cp1252).
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


# --------------------------------------------------------------------------
# Frame synthesis


def signal_bit_positions(signal: Any) -> list[int]:
    """Payload bit positions of a signal, most significant bit first.

    Position p means bit p % 8 (0 = LSB) of byte p // 8.  Intel signals start
    at their LSB and grow upwards; Motorola signals start at their MSB in DBC
    "sawtooth" numbering and continue towards the LSB, wrapping from bit 0 of
    a byte to bit 7 of the next byte.
    """
    if signal.byte_order == "little_endian":
        return [signal.start + k for k in reversed(range(signal.length))]
    positions = []
    pos = signal.start
    for _ in range(signal.length):
        positions.append(pos)
        pos = pos + 15 if pos % 8 == 0 else pos - 1
    return positions


def write_signal(buf: bytearray, signal: Any, raw: int) -> None:
    """Writes the low signal.length bits of raw into buf at signal's place.

    Bits that fall outside the payload (broken DBCs) are dropped rather than
    raising: such frames still make a fine test for both decoders.
    """
    limit = 8 * len(buf)
    for k, pos in zip(reversed(range(signal.length)), signal_bit_positions(signal)):
        if 0 <= pos < limit:
            if (raw >> k) & 1:
                buf[pos // 8] |= 1 << (pos % 8)
            else:
                buf[pos // 8] &= ~(1 << (pos % 8)) & 0xFF


def as_signed(signal: Any, raw: int) -> int:
    """What a decoder should read back after write_signal(raw)."""
    raw &= (1 << signal.length) - 1
    if signal.is_signed and raw >> (signal.length - 1):
        return raw - (1 << signal.length)
    return raw


def mux_values_with_children(message: Any) -> dict[str, list[int]]:
    """For every multiplexer signal, the selector values some signal hangs off."""
    values: dict[str, set[int]] = {s.name: set() for s in message.signals if s.is_multiplexer}
    for s in message.signals:
        if s.multiplexer_signal in values and s.multiplexer_ids:
            values[s.multiplexer_signal].update(s.multiplexer_ids)
    return {name: sorted(ids) for name, ids in values.items()}


def mux_chain(message: Any, mux: Any, value: int, rng: random.Random) -> list[tuple[Any, int]]:
    """Selector assignments, outermost first, that make `mux == value` reachable.

    With extended multiplexing a multiplexer can itself be multiplexed; its
    value only matters when every enclosing multiplexer selects it, so pick
    one of its enabling values at each level up.
    """
    chain = [(mux, value)]
    seen = {mux.name}
    current = mux
    while current.multiplexer_signal is not None and current.multiplexer_ids:
        parent = message.get_signal_by_name(current.multiplexer_signal)
        if parent.name in seen:  # malformed cycle; the chain so far is still useful
            break
        seen.add(parent.name)
        chain.append((parent, rng.choice(sorted(current.multiplexer_ids))))
        current = parent
    return list(reversed(chain))


def frames_for_message(message: Any, rng: random.Random) -> list[Frame]:
    n = message.length
    frames: dict[bytes, dict[str, int]] = {}  # dict: dedupe, keep order

    def add(data: bytes | bytearray, intended: dict[str, int] | None = None) -> None:
        frames.setdefault(bytes(data), intended or {})

    for _ in range(RANDOM_PAYLOADS):
        add(rng.randbytes(n))
    add(bytes(n))
    add(b"\xff" * n)
    for bit in range(8 * n):
        buf = bytearray(n)
        buf[bit // 8] = 1 << (bit % 8)
        add(buf)

    for s in message.signals:
        if not s.is_signed or s.is_float:
            continue
        for raw in (1 << (s.length - 1), (1 << s.length) - 1):
            buf = bytearray(n)
            write_signal(buf, s, raw)
            add(buf, {s.name: as_signed(s, raw)})

    for mux_name, values in mux_values_with_children(message).items():
        mux = message.get_signal_by_name(mux_name)
        for value in values:
            chain = mux_chain(message, mux, value, rng)
            # A selector value the signal cannot hold makes its children
            # unreachable; nothing to test.
            if any(v < 0 or v >> sig.length for sig, v in chain):
                continue
            for _ in range(PAYLOADS_PER_MUX_VALUE):
                buf = bytearray(rng.randbytes(n))
                for sig, v in chain:
                    write_signal(buf, sig, v)
                add(buf, {sig.name: as_signed(sig, v) for sig, v in chain})

    # A CAN FD frame can only carry some lengths, and Axle (rightly) rejects
    # log lines with others; a real bus would pad such a message up to the
    # next valid length.  cantools ignores bytes beyond message.length.
    pad = bytes(wire_length(n) - n)
    return [Frame(data + pad, intended)
            for data, intended in frames.items()][:MAX_FRAMES_PER_MESSAGE]


FD_LENGTHS = (12, 16, 20, 24, 32, 48, 64)


def wire_length(length: int) -> int:
    """The shortest frame length able to carry a message of `length` bytes."""
    if length <= 8:
        return length
    # Beyond 64 bytes there is no frame at all; leave it for Axle to reject.
    return next((n for n in FD_LENGTHS if n >= length), length)


def frame_is_extended(message: Any) -> bool:
    # Axle's documented policy: an id that does not fit 11 bits is extended
    # even when the DBC forgot the extended flag.
    return message.is_extended_frame or message.frame_id > 0x7FF


def frame_is_fd(message: Any) -> bool:
    return message.is_fd or message.length > 8


def candump_frame(message: Any, data: bytes) -> str:
    """The "ID#HEX" part of a candump line (also used to name frames in reports)."""
    ident = f"{message.frame_id:08X}" if frame_is_extended(message) else f"{message.frame_id:03X}"
    sep = "##0" if frame_is_fd(message) else "#"
    return f"{ident}{sep}{data.hex().upper()}"


def log_timestamp(index: int) -> str:
    us = LOG_BASE_US + index + 1
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


# --------------------------------------------------------------------------
# Reference (cantools)


@dataclasses.dataclass
class Reference:
    raw: dict[str, Any] | None = None  # None: cantools could not decode
    scaled: dict[str, Any] | None = None
    error: str = ""


def cantools_reference(message: Any, frame: Frame) -> Reference:
    try:
        raw = message.decode(frame.data, decode_choices=False, scaling=False)
        scaled = message.decode(frame.data, decode_choices=False, scaling=True)
    except Exception as e:  # noqa: BLE001 - any failure means "no reference"
        return Reference(error=f"{type(e).__name__}: {e}")
    if raw.keys() != scaled.keys():
        # cantools selects multiplexed branches by the *scaled* selector
        # value, so a scaled selector could pick a different branch for each
        # call; there is no single reference then.
        return Reference(error="cantools selects different mux branches raw vs scaled")
    for name, want in frame.intended.items():
        got = raw.get(name)
        if got is not None and got != want:
            raise HarnessError(f"{message.name}.{name}: wrote raw {want}, cantools reads {got} "
                               f"from {frame.data.hex()}")
    return Reference(raw=raw, scaled=scaled)


# --------------------------------------------------------------------------
# Comparison


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def same_number(axle: Any, ref: int | float) -> bool:
    """Axle's JSON number against cantools' Python number.

    A Python int (cantools' result for integer signals with integral scaling)
    must come back as the same JSON integer: printing 3.0 or rounding a big
    value through a double are both bugs.  A float must be equal as a double;
    non-finite floats may be printed as null, and NaN matches NaN.
    """
    if isinstance(ref, int):
        return type(axle) is int and axle == ref
    if not math.isfinite(ref):
        if axle is None:
            return True
        return isinstance(axle, float) and (axle == ref or (math.isnan(axle) and math.isnan(ref)))
    if not is_number(axle):
        return False
    try:
        return float(axle) == ref
    except OverflowError:
        return False


# Marks a JSON key that is missing, as opposed to present with value null.
_ABSENT = object()


def show(x: Any) -> str:
    return "absent" if x is _ABSENT else json.dumps(x)


def compare_frame(result: FileResult, message: Any, frame: Frame, index: int,
                  line: dict[str, Any], ref: Reference) -> None:
    name = candump_frame(message, frame.data)

    def disagree(cause: str, signal: str = "", axle: Any = _ABSENT, want: Any = _ABSENT) -> None:
        result.disagreements.append(Disagreement(
            cause, result.label, message.name, signal, name, show(axle), show(want)))

    expected_meta = {"bus": "can0", "id": message.frame_id,
                     "ext": frame_is_extended(message), "fd": frame_is_fd(message)}
    for key, want in expected_meta.items():
        got = line.get(key, _ABSENT)
        # Compare types too: in Python 1 == True, in JSON they differ.
        if type(got) is not type(want) or got != want:
            disagree("frame", key, got, want)
    t = line.get("t", _ABSENT)
    want_t = float(log_timestamp(index))
    if not is_number(t) or abs(t - want_t) > 1.5e-6:
        disagree("frame", "t", t, want_t)

    if line.get("msg", _ABSENT) != message.name:
        disagree("msg", "", line.get("msg", _ABSENT), message.name)
        return

    if ref.raw is None:
        if "err" in line:
            result.undecodable_axle_err += 1
        else:
            result.undecodable_axle_decoded += 1
        return

    result.frames_compared += 1
    if "err" in line:
        disagree("axle-err", "", line["err"], "decodes")
        return
    sigs = line.get("sig", _ABSENT)
    if not isinstance(sigs, dict):
        disagree("axle-output", "", sigs, "an object of signals")
        return

    for sig_name in sorted(ref.raw.keys() - sigs.keys()):
        disagree("missing-signal", sig_name, _ABSENT, ref.raw[sig_name])
    for sig_name in sorted(sigs.keys() - ref.raw.keys()):
        disagree("extra-signal", sig_name, sigs[sig_name], _ABSENT)

    for sig_name in sorted(ref.raw.keys() & sigs.keys()):
        got = sigs[sig_name]
        if not isinstance(got, dict):
            disagree("axle-output", sig_name, got, "an object with raw/value")
            continue
        raw, scaled = ref.raw[sig_name], ref.scaled[sig_name]
        if not same_number(got.get("raw", _ABSENT), raw):
            disagree("raw", sig_name, got.get("raw", _ABSENT), raw)
        if not same_number(got.get("value", _ABSENT), scaled):
            disagree("value", sig_name, got.get("value", _ABSENT), scaled)
        signal = message.get_signal_by_name(sig_name)
        choice = signal.choices.get(raw) if signal.choices else None
        want_label = _ABSENT if choice is None else str(choice)
        if got.get("label", _ABSENT) != want_label:
            disagree("label", sig_name, got.get("label", _ABSENT), want_label)


# --------------------------------------------------------------------------
# Running Axle


def run_inspect(axle: Path, result: FileResult) -> None:
    """For files with no cantools reference: Axle must load (or reject) them."""
    cmd = [str(axle), "dbc", "inspect", str(result.path), "--json"]
    result.command = cmd
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=AXLE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        result.disagreements.append(Disagreement("axle-exit", result.label, axle="timeout"))
        return
    expected_reason = EXPECTED_REJECTIONS.get(result.label)
    stderr = proc.stderr.decode(errors="replace").strip().splitlines()
    first_err = stderr[0] if stderr else ""
    if expected_reason is not None:
        if proc.returncode == 0:
            result.disagreements.append(Disagreement(
                "axle-exit", result.label, axle="exit 0", cantools=f"rejection: {expected_reason}"))
        return
    if proc.returncode != 0:
        result.disagreements.append(Disagreement(
            "axle-exit", result.label, axle=f"exit {proc.returncode}: {first_err}", cantools="exit 0"))
        return
    try:
        json.loads(proc.stdout)
    except ValueError as e:
        result.disagreements.append(Disagreement(
            "axle-output", result.label, axle=f"inspect --json: {e}", cantools="valid JSON"))


def start_decode(axle: Path, result: FileResult, log: Path, out: Path, err: Path) -> subprocess.Popen:
    cmd = [str(axle), "dbc", "decode", "--dbc", str(result.path), "--format", "jsonl", str(log)]
    result.command = cmd
    # Output goes to files, not pipes, so Axle runs to completion on the other
    # core while this process computes the cantools reference.
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(cmd, stdout=stdout, stderr=stderr)


def read_decode_output(proc: subprocess.Popen, result: FileResult, out: Path, err: Path,
                       expected_lines: int) -> list[dict[str, Any]] | None:
    try:
        status = proc.wait(timeout=AXLE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        result.disagreements.append(Disagreement("axle-exit", result.label, axle="timeout"))
        return None
    if status != 0:
        lines = err.read_text(errors="replace").strip().splitlines()
        result.disagreements.append(Disagreement(
            "axle-exit", result.label, axle=f"exit {status}: {lines[0] if lines else ''}",
            cantools="exit 0"))
        return None
    parsed = []
    for number, text in enumerate(out.read_text(errors="replace").splitlines(), 1):
        try:
            obj = json.loads(text)
        except ValueError as e:
            obj = None
            problem = str(e)
        else:
            problem = "not an object"
        if not isinstance(obj, dict):
            result.disagreements.append(Disagreement(
                "axle-output", result.label, axle=f"line {number}: {problem}: {text[:80]}",
                cantools="JSON object"))
            return None
        parsed.append(obj)
    if len(parsed) != expected_lines:
        # Usually Axle skipped log lines it finds malformed; its stderr says why.
        lines = err.read_text(errors="replace").strip().splitlines()
        result.disagreements.append(Disagreement(
            "axle-output", result.label,
            axle=f"{len(parsed)} lines; stderr: {lines[0] if lines else '(empty)'}",
            cantools=f"{expected_lines} lines (one per frame)"))
        return None
    return parsed


# --------------------------------------------------------------------------
# Per file


def message_key(message: Any) -> tuple[int, bool]:
    return message.frame_id, frame_is_extended(message)


def check_file(label: str, path: Path, axle: Path | None, work: Path, seed: int) -> FileResult:
    result = FileResult(label, path)
    if label in EXPECTED_REJECTIONS:
        # cantools' opinion does not matter here: Axle must say no.
        result.rejected = True
        if axle is not None:
            run_inspect(axle, result)
        return result

    try:
        db = cantools.database.load_string(read_dbc_text(path), database_format="dbc", strict=False)
    except Exception as e:  # noqa: BLE001 - cantools raises many types here
        # Multi-line messages ("unused VAL_ entries in DBC:\n    VAL_ ...")
        # are folded so the report keeps one line per file.
        result.refused = " ".join(str(e).split())[:300] or type(e).__name__
        if axle is not None:
            run_inspect(axle, result)
        return result

    # Two messages with the same id make "which one decodes this frame" an
    # arbitrary choice; such frames would test tie-breaking, not decoding.
    key_count = collections.Counter(message_key(m) for m in db.messages)
    messages = []
    for m in db.messages:
        if m.is_container:
            result.skipped_messages.append(f"{m.name} (container)")
        elif key_count[message_key(m)] > 1:
            result.skipped_messages.append(f"{m.name} (id {m.frame_id:#x} defined twice)")
        else:
            messages.append(m)
    result.messages = len(messages)

    # Seeding per message keeps a message's frames identical whatever --only
    # selects, so a failure can be reproduced on a single file.
    plan: list[tuple[Any, Frame]] = []
    for m in messages:
        rng = random.Random(f"{seed}:{label}:{m.name}")
        plan += [(m, f) for f in frames_for_message(m, rng)]

    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    log, out, err = (work / "logs" / f"{stem}{ext}" for ext in (".log", ".jsonl", ".stderr"))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        for i, (m, frame) in enumerate(plan):
            f.write(f"({log_timestamp(i)}) can0 {candump_frame(m, frame.data)}\n")

    proc = start_decode(axle, result, log, out, err) if axle is not None else None
    refs = [cantools_reference(m, frame) for m, frame in plan]
    result.cantools_undecodable = sum(r.raw is None for r in refs)
    result.undecodable_reasons.update(re.split(r"\d", r.error)[0].rstrip(" ,:")
                                      for r in refs if r.raw is None)

    if proc is None:  # dry run: the reference alone
        result.frames_compared = len(plan) - result.cantools_undecodable
        return result
    lines = read_decode_output(proc, result, out, err, len(plan))
    if lines is None:
        return result
    for i, ((m, frame), ref, line) in enumerate(zip(plan, refs, lines)):
        compare_frame(result, m, frame, i, line, ref)
    return result


def classify(result: FileResult) -> None:
    for d in result.disagreements:
        for pattern, reason in DOCUMENTED.items():
            if fnmatch.fnmatchcase(d.key(), pattern):
                d.documented = reason
                break


# --------------------------------------------------------------------------
# Reporting


def summarise_causes(disagreements: list[Disagreement]) -> str:
    counts = collections.Counter(d.cause for d in disagreements)
    return ", ".join(f"{cause}×{n}" for cause, n in counts.most_common())


def pick_examples(disagreements: list[Disagreement], limit: int) -> list[Disagreement]:
    """One example per (cause, file) first, so 20 lines show 20 different problems."""
    chosen, seen = [], set()
    for d in disagreements:
        if (d.cause, d.file) not in seen:
            seen.add((d.cause, d.file))
            chosen.append(d)
    for d in disagreements:
        if len(chosen) >= limit:
            break
        if d not in chosen:
            chosen.append(d)
    return chosen[:limit]


def write_report(path: Path, results: list[FileResult]) -> None:
    report = [{
        "file": r.label, "path": str(r.path), "refused": r.refused,
        "expected_rejection": EXPECTED_REJECTIONS.get(r.label), "messages": r.messages,
        "frames_compared": r.frames_compared, "cantools_undecodable": r.cantools_undecodable,
        "undecodable_reasons": r.undecodable_reasons,
        "undecodable_axle_err": r.undecodable_axle_err,
        "undecodable_axle_decoded": r.undecodable_axle_decoded,
        "skipped_messages": r.skipped_messages, "command": r.command,
        "disagreements": [dataclasses.asdict(d) for d in r.disagreements],
    } for r in results]
    path.write_text(json.dumps(report, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--axle", type=Path, help="the axle binary (not needed with --dry-run)")
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT / ".corpus")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / ".build" / "differential")
    parser.add_argument("--only", default="", help="only files whose label contains SUBSTRING")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dry-run", action="store_true",
                        help="generate frames and decode them with cantools only")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also list refused files and skipped messages")
    args = parser.parse_args()
    if not args.dry_run and args.axle is None:
        parser.error("--axle is required unless --dry-run is given")
    axle = None if args.dry_run else args.axle.resolve()
    if axle is not None and not os.access(axle, os.X_OK):
        parser.error(f"{axle} is not an executable")

    # cantools logs a warning for every oddity of the corpus; the refusals and
    # results that matter are reported below.
    logging.getLogger("cantools").setLevel(logging.ERROR)

    started = time.monotonic()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    files = [(label, path) for label, path in collect_files(args.corpus.resolve(), work)
             if args.only in label]
    if not files:
        # A mistyped --only must not look like a clean run.
        parser.error(f"no DBC file label contains {args.only!r}")

    results = []
    for label, path in files:
        result = check_file(label, path, axle, work, args.seed)
        classify(result)
        results.append(result)
        if result.failed:
            print(f"FAIL {label}: {result.frames_compared} frames compared, "
                  f"{len(result.undocumented())} disagreements "
                  f"({summarise_causes(result.undocumented())})")
            print(f"     {' '.join(result.command)}")
        if args.verbose:
            if result.refused:
                print(f"note {label}: cantools refuses: {result.refused}")
            for skipped in result.skipped_messages:
                print(f"note {label}: skipped {skipped}")
    write_report(work / "report.json", results)

    loaded = [r for r in results if r.refused is None and not r.rejected]
    refused = [r for r in results if r.refused is not None]
    rejected = [r for r in results if r.rejected]
    undocumented = [d for r in results for d in r.undocumented()]
    documented = [d for r in results for d in r.disagreements if d.documented is not None]
    print()
    print(f"files: {len(results)} ({len(loaded)} decoded, {len(refused)} refused by cantools "
          f"and only inspected, {len(rejected)} that Axle must reject)")
    print(f"messages compared: {sum(r.messages for r in loaded)} "
          f"(skipped: {sum(len(r.skipped_messages) for r in loaded)})")
    print(f"frames compared: {sum(r.frames_compared for r in loaded)}")
    undecodable = sum(r.cantools_undecodable for r in loaded)
    line = f"frames cantools could not decode: {undecodable}"
    if axle is not None:
        line += (f" (axle: err on {sum(r.undecodable_axle_err for r in loaded)},"
                 f" decoded {sum(r.undecodable_axle_decoded for r in loaded)})")
    print(line)
    reasons = sum((r.undecodable_reasons for r in loaded), collections.Counter())
    for reason, n in reasons.most_common():
        print(f"  {n:7d}  {reason}")
    print(f"cantools-refused files: {len(refused)}{'' if args.verbose else ' (-v lists them)'}")
    if documented:
        print(f"documented disagreements: {len(documented)} ({summarise_causes(documented)})")
    print(f"undocumented disagreements: {len(undocumented)}")
    print(f"report: {work / 'report.json'}; time: {time.monotonic() - started:.1f}s")

    if undocumented:
        print("\nexamples (file / message / frame / signal: axle vs cantools):")
        for d in pick_examples(undocumented, 20):
            where = " / ".join(x for x in (d.file, d.message, d.frame, d.signal) if x)
            print(f"  [{d.cause}] {where}: axle {d.axle} vs cantools {d.cantools}")
        print("\ncauses:")
        for cause in sorted({d.cause for d in undocumented}):
            print(f"  {cause}: {CAUSES[cause]}")

    failed = sum(r.failed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
