#!/usr/bin/env bash
# Builds the pg tools layer for the backup function: pg_dump and pg_restore of PostgreSQL
# $PG_MAJOR with their libraries, for arm64 (the functions' architecture), on the OS of Lambda's
# nodejs24.x runtime (Amazon Linux 2023), laid out by collect.sh. Needs a container runtime that
# runs linux/arm64 images (Docker, or Podman with qemu-user-static on x86_64).
#
#   deploy/pg-tools-layer/build.sh            # -> dist/pg-tools-17-arm64.zip
#   PG_MAJOR=16 deploy/pg-tools-layer/build.sh
#
# Pinned: the Amazon Linux 2023 release (its repositories are versioned: the same release always
# installs the same package versions), the PostgreSQL major, and the architecture. Pin the image by
# digest too with PG_TOOLS_IMAGE=public.ecr.aws/amazonlinux/amazonlinux@sha256:...; the digest and
# the exact package versions used are written into the layer (pg-tools.json, build.txt).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

PG_MAJOR="${PG_MAJOR:-17}"
AL2023_RELEASE="${AL2023_RELEASE:-2023.9.20251117}"
PG_TOOLS_IMAGE="${PG_TOOLS_IMAGE:-public.ecr.aws/amazonlinux/amazonlinux:2023}"
PLATFORM=linux/arm64
runtime="${CONTAINER_RUNTIME:-$(command -v docker || command -v podman || true)}"
[ -n "$runtime" ] || { echo "no docker or podman: build the layer where a container runtime exists" >&2; exit 1; }

out="$root/dist/pg-tools-$PG_MAJOR-arm64"
rm -rf "$out" "$out.zip"
mkdir -p "$out"
"$runtime" pull --platform "$PLATFORM" "$PG_TOOLS_IMAGE" >/dev/null
digest="$("$runtime" image inspect --format '{{index .RepoDigests 0}}' "$PG_TOOLS_IMAGE")"

"$runtime" run --rm --platform "$PLATFORM" \
  -v "$here/collect.sh:/collect.sh:ro" -v "$out:/out" \
  -e PG_MAJOR="$PG_MAJOR" -e AL2023_RELEASE="$AL2023_RELEASE" \
  "$PG_TOOLS_IMAGE" bash -euo pipefail -c '
    # --releasever locks the repositories to that Amazon Linux release: reproducible versions.
    dnf install -y -q --releasever="$AL2023_RELEASE" "postgresql$PG_MAJOR" >/dev/null
    rpm -q "postgresql$PG_MAJOR" > /tmp/package
    # collect.sh runs ldd and paste, both in the base image.
    bash /collect.sh /tmp/layer "$(command -v pg_dump)" "$(command -v pg_restore)"
    cp -r /tmp/layer/. /out/
    cp /tmp/package /out/package.txt
  '
{
  echo "image: $digest"
  echo "amazon linux release: $AL2023_RELEASE"
  echo "package: $(cat "$out/package.txt")"
  echo "platform: $PLATFORM"
} > "$out/build.txt"
rm "$out/package.txt"

major="$(sed -n 's/.*"pg_dump": "pg_dump (PostgreSQL) \([0-9]*\).*/\1/p' "$out/pg-tools.json")"
[ "$major" = "$PG_MAJOR" ] || { echo "the layer holds pg_dump $major, not $PG_MAJOR" >&2; exit 1; }
(cd "$out" && zip -qr -X "$out.zip" .)
echo "layer: $out.zip"
cat "$out/build.txt"
echo "publish: aws lambda publish-layer-version --layer-name vigil-pg-tools-$PG_MAJOR --zip-file fileb://$out.zip --compatible-architectures arm64 --compatible-runtimes $(node -p "require('$root/deploy/runtime.json').lambdaRuntime" 2>/dev/null || echo nodejs24.x)"
