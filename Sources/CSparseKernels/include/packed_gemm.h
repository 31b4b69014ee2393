// Dense products on weights packed once at load: Y[T, out] (+)= X[T, in] W^T.
//
// Packed layout for panel width NR = pare_packed_width(isa): W's output features in panels of
// NR; panel p holds, for k = 0 ..< in, the NR weights W[p NR + j][k] (j = 0 ..< NR), zeros past
// `out`. Built for AVX-512 (NR 32) and AVX2+FMA (NR 16), chosen at run time like the sparse
// kernels; portable C (NR 8) elsewhere. Threading is the caller's: a call computes panels
// [panel_lo, panel_hi).
#ifndef PARE_PACKED_GEMM_H
#define PARE_PACKED_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Output features per panel for an instruction set (PARE_ISA_*).
int pare_packed_width(int isa);

// packed [ceil(rows / nr) * nr * cols] from w [rows, cols] row-major.
void pare_pack_weights(const float *w, int64_t rows, int64_t cols, int nr, float *packed);

// Panels [panel_lo, panel_hi) of y [tokens, rows] (+)= x [tokens, cols] W^T. scratch: the
// caller's pare_packed_gemm_scratch_floats(tokens, cols) floats, 64-byte aligned (one per thread).
void pare_packed_gemm(int isa, const float *packed, int64_t rows, int64_t cols, const float *x,
                      int64_t tokens, float *y, int accumulate, int64_t panel_lo, int64_t panel_hi, float *scratch);

// Floats of scratch one pare_packed_gemm call needs.
int64_t pare_packed_gemm_scratch_floats(int64_t tokens, int64_t cols);

#ifdef __cplusplus
}
#endif
#endif
