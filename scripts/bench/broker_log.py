"""mosquitto for the fleet-scale benchmarks (fleet.py, reconnect.py): the broker started on a configuration file,
its log read line by line on a thread, and the time each vehicle's connection line arrived kept, so that a stage can
wait for "all of these connected again" without polling the broker."""

from __future__ import annotations

import math
import re
import subprocess
import threading
import time
from typing import Callable, Iterable


class BrokerLog:
    """mosquitto with a given configuration (which must log notices to stderr), and the connections it logs that
    `connected` matches: group 1 of the match names the vehicle."""

    def __init__(self, config: str, pin: list[str], connected: re.Pattern[str]):
        self.config, self.pin, self.connected = config, pin, connected
        self.connections: list[tuple[float, str]] = []
        self.changed = threading.Condition()
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Starts the broker; returns the monotonic time it was started."""
        self.process = subprocess.Popen(self.pin + ["mosquitto", "-c", self.config], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        return started

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            found = self.connected.search(line)
            if found:
                with self.changed:
                    self.connections.append((time.monotonic(), found.group(1)))
                    self.changed.notify_all()

    def wait_for(self, vehicles: Iterable[str] | int, since: float, deadline: float,
                 give_up: Callable[[], bool] = lambda: False) -> dict[str, float]:
        """The first connection time after `since` of each vehicle (a set of names, or any `n` vehicles), once all
        have connected, at the deadline, or as soon as `give_up()` says they never will (an agent has exited)."""
        wanted = None if isinstance(vehicles, int) else set(vehicles)
        count = vehicles if isinstance(vehicles, int) else len(wanted)
        with self.changed:
            while True:
                first: dict[str, float] = {}
                for when, vehicle in self.connections:
                    if when >= since and (wanted is None or vehicle in wanted) and vehicle not in first:
                        first[vehicle] = when
                remaining = deadline - time.monotonic()
                if len(first) >= count or remaining <= 0 or give_up():
                    return first
                self.changed.wait(min(remaining, 1))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as command_latency.py computes it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
