#!/usr/bin/env python3
"""Prints the results of scripts/bench.sh as tables, with the targets and whether each was met.

Usage: python3 scripts/bench/report.py RESULTS.jsonl

RESULTS.jsonl holds one JSON object per line, from `axle-bench`, `cantools_bench.py`, scripts/bench/uplink.sh,
scripts/bench/agent.sh, scripts/bench/commands.sh, scripts/bench/reconnect.py and scripts/bench/fleet.py, plus one
{"benchmark": "machine", ...} line that bench.sh writes. The targets are informational: this script always exits 0
when it could read the results.
"""

from __future__ import annotations

import json
import sys
from typing import Any

DECODE_TARGET_DBC = "toyota_nodsu_pt_generated.dbc"
RATIO_TARGET_DBCS = ("toyota_nodsu_pt_generated.dbc", "vw_mqb.dbc")
PARSE_TARGET_DBC = "ford_lincoln_base_pt.dbc"
REPLAY_TARGET_DBC = "toyota_nodsu_pt_generated.dbc"

IMPLEMENTATION_LABELS = {
    "axle": "axle",
    "cantools": "cantools decode_message",
    "cantools-no-choices": "  (decode_choices=False)",
}


def millions(value: float) -> str:
    return f"{value / 1e6:.2f} M"


def table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(cells).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def find(results: list[dict[str, Any]], benchmark: str, implementation: str, dbc: str) -> dict[str, Any] | None:
    for r in results:
        if r.get("benchmark") == benchmark and r.get("implementation") == implementation and r.get("dbc") == dbc:
            return r
    return None


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next((r for r in results if r.get("benchmark") == "machine"), {})
    targets: list[list[str]] = [["target", "measured", "met"]]

    print()
    print("Axle benchmarks")
    if machine:
        print(f"  machine: {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores; "
              f"load average {machine.get('load_average', '?')} at start")
        print(f"  pinning: {machine.get('pinning', 'none')}; {machine.get('swift', '')}; cantools "
              f"{machine.get('cantools', '?')} on {machine.get('python', '?')}")
    print("  Throughput is per CPU second used (getrusage user+sys), so time slices lost to other processes on a")
    print("  shared core do not count; the wall-clock figure is shown beside it.")

    # Decode-only
    decode_dbcs = list(dict.fromkeys(r["dbc"] for r in results if r.get("benchmark") == "decode"))
    if decode_dbcs:
        print()
        print("Decode only: frames loaded into memory first; every signal decoded to its physical value")
        rows = [["DBC", "decoder", "frames/s", "(wall)", "ns/frame", "ns/signal", "signals/frame", "axle/cantools"]]
        for dbc in decode_dbcs:
            reference = find(results, "decode", "cantools", dbc)
            first = True
            for implementation, label in IMPLEMENTATION_LABELS.items():
                r = find(results, "decode", implementation, dbc)
                if r is None:
                    continue
                ratio = ""
                if reference and implementation == "axle":
                    ratio = f"{r['frames_per_s'] / reference['frames_per_s']:.1f}x"
                rows.append([
                    dbc.removesuffix(".dbc") if first else "", label, millions(r["frames_per_s"]),
                    millions(r["frames_per_s_wall"]), f"{r['ns_per_frame']:.1f}",
                    f"{r['ns_per_signal']:.1f}" if r.get("ns_per_signal") else "-",
                    f"{r['signals_per_frame']:.2f}", ratio])
                first = False
        print(table(rows, right={2, 3, 4, 5, 6, 7}))
        sample = next(r for r in results if r.get("benchmark") == "decode")
        print(f"  {sample['frames_in_set']:,} frames per DBC, cycling through every message (seeded random payloads,"
              " valid multiplexer values); the same log for both decoders.")
        print("  cantools: Database.decode_message(frame_id, data) with its defaults (scaling on, choices decoded).")

        axle = find(results, "decode", "axle", DECODE_TARGET_DBC)
        if axle:
            value = axle["frames_per_s"]
            targets.append([f"decode >= 5 M frames/s, {DECODE_TARGET_DBC}",
                            f"{millions(value)} frames/s", "yes" if value >= 5e6 else "NO"])
        for dbc in RATIO_TARGET_DBCS:
            axle, reference = find(results, "decode", "axle", dbc), find(results, "decode", "cantools", dbc)
            if axle and reference:
                ratio = axle["frames_per_s"] / reference["frames_per_s"]
                targets.append([f"decode >= 50x cantools, {dbc}", f"{ratio:.1f}x", "yes" if ratio >= 50 else "NO"])

    # Parse
    parses = [r for r in results if r.get("benchmark") == "parse"]
    if parses:
        print()
        print("DBC parse: read the file and build the database")
        rows = [["DBC", "size", "parser", "runs", "min ms", "median ms", "max ms"]]
        for r in parses:
            rows.append([r["dbc"], f"{r['file_bytes'] / 1000:.0f} KB",
                         "axle" if r["implementation"] == "axle" else "cantools load_string(strict=False)",
                         str(r["repeat"]), f"{r['min_ms']:.1f}", f"{r['median_ms']:.1f}", f"{r['max_ms']:.1f}"])
        print(table(rows, right={1, 3, 4, 5, 6}))
        axle = find(results, "parse", "axle", PARSE_TARGET_DBC)
        if axle:
            compile_note = f"; compiling the decoder afterwards takes {axle['compile_ms']:.1f} ms"
            print(f"  axle: {axle['messages']} messages, {axle['signals']} signals{compile_note}")
            targets.append([f"parse {PARSE_TARGET_DBC} < 100 ms",
                            f"{axle['median_ms']:.1f} ms median ({axle['min_ms']:.1f} min)",
                            "yes" if axle["median_ms"] < 100 else "NO"])

    # Replay
    replays = [r for r in results if r.get("benchmark") == "replay"]
    if replays:
        print()
        print("Replay at maximum speed: candump text -> CandumpReader -> decode -> counting sink")
        rows = [["log", "size", "frames", "frames/s", "(wall)", "best", "ns/frame", "MB/s"]]
        for r in replays:
            rows.append([r["log"], f"{r['file_bytes'] / 1e6:.1f} MB", f"{r['frames']:,}", millions(r["frames_per_s"]),
                         millions(r["frames_per_s_wall"]), millions(r["frames_per_s_best"]),
                         f"{r['ns_per_frame']:.0f}", f"{r['mb_per_s']:.0f}"])
        print(table(rows, right={1, 2, 3, 4, 5, 6, 7}))
        r = replays[0]
        print(f"  median of {r['repeat']} runs over the whole file (page cache warm); {r['decoded']:,} frames decoded, "
              f"{r['signals']:,} signals, {r['malformed']} malformed lines")
        for r in replays:
            if r["dbc"] == REPLAY_TARGET_DBC:
                targets.append([f"replay >= 2 M frames/s, {REPLAY_TARGET_DBC} log",
                                f"{millions(r['frames_per_s'])} frames/s", "yes" if r["frames_per_s"] >= 2e6 else "NO"])

    # The decode CLI as a whole process (issue 16)
    cli = {r["implementation"]: r for r in results if r.get("benchmark") == "decode_cli"}
    if "axle" in cli:
        axle, reference = cli["axle"], cli.get("cantools")
        print()
        print(f"axle dbc decode --format jsonl as a whole process, {axle['frames']:,} frames of {axle['log']}, output to /dev/null")
        rows = [["implementation", "frames/s", "wall s", "CPU s", "output"]]
        for r in [axle] + ([reference] if reference else []):
            rows.append([r["implementation"], millions(r["frames_per_s"]), f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}", r["output"]])
        print(table(rows, right={1, 2, 3}))
        print(f"  axle: median of {axle['repeat']} runs; cantools: one pass in the benchmark's Python process")
        targets.append(["decode CLI >= 1.5 M frames/s (jsonl)", f"{millions(axle['frames_per_s'])} frames/s",
                        "yes" if axle["frames_per_s"] >= 1.5e6 else "NO"])
        if reference:
            ratio = axle["frames_per_s"] / reference["frames_per_s"]
            print(f"  axle/cantools: {ratio:.1f}x")
            targets.append(["decode CLI >= 20x cantools + json.dumps", f"{ratio:.1f}x", "yes" if ratio >= 20 else "NO"])

    # Outbox and uplink (issue 4)
    append = next((r for r in results if r.get("benchmark") == "outbox-append"), None)
    if append:
        print()
        print(f"Outbox: {append['simulated_hours']:g} h of {append['profile']} ({append['frames']:,} frames, "
              f"{append['samples']:,} samples) recorded as the agent records it: decode -> batch -> protobuf -> zstd -> SQLite")
        print(f"  {append['records']:,} records of {append['batch_seconds']:g} s; {append['samples_per_second'] / 1e6:.2f} M "
              f"samples/s appended ({append['seconds']:.2f} s wall, {append['cpu_seconds']:.2f} s CPU); database "
              f"{append['database_bytes'] / 1e6:.1f} MB, so the default cap holds {append['hours_in_default_cap']:.0f} h")
        print(f"  on the wire (MQTT 5 PUBLISH, TCP/IP not counted): {append['wire_bytes_per_sample']:.3f} bytes/sample; "
              f"one JSON message per sample: {append['json_wire_bytes_per_sample']:.1f} bytes/sample "
              f"({append['json_wire_bytes_per_sample'] / append['wire_bytes_per_sample']:.0f}x more)")
        targets.append(["wire bytes per sample <= 2 (demo profile)", f"{append['wire_bytes_per_sample']:.3f}",
                        "yes" if append["wire_bytes_per_sample"] <= 2 else "NO"])
    drain = next((r for r in results if r.get("benchmark") == "outbox-drain"), None)
    if drain:
        print()
        print(f"Drain: that outbox sent by the release axled to a private mosquitto on loopback: "
              f"{drain['records_acknowledged']:,} of {drain['records_in_outbox']:,} records acknowledged, "
              f"{drain['records_delivered']:,} delivered to a subscriber")
        print(f"  {drain['seconds_to_empty']:.2f} s from start to an empty outbox and exit; "
              f"{drain['records_per_second']:,.0f} records/s")
        targets.append(["one hour buffered, drained in <= 10 s", f"{drain['seconds_to_empty']:.2f} s",
                        "yes" if drain["seconds_to_empty"] <= 10 else "NO"])
    link = next((r for r in results if r.get("benchmark") == "link-return"), None)
    if link:
        print()
        if link.get("skipped"):
            print(f"Link return: skipped ({link['skipped']})")
        else:
            values = [v for v in link["seconds_to_first_delivery"] if v is not None]
            print(f"Link return: axled in a network namespace, its link down {link['blind_seconds']} s then up; "
                  f"seconds to the first record delivered: {link['seconds_to_first_delivery']}")
            worst = max(values) if len(values) == len(link["seconds_to_first_delivery"]) and values else None
            targets.append(["link back -> first PUBACK <= 1 s", f"worst {worst:.3f} s" if worst is not None else "a round failed",
                            "yes" if worst is not None and worst <= 1 else "NO"])

    # The whole agent (issue "The agent", §8), beside the Python pipeline
    agent_rows = [(name, r) for name in ("agent-max", "python-agent-max", "agent-32k", "python-agent-32k")
                  for r in results if r.get("benchmark") == name]
    if agent_rows:
        first = agent_rows[0][1]
        print()
        print(f"Whole agent: {first['log']} through decode -> collection -> SQLite outbox -> MQTT QoS 1 to a private")
        print("  mosquitto (on another core), exiting when drained; each agent pinned to one core, measured with wait4's rusage")
        rows = [["run", "implementation", "frames", "frames/s", "(per CPU s)", "decode->outbox", "CPU s", "CPU %",
                 "CPU %/1k fps", "max RSS", "records acked"]]
        for name, r in agent_rows:
            if r.get("error"):
                rows.append([name, r["implementation"], "-", "failed: " + r["error"][:60], "", "", "", "", "", "", ""])
                continue
            paced = "target_frames_per_s" in r
            rate = r["achieved_frames_per_s"] if paced else r["frames_per_s"]
            rows.append([
                name, r["implementation"], f"{r['frames']:,}", f"{rate:,.0f}",
                "" if paced else f"{r['frames_per_s_cpu']:,.0f}",
                "" if paced or not r.get("frames_per_s_source") else f"{r['frames_per_s_source']:,.0f}/s",
                f"{r['cpu_seconds']:.2f}", f"{r['steady_cpu_percent'] if paced else r['cpu_percent']:.1f}",
                f"{r['cpu_percent_per_1k_frames_per_s']:.3f}" if paced else "",
                f"{r['max_rss_mb']:.1f} MB", f"{r['acknowledged']:,} of {r['records']:,}"])
        print(table(rows, right={2, 3, 4, 5, 6, 7, 8, 9}))
        axle = next((r for name, r in agent_rows if name == "agent-max" and not r.get("error")), None)
        if axle:
            runs = axle.get("runs", 1)
            print(f"  axled flat out: {f'median of {runs} runs' if runs > 1 else 'one run'} "
                  f"({', '.join(f'{v / 1e6:.2f} M' for v in axle.get('frames_per_s_runs', []))} frames/s); frames/s is")
            print("  frames over the wall time from start to exit (drain included); decode->outbox: start to the log's end")
        paced = next((r for name, r in agent_rows if name == "agent-32k"), None)
        if paced and not paced.get("error"):
            print(f"  paced runs: --replay-speed {paced['replay_speed']:g} (the log's rate times that is "
                  f"{paced['target_frames_per_s']:,.0f} frames/s); frames/s and CPU % from 'ready' to the log's end")
            print(f"  ({paced['steady_seconds']:.1f} s); over the whole run, start-up and drain included, axled used "
                  f"{paced['cpu_percent']:.1f}% of a core")
        for axle_name, python_name in (("agent-max", "python-agent-max"), ("agent-32k", "python-agent-32k")):
            a = next((r for name, r in agent_rows if name == axle_name and not r.get("error")), None)
            p = next((r for name, r in agent_rows if name == python_name and not r.get("error")), None)
            if a and p and a["frames"] == p["frames"]:
                same = (a["signals_decoded"], a["samples"], a["records"]) == (p["signals_decoded"], p["samples"], p["records"])
                print(f"  {axle_name} and {python_name}: " + (
                    f"the same work, {a['signals_decoded']:,} signals decoded, {a['samples']:,} samples, {a['records']:,} records"
                    if same else
                    f"DIFFERENT work: axled {a['signals_decoded']:,} signals, {a['samples']:,} samples, {a['records']:,} records; "
                    f"python {p['signals_decoded']:,}, {p['samples']:,}, {p['records']:,}"))
        print("  python: python-can CanutilsLogReader, cantools Message.decode, the profile's periodic, on-change and")
        print("  aggregate rules (events left out), the agent's protobuf+zstd payload, sqlite3 in WAL mode, paho-mqtt QoS 1")
        if axle:
            targets.append(["agent >= 1 M frames/s end to end, one core", f"{millions(axle['frames_per_s'])} frames/s",
                            "yes" if axle["frames_per_s"] >= 1e6 else "NO"])
            targets.append(["agent RSS <= 20 MB with demo-sedan (flat out)", f"{axle['max_rss_mb']:.1f} MB",
                            "yes" if axle["max_rss_mb"] <= 20 else "NO"])
        if paced and not paced.get("error"):
            kept_up = paced["achieved_frames_per_s"] >= 0.95 * paced["target_frames_per_s"]
            targets.append(["agent < 5% of a core at 32,000 frames/s",
                            f"{paced['steady_cpu_percent']:.2f}% at {paced['achieved_frames_per_s']:,.0f} frames/s",
                            "yes" if paced["steady_cpu_percent"] < 5 and kept_up else "NO"])
            targets.append(["agent RSS <= 20 MB with demo-sedan (32k frames/s)", f"{paced['max_rss_mb']:.1f} MB",
                            "yes" if paced["max_rss_mb"] <= 20 else "NO"])
        ratio = next((r for r in results if r.get("benchmark") == "agent-ratio"), None)
        if ratio and len(ratio) > 1:
            parts = []
            if "frames_per_s_wall" in ratio:
                parts.append(f"{ratio['frames_per_s_wall']:.0f}x the frames/s ({ratio['frames_per_s_cpu']:.0f}x per CPU second)")
            if "cpu_per_1k_frames_per_s" in ratio:
                parts.append(f"{ratio['cpu_per_1k_frames_per_s']:.0f}x less CPU per 1,000 frames/s")
            if "max_rss" in ratio:
                parts.append(f"{ratio['max_rss']:.1f}x less memory")
            print(f"  axled against the Python pipeline: {'; '.join(parts)}")
            if "frames_per_s_wall" in ratio:
                targets.append(["agent vs Python pipeline (reported, no target)", f"{ratio['frames_per_s_wall']:.0f}x frames/s",
                                "-"])

    shutdown = next((r for r in results if r.get("benchmark") == "agent-shutdown"), None)
    if shutdown:
        print()
        if shutdown.get("seconds"):
            print(f"Shutdown: axled live on the simulated vehicle and connected, SIGTERM after {shutdown['running_seconds']:g} s "
                  f"of driving; seconds to exit over {len(shutdown['seconds'])} runs: {shutdown['seconds']} "
                  f"(exit statuses {shutdown['exit_statuses']})")
            clean = not shutdown.get("error")
            targets.append(["SIGTERM -> exit 0 within 2 s (docs/axled.md)", f"worst {shutdown['max_seconds']:.3f} s",
                            "yes" if clean and shutdown["max_seconds"] <= 2 else "NO"])
        else:
            print(f"Shutdown: failed: {shutdown.get('error')}")

    # Remote commands (issue 6)
    commands = next((r for r in results if r.get("benchmark") == "command-latency"), None)
    if commands:
        print()
        print(f"Remote commands: {commands['commands']:,} signed {' / '.join(commands['names'])} sent one at a time over MQTT 5 "
              "to axled")
        print("  simulating the demo sedan parked (agent pinned to one core, broker and client on the other); times from")
        print("  the publish to each status's arrival at the client")
        rows = [["from publish to", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"]]
        for key, label in (("publish_to_accepted", "ACCEPTED"),
                           ("publish_to_in_progress", "IN_PROGRESS (first CAN frame sent)"),
                           ("publish_to_final", "final status (vehicle reaction included)")):
            figures = commands[key]
            rows.append([label, str(figures["count"])] + [
                "-" if figures[k] is None else f"{figures[k]:.2f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")])
        print(table(rows, right={1, 2, 3, 4, 5}))
        print(f"  statuses: {', '.join(f'{v:,} {k}' for k, v in commands['statuses'].items())}; agent RSS after the run "
              f"{commands['rss_mb']} MB (peak {commands['peak_rss_mb']} MB); broker TCP_NODELAY "
              f"{commands.get('broker_tcp_nodelay', '?')}")
        for other in commands.get("not_succeeded", [])[:3]:
            print(f"  not succeeded: {other['name']} {other['status']} {other.get('reason') or ''}: {other.get('text') or ''}")
        p99 = commands["publish_to_in_progress"]["p99_ms"]
        all_succeeded = commands["succeeded"] == commands["commands"]
        targets.append(["command publish -> frame sent -> IN_PROGRESS p99 <= 10 ms",
                        "no IN_PROGRESS" if p99 is None else
                        f"{p99:.2f} ms ({commands['succeeded']:,} of {commands['commands']:,} SUCCEEDED)",
                        "yes" if p99 is not None and p99 <= 10 and all_succeeded else "NO"])

    # A fleet after a broker outage (issue 18)
    reconnect = next((r for r in results if r.get("benchmark") == "reconnect"), None)
    if reconnect:
        print()
        if reconnect.get("reconnected"):
            print(f"Reconnect: {reconnect['agents']} axled, broker down {reconnect['outage_seconds']:g} s; after its restart "
                  f"{reconnect['reconnected']} reconnected, first {reconnect['first_seconds']:.2f} s, median "
                  f"{reconnect['median_seconds']:.2f} s, last {reconnect['last_seconds']:.2f} s (spread "
                  f"{reconnect['spread_seconds']:.1f} s; backoff cap {reconnect['backoff_cap_seconds']} s)")
        if reconnect.get("error"):
            print(f"Reconnect: {reconnect['error']}")

    # A fleet against one broker, and its bytes on the wire (issue 15; docs/fleet-scale.md has the rest)
    fleet = {r["benchmark"]: r for r in results if str(r.get("benchmark", "")).startswith("fleet-")
             and r["benchmark"] != "fleet-wire"}
    wires = [r for r in results if r.get("benchmark") == "fleet-wire" and r.get("batch_seconds") == 5
             and r.get("scenario") != "parked" and not r.get("error")]
    if fleet or wires:
        print()
        broker = fleet.get("fleet-broker", {})
        if broker.get("agents") and not broker.get("error"):
            print(f"Fleet: {broker['agents']} axled; mosquitto {broker['broker_cpu_ms_per_vehicle_minute']:.3f} ms CPU "
                  f"per vehicle-minute, {broker['broker_rss_kb_per_vehicle']:.1f} KB per vehicle; each agent "
                  f"{broker['agent_cpu_percent_each']:.2f} % of a core, {broker['agent_rss_mb_median']:.1f} MB")
        for wire in wires:
            print(f"Fleet: {wire['profile']} {wire['scenario']}, 5 s batches, mutual TLS: "
                  f"{wire['bytes_per_hour'] / 1e6:.3f} MB per vehicle-hour, a TLS connection "
                  f"{wire.get('connect_bytes', 0):,} B")
        spread = fleet.get("fleet-reconnect", {})
        if spread.get("histogram"):
            share = spread["max_bucket_share"]
            targets.append([f"fleet: no second holds > {100 * spread['goal_max_bucket_share']:.0f} % of reconnections",
                            f"{100 * share:.1f} % (second {spread['max_bucket_second']}, {spread['agents']} agents)",
                            "yes" if share <= spread["goal_max_bucket_share"] else "NO"])
        for name, line in fleet.items():
            if line.get("error"):
                print(f"Fleet: {name}: {line['error']}")

    diag = {r["benchmark"]: r for r in results if str(r.get("benchmark", "")).startswith("diag-") and not r.get("error")}
    pair = diag.get("diag-flow-control-socketpair")
    if pair:
        print(f"Diagnostics (socket pair): flow control after a first frame p50 {pair['p50_us']:.0f} us, "
              f"p99 {pair['p99_us']:.0f} us")
    if diag:
        print()
        pids, latency, flow = diag.get("diag-pids"), diag.get("diag-latency"), diag.get("diag-flow-control")
        if pids:
            print(f"Diagnostics (bus in memory): {pids['pids_per_s']:,.0f} PIDs/s, {pids['pids_per_request']} a request, "
                  f"the ECU answering after {pids['ecu_delay_ms']:g} ms; {pids['failures']} of {pids['requests']} failed")
            targets.append(["diagnostics: >= 500 OBD-II PIDs/s", f"{pids['pids_per_s']:,.0f}",
                            "yes" if pids["pids_per_s"] >= 500 else "NO"])
        if latency:
            print(f"Diagnostics: request to whole answer p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms")
        if flow:
            print(f"Diagnostics: flow control after a first frame p50 {flow['p50_us']:.0f} us, p99 {flow['p99_us']:.0f} us")
            targets.append(["diagnostics: flow control <= 1 ms p99", f"{flow['p99_us']:.0f} us",
                            "yes" if flow["p99_us"] <= 1000 else "NO"])

    print()
    print("Targets (informational: reported, not asserted)")
    print(table(targets, right=set()))
    print()


if __name__ == "__main__":
    main()
