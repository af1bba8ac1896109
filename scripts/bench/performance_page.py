#!/usr/bin/env python3
"""Writes docs/performance.md from the results of `make bench`, and the README's "Performance" table from it.

Usage: python3 scripts/bench/performance_page.py RESULTS.jsonl [--page docs/performance.md] [--readme README.md]

RESULTS.jsonl is what scripts/bench.sh collects (Benchmarks/.build/results.jsonl): one JSON object per line from
`axle-bench`, scripts/bench/cantools_bench.py, uplink.sh, agent.sh and commands.sh, and the {"benchmark": "machine"}
line bench.sh writes first (CPU, cores, kernel, Swift, date, the stages skipped). The page is a function of that file
alone: the same results give the same bytes, so two runs of `make bench` differ only in the machine and date lines and
the figures. A figure whose result is missing says why (its stage was skipped, needs root, or printed nothing)
instead of breaking the page.

The README keeps its table between the lines README_BEGIN and README_END below; everything else in it is left alone.
Python 3.11, standard library only. Exits 1 when the results cannot be read or the README has no markers.
"""

from __future__ import annotations

import argparse
import json
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
            runs += f"; only {line['reconnected']} came back within 60 s"
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
        "the backoff's cap, 30 s: full jitter spreads the fleet over up to that much; a spread near 0 would be the "
        "reconnect storm it exists to prevent",
        figures, [])


SECTIONS = (decode_section, parse_section, replay_section, decode_cli_section, uplink_section, agent_section,
            commands_section, reconnect_section)


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
        "`make bench` (about 30 minutes on two cores: build, then every stage below) writes this page and the "
        "README's table from `Benchmarks/.build/results.jsonl`; `python3 scripts/bench/performance_page.py "
        "Benchmarks/.build/results.jsonl` writes them again from those results. Each benchmark is pinned to one core "
        "(`BENCH_CPU`, default 1) with taskset; brokers and clients run on the other. Settings, as environment "
        "variables:")
    out.append("")
    for item in ("`BENCH_SKIP=stage,stage`: leaves stages out; their figures read \"not measured in this run\".",
                 "`BENCH_QUICK=1`: the same as `BENCH_SKIP=agent,commands,reconnect`, the long stages and those that "
                 "need the static `axled` (the rest takes about 5 minutes).",
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
    text, table = page(Results(lines))
    args.page.write_text(text)
    rewrite_readme(args.readme, table)
    print(f"performance_page: wrote {args.page} and the table in {args.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
