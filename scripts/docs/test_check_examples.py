#!/usr/bin/env python3
"""Self-test of check_examples.py's extractor and comparisons (no binaries, no broker): `make docs-test` runs it first."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_examples  # noqa: E402


def extract(markdown: str) -> list:
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as handle:
        handle.write(markdown)
    try:
        return check_examples.extract_file(handle.name, "doc.md")
    finally:
        os.unlink(handle.name)


class ExtractorTests(unittest.TestCase):
    def test_synopsis_lines_are_not_examples_and_commands_are(self):
        examples = extract(
            "Usage:\n\n```\n"
            "axle dbc inspect FILE [--json]\n"
            "axle simulate --profile demo-sedan|fleet-truck-j1939\n"
            "axle-fleet watch --broker URL --vehicle demo-001\n"
            "axle dbc encode --dbc a.dbc Msg Sig=1 …\n"
            "axled --config /etc/axle/axled.toml        as systemd runs it\n"
            "axle dbc inspect Firmware-Profiles/demo-sedan/demo_sedan.dbc   # a comment is fine\n"
            "not a command line\n"
            "```\n")
        self.assertEqual([e.line for e in examples], [4, 5, 6, 7, 8, 9])
        reasons = [e.not_example_reason for e in examples]
        self.assertEqual(reasons[:5], [
            "synopsis: [optional] parts", "synopsis: a|b alternatives", "synopsis: placeholder URL",
            "synopsis: '…'", "usage table: a description column after the command"])
        self.assertIsNone(reasons[5])

    def test_a_continued_command_with_its_output_and_exit_status(self):
        examples = extract(
            "<!-- example: agent highway; exit 1 -->\n"
            "```\n"
            "$ axle-fleet command send --broker mqtt://broker:1883 --vehicle demo-001 \\\n"
            "      --key keys/k.key trunk.open\n"
            "sent trunk.open   (stderr)\n"
            "14:05:11.002  REJECTED  precondition_failed\n"
            "$ echo $?\n"
            "1\n"
            "```\n")
        self.assertEqual(len(examples), 1)
        example = examples[0]
        self.assertEqual(example.line, 3)
        self.assertIn("\\\n      --key keys/k.key trunk.open", example.command)
        self.assertEqual(example.expected_output, ["14:05:11.002  REJECTED  precondition_failed"])
        self.assertEqual((example.expected_exit, example.shown_exit, example.agent_scenario), (1, 1, "highway"))
        self.assertIsNone(example.not_example_reason)

    def test_an_exit_status_shown_without_its_marker_is_an_error(self):
        with self.assertRaisesRegex(check_examples.DocsError, r"doc.md:2: 'echo \$\?' shows 1"):
            extract("```\n$ axle status\n$ echo $?\n1\n```\n")

    def test_a_skip_carries_its_reason_and_a_skip_without_one_is_an_error(self):
        examples = extract("<!-- example: skip (needs a CAN interface can0; none here) -->\n```\naxle cansend can0 123#00\n```\n")
        self.assertEqual(examples[0].skip_reason, "needs a CAN interface can0; none here")
        with self.assertRaisesRegex(check_examples.DocsError, "doc.md:1: a skip needs a reason"):
            extract("<!-- example: skip -->\n```\naxle cansend can0 123#00\n```\n")
        with self.assertRaisesRegex(check_examples.DocsError, "unknown example marker 'maybe'"):
            extract("<!-- example: maybe -->\n```\naxle status\n```\n")

    def test_a_marker_applies_to_the_next_block_only(self):
        examples = extract(
            "<!-- not-an-example: output -->\n```\naxled is not running\n```\n\ntext\n\n```\naxle status\n```\n")
        self.assertEqual([e.not_example_reason for e in examples], ["output", None])


class ComparisonTests(unittest.TestCase):
    def test_first_words_compare_loosely_in_order(self):
        expected = ["14:02:03.123  ACCEPTED", "14:02:03.840  SUCCEEDED"]
        self.assertIsNone(check_examples.output_matches(
            expected, "20:28:17.528  ACCEPTED\n20:28:17.528  IN_PROGRESS\n20:28:17.888  SUCCEEDED  confirmed\n"))
        self.assertIn("'SUCCEEDED'", check_examples.output_matches(expected, "20:28:17.528  ACCEPTED\n"))

    def test_only_the_broker_address_is_substituted(self):
        broker = check_examples.Broker.__new__(check_examples.Broker)
        broker.host, broker.port = "127.0.0.1", 40000
        self.assertEqual(
            broker.substitute("axle-fleet watch --broker mqtt://broker:1883 --vehicle broker"),
            "axle-fleet watch --broker mqtt://127.0.0.1:40000 --vehicle broker")
        self.assertEqual(broker.substitute("mosquitto_sub -h broker.example.com -t x"),
                         "mosquitto_sub -h 127.0.0.1 -p 40000 -t x")


if __name__ == "__main__":
    unittest.main()
