#!/usr/bin/env bash
# Regenerates Sources/InferenceGRPCProtocol/Generated from Protos/inference/grpc_service.proto (the Open Inference Protocol's
# gRPC proto plus the Triton extension RPCs; see its header) and Protos/compress/async_inference.proto (compress.v1's
# AsyncInferenceService, which imports the former). The generated files are committed, so no build runs
# the protobuf plugins: run this only after changing the proto, under the shared build lock.
#
#   flock /tmp/swift-build.lock tools/generate_grpc.sh
#
# Needs protoc (apt-get install protobuf-compiler) and builds protoc-gen-swift (swift-protobuf 1.39.0) and
# protoc-gen-grpc-swift-2 (grpc-swift-protobuf 2.4.1), the versions Package.swift names, in a scratch package
# outside the repository (PLUGINS_DIR, default /tmp/compress-grpc-plugins): about 10 minutes the first time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PLUGINS_DIR=${PLUGINS_DIR:-/tmp/compress-grpc-plugins}
OUT="$ROOT/Sources/InferenceGRPCProtocol/Generated"

command -v protoc > /dev/null || { echo "generate_grpc: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
python3 "$ROOT/tools/check_grpc_proto.py" 2> /dev/null || \
    echo "generate_grpc: (tools/check_grpc_proto.py needs tritonclient; run it with /opt/serving-peers-venv/bin/python)" >&2

mkdir -p "$PLUGINS_DIR/Sources/Plugins"
cat > "$PLUGINS_DIR/Package.swift" << 'SWIFT'
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "compress-grpc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [.target(name: "Plugins")]
)
SWIFT
echo "// Only here so the package has a target." > "$PLUGINS_DIR/Sources/Plugins/Plugins.swift"
(cd "$PLUGINS_DIR" && swift build --product protoc-gen-swift && swift build --product protoc-gen-grpc-swift-2)
BIN=$(cd "$PLUGINS_DIR" && swift build --show-bin-path)

mkdir -p "$OUT"
rm -f "$OUT"/*.swift
protoc -I "$ROOT/Protos/inference" -I "$ROOT/Protos/compress" \
    --plugin=protoc-gen-swift="$BIN/protoc-gen-swift" --swift_out="$OUT" --swift_opt=Visibility=Public \
    --plugin=protoc-gen-grpc-swift="$BIN/protoc-gen-grpc-swift-2" --grpc-swift_out="$OUT" \
    --grpc-swift_opt=Visibility=Public,Server=true,Client=true \
    grpc_service.proto async_inference.proto
ls -l "$OUT"
