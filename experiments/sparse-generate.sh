#!/bin/sh
# `pare generate --kernels sparse` against `--kernels dense` on a random LLaDA-shaped model
# (d_model 2048, 16 heads, d_ff 5632, 8 blocks, vocab 32000) pruned by Wanda at 70 % and 90 %:
# one prompt of 192 tokens, 64 generated tokens in 16 steps, so every forward pass feeds the
# linears 256 tokens. Times are the decoding time `generate` reports (loading excluded: the
# dense file is read as stored, and --kernels sparse converts its linears first; a file stored
# sparse loads them sparse directly), median of three runs each. Then the bundled model: its
# 4 tasks, 200 samples each, through `pare eval` (wall time of the whole evaluation).
# Usage: experiments/sparse-generate.sh [WORKDIR]   (about 20 minutes on 2 cores, 6 once the models exist)
set -eu
PARE=${PARE:-.build/release/pare}
DIR=${1:-.build/sparse-generate}
mkdir -p "$DIR"
BASE="$DIR/llada-2048.h5"
[ -f "$BASE" ] || $PARE init --output "$BASE" --d-model 2048 --n-heads 16 --d-ff 5632 --n-layers 8 \
    --vocab 32000 --max-seq-len 256 --seed 1
for s in 70 90; do
    [ -f "$DIR/llada-2048.wanda-$s.h5" ] || $PARE prune --model "$BASE" --sparsity 0.$s --method wanda \
        --calibration-samples 32 --output "$DIR/llada-2048.wanda-$s.h5" >/dev/null
done
IDS=$(seq 100 291 | paste -sd, -)

# median of three decoding times (seconds) `generate` reports ("N prompt(s) in X s")
median3() {
    for i in 1 2 3; do
        "$@" 2>&1 >/dev/null | sed -n 's/.*prompt(s) in \([0-9.]*\) s.*/\1/p'
    done | sort -n | sed -n 2p
}
# median of three whole-command wall times (seconds)
median3wall() {
    for i in 1 2 3; do
        /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1
    done | sort -n | sed -n 2p
}

# "blas s": --kernels dense with PARE_SIMD=avx2, where dense linears run on OpenBLAS (on an
# AVX-512 machine --kernels dense runs Pare's packed kernel instead).
echo "model                  dense s  sparse s  speedup  same tokens  blas s  vs blas"
for s in 70 90; do
    M="$DIR/llada-2048.wanda-$s.h5"
    run() { $PARE generate --model "$M" --prompt-ids "$IDS" --gen-length 64 --steps 16 --json --kernels "$1"; }
    same=$( [ "$(run dense)" = "$(run sparse)" ] && echo yes || echo no )
    d=$(median3 $PARE generate --model "$M" --prompt-ids "$IDS" --gen-length 64 --steps 16 --kernels dense)
    sp=$(median3 $PARE generate --model "$M" --prompt-ids "$IDS" --gen-length 64 --steps 16 --kernels sparse)
    b=$(export PARE_SIMD=avx2; median3 $PARE generate --model "$M" --prompt-ids "$IDS" --gen-length 64 --steps 16 --kernels dense)
    printf "llada-2048 wanda-%s    %7.2f  %8.2f  %6.2fx  %-11s  %6.2f  %6.2fx\n" "$s" "$d" "$sp" "$(awk "BEGIN{print $d / $sp}")" "$same" \
        "$b" "$(awk "BEGIN{print $b / $sp}")"
done

TINY=models/pare-tiny.h5
for s in 50 70; do
    M="$DIR/pare-tiny.wanda-$s.h5"
    [ -f "$M" ] || $PARE prune --model $TINY --sparsity 0.$s --method wanda --output "$M" >/dev/null
    d=$(median3wall $PARE eval --model "$M" --samples 200 --kernels dense)
    sp=$(median3wall $PARE eval --model "$M" --samples 200 --kernels sparse)
    same=$( [ "$($PARE eval --model "$M" --samples 200 --json --kernels dense | jq -c '.tasks | map_values(del(.wall_seconds))')" = \
              "$($PARE eval --model "$M" --samples 200 --json --kernels sparse | jq -c '.tasks | map_values(del(.wall_seconds))')" ] && echo yes || echo no)
    printf "pare-tiny wanda-%s     %7.2f  %8.2f  %6.2fx  %s (eval, 4 x 200 samples)\n" "$s" "$d" "$sp" "$(awk "BEGIN{print $d / $sp}")" "$same"
done
