// Element-wise kernels of the forward pass, built for AVX-512, AVX2+FMA and portable C and
// chosen at run time like the sparse kernels (isa: PARE_ISA_*).
#ifndef PARE_ELEMENTWISE_H
#define PARE_ELEMENTWISE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// gate[i] = silu(gate[i]) * up[i] for i < n, with silu(g) = g / (1 + e^-g).
void pare_silu_mul(int isa, float *gate, const float *up, int64_t n);

// Each of `rows` rows of n values (contiguous) replaced by its softmax, max subtracted.
void pare_softmax_rows(int isa, float *x, int64_t rows, int64_t n);

// y = w * x / sqrt(mean(x^2) + eps) row by row ([rows, n]); inv_rms[r] (when not NULL)
// receives each row's 1 / sqrt(mean(x^2) + eps), which the backward pass needs.
void pare_rms_norm_rows(int isa, const float *x, const float *w, float *y, float *inv_rms,
                        int64_t rows, int64_t n, float eps);

#ifdef __cplusplus
}
#endif
#endif
