#!/usr/bin/env python3
"""Tests of performance_page.py on a fixture of make bench's results (no build, no broker, a second or two):
`make docs-test` runs it.

Tests/Resources/bench/results-fixture.jsonl holds one line of every kind the bench scripts print, in their own
formats (the cantools lines were captured from cantools_bench.py; the others follow the code that prints them); its
figures are made up, close to a real run's. The fleet stage's lines (scripts/bench/fleet.py) are in
scripts/bench/fleet-results-fixture.jsonl beside this file, captured from a short run of fleet.py.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.abspath(os.path.join(HERE, "..", ".."))
GENERATOR = os.path.join(HERE, "performance_page.py")
FIXTURE = os.path.join(REPOSITORY, "Tests", "Resources", "bench", "results-fixture.jsonl")
FLEET_FIXTURE = os.path.join(HERE, "fleet-results-fixture.jsonl")

sys.path.insert(0, HERE)
import performance_page  # noqa: E402

README = f"# A project\n\nBefore.\n\n{performance_page.README_BEGIN}\nplaceholder\n{performance_page.README_END}\n\nAfter.\n"


def fixture_lines() -> list[dict]:
    lines = []
    for path in (FIXTURE, FLEET_FIXTURE):
        with open(path) as source:
            lines += [json.loads(line) for line in source if line.strip()]
    return lines


class Generated:
    """The page and the README written from some results, in a temporary directory."""

    def __init__(self, lines: list[dict], readme: str = README):
        self.directory = tempfile.TemporaryDirectory()
        folder = self.directory.name
        self.results = os.path.join(folder, "results.jsonl")
        with open(self.results, "w") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)
        self.readme_path = os.path.join(folder, "README.md")
        with open(self.readme_path, "w") as out:
            out.write(readme)
        self.page_path = os.path.join(folder, "performance.md")
        self.fleet_page_path = os.path.join(folder, "fleet-scale.md")
        self.run = subprocess.run([sys.executable, GENERATOR, self.results, "--page", self.page_path,
                                   "--readme", self.readme_path, "--fleet-page", self.fleet_page_path],
                                  capture_output=True, text=True, timeout=60)

    def page(self) -> str:
        with open(self.page_path) as source:
            return source.read()

    def fleet_page(self) -> str:
        with open(self.fleet_page_path) as source:
            return source.read()

    def readme(self) -> str:
        with open(self.readme_path) as source:
            return source.read()

    def close(self) -> None:
        self.directory.cleanup()


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row that is not a header or a rule."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| Figure |") and not line.startswith("| Stage |") \
                and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def scaled(value, factor):
    """Every number of a result line times factor (bools and strings as they are)."""
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        return value
    if isinstance(value, (int, float)):
        return type(value)(value * factor)
    if isinstance(value, list):
        return [scaled(v, factor) for v in value]
    return {k: scaled(v, factor) for k, v in value.items()}


class PerformancePageTests(unittest.TestCase):
    def generate(self, lines: list[dict], readme: str = README) -> Generated:
        generated = Generated(lines, readme)
        self.addCleanup(generated.close)
        return generated

    def test_the_same_results_give_the_same_bytes(self):
        first, second = self.generate(fixture_lines()), self.generate(fixture_lines())
        self.assertEqual(first.run.returncode, 0, first.run.stderr)
        self.assertEqual(second.run.returncode, 0, second.run.stderr)
        self.assertEqual(first.page(), second.page())
        self.assertEqual(first.readme(), second.readme())
        self.assertEqual(first.fleet_page(), second.fleet_page())

    def test_every_figure_of_a_full_run_is_on_the_page_with_how_and_against_what(self):
        page = self.generate(fixture_lines()).page()
        sections = re.findall(r"^## \d+\. (.+)$", page, re.MULTILINE)
        self.assertEqual(sections, ["Decoding frames", "Parsing a DBC", "Replaying a log", "The decode command",
                                    "Outbox and uplink", "The whole agent", "Remote commands",
                                    "Reconnecting after a broker outage", "Fleet scale",
                                    "Diagnostics: polling OBD-II PIDs"])
        for section in page.split("\n## ")[4:]:
            self.assertIn("\nWhat: ", section)
            self.assertIn("\nHow: ", section)
            self.assertIn("\nCompared with: ", section)
        # A full run measures everything but what the fixture itself marks skipped (link return without root).
        not_measured = [row[0] for row in table_rows(page) if row[1].startswith("not measured")]
        self.assertEqual(not_measured, ["link back up → first record delivered"])
        for expected in ("Machine: Intel(R) Xeon(R) CPU @ 2.20GHz, 2 cores, Linux 6.1.0-27-cloud-amd64; ",
                         "Software: Swift version 6.3 (swift-6.3-RELEASE); cantools 45.1.0 on Python 3.11.2.",
                         "Date: 2026-12-06 23:00 UTC.", "Stages skipped in this run: none.",
                         "| 0.92 M | 76,049 (Python pipeline, 1 run) | 12.1× | median of 3 runs, spread 0.91 M–0.93 M |",
                         "| 6.0 % | 80.7 % (Python pipeline) | 13.5× |", "| 4.67 ms | 10 ms (the target) |",
                         "| 27.0 s | 30 s (the backoff's cap: the widest spread it allows) | - | 1 run: 100 agents, "
                         "the broker down for 30 s |",
                         "| 31.0 ms | - | - | median of 5 runs, spread 28.0 ms–50.0 ms |",
                         "not measured in this run (skipped: needs root and ip netns)",
                         "| OBD-II PIDs/s from one ECU answering within 5 ms, up to 6 per request | 905 | 500 (the "
                         "goal); an ELM327 adapter: 3-8 | 1.8× | 1 run: 453 requests of 6 PIDs over 3 s, the ECU "
                         "answering after 5 ms, 0 failed |",
                         "| OBD-II request → whole answer, p99 | 7.15 ms | 5 ms of it the ECU's own delay |",
                         "| flow control after an answer's first frame, p99 | 475 µs | 1 ms (the goal) | 2.1× |",
                         "| over a socket pair: flow control after the ECU wrote a first frame, p99 | 49 µs | 1 ms "
                         "(the goal) | 20.4× |"):
            self.assertIn(expected, page)

    def test_the_readme_table_is_the_page_summary_and_links_to_the_page(self):
        generated = self.generate(fixture_lines())
        page, readme = generated.page(), generated.readme()
        self.assertTrue(readme.startswith("# A project\n\nBefore.\n\n" + performance_page.README_BEGIN + "\n"))
        self.assertTrue(readme.endswith(performance_page.README_END + "\n\nAfter.\n"))
        self.assertNotIn("placeholder", readme)
        self.assertIn("[docs/performance.md](docs/performance.md)", readme)
        readme_rows = table_rows(readme)
        self.assertEqual([row[0] for row in readme_rows], list(performance_page.SUMMARY))
        page_rows = {row[0]: row for row in table_rows(page)}
        for row in readme_rows:
            self.assertEqual(page_rows[row[0]][:4], row, f"README row {row[0]!r} differs from the page")
            self.assertIn(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} |", page)

    def test_skipped_stages_are_named_instead_of_breaking_the_page(self):
        lines = [line for line in fixture_lines()
                 if performance_page.STAGE_OF.get(line["benchmark"]) not in ("agent", "commands", "reconnect")]
        lines[0] = {**lines[0], "skipped": "agent,commands,reconnect"}
        generated = self.generate(lines)
        self.assertEqual(generated.run.returncode, 0, generated.run.stderr)
        page = generated.page()
        self.assertIn("Stages skipped in this run: agent, commands, reconnect.", page)
        rows = {row[0]: row[1] for row in table_rows(page)}
        for name in (performance_page.AGENT_FIGURE, performance_page.CPU_FIGURE, performance_page.MEMORY_FIGURE,
                     performance_page.READY_FIGURE):
            self.assertEqual(rows[name], "not measured in this run (skipped: stage agent, BENCH_SKIP)")
        self.assertEqual(rows[performance_page.COMMAND_FIGURE],
                         "not measured in this run (skipped: stage commands, BENCH_SKIP)")
        self.assertEqual(rows[performance_page.RECONNECT_FIGURE],
                         "not measured in this run (skipped: stage reconnect, BENCH_SKIP)")
        self.assertEqual(rows[performance_page.DECODE_FIGURE], "12.48 M")

    def test_a_skipped_diag_stage_is_named_on_its_rows(self):
        lines = [line for line in fixture_lines() if performance_page.STAGE_OF.get(line["benchmark"]) != "diag"]
        lines[0] = {**lines[0], "skipped": "diag"}
        rows = {row[0]: row[1] for row in table_rows(self.generate(lines).page())}
        self.assertEqual(rows[performance_page.DIAG_PIDS_FIGURE], "not measured in this run (skipped: stage diag, BENCH_SKIP)")
        self.assertEqual(rows["OBD-II request → whole answer"], "not measured in this run (skipped: stage diag, BENCH_SKIP)")

    def test_commands_without_a_status_say_what_came_back(self):
        lines = fixture_lines()
        for line in lines:
            if line["benchmark"] == "command-latency":
                line.update(statuses={"NO_FINAL_STATUS": 10}, succeeded=0, commands=10)
                for key in ("publish_to_accepted", "publish_to_in_progress", "publish_to_final"):
                    line[key] = {"count": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None,
                                 "min_ms": None}
        rows = {row[0]: row[1] for row in table_rows(self.generate(lines).page())}
        self.assertEqual(rows[performance_page.COMMAND_FIGURE],
                         "not measured in this run (no IN_PROGRESS came back from 10 commands: 10 NO_FINAL_STATUS)")

    def test_a_stage_that_printed_nothing_or_failed_says_so(self):
        lines = [line for line in fixture_lines() if line["benchmark"] not in ("decode", "command-latency")]
        for line in lines:
            if line["benchmark"] == "agent-32k":
                line["error"] = "axled: exit 1 | no summary line"
        page = self.generate(lines).page()
        rows = {row[0]: row[1] for row in table_rows(page)}
        self.assertEqual(rows[performance_page.DECODE_FIGURE],
                         "not measured in this run (no result from stage decode: it failed or was interrupted)")
        self.assertEqual(rows[performance_page.CPU_FIGURE],
                         "not measured in this run (failed: axled: exit 1 \\| no summary line)")

    def test_between_two_runs_only_the_machine_and_date_lines_and_the_figures_change(self):
        lines = fixture_lines()
        other = [scaled(line, 1.37) for line in lines]
        other[0] = {**lines[0], "cpu_model": "AMD EPYC 7B13", "cores": 4, "kernel": "6.12.0", "date": "2027-01-02 10:00 UTC",
                    "load_average": "1.20"}
        first, second = self.generate(lines), self.generate(other)
        for a, b in ((first.page(), second.page()), (first.readme(), second.readme()),
                     (first.fleet_page(), second.fleet_page())):
            self.assertNotEqual(a, b)
            a_lines, b_lines = a.splitlines(), b.splitlines()
            self.assertEqual(len(a_lines), len(b_lines))
            for line_a, line_b in zip(a_lines, b_lines):
                if line_a == line_b or line_a.startswith(("Machine: ", "Software: ", "Date: ", "Run: ",
                                                          "Measured by `make bench` on ")):
                    continue
                self.assertTrue(line_a.startswith("| "), f"a line that is not a figure changed: {line_a!r}")
                self.assertEqual(table_rows(line_a)[0][0], table_rows(line_b)[0][0], "a figure's name changed")

    def test_the_fleet_rows_are_on_the_performance_page(self):
        rows = {row[0]: row for row in table_rows(self.generate(fixture_lines()).page())}
        self.assertEqual(rows[performance_page.FLEET_RECONNECT_FIGURE][1:3], ["30.0 %", "5 % (the goal)"])
        self.assertIn("1 run: 10 agents, the broker down for 10 s; second 0 after the restart",
                      rows[performance_page.FLEET_RECONNECT_FIGURE][4])
        self.assertEqual(rows["the same: first, median, p90 and last CONNECT after the restart"][1],
                         "0.306 s, 1.19 s, 11.8 s, 15.1 s")
        self.assertEqual(rows["the same: reconnections in each second after the restart, from second 0"][1],
                         "3 2 0 0 0 0 0 0 0 0 1 3 0 0 0 1")
        self.assertEqual(rows[performance_page.FLEET_DRAIN_FIGURE][1], "15.2 s")
        self.assertIn("median 0.150 s, longest 0.240 s", rows[performance_page.FLEET_DRAIN_FIGURE][4])
        self.assertEqual(rows[performance_page.FLEET_BROKER_CPU_FIGURE][1], "5.999 ms per minute")
        self.assertEqual(rows[performance_page.FLEET_BROKER_RSS_FIGURE][1], "6.8 KB")
        self.assertEqual(rows[performance_page.fleet_wire_figure("demo-sedan")][1], "0.449 MB")
        self.assertEqual(rows[performance_page.fleet_wire_figure("fleet-truck-j1939")][1], "0.391 MB")
        self.assertIn("a TLS connection 5.40 KB", rows[performance_page.fleet_wire_figure("demo-sedan")][4])

    def test_the_fleet_page_month_is_its_formula_applied_to_the_measured_sizes(self):
        lines = fixture_lines()
        rows = {row[0]: row[1:] for row in table_rows(self.generate(lines).fleet_page())}
        ping = next(line for line in lines if line["benchmark"] == "fleet-keepalive")["bytes_per_ping"]
        for column, (profile, scenario, _) in enumerate(performance_page.FLEET_PROFILES):
            wire = next(line for line in lines if line["benchmark"] == "fleet-wire" and line["profile"] == profile
                        and line["scenario"] == scenario and line["batch_seconds"] == 5)
            driving, connections = performance_page.FLEET_USAGE[profile]
            # 30 s keepalive: 120 exchanges in every hour not driving.
            expected = driving * wire["bytes_per_hour"] + (720 - driving) * 120 * ping + \
                connections * wire["connect_bytes"]
            self.assertEqual(rows["bytes a vehicle-month"][column], performance_page.megabytes(expected))
            self.assertEqual(rows["cellular data at $0.03/MB"][column], performance_page.dollars(expected / 1e6 * 0.03))
            # Every fixture payload is under 5 KB: one billed message per 5 s batch, and a birth per connection.
            self.assertEqual(rows["messages AWS IoT Core bills a month"][column], f"{driving * 720 + connections:,}")
            self.assertEqual(rows["a keepalive exchange (PINGREQ, PINGRESP, ACK)"][column], "168 B")
            self.assertTrue(rows["IPv4 and TCP header counted per segment"][column].startswith("40 B (no TCP "))
            # The 30 s keepalive row and the 120-connections row are the month above.
            self.assertTrue(rows["30 s"][column + 1].startswith(performance_page.megabytes(expected) + ", "))
            self.assertTrue(rows["120"][column].startswith(performance_page.megabytes(expected) + ", "))

    def test_a_skipped_fleet_stage_is_named_on_both_pages(self):
        lines = [line for line in fixture_lines() if performance_page.STAGE_OF.get(line["benchmark"]) != "fleet"]
        lines[0] = {**lines[0], "skipped": "fleet"}
        generated = self.generate(lines)
        self.assertEqual(generated.run.returncode, 0, generated.run.stderr)
        skipped = "not measured in this run (skipped: stage fleet, BENCH_SKIP)"
        rows = {row[0]: row[1] for row in table_rows(generated.page())}
        for name in (performance_page.FLEET_RECONNECT_FIGURE, performance_page.FLEET_DRAIN_FIGURE,
                     performance_page.FLEET_BROKER_CPU_FIGURE, performance_page.fleet_wire_figure("demo-sedan"),
                     performance_page.fleet_wire_figure("fleet-truck-j1939")):
            self.assertEqual(rows[name], skipped)
        fleet = generated.fleet_page()
        fleet_rows = {row[0]: row[1:] for row in table_rows(fleet)}
        self.assertEqual(fleet_rows["bytes a vehicle-month"], [skipped, skipped])
        self.assertEqual(fleet_rows["1 s"], [skipped, skipped])
        self.assertIn(f"Run: {skipped}.", fleet)
        # What does not depend on a run is still there: the formula and scaling out.
        self.assertIn("bytes    = D × driving_bytes_per_hour", fleet)
        self.assertIn("`$share/kafka-bridge/axle/v1/+/telemetry`", fleet)

    def test_a_readme_without_the_markers_is_an_error_that_says_what_to_add(self):
        generated = self.generate(fixture_lines(), readme="# A project\n")
        self.assertEqual(generated.run.returncode, 1)
        self.assertIn("has no '<!-- performance-table:begin", generated.run.stderr)
        self.assertEqual(generated.readme(), "# A project\n")

    def test_the_repository_readme_has_the_markers_make_bench_writes_between(self):
        with open(os.path.join(REPOSITORY, "README.md")) as source:
            text = source.read()
        begin, end = text.find(performance_page.README_BEGIN), text.find(performance_page.README_END)
        self.assertGreaterEqual(begin, 0)
        self.assertGreater(end, begin)


if __name__ == "__main__":
    unittest.main()
