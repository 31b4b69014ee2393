#!/bin/sh
# The decoding-speed figures of README "Performance" (issue #14), on a quiet machine:
#   1. `pare bench forward` at the default LLaDA-like shape and at the bundled model's shapes
#      (forward pass vs cblas_sgemm on the same matmul shapes, same run);
#   2. `pare bench generate` on the bundled model (256 rev prompts, fixed sampler, 12 steps);
#   3. `pare eval --samples 200` over the four tasks: median wall time of three runs;
#   4. bench/compare_pytorch.py: Pare against the same fixed sampler in PyTorch eager (2 threads)
#      on the bundled model and on a random LLaDA-shaped model (needs torch, h5py: pip);
#   5. `pare bench threads`: the threading threshold.
# Each is run again with PARE_SIMD=avx2 where that changes the dense kernel (an AVX2-only CPU:
# linears on OpenBLAS). Usage: experiments/decoding-speed.sh   (about 30 minutes on 2 cores)
set -eu
PARE=${PARE:-.build/release/pare}
echo "== bench forward (default shape; bundled shapes)"
for simd in avx512 avx2; do
    PARE_SIMD=$simd $PARE bench forward 2>/dev/null | sed "s/^/$simd  /"
    PARE_SIMD=$simd $PARE bench forward --d-model 128 --n-heads 4 --d-ff 344 --n-layers 8 --tokens 28 \
        --sequences 64 --vocab 45 2>/dev/null | sed "s/^/$simd  /"
done
echo "== bench generate (bundled model)"
for simd in avx512 avx2; do PARE_SIMD=$simd $PARE bench generate 2>/dev/null | sed "s/^/$simd  /"; done
echo "== eval --samples 200, four tasks: median wall of three runs"
for simd in avx512 avx2; do
    for i in 1 2 3; do
        /usr/bin/env time -f %e env PARE_SIMD=$simd $PARE eval --samples 200 2>&1 >/dev/null | tail -1
    done | sort -n | sed -n 2p | sed "s/^/$simd  eval wall seconds: /"
done
echo "== PyTorch eager, same sampler and weights"
python3 bench/compare_pytorch.py all --runs 3
echo "== threading threshold"
$PARE bench threads 2>/dev/null | tail -6
