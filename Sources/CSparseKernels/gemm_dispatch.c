// The packed dense kernel's entry point, packing, and its portable C build.
#include "packed_gemm.h"
#include "sparse_kernels.h"
#include "isa_kernels.h"

int pare_packed_width(int isa) {
    return isa == PARE_ISA_AVX512 ? 32 : isa == PARE_ISA_AVX2 ? 16 : 8;
}

void pare_pack_weights(const float *w, int64_t rows, int64_t cols, int nr, float *packed) {
    const int64_t panels = (rows + nr - 1) / nr;
    for (int64_t p = 0; p < panels; p++)
        for (int64_t k = 0; k < cols; k++)
            for (int64_t j = 0; j < nr; j++) {
                const int64_t r = p * nr + j;
                packed[(p * cols + k) * nr + j] = r < rows ? w[r * cols + k] : 0;
            }
}

// Portable C: one token and one panel at a time. The reference the SIMD builds are tested
// against (together with dense BLAS).
static void packed_gemm_scalar(const float *packed, int64_t rows, int64_t cols, const float *x, int64_t tokens,
                               float *y, int accumulate, int64_t panel_lo, int64_t panel_hi) {
    enum { NR = 8 };
    for (int64_t p = panel_lo; p < panel_hi; p++) {
        const float *wp = packed + p * NR * cols;
        const int64_t ncols = rows - p * NR < NR ? rows - p * NR : NR;
        for (int64_t t = 0; t < tokens; t++) {
            float acc[NR] = {0};
            for (int64_t k = 0; k < cols; k++)
                for (int j = 0; j < NR; j++) acc[j] += x[t * cols + k] * wp[k * NR + j];
            for (int64_t j = 0; j < ncols; j++) {
                float *out = y + t * rows + p * NR + j;
                *out = accumulate ? *out + acc[j] : acc[j];
            }
        }
    }
}

int64_t pare_packed_gemm_scratch_floats(int64_t tokens, int64_t cols) {
    // One X block, [GEMM_MT, GEMM_KC] at most, in micro-panels of up to 12 tokens (padded).
    const int64_t t = tokens < GEMM_MT ? tokens : GEMM_MT, k = cols < GEMM_KC ? cols : GEMM_KC;
    return (t + 12) * k + 16;
}

void pare_packed_gemm(int isa, const float *packed, int64_t rows, int64_t cols, const float *x,
                      int64_t tokens, float *y, int accumulate, int64_t panel_lo, int64_t panel_hi, float *scratch) {
    switch (isa) {
#if defined(__x86_64__)
    case PARE_ISA_AVX512: pare_packed_gemm_avx512(packed, rows, cols, x, tokens, y, accumulate, panel_lo, panel_hi, scratch); return;
    case PARE_ISA_AVX2: pare_packed_gemm_avx2(packed, rows, cols, x, tokens, y, accumulate, panel_lo, panel_hi, scratch); return;
#endif
    default: packed_gemm_scalar(packed, rows, cols, x, tokens, y, accumulate, panel_lo, panel_hi);
    }
}
