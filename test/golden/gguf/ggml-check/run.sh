#!/bin/sh
# Cross-checks make_gguf.py's numpy Q8_0 against ggml's own C code, compiled from a ggml checkout:
#   test/golden/gguf/ggml-check/run.sh /path/to/ggml     (prints True for each case)
# It copies quantize_row_q8_0_ref (src/ggml-quants.c) and the fp32 -> fp16 conversion
# (src/ggml-impl.h) out of that checkout verbatim. Not run by CI (it needs a C compiler and ggml).
set -e
GGML=${1:?usage: run.sh /path/to/ggml}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
awk '/^void quantize_row_q8_0_ref/,/^}/' "$GGML/src/ggml-quants.c" > "$T/qref.inc"
awk '/static inline float fp32_from_bits/,/^}/; /static inline uint32_t fp32_to_bits/,/^}/; /static inline ggml_fp16_t ggml_compute_fp32_to_fp16/,/^}/' "$GGML/src/ggml-impl.h" > "$T/fp16.inc"
cp "$HERE/harness.c" "$T/"
gcc -O2 -I"$T" "$T/harness.c" -o /tmp/q8_0_ref -lm
/usr/bin/python3 "$HERE/compare.py"
