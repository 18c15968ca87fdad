#!/usr/bin/env bash
# Lays out pg_dump and pg_restore as a Lambda layer: <out>/bin/ the two tools, <out>/lib/ every
# shared library they load except the C library's own (Lambda's OS provides glibc; everything else
# is found only through LD_LIBRARY_PATH, which on Lambda ends in /opt/lib), and
# <out>/pg-tools.json saying what went in. Used by build.sh inside the build image, and by the
# rehearsal on this machine's own tools, so both produce the same layout.
# usage: collect.sh <out-dir> <pg_dump> <pg_restore>
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 <out-dir> <pg_dump> <pg_restore>" >&2; exit 2; }
out="$1"; dump="$(readlink -f "$2")"; restore="$(readlink -f "$3")"
for tool in "$dump" "$restore"; do
  # Debian's /usr/bin/pg_dump is a Perl wrapper; a layer needs the ELF binary itself.
  head -c 4 "$tool" | grep -q $'\x7fELF' || { echo "$tool is not an ELF binary (give the real one, e.g. /usr/lib/postgresql/<major>/bin/pg_dump)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp "$dump" "$out/bin/pg_dump"
cp "$restore" "$out/bin/pg_restore"
chmod 0755 "$out/bin/pg_dump" "$out/bin/pg_restore"

# glibc and the loader come from Lambda's Amazon Linux; copying them would break the tools there.
glibc='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libnsl)\.so'
ldd "$out/bin/pg_dump" "$out/bin/pg_restore" |
  awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
  while read -r soname path; do
    if ! echo "$soname" | grep -Eq "$glibc"; then cp -L "$path" "$out/lib/$soname"; fi
  done
chmod 0644 "$out"/lib/*
[ -e "$out/lib/libpq.so.5" ] || { echo "no libpq.so.5 among the tools' libraries" >&2; exit 1; }

{
  printf '{\n  "pg_dump": "%s",\n  "pg_restore": "%s",\n  "libraries": [' \
    "$(LD_LIBRARY_PATH="$out/lib" "$out/bin/pg_dump" --version)" "$(LD_LIBRARY_PATH="$out/lib" "$out/bin/pg_restore" --version)"
  ls "$out/lib" | sed 's/.*/"&"/' | paste -sd, - | tr -d '\n'
  printf ']\n}\n'
} > "$out/pg-tools.json"
echo "collected into $out: $(ls "$out/lib" | wc -l) libraries; $(LD_LIBRARY_PATH="$out/lib" "$out/bin/pg_dump" --version)"
