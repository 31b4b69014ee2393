#!/usr/bin/env bash
# SEFT variants on the bundled model pruned by Wanda at 70 % (README "Sparse fine-tuning"):
# frozen-mask against SEFT with other drop fractions, update intervals, drop criteria and
# learning rates, 200 steps each, 200 test samples per task. Runs the default SEFT twice to show
# that the same command gives the same result. Prints Markdown. Needs make build and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
PARE=${PARE:-$PWD/.build/release/pare}
OUT=${OUT:-.build/seft}
mkdir -p "$OUT"
cd "$OUT"
input=wanda-0.7-unstructured.h5
[ -f "$input" ] || "$PARE" prune --method wanda --sparsity 0.7 --output "$input" --json > /dev/null
run() {
    local tag=$1; shift
    "$PARE" finetune --model "$input" --steps 200 --eval-samples 200 --output "v-$tag.h5" --json "$@" > "v-$tag.json" 2> "v-$tag.log"
    jq -r --arg t "$tag" '"| \($t) | \(.macro_accuracy * 1000 | round / 10) | \(.threshold_nfe_mean * 100 | round / 100) | \(.nll_per_token * 10000 | round / 10000) | \(.seconds_per_step * 1000 | round / 1000) |"' "v-$tag.json"
}
echo "| variant (Wanda 70 %, 200 steps) | mean acc. | NFE (thr.) | NLL / token | s / step |"
echo "|---|---:|---:|---:|---:|"
run frozen --method frozen-mask
run seft-default
run seft-default-again
run seft-wanda-drop --drop-criterion wanda
run seft-p0.05 --drop-fraction 0.05
run seft-k50 --update-interval 50
run seft-k10-p0.05 --update-interval 10 --drop-fraction 0.05
run frozen-lr1e-3 --method frozen-mask --learning-rate 1e-3
run seft-lr1e-3 --learning-rate 1e-3
# The same command, twice: the weights must be equal (the provenance differs in train_seconds).
python3 - <<'PY'
import h5py, numpy as np
a, b = h5py.File("v-seft-default.h5"), h5py.File("v-seft-default-again.h5")
names = []
a["model"].visititems(lambda n, o: names.append("model/" + n) if isinstance(o, h5py.Dataset) else None)
same = all(np.array_equal(a[n][()], b[n][()]) for n in names)
print(f"\nseft-default twice: {len(names)} tensors, {'all equal' if same else 'DIFFERENT'}")
PY
