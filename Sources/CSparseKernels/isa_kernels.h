// The per-instruction-set entry points behind pare_spmm_rows (private to this target).
#ifndef PARE_ISA_KERNELS_H
#define PARE_ISA_KERNELS_H
#include "sparse_kernels.h"

// Floats of partial sums a row block of the tile kernel keeps (256 KiB, in L2).
#define ROW_BLOCK_FLOATS 65536

// The tile kernel prefetches the values of the row PREFETCH_ROWS ahead (measured: 2-8 all
// gain about 25 % at 50 % sparsity on AVX-512).
#define PREFETCH_ROWS 4


void pare_spmm_rows_avx512(const pare_bitmask_matrix *w, pare_spmm_plan plan, const float *x,
                           const float *xt, float *y, int accumulate, int64_t row_lo,
                           int64_t row_hi, float *scratch);
void pare_spmm_rows_avx2(const pare_bitmask_matrix *w, pare_spmm_plan plan, const float *x,
                         const float *xt, float *y, int accumulate, int64_t row_lo,
                         int64_t row_hi, float *scratch);
#endif
