#!/usr/bin/env bash
# Installs what the build and tests need from Debian's packages. Idempotent: when every
# package is present it only checks and returns in well under a second.
set -euo pipefail

PKGS=(
  bazel-bootstrap build-essential pkg-config git ca-certificates
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev
  libabsl-dev librocksdb-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost1.81-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libjemalloc-dev libsnappy-dev zlib1g-dev libssl-dev libre2-dev libc-ares-dev
  python3 python3-grpcio python3-grpc-tools python3-protobuf
  curl procps clang libclang-rt-14-dev
  prometheus python3-yaml
  chromium
)
# Node.js for the npm-based compatibility tests: Debian's, unless one is installed already.
if ! command -v node >/dev/null 2>&1; then PKGS+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then PKGS+=(npm); fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
