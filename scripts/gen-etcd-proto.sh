#!/usr/bin/env bash
# Regenerates Sources/K8sEnvStore/Generated from the etcd v3.4 protos that the Kubernetes
# v1.20.2 source vendors (go.etcd.io/etcd v3.4.13). The gogoproto and google.api options are
# stripped (they only shape Go code and the HTTP gateway). The output is committed; run this only
# when the protos or the generator versions change.
#
#   scripts/gen-etcd-proto.sh [KUBERNETES_SRC]
#
# Needs protoc (Debian: protobuf-compiler). Builds protoc-gen-swift (swift-protobuf) and
# protoc-gen-grpc-swift-2 (grpc-swift-protobuf) once, in ~/.cache/k8senv/protoc-plugins.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-${K8SENV_KUBERNETES_SRC:-}}
if [[ -z "$src" ]]; then
    eval "$("$root/scripts/install-binaries.sh")"
    src=$K8SENV_KUBERNETES_SRC
fi
command -v protoc >/dev/null || apt-get install -y protobuf-compiler >&2

plugins=${K8SENV_PROTOC_PLUGINS:-$HOME/.cache/k8senv/protoc-plugins}
mkdir -p "$plugins"
cat > "$plugins/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [.target(name: "Empty", path: "Empty")]
)
SWIFT
mkdir -p "$plugins/Empty" && echo "" > "$plugins/Empty/empty.swift"
(cd "$plugins" && swift build --product protoc-gen-swift >&2 && swift build --product protoc-gen-grpc-swift-2 >&2)
bin=$(cd "$plugins" && swift build --show-bin-path)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
etcd=$src/vendor/go.etcd.io/etcd
mkdir -p "$work/etcdserverpb" "$work/mvccpb" "$work/authpb"
# Drop gogoproto/google.api imports and options; point imports at the flat layout below.
strip() {
    python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'^import "(gogoproto|google/api)/.*";\n', '', text, flags=re.M)
text = re.sub(r'^option \(gogoproto\.[^;]*;\n', '', text, flags=re.M)
text = re.sub(r'\s*\[\(gogoproto\.[^\]]*\]', '', text)
# option (google.api.http) = { ... };  inside rpc bodies
text = re.sub(r'option \(google\.api\.http\) = \{.*?\};', '', text, flags=re.S)
text = text.replace('import "etcd/mvcc/mvccpb/kv.proto";', 'import "mvccpb/kv.proto";')
text = text.replace('import "etcd/auth/authpb/auth.proto";', 'import "authpb/auth.proto";')
open(sys.argv[2], 'w').write(text)
PY
}
strip "$etcd/etcdserver/etcdserverpb/rpc.proto" "$work/etcdserverpb/rpc.proto"
strip "$etcd/mvcc/mvccpb/kv.proto" "$work/mvccpb/kv.proto"
strip "$etcd/auth/authpb/auth.proto" "$work/authpb/auth.proto"

out=$root/Sources/K8sEnvStore/Generated
rm -rf "$out" && mkdir -p "$out"
protoc -I "$work" \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --swift_opt=Visibility=Package,FileNaming=PathToUnderscores \
    --swift_out="$out" \
    etcdserverpb/rpc.proto mvccpb/kv.proto authpb/auth.proto
# Only rpc.proto declares services.
protoc -I "$work" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --grpc-swift-2_opt=Visibility=Package,Client=false,Server=true,FileNaming=PathToUnderscores \
    --grpc-swift-2_out="$out" \
    etcdserverpb/rpc.proto
echo "generated into $out:" >&2
ls "$out" >&2
