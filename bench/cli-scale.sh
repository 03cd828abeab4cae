#!/usr/bin/env bash
# Scale check of `int8-linear quantize` (issue 5, item 7; a bench, not CI): quantizes a generated
# ~1.5 GiB F16 checkpoint (largest tensor 128 MiB) with the built CLI under /usr/bin/time -v and
# reports wall time and peak RSS. The CLI streams block by block, so peak RSS must stay below
# 3x the largest tensor plus a constant. Needs ~3 GiB free in $TMPDIR (default /tmp); deletes its files.
#   npm run build && bash bench/cli-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}/int8-linear-scale.$$"
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
[ -f dist/cli.js ] || npm run build >/dev/null
npx tsx bench/make-f16-checkpoint.ts "$dir/f16.safetensors" "${BIG_LAYERS:-8}" "${SMALL_LAYERS:-8}"
ls -l "$dir/f16.safetensors"
/usr/bin/time -v node dist/cli.js quantize "$dir/f16.safetensors" -o "$dir/int8.safetensors" "$@" 2> "$dir/time.txt" | tail -8
ls -l "$dir/int8.safetensors"
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$dir/time.txt"
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$dir/time.txt")
largest_mib=128
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, node $(node --version)"
echo "peak RSS $((rss_kb / 1024)) MiB; limit 3 x largest tensor ($largest_mib MiB) = $((3 * largest_mib)) MiB + a constant"
