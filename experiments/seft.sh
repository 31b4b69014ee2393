#!/usr/bin/env bash
# SEFT recovery table (README "Sparse fine-tuning"): the bundled model pruned by Wanda at 50 %,
# 70 % and 2:4; then no fine-tuning, frozen-mask, SEFT and dense-then-re-pruned fine-tuning at
# equal steps, seed and data. Prints Markdown. Needs a release build (make build) and jq.
#
#   experiments/seft.sh                        # 500 steps each, 200 test samples per task
#   STEPS=1000 SETTINGS="0.7:unstructured" experiments/seft.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PARE=${PARE:-.build/release/pare}
OUT=${OUT:-.build/seft}
STEPS=${STEPS:-500}
SAMPLES=${SAMPLES:-200}
SETTINGS=${SETTINGS:-"0.5:unstructured 0.7:unstructured 0.5:2:4"}
EXTRA=${EXTRA:-}            # more finetune options for every run, e.g. "--update-interval 50"
mkdir -p "$OUT"

for setting in $SETTINGS; do
    sparsity=${setting%%:*}; pattern=${setting#*:}
    tag="wanda-$sparsity-${pattern//:/of}"
    pruned=$OUT/$tag.h5
    "$PARE" prune --method wanda --sparsity "$sparsity" --pattern "$pattern" --output "$pruned" --json > "$OUT/$tag.prune.json"
    echo "### Wanda $pattern $sparsity ($STEPS steps each)"
    echo
    echo "| method | train time (s) | s / step | peak memory (MiB) | overlap with the input mask |"
    echo "|---|---:|---:|---:|---:|"
    models=("none=$pruned")
    for method in frozen-mask seft dense; do
        # shellcheck disable=SC2086
        "$PARE" finetune --model "$pruned" --method "$method" --steps "$STEPS" --eval-samples 0 \
            --output "$OUT/$tag.$method.h5" --json $EXTRA > "$OUT/$tag.$method.json" 2> "$OUT/$tag.$method.log"
        jq -r --arg m "$method" '"| \($m) | \(.train_seconds * 10 | round / 10) | \(.seconds_per_step * 1000 | round / 1000) | \(.peak_memory_mib | round) | \(if .overlap_with_input_mask then (.overlap_with_input_mask * 1000 | round / 10 | tostring) + " %" else "-" end) |"' \
            "$OUT/$tag.$method.json"
        models+=("$method=$OUT/$tag.$method.h5")
    done
    echo
    "$PARE" compare "${models[@]}" --samples "$SAMPLES" --markdown "$OUT/$tag.compare.md" > /dev/null 2> "$OUT/$tag.compare.log"
    cat "$OUT/$tag.compare.md"
    echo
done
