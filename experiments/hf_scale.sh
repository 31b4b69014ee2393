#!/bin/sh
# Scale test of `pare convert` (issue #11): a synthetic sharded bf16 LLaDA-shaped checkpoint of
# about 1.06 B parameters, converted with peak RSS and wall time measured by /usr/bin/time -v.
#   sh experiments/hf_scale.sh [SCRATCH_DIR] [PARE]
set -e
dir=${1:-/tmp/pare-hf-scale}
pare=${2:-.build/release/pare}
python3 experiments/make_hf_scale_checkpoint.py "$dir/hf"
/usr/bin/time -v "$pare" convert "$dir/hf" --output "$dir/converted.h5" 2> "$dir/time.txt"
grep -E "Elapsed|Maximum resident" "$dir/time.txt"
ls -l "$dir/converted.h5"
