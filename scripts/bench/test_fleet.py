#!/usr/bin/env python3
"""Tests of fleet.py's reading of the kernel's connection counters (no agent, no broker, under a second):
`make docs-test` runs it. The figures of a run are never asserted; what is checked is that the bytes counted are the
ones docs/fleet-scale.md says are counted.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402

# `ss -tinH state established` on this kind of machine, both ends of one loopback connection: the client (local port
# 52120) sent 1,000 bytes to the listener on 47067 and received 50.
SS_OUTPUT = (
    "0      0      127.0.0.1:47067 127.0.0.1:52120\n"
    "\t bbr wscale:10,10 rto:204 rtt:0.013/0.007 ato:40 mss:32768 pmtu:65535 rcvmss:1000 advmss:65483 cwnd:11 "
    "bytes_sent:50 bytes_acked:50 bytes_received:1000 segs_out:2 segs_in:4 data_segs_out:1 data_segs_in:1 "
    "bbr:(bw:131072000000bps,mrtt:0.002,pacing_gain:2.88672,cwnd_gain:2.88672) send 221814153846bps lastsnd:204 "
    "lastrcv:204 lastack:204 delivered:2 app_limited rcv_space:65483 rcv_ssthresh:70173 minrtt:0.002 snd_wnd:65536\n"
    "0      0      127.0.0.1:52120 127.0.0.1:47067\n"
    "\t bbr wscale:10,10 rto:204 rtt:0.02/0.011 ato:40 mss:35328 pmtu:65535 rcvmss:536 advmss:65483 cwnd:11 "
    "bytes_sent:1000 bytes_acked:1001 bytes_received:50 segs_out:4 segs_in:3 data_segs_out:1 data_segs_in:1 "
    "bbr:(bw:47103988768bps,mrtt:0.006,pacing_gain:2.88672,cwnd_gain:2.88672) send 155443200000bps lastsnd:204 "
    "lastrcv:204 lastack:204 delivered:2 app_limited rcv_space:65495 rcv_ssthresh:65495 minrtt:0.006 "
    "snd_wnd:70656  \n")


def reading(port: int, sent: int, received: int, segments_out: int, segments_in: int, data_out: int) -> dict:
    return {"bytes_sent": sent, "bytes_received": received, "segs_out": segments_out, "segs_in": segments_in,
            "data_segs_out": data_out, "data_segs_in": data_out, "local_port": port, "timestamps": 0}


class ConnectionCounterTests(unittest.TestCase):
    def test_the_client_side_of_a_connection_is_found_by_the_port_it_connects_to(self):
        found = fleet.counters_by_port(SS_OUTPUT, {"agent": 47067, "absent": 1883})
        self.assertEqual(list(found), ["agent"])
        self.assertEqual(found["agent"], {"bytes_sent": 1000, "bytes_received": 50, "segs_out": 4, "segs_in": 3,
                                          "data_segs_out": 1, "data_segs_in": 1, "local_port": 52120,
                                          "timestamps": 0})

    def test_two_connections_to_one_port_are_not_read_as_one_agent(self):
        doubled = SS_OUTPUT + SS_OUTPUT.replace("52120", "52121")
        self.assertEqual(fleet.counters_by_port(doubled, {"agent": 47067}), {})

    def test_wire_bytes_are_payload_plus_a_header_per_segment_and_the_syn_options(self):
        counters = fleet.counters_by_port(SS_OUTPUT, {"agent": 47067})["agent"]
        # Since the connection began: 40-byte IPv4 + TCP headers (no timestamps here), 8 more on the SYN, SYN-ACK.
        since_start = fleet.wire_bytes(counters)
        self.assertEqual((since_start["up"], since_start["down"]), (1000 + 4 * 40 + 8, 50 + 3 * 40 + 8))
        # Between two readings: no handshake; with timestamps, 52 bytes a segment.
        before = reading(52120, 100, 10, 2, 2, 1)
        after = dict(reading(52120, 700, 60, 5, 4, 3), timestamps=1)
        between = fleet.wire_bytes(after, before)
        self.assertEqual((between["up"], between["down"], between["segments"]), (600 + 3 * 52, 50 + 2 * 52, 5))


class BatchWindowTests(unittest.TestCase):
    def series(self, sends: list[float], seconds: float, port_after: tuple[float, int] | None = None):
        """Readings every 0.25 s; each send adds a data segment and 500 bytes."""
        readings, sent = [], 0
        for step in range(int(seconds / 0.25) + 1):
            now = step * 0.25
            sent = sum(1 for t in sends if t < now)
            port = port_after[1] if port_after and now >= port_after[0] else 50000
            readings.append((now, reading(port, 500 * sent, 30 * sent, 3 * sent, 3 * sent, sent)))
        return readings

    def test_the_window_runs_from_just_after_a_send_to_just_after_the_last_one_that_fits(self):
        sends = [1.1 + 5 * n for n in range(10)]  # a batch every 5 s, the first at 1.1 s
        first, last = fleet.batch_window(self.series(sends, 50), 20)
        # The reading a quarter second after the one that first saw the send at 1.1 s (1.25): 1.5; the last send
        # within 20 s of 1.25 is at 21.1, first seen at 21.25.
        self.assertEqual((first[0], last[0]), (1.5, 21.5))
        self.assertEqual(last[1]["data_segs_out"] - first[1]["data_segs_out"], 4)
        self.assertEqual(round((last[0] - first[0]) / 5), 4)

    def test_a_replaced_connection_is_not_measured_across(self):
        sends = [1.1 + 5 * n for n in range(10)]
        self.assertIsNone(fleet.batch_window(self.series(sends, 50, port_after=(0.5, 50001)), 20))
        # A replacement after the window's last send leaves the window as it was, on the first connection.
        window = fleet.batch_window(self.series(sends, 50, port_after=(30, 50001)), 20)
        self.assertEqual((window[0][0], window[1][0]), (1.5, 21.5))

    def test_fewer_than_two_sends_is_no_window(self):
        self.assertIsNone(fleet.batch_window(self.series([3.0], 20), 20))


if __name__ == "__main__":
    unittest.main()
