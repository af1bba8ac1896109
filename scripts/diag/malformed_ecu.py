#!/usr/bin/env python3
"""A deliberately broken peer for the kernel tests (Tests/CANBusTests/KernelMalformedSessionTests.swift), on raw CAN
sockets through python-can: it answers ISO-TP requests with a malformed transfer, or sends J1939 DM1 broadcasts
whose packets stop, so that the tester's handling of each ends cleanly with a reason. Prints "ready" once its
socket is open.

  --mode wrong-sequence       a first frame of 20 bytes, then after the tester's flow control a consecutive frame
                              numbered 2 where 1 is due
  --mode too-long             a first frame announcing 5000 bytes (the 32-bit length of ISO 15765-2:2016), more
                              than the 4095 a classic tester takes
  --mode orphan-consecutive   a consecutive frame with no first frame before it
  --mode broken-bam           every 300 ms, a DM1 BAM announcing 3 packets of which only the first is sent

    .venv/bin/python scripts/diag/malformed_ecu.py --interface vcanbad --rxid 7E0 --txid 7E8 --mode wrong-sequence
"""

import argparse
import sys
import time

import can


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", required=True)
    parser.add_argument("--rxid", default="7E0", help="hex CAN id the requests come on")
    parser.add_argument("--txid", default="7E8", help="hex CAN id the answers go out on")
    parser.add_argument("--mode", required=True,
                        choices=["wrong-sequence", "too-long", "orphan-consecutive", "broken-bam"])
    args = parser.parse_args()
    rxid, txid = int(args.rxid, 16), int(args.txid, 16)
    bus = can.Bus(interface="socketcan", channel=args.interface)
    print("ready", flush=True)

    def send(can_id: int, data: bytes, extended: bool = False) -> None:
        bus.send(can.Message(arbitration_id=can_id, data=data.ljust(8, b"\x55"), is_extended_id=extended))

    if args.mode == "broken-bam":
        # DM1 (0xFECA) from node 0x00: TP.CM_BAM for 18 bytes in 3 packets, then packet 1 only.
        while True:
            send(0x1CECFF00, bytes([0x20, 18, 0, 3, 0xFF, 0xCA, 0xFE, 0x00]), extended=True)
            time.sleep(0.05)
            send(0x1CEBFF00, bytes([0x01, 0x04, 0xFF, 0x6E, 0x00, 0x00, 0x01, 0xFF]), extended=True)
            time.sleep(0.3)

    while True:
        request = bus.recv(timeout=1)
        if request is None or request.arbitration_id != rxid or request.is_extended_id:
            continue
        print("request " + request.data.hex().upper(), flush=True)
        if args.mode == "wrong-sequence":
            send(txid, bytes([0x10, 20, 0x62, 0xF1, 0x90, 0x41, 0x42, 0x43]))
            flow = bus.recv(timeout=1)
            while flow is not None and not (flow.arbitration_id == rxid and flow.data[0] >> 4 == 3):
                flow = bus.recv(timeout=1)
            send(txid, bytes([0x22, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A]))
        elif args.mode == "too-long":
            send(txid, bytes([0x10, 0x00, 0x00, 0x00, 0x13, 0x88, 0x62, 0xF1]))
        elif args.mode == "orphan-consecutive":
            send(txid, bytes([0x21, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47]))


if __name__ == "__main__":
    sys.exit(main())
