#!/usr/bin/env python3
"""Writes the seed corpus of FuzzCommandEnvelope (Fuzz/Corpus/commands/): command payloads signed with the fuzz
target's fixed keys, so that the fuzzer starts past the signature check. Needs the `cryptography` package.

    python3 Fuzz/Sources/FuzzCommandEnvelope/make-seeds.py

The constants match `World` in FuzzCommandEnvelope.swift; docs/commands.md describes the format.
"""
import base64
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

NOW = 1_763_000_000_000
VEHICLE = "FUZZ-VIN"
TRUSTED = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
REVOKED = Ed25519PrivateKey.from_private_bytes(bytes(255 - i for i in range(32)))
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Corpus", "commands")


def body(cid, name, params, issued=NOW, ttl=30_000, counter=1, vehicle=VEHICLE):
    # Compact JSON, members in the documented order, parameters sorted by name (what CommandRequest.bodyBytes writes).
    ordered = {
        "id": cid, "vehicle": vehicle, "name": name, "params": dict(sorted(params.items())),
        "issued_at": issued, "expires_at": issued + ttl, "counter": counter,
    }
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


def envelope(body_bytes, key_id="fuzz-1", key=TRUSTED, sig=None):
    if sig is None:
        sig = key.sign(b"axle-command-v1\n" + body_bytes)
    return json.dumps({
        "v": 1, "key": key_id, "body": base64.b64encode(body_bytes).decode(), "sig": base64.b64encode(sig).decode(),
    }, separators=(",", ":")).encode()


SEEDS = {
    "valid-trunk-open": envelope(body("00000000-0000-4000-8000-000000000001", "trunk.open", {})),
    "valid-climate": envelope(body("00000000-0000-4000-8000-000000000002", "climate.precondition",
                                   {"temperature": 21, "duration": 900}, counter=2)),
    "valid-climate-default": envelope(body("00000000-0000-4000-8000-000000000003", "climate.precondition",
                                           {"temperature": 19.5}, counter=3)),
    "valid-feature-activate": envelope(body("00000000-0000-4000-8000-000000000004", "feature.activate",
                                            {"feature": "performance-boost", "valid_until": NOW + 86_400_000},
                                            counter=4)),
    "valid-collection-update": envelope(body("00000000-0000-4000-8000-000000000005", "collection.update",
                                             {"rule": "speed-1hz", "enabled": False}, counter=5)),
    "valid-snapshot-unicode": envelope(body("00000000-0000-4000-8000-000000000006", "diagnostics.snapshot",
                                            {"signals": "Vehicle.Speed,Vehicle.Cabin.Temperature\u00b0"},
                                            counter=6)),
    "revoked-key": envelope(body("00000000-0000-4000-8000-000000000007", "trunk.open", {}, counter=7),
                            key_id="fuzz-2", key=REVOKED),
    "wrong-vehicle": envelope(body("00000000-0000-4000-8000-000000000008", "trunk.open", {}, counter=8,
                                   vehicle="OTHER")),
    "expired": envelope(body("00000000-0000-4000-8000-000000000009", "trunk.open", {}, issued=NOW - 60_000,
                             counter=9)),
    "bad-parameters": envelope(body("00000000-0000-4000-8000-00000000000a", "climate.precondition",
                                    {"temperature": 99}, counter=10)),
    "missing-signature": envelope(body("00000000-0000-4000-8000-00000000000b", "trunk.open", {}, counter=11),
                                  sig=b""),
}

os.makedirs(OUT, exist_ok=True)
for name, payload in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(payload)
print(f"wrote {len(SEEDS)} seeds to {os.path.normpath(OUT)}")
