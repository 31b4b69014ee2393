// The element-wise kernels' entry points, and their portable build (8-float generic vectors,
// which the compiler lowers to whatever this target has).
#include "elementwise.h"
#include "sparse_kernels.h"
#include "isa_kernels.h"

#define VW 8
#define ISA_SUFFIX portable
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
typedef float vf_portable __attribute__((vector_size(VW * 4), aligned(4)));
#define VF vf_portable
#include "elementwise.inc"

void pare_silu_mul(int isa, float *gate, const float *up, int64_t n) {
    switch (isa) {
#if defined(__x86_64__)
    case PARE_ISA_AVX512: pare_silu_mul_avx512(gate, up, n); return;
    case PARE_ISA_AVX2: pare_silu_mul_avx2(gate, up, n); return;
#endif
    default: pare_silu_mul_portable(gate, up, n);
    }
}

void pare_softmax_rows(int isa, float *x, int64_t rows, int64_t n) {
    switch (isa) {
#if defined(__x86_64__)
    case PARE_ISA_AVX512: pare_softmax_rows_avx512(x, rows, n); return;
    case PARE_ISA_AVX2: pare_softmax_rows_avx2(x, rows, n); return;
#endif
    default: pare_softmax_rows_portable(x, rows, n);
    }
}

void pare_rms_norm_rows(int isa, const float *x, const float *w, float *y, float *inv_rms,
                        int64_t rows, int64_t n, float eps) {
    switch (isa) {
#if defined(__x86_64__)
    case PARE_ISA_AVX512: pare_rms_norm_rows_avx512(x, w, y, inv_rms, rows, n, eps); return;
    case PARE_ISA_AVX2: pare_rms_norm_rows_avx2(x, w, y, inv_rms, rows, n, eps); return;
#endif
    default: pare_rms_norm_rows_portable(x, w, y, inv_rms, rows, n, eps);
    }
}
