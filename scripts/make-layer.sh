#!/usr/bin/env bash
# Builds envseal's Lambda layer zip from a release binary (`make layer`):
#   envseal-wrapper   the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/envseal-wrapper)
#   bin/envseal       the binary, stripped (Lambda puts /opt/bin on PATH)
#   lib/…             the shared libraries it needs that Amazon Linux does not have: libsodium,
#                     SQLite and libstdc++ as linked here (/opt/lib is on LD_LIBRARY_PATH)
# Usage: scripts/make-layer.sh BINARY OUT.zip
set -euo pipefail
binary="$1"
out="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
install -m 0755 -s "$binary" "$stage/bin/envseal"
install -m 0755 "$root/Lambda/envseal-wrapper" "$stage/envseal-wrapper"
ldd "$binary" | awk '/=> \// { print $3 }' | while read -r library; do
    case "$(basename "$library")" in
        libsodium.so*|libsqlite3.so*|libstdc++.so*|libgcc_s.so*) install -m 0644 "$library" "$stage/lib/" ;;
    esac
done
python3 - "$stage" "$out" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
    for folder, _, files in sorted(os.walk(stage)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = zipfile.ZipInfo(os.path.relpath(path, stage), date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (os.stat(path).st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as source:
                archive.writestr(info, source.read())
PY
echo "$out: $(du -h "$out" | cut -f1); AWS_LAMBDA_EXEC_WRAPPER=/opt/envseal-wrapper"
