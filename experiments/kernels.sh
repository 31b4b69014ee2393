#!/bin/sh
# The sparse kernels' acceptance figures: `pare bench kernels` three times on LLaDA-8B's
# 4096 x 4096 shape, then each cell's median speedup over the three runs. Run it as is for the
# widest SIMD level this CPU has, and with PARE_SIMD=avx2 for the AVX2 build.
# Usage: experiments/kernels.sh [extra bench options]   (about 3 minutes per run)
set -eu
PARE=${PARE:-.build/release/pare}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for i in 1 2 3; do
    $PARE bench kernels --shapes 4096x4096 --json "$@" > "$OUT/run$i.json"
done
jq -s -r '
  (.[0].simd) as $simd |
  ([.[].cells] | transpose | map({shape: .[0].shape, tokens: .[0].tokens, pattern: .[0].pattern,
        kernel: .[0].kernel, speedup: (map(.speedup) | sort | .[1])})) as $cells |
  ([.[].break_even] | transpose | map({shape: .[0].shape, tokens: .[0].tokens,
        sparsity: (map(.sparsity // 1) | sort | .[1])})) as $be |
  "SIMD \($simd), median of 3 runs (speedup = dense time / sparse time)",
  ([$cells[].tokens] | unique) as $ts |
  ("pattern  " + ($ts | map("T=\(.)" | . + (" " * (9 - length))) | join(""))),
  (([$cells[].pattern] | reduce .[] as $p ([]; if index([$p]) then . else . + [$p] end))[] as $p |
    ($p + (" " * (9 - ($p | length)))) + ($ts | map(. as $t | ($cells[] | select(.pattern == $p and .tokens == $t) |
        ((.speedup * 100 | round) / 100 | tostring) + "x")) | map(. + (" " * (9 - length))) | join(""))),
  ("break-even " + ($ts | map(. as $t | ($be[] | select(.tokens == $t) | if .sparsity >= 1 then "none" else "\((.sparsity * 100) | round)%" end)) | join("  "))),
  ("kernel   " + ($ts | map(. as $t | ([$cells[] | select(.tokens == $t)][0].kernel)) | join(" ")))
' "$OUT"/run1.json "$OUT"/run2.json "$OUT"/run3.json
