#!/bin/sh
# Regenerate TypeScript from proto/ into src/gen/ (offline; local protoc-gen-es).
set -eu
cd "$(dirname "$0")/.."
rm -rf src/gen
mkdir -p src/gen
npx --no-install buf generate
