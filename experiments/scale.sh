#!/usr/bin/env bash
# Time and peak memory (RSS) of prune, drop and generate on a synthetic model larger than the
# bundled one, with the weights streamed block by block and held resident. Prints a Markdown
# table. Needs a release build (make build) and GNU time (apt-get install time).
#
#   experiments/scale.sh                       # 1.06 B parameters in bf16 (about 2 GB on disk)
#   SHAPE="--d-model 4096 --n-layers 2 --n-heads 32 --d-ff 12288 --vocab 126464 --max-seq-len 512" \
#   COMMANDS="prune-wanda" OUT=.build/scale-llada8b-2 experiments/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PARE=${PARE:-.build/release/pare}
OUT=${OUT:-.build/scale}
SHAPE=${SHAPE:-"--d-model 2048 --n-layers 18 --n-heads 16 --d-ff 5632 --vocab 32000 --max-seq-len 512"}
MODES=${MODES:-"stream resident"}
COMMANDS=${COMMANDS:-"prune-wanda prune-sparsegpt drop generate"}
CALIBRATION=${CALIBRATION:-32}
mkdir -p "$OUT"
model=$OUT/model.h5

# run LABEL MODE ARGS...: one row of the table.
run() {
    local label=$1 mode=$2; shift 2
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$PARE" "$@" > "$OUT/$label-$mode.out" 2> "$OUT/$label-$mode.log"
    read -r seconds kib < "$OUT/time.txt"
    printf '| %s | %s | %s | %.0f |\n' "$label" "$mode" "$seconds" "$(echo "$kib / 1024" | bc -l)"
}

echo "| command | weights | wall (s) | peak RSS (MiB) |"
echo "|---|---|---:|---:|"
if [ ! -f "$model" ]; then
    # shellcheck disable=SC2086
    run init - init --output "$model" $SHAPE --dtype bf16 --seed 1
fi
for mode in $MODES; do
    for command in $COMMANDS; do
        case $command in
        prune-wanda)     run "$command" "$mode" prune --model "$model" --method wanda --sparsity 0.5 \
                             --calibration-samples "$CALIBRATION" --output "$OUT/wanda-$mode.h5" --"$mode" ;;
        prune-sparsegpt) run "$command" "$mode" prune --model "$model" --method sparsegpt --sparsity 0.5 \
                             --calibration-samples "$CALIBRATION" --output "$OUT/sparsegpt-$mode.h5" --"$mode" ;;
        drop)            run "$command" "$mode" drop --model "$model" --count 2 --by block-influence \
                             --calibration-samples "$CALIBRATION" --output "$OUT/drop-$mode.h5" --"$mode" ;;
        generate)        run "$command" "$mode" generate --model "$model" --prompt-ids 3,17,5,9,12,30,2 \
                             --sampler threshold --gen-length 32 --json --"$mode" ;;
        esac
    done
done
