#!/usr/bin/env python3
"""Writes FuzzDiagnostics' seed corpus (Fuzz/Corpus/diagnostics/) from real and typical diagnostic traffic, in the
target's record format: a byte choosing the id (an index into the target's `ids`), a byte of time in 10 ms steps,
a length byte and the data bytes. Run from the repository root: python3 Fuzz/Sources/FuzzDiagnostics/make-seeds.py"""
from pathlib import Path

IDS = [0x7DF, 0x7E8, 0x7BB, 0x18DAF110, 0x1CECFF00, 0x1CEBFF00, 0x1CECF900, 0x1CEBF900, 0x1CEC00F9, 0x18FECA00, 0x18EA00F9]

SEEDS = {
    # The real truck's first DM1 by BAM (Tests/Resources/css-electronics/truck-idle-127s-transport.log).
    "truck-dm1-bam": [(0x1CECFF00, "20120003FFCAFE00"), (0x1CEBFF00, "0143FFD403097E90"),
                      (0x1CEBFF00, "020C140261020901"), (0x1CEBFF00, "0361020C03FFFFFF")],
    # The electric car's 31-byte service 0x21 answer and the tester's flow control (uds-isotp-session-79B-7BB.log).
    "uds-answer-31-bytes": [(0x7BB, "101F610402BB0202"), (0x7DF, "3000000000000000"), (0x7BB, "21BF01FFFFFF02C7"),
                            (0x7BB, "22000000FFFFFFFF"), (0x7BB, "23FFFFFFFFFFFFFF"), (0x7BB, "24FFFFFFFFFFFFFF")],
    # OBD-II: coolant temperature, and stored trouble codes in a multi-frame answer.
    "obd-pid-and-dtcs": [(0x7DF, "0201050000000000"), (0x7E8, "0341057B00000000"), (0x7DF, "0103000000000000"),
                         (0x7E8, "100A430402170300"), (0x7E8, "2101184420000000")],
    # A negative answer "response pending" then the answer, on 29-bit ids.
    "uds-pending-29bit": [(0x18DAF110, "037F227800000000"), (0x18DAF110, "100962F190574158"),
                          (0x18DAF110, "214C453030303030")],
    # A connection-mode (RTS/CTS) DM2 of 20 bytes: RTS, CTS for 2, two packets, CTS for 1, the last packet.
    "j1939-rts-cts": [(0x1CECF900, "10140003FFCBFE00"), (0x1CEC00F9, "110201FFFFCBFE00"),
                      (0x1CEBF900, "0101020304050607"), (0x1CEBF900, "0208090A0B0C0D0E"),
                      (0x1CEC00F9, "110103FFFFCBFE00"), (0x1CEBF900, "030F1011121314FF")],
    # A single-frame DM1 without active faults, and a request for the VIN (PGN 65260).
    "j1939-dm1-quiet-and-request": [(0x18FECA00, "00FF00000000FFFF"), (0x18EA00F9, "ECFE00")],
}

out = Path("Fuzz/Corpus/diagnostics")
out.mkdir(parents=True, exist_ok=True)
for name, frames in SEEDS.items():
    data = bytearray()
    for can_id, hex_data in frames:
        payload = bytes.fromhex(hex_data)
        data += bytes([IDS.index(can_id), 1, len(payload)]) + payload
    (out / name).write_bytes(bytes(data))
print(f"wrote {len(SEEDS)} seeds to {out}")
