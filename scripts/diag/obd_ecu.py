#!/usr/bin/env python3
"""An OBD-II ECU on a SocketCAN interface, built on an independent ISO-TP: can-isotp (user space, over python-can's
raw socket). It answers functional requests (7DF, or 18DB33F1 on 29-bit buses) and physical ones, as a car's ECU
does, with its answers on its own id; the kernel scan-tool tests (Tests/CANBusTests/KernelScanToolTests.swift) ask it
with `axle diag scan`, `pids` and `dtc`. Several may share a bus (an engine and a transmission ECU).

Usage: obd_ecu.py --interface vcan0 --rxid 7E0 --txid 7E8 [--functional 7DF] [--pids 04,05,0C,0D] [--vin VIN]
                  [--stored N] [--pending N] [--permanent N] [--refuse-clear] [--padding 55]

It prints "ready" on stdout once it listens and "request HEX" for every request, then answers until killed:
  01 PIDs...   the supported-PID bitmaps (00, 20, 40, ...) and the values of --pids it supports (at most 6 PIDs);
               a request for no PID it supports gets no answer (SAE J1979)
  03 / 07 / 0A its stored / pending / permanent trouble codes (--stored etc.: that many, P0100 upwards; the
               first stored one is P0217)
  04           clears the stored and pending codes (44), or, with --refuse-clear, conditionsNotCorrect (7F 04 22)
  09 02        the VIN (49 02 01 + 17 characters: a multi-frame answer), when --vin is given
  anything else: serviceNotSupported (7F SID 11) to a physical request, silence to a functional one
"""
import argparse
import queue
import sys
import threading

import can
import isotp

# Each PID's answer bytes (the values the tests expect: coolant 83 C, 1726 rpm, 50 km/h ...).
VALUES = {
    0x04: [0x80], 0x05: [123], 0x0A: [100], 0x0B: [35], 0x0C: [0x1A, 0xF8], 0x0D: [50], 0x0F: [60],
    0x10: [0x01, 0xF4], 0x11: [0x33], 0x1F: [0x02, 0x58], 0x2F: [0xBF], 0x33: [101], 0x42: [0x36, 0xB0],
    0x46: [55], 0x5C: [130], 0xA6: [0x00, 0x01, 0xE2, 0x40],
}


def bitmap(base: int, supported: set[int]) -> list[int]:
    """The supported-PID bitmap of PIDs base+1 .. base+0x20; the last bit says a later range is supported."""
    value = 0
    for offset in range(1, 33):
        pid = base + offset
        if pid in supported or (offset == 32 and any(p > pid for p in supported)):
            value |= 1 << (32 - offset)
    return list(value.to_bytes(4, "big"))


def codes(count: int, first: int | None = None) -> list[int]:
    raw = [0x0100 + i for i in range(count)]
    if first is not None and raw:
        raw[0] = first
    return [byte for code in raw for byte in (code >> 8, code & 0xFF)]


class ECU:
    def __init__(self, args):
        self.pids = {int(p, 16) for p in args.pids.split(",") if p}
        self.vin = args.vin
        self.stored, self.pending, self.permanent = args.stored, args.pending, args.permanent
        self.refuse_clear = args.refuse_clear

    def answer(self, request: bytes, functional: bool) -> bytes | None:
        mode = request[0]
        if mode == 0x01:
            out = [0x41]
            for pid in request[1:7]:
                if pid % 0x20 == 0 and (pid == 0 or pid in self.pids or any(p > pid for p in self.pids)):
                    out += [pid] + bitmap(pid, self.pids)
                elif pid in self.pids and pid in VALUES:
                    out += [pid] + VALUES[pid]
            return bytes(out) if len(out) > 1 else None
        if mode in (0x03, 0x07, 0x0A):
            count = {0x03: self.stored, 0x07: self.pending, 0x0A: self.permanent}[mode]
            return bytes([mode + 0x40, count] + codes(count, 0x0217 if mode == 0x03 else None))
        if mode == 0x04:
            if self.refuse_clear:
                return bytes([0x7F, 0x04, 0x22])
            self.stored = self.pending = 0
            return bytes([0x44])
        if mode == 0x09 and request[1:2] == b"\x02" and self.vin:
            return bytes([0x49, 0x02, 0x01]) + self.vin.encode()
        return None if functional else bytes([0x7F, mode, 0x11])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", default="vcan0")
    parser.add_argument("--rxid", required=True, help="hex CAN id of physical requests (7E0, 18DA10F1)")
    parser.add_argument("--txid", required=True, help="hex CAN id the answers go out on (7E8, 18DAF110)")
    parser.add_argument("--functional", help="hex CAN id of functional requests (default 7DF or 18DB33F1)")
    parser.add_argument("--pids", default="04,05,0C,0D,0F,10,11,1F,2F,33,42,46,5C")
    parser.add_argument("--vin")
    parser.add_argument("--stored", type=int, default=0)
    parser.add_argument("--pending", type=int, default=0)
    parser.add_argument("--permanent", type=int, default=0)
    parser.add_argument("--refuse-clear", action="store_true")
    parser.add_argument("--padding", default="55")
    args = parser.parse_args()
    rxid, txid = int(args.rxid, 16), int(args.txid, 16)
    extended = max(rxid, txid) > 0x7FF
    functional_id = int(args.functional, 16) if args.functional else (0x18DB33F1 if extended else 0x7DF)
    mode = isotp.AddressingMode.Normal_29bits if extended else isotp.AddressingMode.Normal_11bits
    params = {"tx_padding": int(args.padding, 16), "tx_data_min_length": 8, "rx_consecutive_frame_timeout": 1000,
              "rx_flowcontrol_timeout": 1000}
    # Two sockets: the physical conversation (requests on rxid, answers and the tester's flow control), and the
    # functional requests, which are single frames and are answered on the physical conversation, as ECUs do.
    buses = [can.Bus(interface="socketcan", channel=args.interface) for _ in range(2)]
    physical = isotp.CanStack(buses[0], address=isotp.Address(mode, rxid=rxid, txid=txid), params=params)
    functional = isotp.CanStack(buses[1], address=isotp.Address(mode, rxid=functional_id, txid=txid), params=params)
    requests: queue.Queue = queue.Queue()
    stop = threading.Event()

    def listen(stack, is_functional):
        while not stop.is_set():
            request = stack.recv(block=True, timeout=0.5)
            if request:
                requests.put((request, is_functional))

    physical.start()
    functional.start()
    threads = [threading.Thread(target=listen, args=(s, f), daemon=True) for s, f in ((physical, False), (functional, True))]
    for thread in threads:
        thread.start()
    ecu = ECU(args)
    print("ready", flush=True)
    try:
        while True:
            request, is_functional = requests.get()
            print(f"request {request.hex().upper()}{' functional' if is_functional else ''}", flush=True)
            reply = ecu.answer(request, is_functional)
            if reply is not None:
                physical.send(reply)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        physical.stop()
        functional.stop()
        for bus in buses:
            bus.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
