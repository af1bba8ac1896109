#!/usr/bin/env python3
"""A small UDS ECU on a SocketCAN interface, built on independent packages: can-isotp (user-space ISO-TP over
python-can's raw socket) and udsoncan (its Response class makes the answers). The kernel diagnostics tests
(Tests/CANBusTests/KernelDiagnosticsTests.swift) ask it with `axle diag request`.

Usage: uds_ecu.py --interface vcan0 --rxid 7E0 --txid 7E8 [--block-size 0] [--stmin 0] [--padding 55]

It prints "ready" on stdout once it listens, then answers, until killed:
  22 F190        the VIN (20 bytes: a first frame and two consecutive frames)
  22 F18C        "response pending" (7F 22 78) three times, 300 ms apart, then the serial number
  22 0000        nothing at all (a silent ECU)
  19 02 MASK     25 trouble codes with status 0x09 (103 bytes)
  2E F198 DATA   positive (6E F1 98): a long request that exercises the tester's sending side, paced by this
                 ECU's flow control (--block-size, --stmin in ms)
  14 FFFFFF      refused: conditionsNotCorrect (7F 14 22)
  anything else  serviceNotSupported (7F SID 11)
"""
import argparse
import struct
import sys
import time

import can
import isotp
from udsoncan import Response
from udsoncan.services import ClearDiagnosticInformation, ReadDataByIdentifier, ReadDTCInformation, WriteDataByIdentifier

VIN = b"WAXLE0TESTECU0001"


def answer(request: bytes, stack: isotp.CanStack) -> bytes | None:
    service = request[0]
    if service == 0x22 and request[1:3] == b"\xF1\x90":
        return Response(ReadDataByIdentifier, Response.Code.PositiveResponse, data=b"\xF1\x90" + VIN).get_payload()
    if service == 0x22 and request[1:3] == b"\xF1\x8C":
        for _ in range(3):
            stack.send(Response(ReadDataByIdentifier, Response.Code.RequestCorrectlyReceived_ResponsePending).get_payload())
            time.sleep(0.3)
        return Response(ReadDataByIdentifier, Response.Code.PositiveResponse, data=b"\xF1\x8CSERIAL-42").get_payload()
    if service == 0x22 and request[1:3] == b"\x00\x00":
        return None
    if service == 0x19 and len(request) >= 3 and request[1] == 0x02:
        records = b"".join(struct.pack(">I", 0x01000000 + i * 0x100)[1:] + b"\x09" for i in range(25))
        return Response(ReadDTCInformation, Response.Code.PositiveResponse, data=b"\x02\xFF" + records).get_payload()
    if service == 0x2E and request[1:3] == b"\xF1\x98":
        return Response(WriteDataByIdentifier, Response.Code.PositiveResponse, data=b"\xF1\x98").get_payload()
    if service == 0x14:
        return Response(ClearDiagnosticInformation, Response.Code.ConditionsNotCorrect).get_payload()
    return bytes([0x7F, service, 0x11])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", default="vcan0")
    parser.add_argument("--rxid", required=True, help="hex CAN id the requests come on")
    parser.add_argument("--txid", required=True, help="hex CAN id the answers go out on")
    parser.add_argument("--block-size", type=int, default=0)
    parser.add_argument("--stmin", type=int, default=0, help="milliseconds between the tester's consecutive frames")
    parser.add_argument("--padding", default="55", help="hex byte the answers are padded with")
    args = parser.parse_args()
    rxid, txid = int(args.rxid, 16), int(args.txid, 16)
    mode = isotp.AddressingMode.Normal_29bits if max(rxid, txid) > 0x7FF else isotp.AddressingMode.Normal_11bits
    bus = can.Bus(interface="socketcan", channel=args.interface)
    params = {"stmin": args.stmin, "blocksize": args.block_size, "tx_padding": int(args.padding, 16),
              "tx_data_min_length": 8, "rx_consecutive_frame_timeout": 1000, "rx_flowcontrol_timeout": 1000}
    stack = isotp.CanStack(bus, address=isotp.Address(mode, rxid=rxid, txid=txid), params=params)
    stack.start()
    print("ready", flush=True)
    try:
        while True:
            request = stack.recv(block=True, timeout=1)
            if request is None:
                continue
            print(f"request {request.hex().upper()}", flush=True)
            reply = answer(request, stack)
            if reply is not None:
                stack.send(reply)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        bus.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
