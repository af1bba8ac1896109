#!/usr/bin/env python3
"""A J1939 node on a SocketCAN interface, built on an independent J1939 stack: can-j1939 (its address claim, its
transport protocol's BAM and RTS/CTS sender, its DM1 sender). The kernel scan-tool tests
(Tests/CANBusTests/KernelScanToolTests.swift) listen to it and ask it with `axle diag dm1` and `request-pgn`.

Usage: j1939_ecu.py --interface vcan0 [--address 0] [--dm1-faults 20] [--max-packets 4]

It claims its address, prints "ready" on stdout, sends DM1 once a second (MIL on; --dm1-faults faults: SPN 100,
101, ... with FMI 1-20 and occurrence counts 1, 2, ...; more than one fault goes by BAM), prints "request PGN from
SA to DA" for each request, and answers, until killed:
  65227 DM2      three previously active faults (14 bytes: by BAM)
  65260 VIN      "WAXLE0J1939TRUCK01*" (by BAM; can-j1939 broadcasts every parameter group of PDU2 format)
  65242 software "AXLE-ECU-1.0*BOOT-2.1*" (2 fields, by BAM)
  61184 (0xEF00, proprietary A, destination-specific): 40 bytes 0x00-0x27 to the requester by RTS/CTS, at most
                 --max-packets packets per CTS
  65259 component identification: a negative acknowledgement (PGN 59392, control byte 1)
"""
import argparse
import sys
import threading
import time

import j1939


def faults_data(count: int, spn_base: int) -> list[int]:
    data = []
    for index in range(count):
        spn, fmi, oc = spn_base + index, 1 + index % 20, 1 + index
        data += [spn & 0xFF, (spn >> 8) & 0xFF, ((spn >> 16) & 0x07) << 5 | fmi, oc & 0x7F]
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", default="vcan0")
    parser.add_argument("--address", type=int, default=0)
    parser.add_argument("--dm1-faults", type=int, default=20)
    parser.add_argument("--max-packets", type=int, default=4, help="packets per CTS this node allows in its RTS")
    args = parser.parse_args()

    ecu = j1939.ElectronicControlUnit(max_cmdt_packets=args.max_packets)
    ecu.connect(interface="socketcan", channel=args.interface)
    name = j1939.Name(
        arbitrary_address_capable=0, industry_group=j1939.Name.IndustryGroup.OnHighway, vehicle_system_instance=0,
        vehicle_system=0, function=0, function_instance=0, ecu_instance=args.address & 7, manufacturer_code=666,
        identity_number=1000 + args.address)
    ca = j1939.ControllerApplication(name, args.address)
    ecu.add_ca(controller_application=ca)
    lock = threading.Lock()

    def send(pdu_format, pdu_specific, priority, data):
        with lock:
            ca.send_pgn(0, pdu_format, pdu_specific, priority, data)

    def on_request(source, destination, pgn):
        print(f"request {pgn} from {source} to {destination}", flush=True)
        if pgn == 65227:
            send(0xFE, 0xCB, 6, [0x04, 0xFF] + faults_data(3, 500))
        elif pgn == 65260:
            send(0xFE, 0xEC, 6, list(b"WAXLE0J1939TRUCK01*"))
        elif pgn == 65242:
            send(0xFE, 0xDA, 6, [2] + list(b"AXLE-ECU-1.0*BOOT-2.1*"))
        elif pgn == 0xEF00:
            send(0xEF, source, 7, list(range(40)))
        elif pgn == 65259:
            send(0xE8, source, 6, [1, 0xFF, 0xFF, 0xFF, source, pgn & 0xFF, (pgn >> 8) & 0xFF, pgn >> 16])

    ca.subscribe_request(on_request)
    ca.start()
    deadline = time.time() + 10
    while ca.state != j1939.ControllerApplication.State.NORMAL and time.time() < deadline:
        time.sleep(0.05)
    if ca.state != j1939.ControllerApplication.State.NORMAL:
        print("address claim did not finish", file=sys.stderr, flush=True)
        return 1

    def dm1_cycle(cookie):
        # MIL on (bits 7-6 = 01), the other lamps off; flash bytes "no flash" (0xFF).
        data = [0x40, 0xFF] + faults_data(args.dm1_faults, 100) if args.dm1_faults else [0x00, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF]
        send(0xFE, 0xCA, 7 if len(data) > 8 else 6, data)
        return True

    ca.add_timer(1.0, dm1_cycle)
    print("ready", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        ca.stop()
        ecu.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
