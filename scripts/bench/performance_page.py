#!/usr/bin/env python3
"""Writes docs/performance.md from the results of `make bench`, the README's "Performance" table from it, and
docs/fleet-scale.md (bytes and money per vehicle, and scaling out) from the fleet stage's results.

Usage: python3 scripts/bench/performance_page.py RESULTS.jsonl [--page docs/performance.md] [--readme README.md]
                                                             [--fleet-page docs/fleet-scale.md]

RESULTS.jsonl is what scripts/bench.sh collects (Benchmarks/.build/results.jsonl): one JSON object per line from
`axle-bench`, scripts/bench/cantools_bench.py, uplink.sh, agent.sh, commands.sh, reconnect.py and fleet.py, and the
{"benchmark": "machine"} line bench.sh writes first (CPU, cores, kernel, Swift, date, the stages skipped). The pages
are a function of that file alone: the same results give the same bytes, so two runs of `make bench` differ only in
the machine and date lines and the figures. A figure whose result is missing says why (its stage was skipped, needs
root, or printed nothing) instead of breaking the page.

The README keeps its table between the lines README_BEGIN and README_END below; everything else in it is left alone.
Python 3.11, standard library only. Exits 1 when the results cannot be read or the README has no markers.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

README_BEGIN = "<!-- performance-table:begin (scripts/bench/performance_page.py writes this table; run make bench) -->"
README_END = "<!-- performance-table:end -->"

# The stages of scripts/bench.sh, in the order it runs them, with the benchmarks each prints. BENCH_SKIP names them.
STAGES = (
    ("decode", ("decode", "parse", "replay"), "about 2 min"),
    ("uplink", ("outbox-append", "outbox-drain", "link-return"), "about 1 min; the link-return figure needs root"),
    ("decode-cli", ("decode_cli",), "about 1 min"),
    ("agent", ("agent-max", "python-agent-max", "agent-32k", "python-agent-32k", "agent-ratio", "agent-shutdown"),
     "about 15 min: the Python pipeline replays 3 M frames"),
    ("commands", ("command-latency",), "about 7 min: 1,000 commands one at a time"),
    ("reconnect", ("reconnect",), "about 1 min: 100 agents, the broker down for 30 s"),
    ("fleet", ("fleet-broker", "fleet-reconnect", "fleet-drain", "fleet-payload", "fleet-wire", "fleet-keepalive"),
     "about 8 min: 400 agents, the broker down for 60 s; then 10 agents over TLS for 2 min"),
    ("diag", ("diag-pids", "diag-latency", "diag-flow-control", "diag-pids-socketpair", "diag-latency-socketpair",
              "diag-flow-control-socketpair", "diag-poll-load"),
     "about 70 s: OBD-II polling against a simulated ECU, on a bus in memory and over a socket pair; the agent's "
     "poll schedule against its bus-load budget"),
)
STAGE_OF = {benchmark: stage for stage, benchmarks, _ in STAGES for benchmark in benchmarks}

# Where bench.sh keeps its inputs and builds, for the commands that reproduce each figure.
INPUTS = "Benchmarks/.build/inputs"
AXLE_BENCH = "Benchmarks/.build/release/axle-bench"
CANTOOLS_BENCH = ".venv/bin/python scripts/bench/cantools_bench.py"
DECODE_DBCS = ("toyota_nodsu_pt_generated.dbc", "vw_mqb.dbc")
README_DECODE_DBC = "toyota_nodsu_pt_generated.dbc"

# A classic CAN frame with an 11-bit id and 8 data bytes is 108 bits on the wire plus 3 bits of interframe space,
# before stuff bits (which only add to it): 500 kbit/s, the usual powertrain rate, carries at most this many a second.
CAN_BITS_PER_FRAME = 111
CAN_BITRATE = 500_000
CAN_FRAMES_PER_S_LIMIT = CAN_BITRATE // CAN_BITS_PER_FRAME
# agent.sh's paced rate: eight such buses at full load.
PACED_FRAMES_PER_S = 32_000

# The figures of the summary (and the README), by the names the sections give them.
DECODE_FIGURE = f"decode, {README_DECODE_DBC.removesuffix('.dbc')}: frames/s per CPU second"
AGENT_FIGURE = "whole agent flat out: frames/s, start to drained exit"
CPU_FIGURE = f"CPU at {PACED_FRAMES_PER_S:,} frames/s (eight buses at full load): % of one core"
MEMORY_FIGURE = "whole agent flat out: peak resident memory"
READY_FIGURE = "start-up to READY (profile, DBC, SQLite, broker connection started)"
COMMAND_FIGURE = "signed command: publish → first CAN frame → IN_PROGRESS, p99"
RECONNECT_FIGURE = "reconnect spread of many agents after a broker outage"
SUMMARY = (DECODE_FIGURE, AGENT_FIGURE, CPU_FIGURE, MEMORY_FIGURE, READY_FIGURE, COMMAND_FIGURE, RECONNECT_FIGURE)


# --------------------------------------------------------------------------
# Reading the results


class Results:
    def __init__(self, lines: list[dict[str, Any]]):
        self.lines = lines
        self.machine = next((r for r in lines if r.get("benchmark") == "machine"), {})
        skipped = self.machine.get("skipped", "")
        self.skipped = [s for s in skipped.split(",") if s] if isinstance(skipped, str) else list(skipped)

    def find(self, benchmark: str, implementation: str | None = None, **fields: Any) -> dict[str, Any] | None:
        for r in self.lines:
            if r.get("benchmark") != benchmark:
                continue
            if implementation is not None and r.get("implementation") != implementation:
                continue
            if all(r.get(k) == v for k, v in fields.items()):
                return r
        return None

    def why_missing(self, benchmark: str) -> str:
        """The text shown instead of a figure whose result line is missing or failed."""
        stage = STAGE_OF[benchmark]
        if stage in self.skipped:
            return f"not measured in this run (skipped: stage {stage}, BENCH_SKIP)"
        line = self.find(benchmark)
        if line and line.get("skipped"):
            return f"not measured in this run (skipped: {line['skipped']})"
        if line and line.get("error"):
            return f"not measured in this run (failed: {str(line['error'])[:80]})"
        return f"not measured in this run (no result from stage {stage}: it failed or was interrupted)"


def others_load(broker: dict) -> str:
    """What other processes used during the fleet's steady window: the machine's busy time less the broker's, the
    agents' and the subscriber's. The two are counted apart (/proc/stat against each process's own ticks), so on an
    otherwise idle machine the difference can come out a little below zero: that is said as none."""
    percent = broker["others_cpu_percent"]
    if percent < 1:
        return f"none measurable ({percent:.0f} % of a core: the machine's count less the fleet's)"
    return f"{percent:.0f} % of a core"


def usable(line: dict[str, Any] | None) -> bool:
    return bool(line) and not line.get("error") and not line.get("skipped")


# --------------------------------------------------------------------------
# Formatting: every number goes through one of these, so a figure reads the same in the page and in the README


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def millions(value: float) -> str:
    return f"{value / 1e6:.2f} M"


def rate(value: float) -> str:
    """Frames per second: millions from 100,000 up (where Axle's figures are), whole numbers below."""
    return millions(value) if value >= 100_000 else f"{value:,.0f}"


def thousands(value: float) -> str:
    return f"{value:,.0f}"


def ratio(value: float) -> str:
    return f"{value:.1f}×"


def ms(value: float) -> str:
    """Three significant figures at most: 4.67 ms, 31.5 ms, 492 ms."""
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def microseconds(value: float) -> str:
    return f"{value:.0f} µs"


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def spread(values: list[float], unit) -> str:
    """'median (min–max), N runs', or '1 run'."""
    values = [v for v in values if v is not None]
    if not values:
        return "no run"
    if len(values) == 1:
        return "1 run"
    return f"median of {len(values)} runs, spread {unit(min(values))}–{unit(max(values))}"


@dataclass
class Figure:
    """One row: what was measured, Axle's figure, the reference beside it, their ratio, and how often it was run."""
    name: str
    axle: str
    reference: str = "-"
    ratio: str = "-"
    runs: str = "-"


@dataclass
class Section:
    title: str
    what: str
    how: list[str]
    reference: str
    figures: list[Figure]
    notes: list[str]


def missing(results: Results, name: str, benchmark: str) -> Figure:
    return Figure(name, results.why_missing(benchmark))


# --------------------------------------------------------------------------
# The sections, in a fixed order


def decode_section(results: Results) -> Section:
    figures = []
    for dbc in DECODE_DBCS:
        name = f"decode, {dbc.removesuffix('.dbc')}: frames/s per CPU second"
        axle, reference = results.find("decode", "axle", dbc=dbc), results.find("decode", "cantools", dbc=dbc)
        if not usable(axle):
            figures.append(missing(results, name, "decode"))
            continue
        figure = Figure(name, millions(axle["frames_per_s"]),
                        runs=f"1 run of {axle['wall_s']:.1f} s ({axle['frames_in_set']:,} frames cycled)")
        if usable(reference):
            figure.reference = f"{rate(reference['frames_per_s'])} (cantools)"
            figure.ratio = ratio(axle["frames_per_s"] / reference["frames_per_s"])
        figures.append(figure)
        if axle.get("ns_per_signal"):
            figures.append(Figure(f"decode, {dbc.removesuffix('.dbc')}: ns per signal",
                                  f"{axle['ns_per_signal']:.1f} ns",
                                  f"{reference['ns_per_signal']:.1f} ns (cantools)" if usable(reference)
                                  and reference.get("ns_per_signal") else "-",
                                  ratio(reference["ns_per_signal"] / axle["ns_per_signal"]) if usable(reference)
                                  and reference.get("ns_per_signal") else "-",
                                  f"{axle['signals_per_frame']:.2f} signals/frame"))
    return Section(
        "Decoding frames",
        "every signal of a frame decoded to its physical value, frames already in memory; throughput per CPU second "
        "used (getrusage user+sys), so time slices lost to other processes do not count",
        [f"`{AXLE_BENCH} decode --dbc {INPUTS}/dbc/toyota_nodsu_pt_generated.dbc "
         f"--frames {INPUTS}/toyota_nodsu_pt_generated.frames.log --seconds 3`",
         f"`{CANTOOLS_BENCH} decode` with the same arguments for cantools (vw_mqb: `--dbc .corpus/opendbc/dbc/vw_mqb.dbc "
         f"--frames {INPUTS}/vw_mqb.frames.log`)"],
        "cantools `Database.decode_message` with its defaults (scaling on, choices decoded), on the same frames and "
        "the same core in the same run",
        figures,
        ["100,000 seeded random frames per DBC, cycling through every message, valid multiplexer values "
         "(`cantools_bench.py frames`); the same log for both decoders."])


def parse_section(results: Results) -> Section:
    axle, reference = results.find("parse", "axle"), results.find("parse", "cantools")
    name = "parse ford_lincoln_base_pt.dbc: milliseconds to a database"
    if usable(axle):
        figure = Figure(name, ms(axle["median_ms"]), runs=f"median of {axle['repeat']} runs, spread "
                        f"{ms(axle['min_ms'])}–{ms(axle['max_ms'])}")
        if usable(reference):
            figure.reference = f"{ms(reference['median_ms'])} (cantools, median of {reference['repeat']})"
            figure.ratio = ratio(reference["median_ms"] / axle["median_ms"])
        figures = [figure]
        if "compile_ms" in axle:
            figures.append(Figure("compile that database into a decoder", ms(axle["compile_ms"]), runs="1 run"))
    else:
        figures = [missing(results, name, "parse")]
    return Section(
        "Parsing a DBC",
        "reading an 807 KB DBC file (opendbc's Ford/Lincoln powertrain) and building the database, wall time",
        [f"`{AXLE_BENCH} parse --dbc .corpus/opendbc/dbc/ford_lincoln_base_pt.dbc --repeat 20`",
         f"`{CANTOOLS_BENCH} parse --dbc .corpus/opendbc/dbc/ford_lincoln_base_pt.dbc --repeat 2`"],
        "cantools `load_string(strict=False)` (strict mode refuses several opendbc files), same file, same run",
        figures, [])


def replay_section(results: Results) -> Section:
    axle = results.find("replay", "axle")
    name = "replay a candump log at maximum speed: frames/s per CPU second"
    if usable(axle):
        if "frames_per_s_worst" in axle:
            runs = (f"median of {axle['repeat']} runs, spread {millions(axle['frames_per_s_worst'])}–"
                    f"{millions(axle['frames_per_s_best'])}")
        else:
            runs = f"median of {axle['repeat']} runs, best {millions(axle['frames_per_s_best'])}"
        figures = [Figure(name, millions(axle["frames_per_s"]),
                          f"{thousands(CAN_FRAMES_PER_S_LIMIT)} (one CAN bus at 500 kbit/s, full)",
                          ratio(axle["frames_per_s"] / CAN_FRAMES_PER_S_LIMIT), runs),
                   Figure("the same, in megabytes of log per second", f"{axle['mb_per_s']:.0f} MB/s",
                          runs=f"median of {axle['repeat']} runs")]
    else:
        figures = [missing(results, name, "replay")]
    return Section(
        "Replaying a log",
        "a 1,000,000-frame candump text log read, parsed and decoded into a counting sink (page cache warm)",
        [f"`{AXLE_BENCH} replay --dbc {INPUTS}/dbc/toyota_nodsu_pt_generated.dbc "
         f"--log {INPUTS}/toyota_nodsu_pt_generated.replay.log --repeat 5`"],
        f"the physical limit of one classic CAN bus: {CAN_BITS_PER_FRAME} bits per 8-byte frame before stuff bits "
        f"at {CAN_BITRATE // 1000} kbit/s is at most {thousands(CAN_FRAMES_PER_S_LIMIT)} frames/s; the ratio is how "
        "many such buses one core keeps up with",
        figures, [])


def decode_cli_section(results: Results) -> Section:
    axle, reference = results.find("decode_cli", "axle"), results.find("decode_cli", "cantools")
    name = "`axle dbc decode --format jsonl`, whole process: frames/s"
    if usable(axle):
        runs_wall = axle.get("wall_s_runs")
        runs = (spread([axle["frames"] / w for w in runs_wall], millions) if runs_wall
                else f"median of {axle['repeat']} runs")
        figure = Figure(name, millions(axle["frames_per_s"]), runs=runs)
        if usable(reference):
            figure.reference = f"{rate(reference['frames_per_s'])} (cantools + json.dumps, 1 run)"
            figure.ratio = ratio(axle["frames_per_s"] / reference["frames_per_s"])
        figures = [figure]
    else:
        figures = [missing(results, name, "decode_cli")]
    return Section(
        "The decode command",
        "`axle dbc decode` as a user runs it: read a 1,000,000-frame log, decode, write one JSON line per frame to "
        "/dev/null; wall time of the whole process",
        [f"`{CANTOOLS_BENCH} decode-cli --axle .build/release/axle --dbc {INPUTS}/dbc/toyota_nodsu_pt_generated.dbc "
         f"--log {INPUTS}/toyota_nodsu_pt_generated.replay.log --repeat 3`"],
        "cantools `decode_message` and `json.dumps` of a comparable object per frame (it writes less: no raw values)",
        figures, [])


def uplink_section(results: Results) -> Section:
    figures = []
    append = results.find("outbox-append", "axle")
    if usable(append):
        figures.append(Figure("wire bytes per sample (MQTT 5 PUBLISH, demo sedan, one hour)",
                              f"{append['wire_bytes_per_sample']:.3f} B",
                              f"{append['json_wire_bytes_per_sample']:.1f} B (one JSON message per sample)",
                              ratio(append["json_wire_bytes_per_sample"] / append["wire_bytes_per_sample"]), "1 run"))
        figures.append(Figure("samples appended to the outbox per second (decode, batch, protobuf, zstd, SQLite)",
                              millions(append["samples_per_second"]), runs="1 run"))
        figures.append(Figure("hours of driving the default outbox cap holds",
                              f"{append['hours_in_default_cap']:.0f} h", runs="1 run"))
    else:
        figures.append(missing(results, "wire bytes per sample", "outbox-append"))
    drain = results.find("outbox-drain", "axle")
    if usable(drain):
        figures.append(Figure("one hour buffered offline, drained to the broker: seconds to empty",
                              seconds(drain["seconds_to_empty"]), runs="1 run"))
        if drain.get("records_per_second"):
            figures.append(Figure("the same: records acknowledged per second",
                                  thousands(drain["records_per_second"]), runs="1 run"))
    else:
        figures.append(missing(results, "one hour buffered, drained: seconds to empty", "outbox-drain"))
    link = results.find("link-return", "axle")
    name = "link back up → first record delivered"
    if usable(link) and link.get("seconds_to_first_delivery"):
        values = [v for v in link["seconds_to_first_delivery"] if v is not None]
        failed = len(link["seconds_to_first_delivery"]) - len(values)
        figure = Figure(name, seconds(statistics.median(values)) if values else "no round delivered",
                        runs=spread(values, seconds) + (f"; {failed} rounds delivered nothing" if failed else ""))
        figures.append(figure)
    else:
        figures.append(missing(results, name, "link-return"))
    return Section(
        "Outbox and uplink",
        "an hour of the demo sedan recorded into the outbox as the agent records it; that outbox drained by the "
        "release `axled` to a private mosquitto on loopback; and `axled` in a network namespace whose link goes down "
        "for 10 s and comes back (needs root)",
        [f"`{AXLE_BENCH} outbox --dbc Firmware-Profiles/demo-sedan/demo_sedan.dbc --hours 1 "
         "--data-dir Benchmarks/.build/outbox-hour`",
         "`scripts/bench/uplink.sh .build/release/axled Benchmarks/.build/outbox-hour`"],
        "the same samples as one JSON message each (what a naive agent would send)",
        figures, [])


def agent_section(results: Results) -> Section:
    figures = []
    axle, python = results.find("agent-max", "axle"), results.find("python-agent-max", "python")
    paced, python_paced = results.find("agent-32k", "axle"), results.find("python-agent-32k", "python")
    name = AGENT_FIGURE
    if usable(axle):
        figure = Figure(name, millions(axle["frames_per_s"]),
                        runs=spread(axle.get("frames_per_s_runs") or [axle["frames_per_s"]], millions))
        if usable(python):
            figure.reference = f"{rate(python['frames_per_s'])} (Python pipeline, 1 run)"
            figure.ratio = ratio(axle["frames_per_s"] / python["frames_per_s"])
        figures.append(figure)
        figure = Figure(MEMORY_FIGURE, f"{axle['max_rss_mb']:.1f} MB", runs="median run")
        if usable(python):
            figure.reference = f"{python['max_rss_mb']:.1f} MB (Python pipeline)"
            figure.ratio = ratio(python["max_rss_mb"] / axle["max_rss_mb"])
        figures.append(figure)
    else:
        figures.append(missing(results, name, "agent-max"))
        figures.append(missing(results, MEMORY_FIGURE, "agent-max"))
    name = CPU_FIGURE
    if usable(paced):
        figure = Figure(name, f"{paced['steady_cpu_percent']:.1f} %",
                        runs=f"1 run of {paced['steady_seconds']:.0f} s at {thousands(paced['achieved_frames_per_s'])} "
                             "frames/s achieved")
        if usable(python_paced):
            figure.reference = f"{python_paced['steady_cpu_percent']:.1f} % (Python pipeline)"
            figure.ratio = ratio(python_paced["steady_cpu_percent"] / paced["steady_cpu_percent"])
        figures.append(figure)
        figure = Figure("the same: peak resident memory", f"{paced['max_rss_mb']:.1f} MB", runs="1 run")
        if usable(python_paced):
            figure.reference = f"{python_paced['max_rss_mb']:.1f} MB (Python pipeline)"
            figure.ratio = ratio(python_paced["max_rss_mb"] / paced["max_rss_mb"])
        figures.append(figure)
    else:
        figures.append(missing(results, name, "agent-32k"))
    shutdown = results.find("agent-shutdown", "axle")
    name = READY_FIGURE
    if usable(shutdown) and shutdown.get("ready_ms"):
        figures.append(Figure(name, ms(statistics.median(shutdown["ready_ms"])),
                              runs=spread(shutdown["ready_ms"], ms)))
    else:
        figures.append(missing(results, name, "agent-shutdown"))
    name = "SIGTERM to exit, live and connected"
    if usable(shutdown) and shutdown.get("seconds"):
        figures.append(Figure(name, seconds(statistics.median(shutdown["seconds"])), "2 s (docs/axled.md promises)",
                              runs=spread(shutdown["seconds"], seconds)))
    else:
        figures.append(missing(results, name, "agent-shutdown"))
    return Section(
        "The whole agent",
        "the release `axled` (built with the Swift runtime linked in, as `make install` ships it), pinned to one core, "
        "replays 6 h of the simulated demo sedan (about 3 M frames) through decode, collection, the SQLite outbox and "
        "MQTT QoS 1 to a private mosquitto on the other core, and exits when every record is acknowledged; then the "
        "first 20 s of that log paced to 32,000 frames/s, CPU measured between the 'ready' and 'source ended' lines; "
        "wall time, CPU and peak RSS of the whole process from wait4(2)",
        ["`scripts/bench/agent.sh .build-static/release/axled .build/release/axle Benchmarks/.build/inputs`"],
        "scripts/bench/python_agent.py doing the same job on the same log and broker: python-can's log reader, "
        "cantools, the profile's periodic, on-change and aggregate rules, the same protobuf+zstd payload, sqlite3, "
        "paho-mqtt QoS 1",
        figures,
        ["Start-up and shutdown come from AGENT_SHUTDOWN_RUNS (default 5) runs of `axled --simulate city-drive`: the "
         "'ready in N ms' line of each, then SIGTERM after 3 s of driving."])


def commands_section(results: Results) -> Section:
    figures = []
    commands = results.find("command-latency", "axle")
    if usable(commands) and commands["publish_to_in_progress"]["count"]:
        runs = (f"1 run of {commands['commands']:,} commands, "
                f"{commands['succeeded']:,} SUCCEEDED")
        for key, label in (("publish_to_accepted", "signed command: publish → ACCEPTED"),
                           ("publish_to_in_progress", "signed command: publish → first CAN frame → IN_PROGRESS")):
            summary = commands[key]
            for percentile in ("p50_ms", "p99_ms"):
                if summary.get(percentile) is None:
                    continue
                reference = "10 ms (the target)" if key == "publish_to_in_progress" and percentile == "p99_ms" else "-"
                figures.append(Figure(f"{label}, {percentile.removesuffix('_ms')}", ms(summary[percentile]),
                                      reference, runs=runs))
        if commands.get("peak_rss_mb") is not None:
            figures.append(Figure("agent's peak resident memory after the run", f"{commands['peak_rss_mb']:.1f} MB",
                                  runs="1 run"))
    elif usable(commands):
        statuses = ", ".join(f"{count:,} {status}" for status, count in sorted(commands["statuses"].items()))
        figures.append(Figure(COMMAND_FIGURE, f"not measured in this run (no IN_PROGRESS came back from "
                                              f"{commands['commands']:,} commands: {statuses})"))
    else:
        figures.append(missing(results, COMMAND_FIGURE, "command-latency"))
    return Section(
        "Remote commands",
        "1,000 signed commands (doors.lock, doors.unlock in turn) published one at a time over MQTT 5 to `axled` "
        "simulating the demo sedan parked; the time from the publish to each status reaching the client",
        ["`scripts/bench/commands.sh .build-static/release/axled .build/release/axle-fleet`"],
        "none measured in the same run; the target of 10 ms p99 from publish to IN_PROGRESS",
        figures, [])


def reconnect_section(results: Results) -> Section:
    line = results.find("reconnect", "axle")
    if usable(line) and line.get("reconnected"):
        runs = f"1 run: {line['agents']} agents, the broker down for {line['outage_seconds']:g} s"
        if line["reconnected"] < line["agents"]:
            runs += f"; only {line['reconnected']} came back within {line['backoff_cap_seconds'] + 30:g} s"
        figures = [Figure(RECONNECT_FIGURE, seconds(line["spread_seconds"]),
                          f"{line['backoff_cap_seconds']} s (the backoff's cap: the widest spread it allows)",
                          runs=runs),
                   Figure("the same: from the broker's restart to the median agent's CONNECT",
                          seconds(line["median_seconds"]), runs=runs),
                   Figure("the same: to the last agent's CONNECT", seconds(line["last_seconds"]), runs=runs)]
    else:
        figures = [missing(results, RECONNECT_FIGURE, "reconnect")]
    return Section(
        "Reconnecting after a broker outage",
        "100 copies of the static release `axled` (the demo sedan parked) connected to a private mosquitto; the broker "
        "is stopped for 30 s and started again on the same port; the seconds from its restart to each agent's "
        "CONNECT, as the broker logs them. Each agent backs off with full jitter (docs/mqtt.md), so that a fleet "
        "does not come back at one instant and knock the broker over again",
        ["`python3 scripts/bench/reconnect.py .build-static/release/axled --agents 100 --outage 30`"],
        "the backoff's cap, 60 s: full jitter spreads the fleet over up to that much; a spread near 0 would be the "
        "reconnect storm it exists to prevent",
        figures, [])


# --------------------------------------------------------------------------
# Fleet scale (scripts/bench/fleet.py): its section of this page, and docs/fleet-scale.md

# The two firmware profiles that ship, as fleet.py drives them: (profile, driving scenario, name on the page).
FLEET_PROFILES = (("demo-sedan", "city-drive", "demo sedan"), ("fleet-truck-j1939", "highway", "fleet truck (J1939)"))
FLEET_BATCH = 5  # axled's default telemetry batch, in seconds
FLEET_BATCHES = (1, 5, 10, 20)  # the batch intervals fleet.py measures on the wire
FLEET_KEEPALIVES = (30, 60, 300, 1200)
FLEET_RECONNECTS = (0, 30, 120, 600)  # per month

# Public list prices (US$) the cost tables use; docs/fleet-scale.md shows the formula, so a reader can use their own.
AWS_MESSAGE_PRICE = 1.00  # per million messages, each metered in 5 KB units
AWS_MESSAGE_UNIT_BYTES = 5 * 1024
AWS_CONNECTION_PRICE = 0.08  # per million connection-minutes
CELLULAR_PRICE_PER_MB = 0.03  # per MB of 10^6 bytes
SIM_FEE = (0.40, 1.50)  # per SIM per month
HOURS_PER_MONTH = 720  # 30 days
# How a month is used, per profile: driving hours (telemetry flowing) and reconnections (tunnels, cell changes,
# modem resets). The unit stays connected the rest of the month, reachable for remote commands with nothing to send.
FLEET_USAGE = {"demo-sedan": (45, 120), "fleet-truck-j1939": (260, 120)}
FLEET_KEEPALIVE = 30  # axled's default keepalive

FLEET_RECONNECT_FIGURE = "fleet after a broker outage: the busiest second's share of reconnections"
FLEET_BROKER_CPU_FIGURE = "broker CPU per connected vehicle, steady state"
FLEET_BROKER_RSS_FIGURE = "broker resident memory per connected vehicle"
FLEET_DRAIN_FIGURE = "the outage's backlog drained: seconds from the restart until every outbox was empty"


def fleet_wire_figure(profile: str) -> str:
    label = next(name for p, _, name in FLEET_PROFILES if p == profile)
    return f"bytes per vehicle-hour on the wire, {label} driving, 5 s batches, mutual TLS"


def megabytes(value: float) -> str:
    return f"{value / 1e6:.3f} MB" if value < 1e7 else f"{value / 1e6:,.0f} MB"


def kilobytes(value: float) -> str:
    return f"{value / 1e3:.2f} KB" if value < 1e4 else f"{value / 1e3:,.1f} KB"


def dollars(value: float) -> str:
    return f"${value:,.4f}" if value < 0.1 else f"${value:,.2f}"


def fleet_section(results: Results) -> Section:
    figures = []
    reconnect = results.find("fleet-reconnect", "axle")
    if usable(reconnect) and reconnect.get("histogram"):
        runs = f"1 run: {reconnect['agents']} agents, the broker down for {reconnect['outage_seconds']:g} s"
        if reconnect["reconnected"] < reconnect["agents"]:
            runs += f"; only {reconnect['reconnected']} came back within 60 s"
        figures += [
            Figure(FLEET_RECONNECT_FIGURE, f"{100 * reconnect['max_bucket_share']:.1f} %",
                   f"{100 * reconnect['goal_max_bucket_share']:.0f} % (the goal)", runs=runs +
                   f"; second {reconnect['max_bucket_second']} after the restart"),
            Figure("the same: first, median, p90 and last CONNECT after the restart",
                   ", ".join(seconds(reconnect[k]) for k in ("first_seconds", "median_seconds", "p90_seconds",
                                                            "last_seconds")), runs=runs),
            Figure("the same: reconnections in each second after the restart, from second 0",
                   " ".join(str(count) for count in reconnect["histogram"]), runs=runs)]
    else:
        figures.append(missing(results, FLEET_RECONNECT_FIGURE, "fleet-reconnect"))
    drain = results.find("fleet-drain", "axle")
    if usable(drain) and drain.get("all_drained_seconds") is not None:
        runs = f"1 run: {drain['backlog_records']:,} records in {drain['agents_read']} outboxes"
        if drain.get("after_connect_median_seconds") is not None:
            runs += (f"; each agent's own drain after its reconnection: median "
                     f"{seconds(drain['after_connect_median_seconds'])}, longest "
                     f"{seconds(drain['after_connect_max_seconds'])}")
        figures.append(Figure(FLEET_DRAIN_FIGURE, seconds(drain["all_drained_seconds"]),
                              "the last reconnection (above)", runs=runs))
    else:
        figures.append(missing(results, FLEET_DRAIN_FIGURE, "fleet-drain"))
    broker = results.find("fleet-broker", "axle")
    if usable(broker):
        runs = (f"1 run of {broker['steady_seconds']:.0f} s: {broker['agents']} vehicles, "
                f"{broker['messages_per_second']:.1f} messages/s in (expected "
                f"{broker['expected_messages_per_second']:.1f}), mosquitto at {broker['broker_cpu_percent']:.2f} % of "
                "a core")
        figures += [
            Figure(FLEET_BROKER_CPU_FIGURE, f"{broker['broker_cpu_ms_per_vehicle_minute']:.3f} ms per minute",
                   runs=runs),
            Figure(FLEET_BROKER_RSS_FIGURE, f"{broker['broker_rss_kb_per_vehicle']:.1f} KB",
                   runs=f"{broker['broker_rss_mb']:.1f} MB with {broker['agents']} vehicles, "
                        f"{broker['broker_rss_empty_mb']:.1f} MB empty"),
            Figure("each agent in the fleet: CPU, resident memory",
                   f"{broker['agent_cpu_percent_each']:.2f} % of a core, {broker['agent_rss_mb_median']:.1f} MB",
                   runs=f"all {broker['agents']}: {broker['agents_cpu_percent']:.0f} % of a core, "
                        f"{broker['agents_rss_mb_total']:,} MB; other processes on the machine meanwhile: "
                        f"{others_load(broker)}, load average "
                        f"{broker['load_average_start']}–{broker['load_average_end']}")]
        # What limits the fleet on this machine: every core given to agents (the broker needs little), against
        # its memory given to them.
        cores = broker.get("cores") or results.machine.get("cores")
        if cores and broker["agent_cpu_percent_each"] and broker["agent_rss_mb_median"]:
            by_cpu = 100 * cores / broker["agent_cpu_percent_each"]
            by_memory = f", {broker['memory_mb'] / broker['agent_rss_mb_median']:,.0f} by memory" \
                if broker.get("memory_mb") else ""
            figures.append(Figure("agents this machine could carry, all of it theirs", f"{by_cpu:,.0f} by CPU"
                                  f"{by_memory}", runs=f"{cores} cores" + (f", {broker['memory_mb']:,} MB"
                                                                          if broker.get("memory_mb") else "")))
    else:
        figures.append(missing(results, FLEET_BROKER_CPU_FIGURE, "fleet-broker"))
    for profile, scenario, _ in FLEET_PROFILES:
        wire = results.find("fleet-wire", "axle", profile=profile, scenario=scenario, batch_seconds=FLEET_BATCH)
        name = fleet_wire_figure(profile)
        if usable(wire):
            figures.append(Figure(name, megabytes(wire["bytes_per_hour"]),
                                  runs=f"{wire['batches']} batches over {wire['window_seconds']:.0f} s, "
                                       f"{wire['bytes_per_batch']:,.0f} B each; a TLS connection "
                                       f"{kilobytes(wire['connect_bytes'])}" if wire.get("connect_bytes") else
                                       f"{wire['batches']} batches over {wire['window_seconds']:.0f} s"))
        else:
            figures.append(missing(results, name, "fleet-wire"))
    return Section(
        "Fleet scale",
        "many copies of the static release `axled` (half the demo sedan driving `city-drive`, 139 frames/s; half the "
        "fleet truck on `highway`, 89 frames/s; 5 s telemetry batches) connected to one mosquitto on loopback with "
        "a backend on a shared subscription; the broker is stopped for 60 s and started again. Then one agent per "
        "setting over mutual TLS, each on its own listener, its connection's bytes read from the kernel (`ss -tin`: "
        "payload both ways plus IPv4 and TCP headers per segment). docs/fleet-scale.md turns these into money",
        ["`python3 scripts/bench/fleet.py .build-static/release/axled --agents 400`"],
        "the goal that no second holds more than 5 % of the fleet's reconnections; the backoff's cap (60 s) bounds "
        "the spread",
        figures, [])


# --------------------------------------------------------------------------
# docs/fleet-scale.md


def fleet_month(wire: dict, connect: float, ping: float, payload_units: float, driving: float, reconnects: float,
                keepalive: float = FLEET_KEEPALIVE) -> dict[str, float]:
    """A vehicle-month: bytes, messages and what they cost, from the measured sizes and the usage."""
    idle_hours = HOURS_PER_MONTH - driving
    data = driving * wire["bytes_per_hour"] + idle_hours * 3600 / keepalive * ping + reconnects * connect
    # Messages AWS IoT Core bills: every telemetry batch (in 5 KB units) and the birth status of every connection.
    messages = driving * 3600 / wire["batch_seconds"] * payload_units + reconnects
    cellular = data / 1e6 * CELLULAR_PRICE_PER_MB
    broker = messages / 1e6 * AWS_MESSAGE_PRICE + HOURS_PER_MONTH * 60 / 1e6 * AWS_CONNECTION_PRICE
    return {"bytes": data, "messages": messages, "cellular": cellular, "broker": broker}


def fleet_page(results: Results) -> str:
    out = ["# Fleet scale: bytes, money and brokers", "",
           "<!-- Generated by scripts/bench/performance_page.py from the results of `make bench` (stage fleet,",
           "     scripts/bench/fleet.py): edit that script, not this page. -->", ""]
    out += prose(
        "What one vehicle running `axled` costs to keep online, from bytes measured on the wire, and how a fleet of "
        "them scales out. The figures come from one run of `scripts/bench/fleet.py` (stage `fleet` of `make bench`) "
        "on the machine docs/performance.md names; the prices are public list prices, written into the tables as "
        "inputs so that the same arithmetic can be done with a contract's own.")
    broker = results.find("fleet-broker", "axle")
    out += ["", "Run: " + (f"{broker['date']}, load average {broker['load_average_start']} at the start of the "
                           f"steady window, other processes using {others_load(broker)} "
                           f"meanwhile ({broker['build_processes_seen']} compiler or build processes seen)."
                           if usable(broker) else results.why_missing("fleet-broker") + ".")]
    out += ["", "## What each vehicle sends", ""]
    out += prose(
        "Each simulated vehicle runs the static release `axled` with a firmware profile that ships and the built-in "
        "simulator (`axled --simulate`, docs/axled.md) in real time: the demo sedan on `city-drive` (139 CAN frames "
        "a second) and the fleet truck (J1939) on `highway` (89 frames a second). The profiles' collection rules "
        "turn these into samples; the agent closes a telemetry batch every 5 s (the default), compresses it "
        "(protobuf and zstd, docs/payload.md) and publishes it at QoS 1 on `axle/v1/<vehicle>/telemetry`; the "
        "broker's PUBACK lets it delete the record from its outbox. On every connection it also publishes its "
        "retained `online` status and subscribes to `…/cmd/req`. MQTT keepalive is 30 s, the default.")
    out += ["", "## Measured on the wire", ""]
    out += prose(
        "One agent per setting over MQTT 5 and mutual TLS (TLS 1.3, ECDSA P-256 certificates made with openssl), "
        "each on a broker listener of its own, so that the kernel's counters of its connection are its alone. Bytes "
        "counted: the TCP payload both ways (MQTT inside TLS records: `bytes_sent` and `bytes_received` of `ss -tin` "
        "on the agent's side) plus the IPv4 and TCP headers of every segment both ways, pure ACKs included "
        "(`segs_out`, `segs_in`; 40 bytes each, 52 when the connection uses TCP timestamps; 8 more for each of the "
        "SYN and SYN-ACK). Not counted: link-layer framing, and the connection's close. A window runs from just "
        "after one batch to just after a later one (about 120 s), so it holds whole batch exchanges, and is scaled to "
        "an hour. The connection's cost is read 1.5 s after the broker logged it, before the first batch was due: "
        "TCP and TLS handshakes, CONNECT and CONNACK, SUBSCRIBE, the birth status and its PUBACK. The keepalive "
        "exchange (PINGREQ and PINGRESP) is measured on an idle `mosquitto_sub` (libmosquitto, as in the agent) "
        "with a 5 s keepalive over the same kind of listener.")
    out += ["", "| Figure | " + " | ".join(name for _, _, name in FLEET_PROFILES) + " |",
            "| --- | " + " | ".join("---:" for _ in FLEET_PROFILES) + " |"]
    wires = {p: results.find("fleet-wire", "axle", profile=p, scenario=s, batch_seconds=FLEET_BATCH)
             for p, s, _ in FLEET_PROFILES}
    parked = {p: results.find("fleet-wire", "axle", profile=p, scenario="parked", batch_seconds=FLEET_BATCH)
              for p, _, _ in FLEET_PROFILES}
    payloads = {p: results.find("fleet-payload", "axle", profile=p) for p, _, _ in FLEET_PROFILES}
    keepalive = results.find("fleet-keepalive", "axle")
    ping = keepalive["bytes_per_ping"] if usable(keepalive) and keepalive.get("bytes_per_ping") else None

    def row(name: str, values: list[str]) -> str:
        return f"| {name} | " + " | ".join(cell(v) for v in values) + " |"

    def each(lines: dict, text, benchmark: str = "fleet-wire") -> list[str]:
        return [text(lines[p]) if usable(lines[p]) else results.why_missing(benchmark) for p, _, _ in FLEET_PROFILES]

    out.append(row("driving, 5 s batches: bytes per vehicle-hour",
                   each(wires, lambda w: megabytes(w["bytes_per_hour"]))))
    out.append(row("the same: bytes per batch (PUBLISH, PUBACK, TCP ACKs)",
                   each(wires, lambda w: f"{w['bytes_per_batch']:,.0f} B")))
    out.append(row("the same: segments per batch", each(wires, lambda w: f"{w['segments'] / w['batches']:.1f}")))
    out.append(row("telemetry payload per message, as the backend receives it",
                   each(payloads, lambda p: f"{p['mean_bytes']:,.0f} B (largest {p['max_bytes']:,} B)",
                        "fleet-payload")))
    out.append(row("parked (ignition off, the profile's rules as shipped): bytes per vehicle-hour",
                   each(parked, lambda w: megabytes(w["bytes_per_hour"]))))
    out.append(row("a TLS connection: handshakes, CONNECT, SUBSCRIBE, birth status",
                   each(wires, lambda w: f"{w['connect_bytes']:,} B" if w.get("connect_bytes") else "not read")))
    out.append(row("a driving hour with one TLS reconnection in it",
                   each(wires, lambda w: megabytes(w["bytes_per_hour"] + w["connect_bytes"])
                        if w.get("connect_bytes") else "not read")))
    out.append(row(f"an hour connected with nothing to send (keepalive {FLEET_KEEPALIVE} s)",
                   [kilobytes(3600 / FLEET_KEEPALIVE * ping) if ping else results.why_missing("fleet-keepalive")]
                   * len(FLEET_PROFILES)))
    out.append(row("IPv4 and TCP header counted per segment",
                   each(wires, lambda w: "52 B (TCP timestamps)" if w.get("tcp_timestamps") else
                        "40 B (no TCP timestamps on these connections; with them 12 B more)")))
    out.append(row("a keepalive exchange (PINGREQ, PINGRESP, ACK)",
                   [f"{ping:,.0f} B" if ping else results.why_missing("fleet-keepalive")] * len(FLEET_PROFILES)))
    out += [""]
    out += prose(
        "Keepalive costs nothing while batches flow more often than the keepalive interval: the client sends a "
        "PINGREQ only after a keepalive interval without traffic (the segments per batch above are the whole "
        "window). It is the price of an idle connection, and a reconnection the price of a lost one.")
    out += [""]
    out += prose(
        "Parked, the shipped profiles keep sending: their periodic rules do not depend on the ignition, so a unit "
        "that stays awake costs about what it costs driving. The month below assumes a unit that sends telemetry "
        "only while driving and otherwise stays connected with nothing to send (reachable for remote commands), "
        "where only keepalive crosses the link.")

    out += ["", "## A vehicle-month", ""]
    out += prose("The formula, per vehicle and month (30 days, 720 hours); every input is in the table below:")
    out += ["", "<!-- not-an-example: formulas -->", "```",
            "bytes    = D × driving_bytes_per_hour + (720 − D) × 3600 / K × keepalive_bytes + R × connection_bytes",
            "messages = D × 3600 / B × ceil(payload / 5 KB) + R       (telemetry batches, a birth per connection)",
            "cellular = bytes / 10^6 × price_per_MB + SIM_fee",
            "broker   = messages / 10^6 × $1.00 + 720 × 60 / 10^6 × $0.08     (messages, connection-minutes)",
            "```", ""]
    out += prose(
        f"D: driving hours a month; B: batch interval; K: keepalive interval; R: connections made a month (each a "
        f"full TLS handshake). Prices: AWS IoT Core's list prices (US$ {AWS_MESSAGE_PRICE:.2f} per million messages, "
        f"each message metered in 5 KB units; US$ {AWS_CONNECTION_PRICE:.2f} per million connection-minutes; under "
        "MQTT 3.1.1 a device's PUBACK to a message it receives counts as a message too, which only remote commands "
        f"cause here), cellular IoT data at about US$ {CELLULAR_PRICE_PER_MB:.2f} per MB plus "
        f"US$ {SIM_FEE[0]:.2f}–{SIM_FEE[1]:.2f} per SIM a month. Keepalive pings are not counted as messages. A "
        "backlog sent after a blind spot adds no bytes or messages: the same batches go out later.")
    out += ["", "| Input or result | " + " | ".join(name for _, _, name in FLEET_PROFILES) + " |",
            "| --- | " + " | ".join("---:" for _ in FLEET_PROFILES) + " |"]
    out.append(row("D: driving hours a month (input)", [f"{FLEET_USAGE[p][0]}" for p, _, _ in FLEET_PROFILES]))
    out.append(row("720 − D: hours connected with nothing to send", [f"{HOURS_PER_MONTH - FLEET_USAGE[p][0]}"
                                                                      for p, _, _ in FLEET_PROFILES]))
    out.append(row("R: connections a month (input)", [f"{FLEET_USAGE[p][1]}" for p, _, _ in FLEET_PROFILES]))
    out.append(row("B, K: batch and keepalive intervals (input)", [f"{FLEET_BATCH} s, {FLEET_KEEPALIVE} s"] * 2))
    months = {}
    for p, _, _ in FLEET_PROFILES:
        if usable(wires[p]) and wires[p].get("connect_bytes") and ping and usable(payloads[p]):
            months[p] = fleet_month(wires[p], wires[p]["connect_bytes"], ping,
                                    payloads[p]["aws_units_of_5kb_mean"], *FLEET_USAGE[p])

    # A month needs every measured size; without one, it says which stage did not deliver it.
    unmeasured = results.why_missing("fleet-wire")

    def month_cells(text) -> list[str]:
        return [text(months[p]) if p in months else unmeasured for p, _, _ in FLEET_PROFILES]

    out.append(row("bytes a vehicle-month", month_cells(lambda m: megabytes(m["bytes"]))))
    out.append(row(f"cellular data at ${CELLULAR_PRICE_PER_MB:.2f}/MB", month_cells(lambda m: dollars(m["cellular"]))))
    out.append(row("messages AWS IoT Core bills a month", month_cells(lambda m: f"{m['messages']:,.0f}")))
    out.append(row("AWS IoT Core: messages and connection-minutes", month_cells(lambda m: dollars(m["broker"]))))
    out.append(row(f"SIM (${SIM_FEE[0]:.2f}–{SIM_FEE[1]:.2f})", [f"${SIM_FEE[0]:.2f}–{SIM_FEE[1]:.2f}"] * 2))
    out.append(row("total a vehicle-month", month_cells(
        lambda m: f"{dollars(m['cellular'] + m['broker'] + SIM_FEE[0])}–"
                  f"{dollars(m['cellular'] + m['broker'] + SIM_FEE[1])}")))
    out.append(row("100,000 vehicles a month, without the SIM fees", month_cells(
        lambda m: f"${100_000 * (m['cellular'] + m['broker']):,.0f}")))

    out += ["", "## What moves it", ""]
    out += prose(
        "Computed from the measured sizes above with the formula, one input changed at a time, the others as in the "
        "month above. The batch interval changes the bytes of a driving hour (measured at each interval: fewer, "
        "larger messages compress better and carry fewer headers and acknowledgements), the keepalive interval the "
        "bytes of an idle connected hour, and every reconnection costs a full TLS handshake.")
    out += ["", "| Batch interval (measured) | " + " | ".join(f"{name}: bytes a driving hour, a month, US$ a month"
                                                           for _, _, name in FLEET_PROFILES) + " |",
            "| --- | " + " | ".join("---:" for _ in FLEET_PROFILES) + " |"]
    for batch in FLEET_BATCHES:
        values = []
        for p, s, _ in FLEET_PROFILES:
            wire = results.find("fleet-wire", "axle", profile=p, scenario=s, batch_seconds=batch)
            if p in months and usable(wire):
                units = max(1, math.ceil(wire["payload_bytes_up"] / wire["batches"] / AWS_MESSAGE_UNIT_BYTES))
                month = fleet_month(wire, wires[p]["connect_bytes"], ping, units, *FLEET_USAGE[p])
                values.append(f"{megabytes(wire['bytes_per_hour'])}, {megabytes(month['bytes'])}, "
                              f"{dollars(month['cellular'] + month['broker'])}")
            else:
                values.append(unmeasured)
        out.append(row(f"{batch} s", values))
    out += ["", "| Keepalive interval | bytes an idle connected hour | " +
            " | ".join(f"{name}: bytes a month, US$ a month" for _, _, name in FLEET_PROFILES) + " |",
            "| --- | ---: | " + " | ".join("---:" for _ in FLEET_PROFILES) + " |"]
    for keep in FLEET_KEEPALIVES:
        values = [kilobytes(3600 / keep * ping) if ping else results.why_missing("fleet-keepalive")]
        for p, _, _ in FLEET_PROFILES:
            if p in months:
                month = fleet_month(wires[p], wires[p]["connect_bytes"], ping, payloads[p]["aws_units_of_5kb_mean"],
                                    FLEET_USAGE[p][0], FLEET_USAGE[p][1], keep)
                values.append(f"{megabytes(month['bytes'])}, {dollars(month['cellular'] + month['broker'])}")
            else:
                values.append(unmeasured)
        out.append(row(f"{keep} s", values))
    out += ["", "| Connections a month | " + " | ".join(f"{name}: bytes a month, US$ a month"
                                                    for _, _, name in FLEET_PROFILES) + " |",
            "| --- | " + " | ".join("---:" for _ in FLEET_PROFILES) + " |"]
    for reconnects in FLEET_RECONNECTS:
        values = []
        for p, _, _ in FLEET_PROFILES:
            if p in months:
                month = fleet_month(wires[p], wires[p]["connect_bytes"], ping, payloads[p]["aws_units_of_5kb_mean"],
                                    FLEET_USAGE[p][0], reconnects)
                values.append(f"{megabytes(month['bytes'])}, {dollars(month['cellular'] + month['broker'])}")
            else:
                values.append(unmeasured)
        out.append(row(f"{reconnects:,}", values))
    out += [""]
    out += prose(
        "The cellular bill, not the broker's, dominates, and on a unit that stays connected while parked, keepalive "
        "is a large part of it. `[mqtt] keepalive` in axled.toml sets it (docs/axled.md); a longer one is only safe "
        "below the carrier's NAT idle timeout, which differs between networks: measure it before raising keepalive "
        "past a few minutes, or each silent NAT drop costs a reconnection (a TLS handshake) instead.")

    out += ["", "## One broker, measured", ""]
    out += prose(
        "Many agents against one mosquitto 2.0 on loopback (docs/performance.md, section Fleet scale, has every "
        "figure and how it was measured):")
    out += ["", "| Figure | Measured |", "| --- | ---: |"]
    reconnect, drain = results.find("fleet-reconnect", "axle"), results.find("fleet-drain", "axle")
    if usable(broker):
        out.append(row("vehicles connected", [f"{broker['agents']}"]))
        out.append(row("broker CPU per vehicle", [f"{broker['broker_cpu_ms_per_vehicle_minute']:.3f} ms a minute"]))
        out.append(row("broker memory per vehicle", [f"{broker['broker_rss_kb_per_vehicle']:.1f} KB"]))
        out.append(row("each agent: CPU, memory", [f"{broker['agent_cpu_percent_each']:.2f} % of a core, "
                                                   f"{broker['agent_rss_mb_median']:.1f} MB"]))
    else:
        out.append(row("vehicles connected", [results.why_missing("fleet-broker")]))
    if usable(reconnect) and reconnect.get("histogram"):
        out.append(row("after a broker outage: the busiest second's share of reconnections",
                       [f"{100 * reconnect['max_bucket_share']:.1f} % after {reconnect['outage_seconds']:g} s down "
                        f"(goal: at most {100 * reconnect['goal_max_bucket_share']:.0f} %)"]))
        out.append(row("the same: median and last reconnection after the restart",
                       [f"{seconds(reconnect['median_seconds'])}, {seconds(reconnect['last_seconds'])}"]))
    else:
        out.append(row("after an outage: the busiest second's share of reconnections",
                       [results.why_missing("fleet-reconnect")]))
    if usable(drain) and drain.get("all_drained_seconds") is not None:
        out.append(row("the outage's backlog drained (every outbox empty)", [seconds(drain["all_drained_seconds"])]))
    out += [""]
    out += prose(
        "Full jitter (docs/mqtt.md) spreads a fleet's return over up to the backoff's cap, 60 s, but not evenly. "
        "After an outage long enough for the backoff to reach its cap, each agent is somewhere inside a delay drawn "
        "from 0 to 60 s when the broker returns, and the time to its next attempt is what is left of that delay: "
        "short waits are the likeliest, so the first seconds take about 2 / 60 of the fleet each (3.3 %), falling to "
        "none at 60 s, and the median agent is back after about 20 s. The busiest second of a run also carries chance "
        "(with a few hundred agents a second often holds a point or two more than its share). The cap was 30 s until "
        "this measurement: the first seconds then took 2 / 30 each (6.7 %; 7.2 % of 400 agents measured), above the "
        "5 % goal; 60 s buys the goal with a slower return (median about 9 s before).")

    out += ["", "## Scaling out: a broker cluster with Kafka behind it", ""]
    out += prose(
        "mosquitto is single-threaded, so one instance is bounded by one core (field reports put it near 20,000 "
        "clients per core). A fleet beyond that connects to a clustered MQTT broker: EMQX 5 reported 100 million "
        "connections on 23 nodes (about 5 million per node, 16,000 connects a second) and 1 million vehicles at one "
        "message a second each with Kafka behind it (100,000 messages a second per node); HiveMQ reported 200 "
        "million connections. The agent needs nothing special from such a cluster: MQTT 5 or 3.1.1, QoS 1, "
        "persistent sessions, retained messages and TLS with client certificates (docs/mqtt.md); the connect rate "
        "after an outage is what full jitter keeps within the cluster's (and a managed service's: AWS IoT Core "
        "allows 500 CONNECTs a second per account) limit.")
    out += [""]
    out += prose(
        "Behind the broker, a bridge (EMQX's Kafka data integration, HiveMQ's Kafka extension, or a few consumers of "
        "a shared subscription) writes the vehicles' messages to Kafka topics, keyed by vehicle id so that one "
        "vehicle's records stay in order in one partition. The MQTT topics are docs/mqtt.md's:")
    out += ["", "| MQTT topic | Kafka topic, for example | Key | Payload |", "| --- | --- | --- | --- |",
            "| `axle/v1/+/telemetry` | `axle.telemetry` | vehicle id | `TelemetryBatch`, protobuf + zstd "
            "(docs/payload.md) |",
            "| `axle/v1/+/events` | `axle.events` | vehicle id | `TelemetryBatch` holding events only |",
            "| `axle/v1/+/status` | `axle.status` (compacted) | vehicle id | JSON `online`/`offline`, retained |",
            "| `axle/v1/+/cmd/res/#` | `axle.command-responses` | vehicle id | command responses (docs/commands.md) |",
            "| `axle/v1/+/features` | `axle.features` (compacted) | vehicle id | JSON feature entitlements, retained |",
            ""]
    out += prose(
        "Shared subscriptions (MQTT 5, and mosquitto, EMQX and HiveMQ for 3.1.1 clients too) let several bridge "
        "instances share one stream without each receiving every message: each subscribes to "
        "`$share/kafka-bridge/axle/v1/+/telemetry`, and the broker hands every message to one member of the group "
        "`kafka-bridge`. With the private broker of this page's examples and an agent driving, one member of such a "
        "group prints what one telemetry message holds:")
    out += ["", "<!-- example: agent city-drive -->", "```sh",
            "mosquitto_sub -h broker -V mqttv5 -t '$share/kafka-bridge/axle/v1/+/telemetry' -C 1 -N "
            "| .venv/bin/python examples/python/decode_telemetry.py", "```", ""]
    out += prose(
        "The contract a Kafka consumer decodes is docs/payload.md's: a zstd frame (or plain protobuf, or JSON, "
        "told apart by their first bytes) holding one `TelemetryBatch` of schema version 1, with the vehicle id, "
        "the profile, the record's sequence number, a time base and delta-encoded series per signal. Delivery is at "
        "least once: the consumer deduplicates on (vehicle, sequence), which is also the natural idempotent key for "
        "a sink; a gap in the sequence is either still in flight (a vehicle in a blind spot sends its backlog when "
        "it returns, as measured above) or named by an `outbox.records_dropped` event on `…/events`. Commands go "
        "the other way, from the backend to `axle/v1/<vehicle>/cmd/req` (docs/commands.md), through the same "
        "cluster.")

    out += ["", "## How to regenerate this page", ""]
    out += prose(
        "`make bench` runs the `fleet` stage (`BENCH_SKIP=fleet` leaves it out) and writes this page and "
        "docs/performance.md from `Benchmarks/.build/results.jsonl`. The stage alone, with the static release "
        "`axled` that bench.sh builds:")
    out += ["", "<!-- example: skip (runs 400 agents and a broker outage for about 8 minutes; needs the static "
            "release build) -->", "```sh",
            "python3 scripts/bench/fleet.py .build-static/release/axled --agents 400 \\",
            "    >> Benchmarks/.build/results.jsonl",
            "python3 scripts/bench/performance_page.py Benchmarks/.build/results.jsonl",
            "```", ""]
    return "\n".join(out)


# The goals of issue 13 for the scan tool's polling (an ELM327 adapter manages 3-8 PIDs/s).
DIAG_PIDS_GOAL = 500
DIAG_PIDS_FIGURE = "OBD-II PIDs/s from one ECU answering within 5 ms, up to 6 per request"
DIAG_FLOW_CONTROL_GOAL_US = 1000


def diagnostics_section(results: Results) -> Section:
    figures = []
    pids, latency, flow = (results.find(name, "axle") for name in ("diag-pids", "diag-latency", "diag-flow-control"))
    if usable(pids):
        figures.append(Figure(
            DIAG_PIDS_FIGURE, thousands(pids["pids_per_s"]),
            f"{DIAG_PIDS_GOAL} (the goal); an ELM327 adapter: 3-8", ratio(pids["pids_per_s"] / DIAG_PIDS_GOAL),
            f"1 run: {pids['requests']:,} requests of {pids['pids_per_request']} PIDs over {pids['seconds']:.0f} s, "
            f"the ECU answering after {pids['ecu_delay_ms']:g} ms, {pids['failures']} failed"))
    else:
        figures.append(missing(results, DIAG_PIDS_FIGURE, "diag-pids"))
    if usable(latency):
        for key in ("p50_ms", "p99_ms"):
            figures.append(Figure(
                f"OBD-II request → whole answer, {key.removesuffix('_ms')}",
                ms(latency[key]), f"{latency['ecu_delay_ms']:g} ms of it the ECU's own delay",
                runs=f"1 run: {latency['samples']:,} requests, answers of {latency['frames_per_answer']} frames"))
    else:
        figures.append(missing(results, "OBD-II request → whole answer", "diag-latency"))
    if usable(flow):
        for key in ("p50_us", "p99_us"):
            goal = f"{DIAG_FLOW_CONTROL_GOAL_US / 1000:g} ms (the goal)" if key == "p99_us" else "-"
            figures.append(Figure(
                f"flow control after an answer's first frame, {key.removesuffix('_us')}", microseconds(flow[key]),
                goal, ratio(DIAG_FLOW_CONTROL_GOAL_US / flow[key]) if key == "p99_us" and flow[key] > 0 else "-",
                runs=f"1 run: {flow['samples']:,} first frames"))
    else:
        figures.append(missing(results, "flow control after an answer's first frame", "diag-flow-control"))
    pair_pids, pair_flow = results.find("diag-pids-socketpair", "axle"), results.find("diag-flow-control-socketpair", "axle")
    if usable(pair_pids) and usable(pair_flow):
        figures.append(Figure(
            "over a socket pair (a system call per frame, no wire time): PIDs/s", thousands(pair_pids["pids_per_s"]),
            f"{DIAG_PIDS_GOAL} (the goal)", ratio(pair_pids["pids_per_s"] / DIAG_PIDS_GOAL),
            f"1 run: {pair_pids['requests']:,} requests, the ECU answering after {pair_pids['ecu_delay_ms']:g} ms"))
        for key in ("p50_us", "p99_us"):
            goal = f"{DIAG_FLOW_CONTROL_GOAL_US / 1000:g} ms (the goal)" if key == "p99_us" else "-"
            figures.append(Figure(
                f"over a socket pair: flow control after the ECU wrote a first frame, {key.removesuffix('_us')}",
                microseconds(pair_flow[key]), goal,
                ratio(DIAG_FLOW_CONTROL_GOAL_US / pair_flow[key]) if key == "p99_us" and pair_flow[key] > 0 else "-",
                runs=f"1 run: {pair_flow['samples']:,} first frames"))
    else:
        figures.append(missing(results, "over a socket pair (a system call per frame, no wire time): PIDs/s",
                               "diag-pids-socketpair"))
    load = results.find("diag-poll-load", "axle")
    if usable(load):
        figures.append(Figure(
            "the agent's poll schedule (demo sedan: 5 PIDs, fault codes every 10 s): CAN frames/s",
            f"{load['frames_per_s']:.2f} ({load['bus_percent']:.2f} % of 500 kbit/s)",
            f"{load['budget_frames_per_s']:.1f} (its budget, 1 % of 500 kbit/s)",
            f"{load['share_of_budget'] * 100:.0f} % of it",
            f"1 run: {load['frames']:,} frames, {load['requests']:,} requests, {load['timeouts']} timed out, over "
            f"{load['seconds']:.0f} s of the release axled on the simulator in real time"))
    else:
        figures.append(missing(results, "the agent's poll schedule: CAN frames/s", "diag-poll-load"))
    return Section(
        "Diagnostics: polling OBD-II PIDs",
        "the scan tool's tester (`FunctionalISOTPChannel`, the code `axle diag pids` runs) asks one simulated engine "
        "ECU for six mode 01 PIDs per request, one request after another; the ECU, a thread running Axle's ISO-TP "
        "state machines, answers each request 5 ms after it arrives (an answer of 15 bytes: a first frame and two "
        "consecutive frames, after the tester's flow control)",
        ["`Benchmarks/.build/release/axle-bench diagnostics --seconds 10 --ecu-delay-ms 5`",
         "the same with `--link socketpair`",
         "`python3 scripts/bench/diag_poll_load.py .build-static/release/axled .build/release/axle --seconds 30`"],
        "the goals of 500 PIDs/s and of flow control within 1 ms (p99) after a first frame; an ELM327 adapter "
        "manages 3-8 PIDs/s and AWS IoT FleetWise asks each PID at most once a second (their published figures, not "
        "measured here)",
        figures,
        ["The build machines' kernel has no CAN, and user-mode-linux's system calls are too slow to time, so this "
         "runs on the host over a bus in memory, which delivers each frame after its time on the wire at 500 kbit/s "
         "(111 bits a frame, one frame at a time). It measures Axle's tester, the wake-ups of its thread and the "
         "wire time, not the kernel's socket path (one system call per frame each way) nor a real controller. The "
         "tester and the ECU's thread share the one pinned core, as on a single-core telematics unit. Flow-control "
         "latency runs from the moment a first frame has crossed the bus to the tester's flow control leaving; it "
         "includes the in-memory bus's own timed wait for that moment (Linux's default timer slack is 50 µs), which a "
         "socket woken by an arriving frame does not have. The socket-pair rows join the two threads by a Unix socket "
         "pair instead: every frame is a system call each way and the tester is woken by the kernel as a CAN socket's "
         "reader is, but frames take no wire time; their flow-control latency runs from the ECU's write of a first "
         "frame to the tester's write of its flow control. The "
         "same tester is checked for correctness on a real kernel against independent ECUs by the kernel tests "
         "(`Tests/CANBusTests/KernelScanToolTests.swift`)."])


SECTIONS = (decode_section, parse_section, replay_section, decode_cli_section, uplink_section, agent_section,
            commands_section, reconnect_section, fleet_section, diagnostics_section)


# --------------------------------------------------------------------------
# The summary (README) and the page


def summary_rows(sections: list[Section]) -> list[Figure]:
    """The handful of figures a user compares agents by, taken from the sections so that both say the same."""
    by_name = {f.name: f for s in sections for f in s.figures}
    return [by_name.get(name, Figure(name, "not measured in this run")) for name in SUMMARY]


def prose(text: str, indent: str = "") -> list[str]:
    """A paragraph wrapped at the docs' 120 columns. Only text that does not depend on the results is wrapped, so
    that a figure's change never moves a line break."""
    return textwrap.wrap(text, 120, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def figure_table(figures: list[Figure]) -> list[str]:
    lines = ["| Figure | Axle | Compared with | Ratio | Runs |", "| --- | ---: | --- | ---: | --- |"]
    for f in figures:
        lines.append(f"| {f.name} | {cell(f.axle)} | {cell(f.reference)} | {f.ratio} | {cell(f.runs)} |")
    return lines


def machine_lines(results: Results) -> list[str]:
    m = results.machine
    return [
        f"Machine: {m.get('cpu_model', 'unknown CPU')}, {m.get('cores', '?')} cores, Linux {m.get('kernel', '?')}; "
        f"pinned with {m.get('pinning', 'none')}; load average {m.get('load_average', '?')} at the start.",
        "",
        f"Software: {m.get('swift', 'Swift ?')}; cantools {m.get('cantools', '?')} on {m.get('python', 'Python ?')}.",
        "",
        f"Date: {m.get('date', 'unknown')}.",
    ]


def page(results: Results) -> tuple[str, str]:
    sections = [make(results) for make in SECTIONS]
    summary = summary_rows(sections)
    out = [
        "# Performance",
        "",
        "<!-- Generated by scripts/bench/performance_page.py from the results of `make bench`:",
        "     edit that script, not this page. -->",
        "",
    ]
    out += prose(
        "What Axle measures, how, and against what. Every figure below comes from one run of `make bench` on one "
        "machine, and every reference beside it was measured in that same run on that same machine. None of "
        "Axle's peers (AWS IoT FleetWise Edge, the KUKSA CAN provider, Eclipse Kanto, OVMS) publishes figures for "
        "its agent, so the references are cantools (the Python DBC library), a Python pipeline doing the agent's "
        "whole job, and the physical limit of a CAN bus.")
    out.append("")
    out += machine_lines(results)
    skipped = ", ".join(results.skipped) if results.skipped else "none"
    out += [
        "",
        f"Stages skipped in this run: {skipped}.",
        "",
        "## Summary",
        "",
    ]
    out += figure_table(summary)
    out += [
        "",
        "## How to regenerate this page",
        "",
    ]
    out += prose(
        "`make bench` (about 40 minutes on two cores: build, then every stage below) writes this page and the "
        "README's table from `Benchmarks/.build/results.jsonl`; `python3 scripts/bench/performance_page.py "
        "Benchmarks/.build/results.jsonl` writes them again from those results. Each benchmark is pinned to one core "
        "(`BENCH_CPU`, default 1) with taskset; brokers and clients run on the other. Settings, as environment "
        "variables:")
    out.append("")
    for item in ("`BENCH_SKIP=stage,stage`: leaves stages out; their figures read \"not measured in this run\".",
                 "`BENCH_QUICK=1`: the same as `BENCH_SKIP=agent,commands,reconnect,fleet`, the long stages and those "
                 "that need the static `axled` (the rest takes about 5 minutes).",
                 "`BENCH_FLEET_AGENTS` (default 400): how many agents the fleet stage runs.",
                 "`BENCH_SECONDS` (default 3): how long each decode benchmark runs."):
        out += prose("- " + item, indent="  ")
    out += ["", "| Stage | Figures | Time |", "| --- | --- | --- |"]
    for stage, benchmarks, duration in STAGES:
        out.append(f"| `{stage}` | {', '.join(benchmarks)} | {duration} |")
    out.append("")
    out += prose(
        "Figures are medians where a benchmark repeats, with the spread (lowest–highest) beside them; \"1 run\" says a "
        "benchmark ran once (a time-boxed loop, or a run of 1,000 commands whose percentiles are the figure). A ratio "
        "is how many times better Axle's figure is than the reference: more frames per second, or less time, CPU or "
        "memory.")
    for number, section in enumerate(sections, 1):
        out += ["", f"## {number}. {section.title}", ""]
        out += prose(f"What: {section.what}.")
        out.append("")
        out += prose("How: " + ", and ".join(section.how) + ".")
        out.append("")
        out += prose(f"Compared with: {section.reference}.")
        out.append("")
        out += figure_table(section.figures)
        for note in section.notes:
            out.append("")
            out += prose(note)
    out.append("")

    readme = [README_BEGIN, "| Figure | Axle | Compared with | Ratio |", "| --- | ---: | --- | ---: |"]
    for f in summary:
        readme.append(f"| {f.name} | {cell(f.axle)} | {cell(f.reference)} | {f.ratio} |")
    m = results.machine
    readme += ["", f"Measured by `make bench` on {m.get('cpu_model', 'unknown CPU')}, {m.get('cores', '?')} cores, "
               f"{m.get('date', 'unknown date')}.",
               "How, against what, and every other figure: [docs/performance.md](docs/performance.md).", README_END]
    return "\n".join(out), "\n".join(readme)


def rewrite_readme(path: Path, table: str) -> None:
    text = path.read_text()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        sys.exit(f"performance_page: {path} has no '{README_BEGIN}' ... '{README_END}' lines to write the table "
                 "between: put them where the Performance section belongs")
    path.write_text(text[:begin] + table + text[end + len(README_END):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--page", type=Path, default=Path("docs/performance.md"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"), help="the README whose table is rewritten")
    parser.add_argument("--fleet-page", type=Path, default=Path("docs/fleet-scale.md"),
                        help="the fleet cost page written from the fleet stage's results")
    args = parser.parse_args()
    lines = []
    try:
        with args.results.open() as source:
            for number, line in enumerate(source, 1):
                if line.strip():
                    try:
                        lines.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        sys.exit(f"performance_page: {args.results}:{number}: not a JSON line ({error}): "
                                 "a benchmark printed something else on standard output")
    except OSError as error:
        sys.exit(f"performance_page: cannot read {args.results}: {error.strerror}; run make bench first")
    results = Results(lines)
    text, table = page(results)
    args.page.write_text(text)
    args.fleet_page.write_text(fleet_page(results))
    rewrite_readme(args.readme, table)
    print(f"performance_page: wrote {args.page}, {args.fleet_page} and the table in {args.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
