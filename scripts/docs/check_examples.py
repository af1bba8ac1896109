#!/usr/bin/env python3
"""Runs every command example of README.md and docs/*.md as written, so the docs cannot drift from the product.

`make docs-test` (part of `make test`) runs it after `swift build`. Python 3.11, standard library only.

What counts as an example: inside a fenced code block, a line starting with `$ ` (a prompt: a command whatever its
program), or a line whose first word is one of EXAMPLE_PROGRAMS; a trailing `\\` joins the next line. Lines after a
`$ ` command up to the next command or blank line are its documented output (` (stderr)` at the end marks a stderr
line); `$ echo $?` and the number under it state the previous command's exit status.

Not examples (never run, counted apart):
- synopsis lines: `[OPTIONS]`-style brackets, `…`, `a|b` alternatives, UPPERCASE placeholders (FILE, DIR, URL),
  or a description column after the command (usage tables);
- blocks under `<!-- not-an-example: REASON -->`.

Markers: HTML comment lines right before a block (several may stack):
    <!-- not-an-example: REASON -->        the block shows no runnable command (a synopsis, a usage table)
    <!-- example: skip (REASON) -->        not run here; REASON is printed (a skip without one is an error)
    <!-- example: exit N -->               every command of the block is expected to exit with N
    <!-- example: agent SCENARIO -->       needs the agent on that simulator scenario (default: parked)
    <!-- example: stop-after-output -->    runs until interrupted (watch): stopped with SIGINT after its first line
                                           of output or STOP_AFTER_SECONDS, then must exit 0 having printed a line
                                           (its documented output, a sample of what may arrive, is not compared)
Several settings may share one comment: `<!-- example: agent highway; exit 1 -->`.

The environment ("as written" except for the broker address):
- PATH starts with a copy of the built binaries (axle, axled, axle-fleet), so a rebuild during the run cannot
  swap them mid-way;
- the working directory is a temporary directory holding links to the repository's read-only inputs
  (Firmware-Profiles, examples, scripts, .venv, docs, README.md); files the examples write land there;
- a private mosquitto (/usr/sbin/mosquitto) on a free loopback port; the docs' broker host names are rewritten to
  it by BROKER_SUBSTITUTIONS below, and nothing else in a command is changed;
- for examples that talk to a vehicle, axled with the demo sedan simulator as vehicle AGENT_VEHICLE_ID, trusting
  every command *.pub key the examples generated so far (not configuration keys), its control socket in
  $AXLE_SOCKET; ready when its retained status says online, and for a driving scenario once Vehicle.Speed is above 0;
- FIXTURES below: files the docs assume the reader already has.

Exit status: 0 when every example ran as documented, 1 when any failed (file:line, command, exit status, stderr),
2 when the docs are malformed (a skip without a reason, an unknown marker).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
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

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Programs whose lines are examples even without a `$ ` prompt.
EXAMPLE_PROGRAMS = (
    "axle", "axled", "axle-fleet", "mosquitto_sub", "mosquitto_pub", "python3", ".venv/bin/python", "make",
    "candump", "cansend",
)

# The one change made to a command before it runs: the docs' broker host names become the private broker.
# (pattern, replacement template; {host} and {port} are the private broker's)
BROKER_SUBSTITUTIONS = (
    (r"mqtt://(?:broker\.example\.com|broker|localhost)(?::1883)?(?=[\s/'\"]|$)", "mqtt://{host}:{port}"),
    (r"(?<=\s)-h (?:broker\.example\.com|broker|localhost)(?=\s|$)", "-h {host} -p {port}"),
)

# The vehicle id the docs' examples address (docs/axle-fleet.md).
AGENT_VEHICLE_ID = "demo-001"
AGENT_PROFILE = "Firmware-Profiles/demo-sedan"
DEFAULT_SCENARIO = "parked"

# Files an example reads that the docs assume the reader has; made before the first example needing them.
# payload.bin: one telemetry message of the running agent, as docs/payload.md's reader would have saved it.
FIXTURES = {
    "payload.bin": "one MQTT message from axle/v1/demo-001/telemetry of the running agent",
}

# Read-only inputs linked into the working directory.
LINKED_INPUTS = ("Firmware-Profiles", "examples", "scripts", ".venv", "docs", "README.md", "Makefile")

COMMAND_TIMEOUT_SECONDS = 60
STOP_AFTER_SECONDS = 20
READY_TIMEOUT_SECONDS = 20
DRIVING_TIMEOUT_SECONDS = 30

DOCUMENTED_FILES = ("README.md", "docs/*.md")


# MARK: - Extraction


@dataclasses.dataclass
class Example:
    file: str
    line: int  # 1-based line of the command's first line
    command: str  # continuation lines joined (backslash-newline kept: bash reads it as written)
    expected_output: list[str] = dataclasses.field(default_factory=list)  # stdout lines shown under a `$ ` command
    expected_exit: int = 0
    shown_exit: int | None = None  # from `$ echo $?` under it
    agent_scenario: str | None = None
    stop_after_output: bool = False
    skip_reason: str | None = None  # from a marker
    not_example_reason: str | None = None  # synopsis: from a marker or the heuristics

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


class DocsError(Exception):
    """The docs are malformed for this check (a skip without a reason, an unknown marker)."""


MARKER = re.compile(r"^\s*<!--\s*(not-an-example|example)\s*:?\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def parse_markers(comments: list[tuple[int, str]], file: str) -> dict:
    settings: dict = {}
    for line_number, text in comments:
        match = MARKER.match(text)
        if not match:
            continue
        kind, body = match.group(1), match.group(2)
        where = f"{file}:{line_number}"
        if kind == "not-an-example":
            if not body:
                raise DocsError(f"{where}: '<!-- not-an-example: -->' needs a reason, e.g. '<!-- not-an-example: synopsis -->'")
            settings["not_example"] = body
            continue
        # `;` separates settings, except inside a skip's (reason).
        for part in (p.strip() for p in re.findall(r"(?:\([^)]*\)|[^;])+", body)):
            if part.startswith("skip"):
                reason = re.fullmatch(r"skip\s*\((.+)\)", part)
                if not reason or not reason.group(1).strip():
                    raise DocsError(f"{where}: a skip needs a reason: '<!-- example: skip (needs a CAN interface can0) -->'")
                settings["skip"] = reason.group(1).strip()
            elif m := re.fullmatch(r"exit\s+(\d+)", part):
                settings["exit"] = int(m.group(1))
            elif m := re.fullmatch(r"agent\s+([a-z-]+)", part):
                settings["agent"] = m.group(1)
            elif part == "stop-after-output":
                settings["stop_after_output"] = True
            else:
                raise DocsError(
                    f"{where}: unknown example marker '{part}': use skip (REASON), exit N, agent SCENARIO or "
                    "stop-after-output (scripts/docs/check_examples.py)")
    return settings


def strip_quoted(text: str) -> str:
    """The command with quoted strings blanked out, so the heuristics only look at shell words."""
    return re.sub(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"", "''", text)


PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]+(\.[A-Za-z0-9]+)?$")


def synopsis_reason(command: str) -> str | None:
    """Why a command line is a synopsis or usage-table row rather than a runnable example, or None."""
    words_only = strip_quoted(re.sub(r"\\\n\s*", " ", command))
    if re.search(r"[─│┌└┐┘▶◀⇄]", words_only):
        return "a diagram"
    without_comment = re.sub(r"\s#.*$", "", words_only, flags=re.M)
    if re.search(r"(^|\s)\[[^\]]+\]", without_comment):
        return "synopsis: [optional] parts"
    if "…" in without_comment or re.search(r"\s\.\.\.(\s|$)", without_comment):
        return "synopsis: '…'"
    if re.search(r"[\w-]\|[\w-]", without_comment):
        return "synopsis: a|b alternatives"
    for word in re.split(r"[\s=:]+", without_comment):
        if PLACEHOLDER.match(word):
            return f"synopsis: placeholder {word}"
    if re.search(r"\S {3,}[^\s#\\]", without_comment):
        return "usage table: a description column after the command"
    return None


def is_command_line(text: str) -> bool:
    stripped = text.strip()
    if stripped.startswith("$ "):
        return True
    first = stripped.split(" ", 1)[0] if stripped else ""
    return first in EXAMPLE_PROGRAMS


def extract_file(path: str, display_name: str) -> list[Example]:
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    examples: list[Example] = []
    index = 0
    pending_comments: list[tuple[int, str]] = []
    while index < len(lines):
        line = lines[index]
        if MARKER.match(line):
            pending_comments.append((index + 1, line))
            index += 1
            continue
        if not FENCE.match(line):
            if line.strip():
                pending_comments = []
            index += 1
            continue
        fence = FENCE.match(line).group(1)
        settings = parse_markers(pending_comments, display_name)
        pending_comments = []
        index += 1
        block_start = index
        while index < len(lines) and not lines[index].strip().startswith(fence):
            index += 1
        block = lines[block_start:index]
        index += 1  # the closing fence
        examples += examples_of_block(block, block_start + 1, display_name, settings)
    return examples


def examples_of_block(block: list[str], first_line: int, file: str, settings: dict) -> list[Example]:
    examples: list[Example] = []
    current: Example | None = None  # the last `$ ` command, collecting its output
    position = 0
    while position < len(block):
        text = block[position]
        line_number = first_line + position
        position += 1
        if is_command_line(text):
            prompted = text.strip().startswith("$ ")
            command = text.strip()[2:] if prompted else text.strip()
            while command.endswith("\\") and position < len(block):
                command += "\n" + block[position]
                position += 1
            if prompted and re.fullmatch(r"echo \$\?", command.strip()):
                shown = block[position].strip() if position < len(block) else ""
                if current is None or not shown.isdigit():
                    raise DocsError(f"{file}:{line_number}: '$ echo $?' needs a command before it and its number after it")
                current.shown_exit = int(shown)
                position += 1
                current = None
                continue
            example = Example(
                file=file, line=line_number, command=command, expected_exit=settings.get("exit", 0),
                agent_scenario=settings.get("agent"), stop_after_output=settings.get("stop_after_output", False),
                skip_reason=settings.get("skip"),
                not_example_reason=settings.get("not_example") or synopsis_reason(command))
            examples.append(example)
            current = example if prompted else None
        elif current is not None:
            if not text.strip():
                current = None
            elif not text.rstrip().endswith("(stderr)"):
                current.expected_output.append(text)
    for example in examples:
        if example.shown_exit is not None and example.shown_exit != example.expected_exit:
            raise DocsError(
                f"{example.location}: 'echo $?' shows {example.shown_exit} but the block expects exit "
                f"{example.expected_exit}: add '<!-- example: exit {example.shown_exit} -->' before the block")
    return examples


def extract(repository: str) -> list[Example]:
    examples: list[Example] = []
    for pattern in DOCUMENTED_FILES:
        for path in sorted(glob.glob(os.path.join(repository, pattern))):
            examples += extract_file(path, os.path.relpath(path, repository))
    return examples


# MARK: - Output comparison


def output_key(line: str) -> str | None:
    """The first word of an output line (timestamps and numbers skipped): what the loose comparison compares."""
    match = re.search(r"[A-Za-z_][A-Za-z0-9_.-]*", line)
    return match.group(0) if match else None


def is_command_key(path: str) -> bool:
    """Whether a .pub file is a command key (axled --trust-key), not a configuration key (docs/configuration.md)."""
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read(64).startswith("axle-ed25519-public ")


def output_matches(expected: list[str], actual: str) -> str | None:
    """None when the first words of the documented lines appear, in order, among the actual lines' first words."""
    actual_keys = [key for key in map(output_key, actual.splitlines()) if key]
    cursor = 0
    for line in expected:
        key = output_key(line)
        if key is None:
            continue
        while cursor < len(actual_keys) and actual_keys[cursor] != key:
            cursor += 1
        if cursor == len(actual_keys):
            return f"the documented line {line.strip()!r} has no counterpart starting with {key!r} in the output"
        cursor += 1
    return None


# MARK: - Environment


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, deadline_seconds: float, what: str, log_file: str | None = None) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    tail = ""
    if log_file and os.path.exists(log_file):
        with open(log_file, errors="replace") as handle:
            tail = "\n" + "".join(handle.readlines()[-20:])
    raise RuntimeError(f"{what} not ready within {deadline_seconds} s{tail}")


class Broker:
    def __init__(self, directory: str):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.directory = directory
        self.log = os.path.join(directory, "mosquitto.log")
        configuration = os.path.join(directory, "mosquitto.conf")
        lines = [
            "per_listener_settings false", "persistence false", f"log_dest file {self.log}",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
        ]
        # As root, mosquitto would switch to the `mosquitto` user, which cannot write this directory.
        if os.geteuid() == 0:
            lines.append("user root")
        lines += [f"listener {self.port} {self.host}", "allow_anonymous true"]
        with open(configuration, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            ["/usr/sbin/mosquitto", "-c", configuration], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.listening, READY_TIMEOUT_SECONDS, f"mosquitto on {self.host}:{self.port}", self.log)

    def listening(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {self.process.returncode}; its log: {self.log}")
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def substitute(self, command: str) -> str:
        for pattern, template in BROKER_SUBSTITUTIONS:
            command = re.sub(pattern, template.format(host=self.host, port=self.port), command)
        return command

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Agent:
    """axled on the demo sedan simulator, as vehicle AGENT_VEHICLE_ID."""

    def __init__(self, broker: Broker, workdir: str, scenario: str, trusted_keys: list[str], environment: dict):
        self.scenario = scenario
        self.trusted_keys = trusted_keys
        self.data = tempfile.mkdtemp(prefix="agent-", dir=os.path.dirname(workdir))
        self.log = os.path.join(self.data, "axled.log")
        arguments = [
            "axled", "--profile", AGENT_PROFILE, "--vehicle-id", AGENT_VEHICLE_ID, "--data-dir", self.data,
            "--broker", f"mqtt://{broker.host}:{broker.port}", "--control-socket", environment["AXLE_SOCKET"],
            "--simulate", scenario,
        ]
        for key in trusted_keys:
            arguments += ["--trust-key", key]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                arguments, cwd=workdir, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        # Ready for the examples once its retained status says online: connected and subscribed to its commands.
        status = subprocess.Popen(
            ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", f"axle/v1/{AGENT_VEHICLE_ID}/status",
             "-W", str(READY_TIMEOUT_SECONDS)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            for line in status.stdout:
                if '"online"' in line:
                    break
                if self.process.poll() is not None:
                    break
            else:
                line = ""
        finally:
            status.kill()
            status.wait()
        if '"online"' not in line:
            with open(self.log, errors="replace") as handle:
                tail = "".join(handle.readlines()[-20:])
            raise RuntimeError(f"axled ({scenario}) did not publish status online within {READY_TIMEOUT_SECONDS} s:\n{tail}")
        if scenario != "parked":
            # A driving example ("the same command while the car drives") needs the car under way, not at its start.
            wait_until(lambda: self.speed(environment) > 0, DRIVING_TIMEOUT_SECONDS,
                       f"axled ({scenario}): Vehicle.Speed above 0", self.log)

    def speed(self, environment: dict) -> float:
        answer = subprocess.run(["axle", "signals", "Vehicle.Speed", "--json"], env=environment,
                                capture_output=True, text=True)
        if answer.returncode != 0:
            return 0
        for signal_value in json.loads(answer.stdout).get("signals", []):
            if signal_value.get("name") == "Vehicle.Speed" and isinstance(signal_value.get("value"), (int, float)):
                return signal_value["value"]
        return 0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def needs_agent(command: str) -> bool:
    if any(re.search(rf"(^|\s){re.escape(name)}(\s|$)", command) for name in FIXTURES):
        return True
    if re.search(r"--broker|mosquitto_(sub|pub)", command):
        return True
    return bool(re.match(r"axle (status|signals|outbox|events|rules|commands|features)\b", command))


def prepare_fixture(name: str, workdir: str, broker: Broker) -> None:
    if name == "payload.bin":
        with open(os.path.join(workdir, name), "wb") as handle:
            subprocess.run(
                ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t",
                 f"axle/v1/{AGENT_VEHICLE_ID}/telemetry", "-C", "1", "-N", "-W", str(COMMAND_TIMEOUT_SECONDS)],
                stdout=handle, check=True)


# MARK: - Running


@dataclasses.dataclass
class Outcome:
    exit_status: int
    stdout: str
    stderr: str
    seconds: float


def processes_in_group(group: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == group:
            found.append((int(entry), name))
    return found


def run_example(example: Example, command: str, workdir: str, environment: dict) -> Outcome:
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", command], cwd=workdir, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout_lines: list[str] = []
    stderr_parts: list[str] = []
    first_line = threading.Event()

    def read_stdout():
        for line in process.stdout:
            stdout_lines.append(line)
            first_line.set()

    def read_stderr():
        stderr_parts.append(process.stderr.read())

    readers = [threading.Thread(target=read_stdout), threading.Thread(target=read_stderr)]
    for reader in readers:
        reader.start()
    if example.stop_after_output:
        # A command that runs until interrupted: once it has shown output (or after STOP_AFTER_SECONDS, for a
        # pipeline whose last stage buffers), interrupt its first program as a user's Ctrl-C would, and let the
        # rest of the pipeline finish on end of input.
        deadline = time.monotonic() + STOP_AFTER_SECONDS
        while process.poll() is None and not first_line.is_set() and time.monotonic() < deadline:
            first_line.wait(0.05)
        if process.poll() is None:
            program = os.path.basename(command.split()[0])[:15]
            for pid, name in processes_in_group(process.pid):
                if name == program:
                    os.kill(pid, signal.SIGINT)
    try:
        process.wait(timeout=COMMAND_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        stderr_parts.append(f"\n(check_examples: killed after {COMMAND_TIMEOUT_SECONDS} s)")
    for reader in readers:
        reader.join()
    return Outcome(process.returncode, "".join(stdout_lines), "".join(stderr_parts), time.monotonic() - started)


def prepare_workdir(root: str, bin_source: str) -> tuple[str, str]:
    bin_directory = os.path.join(root, "bin")
    os.makedirs(bin_directory)
    for program in ("axle", "axled", "axle-fleet"):
        source = os.path.join(bin_source, program)
        if not os.access(source, os.X_OK):
            raise RuntimeError(f"{source} is missing: build it first (swift build), or pass --bin DIR")
        shutil.copy2(source, bin_directory)
    workdir = os.path.join(root, "repo")
    os.makedirs(workdir)
    for name in LINKED_INPUTS:
        if os.path.exists(os.path.join(REPOSITORY, name)):
            os.symlink(os.path.join(REPOSITORY, name), os.path.join(workdir, name))
    return bin_directory, workdir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(REPOSITORY, ".build", "debug"),
                        help="where the built axle, axled and axle-fleet are (default .build/debug)")
    parser.add_argument("--list", action="store_true", help="list the examples found and exit")
    parser.add_argument("--only", help="run only examples whose file:line contains this text")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each command as run, the start of its output, and the substitutions")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()

    try:
        examples = extract(REPOSITORY)
    except DocsError as error:
        print(f"check_examples: {error}", file=sys.stderr)
        return 2

    runnable = [e for e in examples if not e.not_example_reason and not e.skip_reason]
    skipped = [e for e in examples if not e.not_example_reason and e.skip_reason]
    synopses = [e for e in examples if e.not_example_reason]
    if options.only:
        runnable = [e for e in runnable if options.only in e.location]
    if options.list:
        for example in examples:
            state = ("not an example: " + example.not_example_reason if example.not_example_reason
                     else "skip: " + example.skip_reason if example.skip_reason else "run")
            print(f"{example.location}: {example.command.splitlines()[0]}  [{state}]")
        return 0

    root = tempfile.mkdtemp(prefix="axle-docs-examples-")
    failures: list[tuple[Example, str, Outcome | None, str]] = []
    broker: Broker | None = None
    agent: Agent | None = None
    started = time.monotonic()
    try:
        bin_directory, workdir = prepare_workdir(root, options.bin)
        environment = dict(os.environ)
        environment["PATH"] = bin_directory + os.pathsep + environment.get("PATH", "")
        environment["AXLE_SOCKET"] = os.path.join(root, "axled.sock")
        os.makedirs(os.path.join(root, "broker"))
        broker = Broker(os.path.join(root, "broker"))
        if options.verbose:
            print(f"working directory {workdir}; binaries {bin_directory}; broker {broker.host}:{broker.port}")
            print("broker substitutions (the only change made to a command):")
            for pattern, template in BROKER_SUBSTITUTIONS:
                print(f"  {pattern}  ->  {template.format(host=broker.host, port=broker.port)}")
        prepared: set[str] = set()
        for example in runnable:
            command = broker.substitute(example.command)
            if needs_agent(command):
                scenario = example.agent_scenario or DEFAULT_SCENARIO
                keys = sorted(
                    path for path in glob.glob(os.path.join(workdir, "**", "*.pub"), recursive=True)
                    if is_command_key(path))
                if agent is None or agent.scenario != scenario or agent.trusted_keys != keys:
                    if agent is not None:
                        agent.stop()
                    agent = Agent(broker, workdir, scenario, keys, environment)
                    if options.verbose:
                        print(f"axled started: scenario {scenario}, vehicle {AGENT_VEHICLE_ID}, trusting {len(keys)} key(s)")
                for name in FIXTURES:
                    if name not in prepared and re.search(rf"(^|\s){re.escape(name)}(\s|$)", command):
                        prepare_fixture(name, workdir, broker)
                        prepared.add(name)
            if options.verbose:
                print(f"{example.location}: $ {command}")
            outcome = run_example(example, command, workdir, environment)
            problem = None
            if outcome.exit_status != example.expected_exit:
                problem = f"exit status {outcome.exit_status}, documented {example.expected_exit}"
            elif example.stop_after_output and not outcome.stdout.strip():
                problem = f"printed nothing within {STOP_AFTER_SECONDS} s"
            elif not example.stop_after_output and (
                    mismatch := output_matches(example.expected_output, outcome.stdout)) is not None:
                problem = mismatch
            if problem:
                failures.append((example, command, outcome, problem))
                print(f"FAIL {example.location} ({outcome.seconds:.1f} s): {problem}")
            elif options.verbose:
                print(f"ok   {example.location} ({outcome.seconds:.1f} s)")
                for line in outcome.stdout.splitlines()[:5]:
                    print(f"       {line[:400]}")
    except RuntimeError as error:
        print(f"check_examples: the environment could not be prepared: {error}", file=sys.stderr)
        return 1
    finally:
        if agent is not None:
            agent.stop()
        if broker is not None:
            broker.stop()
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print(f"docs examples: {len(examples)} command lines found in README.md and docs/*.md; "
          f"{len(runnable)} run, {len(failures)} failed; {len(skipped)} skipped; "
          f"{len(synopses)} not examples; {time.monotonic() - started:.1f} s")
    reasons: dict[str, list[str]] = {}
    for example in skipped:
        reasons.setdefault("skipped: " + example.skip_reason, []).append(example.location)
    for example in synopses:
        reasons.setdefault("not an example: " + example.not_example_reason, []).append(example.location)
    for reason, locations in sorted(reasons.items()):
        print(f"  {len(locations):3} {reason} ({', '.join(locations)})")
    for example, command, outcome, problem in failures:
        print(f"\n{example.location}: {problem}\n  $ {command}", file=sys.stderr)
        if outcome.stderr.strip():
            print("  stderr:\n    " + "\n    ".join(outcome.stderr.strip().splitlines()[-15:]), file=sys.stderr)
        if outcome.stdout.strip():
            print("  stdout:\n    " + "\n    ".join(outcome.stdout.strip().splitlines()[:10]), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
