#!/usr/bin/env python3
"""Writes Firmware-Profiles/demo-sedan/sample-drive.log: 20 s of a city drive encoded with demo_sedan.dbc.

The log is committed; this script documents how it was made (run it with the project venv, which has cantools).
Each message is sent at its GenMsgCycleTime, so the log looks like a real bus recording.
"""
import math
import sys

import cantools

DBC = "Firmware-Profiles/demo-sedan/demo_sedan.dbc"
OUT = "Firmware-Profiles/demo-sedan/sample-drive.log"
START = 1767225600.0  # 2026-01-01T00:00:00Z
DURATION = 20.0


def state(t):
    """A gentle drive cycle: pull away, cruise at ~50 km/h, brake; the engine warms up."""
    speed = 50 * (1 - math.exp(-t / 4)) if t < 15 else max(0.0, 50 - (t - 15) * 10)
    return {
        "speed": speed,
        "rpm": 800 + speed * 40,
        "coolant": 70 + t * 0.8,
        "lat": 48.137154 + t * 0.00004,
        "lon": 11.576124 + t * 0.00006,
    }


def checksum(data):
    """XOR of all nibbles of bytes 0-6 and the counter nibble (docs/dbc.md)."""
    value = 0
    for byte in data[:7]:
        value ^= byte & 0xF
        value ^= byte >> 4
    return value ^ (data[7] & 0xF)


def main():
    db = cantools.database.load_file(DBC)
    lines = []
    counter = 0
    for name in ["EngineStatus", "VehicleMotion", "FuelAndPower", "BodyStatus", "CrashStatus", "GnssPosition", "TyrePressures"]:
        message = db.get_message_by_name(name)
        period = message.cycle_time / 1000
        steps = int(DURATION / period)
        for step in range(steps):
            t = step * period
            s = state(t)
            if name == "EngineStatus":
                counter = step % 16
                values = {"EngineSpeed": s["rpm"], "CoolantTemp": round(s["coolant"]), "FuelPressure": 350.0 + (step % 7),
                          "ThrottlePosition": 20.0, "EngineCounter": counter, "EngineChecksum": 0}
                data = bytearray(message.encode(values))
                data[7] = (data[7] & 0x0F) | (checksum(data) << 4)
                data = bytes(data)
            elif name == "VehicleMotion":
                data = message.encode({"VehicleSpeed": round(s["speed"], 2), "Gear": 3 if s["speed"] > 0.5 else 0,
                                       "Odometer": 12345.6 + round(t * s["speed"] / 3600, 1), "LongitudinalAccel": 0.5})
            elif name == "FuelAndPower":
                data = message.encode({"FuelLevel": 62.5, "BatteryVoltage": 13.9, "IgnitionState": 2,
                                       "StateOfCharge": 80, "ChargingState": 0})
            elif name == "BodyStatus":
                data = message.encode({"TrunkOpen": 0, "DoorsLocked": 1, "DriverDoorOpen": 0, "CabinTemp": 21.5,
                                       "ClimateActive": 0, "ClimateTarget": 21})
            elif name == "CrashStatus":
                data = message.encode({"CrashDetected": 0, "CrashSeverity": 0})
            elif name == "GnssPosition":
                data = message.encode({"Latitude": round(s["lat"], 7), "Longitude": round(s["lon"], 7)})
            else:
                position = step % 4
                names = ["TyrePressureFrontLeft", "TyrePressureFrontRight", "TyrePressureRearLeft", "TyrePressureRearRight"]
                data = message.encode({"TyrePosition": position, names[position]: 230 + 2 * position, "TyreTemp": 25})
            stamp = START + t + (message.frame_id % 10) * 0.0001
            ident = f"{message.frame_id:08X}" if message.is_extended_frame else f"{message.frame_id:03X}"
            lines.append((stamp, f"({stamp:.6f}) can0 {ident}#{data.hex().upper()}"))
    lines.sort()
    with open(OUT, "w") as out:
        for _, line in lines:
            out.write(line + "\n")
    print(f"wrote {len(lines)} frames to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
