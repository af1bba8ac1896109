#!/usr/bin/env bash
# Regenerates the code made from Protos/axle/telemetry/v1/telemetry.proto. The output is committed, so neither the
# build nor CI runs this: run it after changing the .proto, and commit the .proto and the generated files together.
#
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift scripts/generate-proto.sh
#
# Needs protoc (Debian: protobuf-compiler, 3.21) and protoc-gen-swift from swift-protobuf at the version
# Package.swift depends on (build it with `swift build -c release --product protoc-gen-swift` in a swift-protobuf
# checkout); PROTOC_GEN_SWIFT names it when it is not on PATH.
#
# Writes:
#   Sources/TelemetryPayload/Generated/telemetry.pb.swift   (internal types: the public API is the Swift wrapper)
#   examples/python/axle_telemetry_pb2.py                   (for the Python decoding example)
set -euo pipefail
cd "$(dirname "$0")/.."

protoc=${PROTOC:-protoc}
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
if [ -z "$plugin" ] || [ ! -x "$plugin" ]; then
  echo "generate-proto: protoc-gen-swift not found; set PROTOC_GEN_SWIFT to its path" >&2
  exit 1
fi
command -v "$protoc" >/dev/null || { echo "generate-proto: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

proto_root=Protos
proto=axle/telemetry/v1/telemetry.proto
swift_out=Sources/TelemetryPayload/Generated
python_out=examples/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$protoc" --plugin=protoc-gen-swift="$plugin" -I "$proto_root" \
  --swift_out="$tmp" --swift_opt=Visibility=Internal --swift_opt=FileNaming=DropPath \
  --python_out="$tmp" "$proto"
mkdir -p "$swift_out" "$python_out"
mv "$tmp/telemetry.pb.swift" "$swift_out/telemetry.pb.swift"
# A module name that says what it is; the descriptor inside keeps the .proto's own path.
mv "$tmp/axle/telemetry/v1/telemetry_pb2.py" "$python_out/axle_telemetry_pb2.py"
echo "generate-proto: wrote $swift_out/telemetry.pb.swift and $python_out/axle_telemetry_pb2.py ($("$protoc" --version), $("$plugin" --version))"
