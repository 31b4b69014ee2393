#!/bin/sh
# What sparse storage saves: a random model (d_model 1024, 16 heads, d_ff 2816, 4 blocks,
# vocab 4096) pruned by Wanda at 70 % and stored dense, bitmask and csr, and at 2:4 stored
# dense and nm. Prints each file's size, its block linears' stored bytes against dense fp32,
# and the peak memory of `inspect` and of a short `generate` loading it.
# Usage: experiments/sparse-storage.sh [WORKDIR]   (about 2 minutes)
set -eu
PARE=${PARE:-.build/release/pare}
DIR=${1:-.build/sparse-storage}
mkdir -p "$DIR"
M="$DIR/m.h5"
[ -f "$M" ] || $PARE init --d-model 1024 --n-layers 4 --n-heads 16 --d-ff 2816 --vocab 4096 --output "$M" >/dev/null 2>&1
for s in dense bitmask csr; do
    [ -f "$DIR/p70-$s.h5" ] || $PARE prune --model "$M" --sparsity 0.7 --method wanda --store $s --output "$DIR/p70-$s.h5" >/dev/null 2>&1
done
for s in dense nm; do
    [ -f "$DIR/p24-$s.h5" ] || $PARE prune --model "$M" --sparsity 0.5 --pattern 2:4 --method wanda --store $s --output "$DIR/p24-$s.h5" >/dev/null 2>&1
done
echo "file            file bytes   linears stored  vs dense fp32  peak RSS inspect / generate (KiB)"
for f in m p70-dense p70-bitmask p70-csr p24-dense p24-nm; do
    F="$DIR/$f.h5"
    sizes=$($PARE inspect --model "$F" --json | jq -r '"\(.file_bytes) \(.block_linears.stored_bytes) \(.block_linears.stored_bytes / .block_linears.dense_bytes * 1000 | round / 1000)"')
    rss_i=$( { /usr/bin/time -f %M $PARE inspect --model "$F" >/dev/null; } 2>&1 | tail -1)
    rss_g=$( { /usr/bin/time -f %M $PARE generate --model "$F" --gen-length 4 --prompt-ids 1,2,3 >/dev/null; } 2>&1 | tail -1)
    set -- $sizes
    printf "%-14s %11s  %14s  %13s  %s / %s\n" "$f" "$1" "$2" "$3" "$rss_i" "$rss_g"
done
