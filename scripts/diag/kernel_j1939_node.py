#!/usr/bin/env python3
"""A J1939 node on the Linux kernel's own J1939 stack (can-j1939.ko, a J1939 socket: CAN_J1939), an implementation
of the transport protocol independent of Axle and of can-j1939 on PyPI. It answers requests for DM1 (65226) and DM2
(65227) by sending the group to the requester: longer than a frame, the kernel sends it by RTS/CTS, so the
requester has to clear each block (CTS) and acknowledge the end (EndOfMsgAck). The kernel scan-tool tests
(Tests/CANBusTests/KernelScanToolTests.swift) ask it with `axle diag dm1 --dm2 --to` and `request-pgn`.

Usage: kernel_j1939_node.py --interface vcan0 [--address 33] [--faults 40]

It prints "ready" once its socket is bound, "request PGN from SA" for each request, and "sent PGN N bytes to SA"
(or "failed PGN to SA: error") once the kernel reports the transfer done, until killed. Needs Python 3.9+ and the
can-j1939 kernel module.
"""
import argparse
import socket
import sys


def faults(count: int, spn_base: int) -> bytes:
    data = bytearray()
    for index in range(count):
        spn, fmi, oc = spn_base + index, 1 + index % 20, 1 + index % 100
        data += bytes([spn & 0xFF, (spn >> 8) & 0xFF, ((spn >> 16) & 0x07) << 5 | fmi, oc & 0x7F])
    return bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", default="vcan0")
    parser.add_argument("--address", type=int, default=33)
    parser.add_argument("--faults", type=int, default=40)
    args = parser.parse_args()
    answers = {
        65226: bytes([0x40, 0xFF]) + faults(args.faults, 1000),  # DM1: MIL on
        65227: bytes([0x04, 0xFF]) + faults(args.faults, 2000),  # DM2: amber warning on
    }
    sock = socket.socket(socket.AF_CAN, socket.SOCK_DGRAM, socket.CAN_J1939)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.bind((args.interface, socket.J1939_NO_NAME, socket.J1939_NO_PGN, args.address))
    print("ready", flush=True)
    try:
        while True:
            data, (_, _, pgn, source) = sock.recvfrom(1785)
            if pgn != 0xEA00 or len(data) < 3:
                continue
            requested = data[0] | data[1] << 8 | data[2] << 16
            print(f"request {requested} from {source}", flush=True)
            if requested not in answers:
                continue
            try:
                sock.sendto(answers[requested], (args.interface, socket.J1939_NO_NAME, requested, source))
                print(f"sent {requested} {len(answers[requested])} bytes to {source}", flush=True)
            except OSError as error:
                print(f"failed {requested} to {source}: {error}", flush=True)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
