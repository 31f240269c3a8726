#!/bin/sh
# Regenerate TypeScript from proto/ into src/gen/ (offline; local protoc-gen-es).
set -eu
cd "$(dirname "$0")/.."
rm -rf src/gen
mkdir -p src/gen
# buf is not a dependency (its per-platform binary packages break `npm ci` lock checks
# on this registry); fetch the pinned version on demand.
npx --yes @bufbuild/buf@1.75.0 generate
