// The per-instruction-set entry points behind pare_spmm_rows (private to this target).
#ifndef PARE_ISA_KERNELS_H
#define PARE_ISA_KERNELS_H
#include "sparse_kernels.h"

// Floats of partial sums a row block of the tile kernel keeps (256 KiB, in L2).
#define ROW_BLOCK_FLOATS 65536

// Where the tile kernel's scratch holds what (offsets in floats): the fixed part (partial
// sums, row cursors, decoded columns) from 0, then, when row blocks are prepared (index_block
// in spmm_tile.inc: several AVX2 tiles, or one tile of W with its own index; order_values > 0),
// a tally for sorting and decoding, the per-panel row order and counts (order_values uint16
// each) and the block's column index (index_values uint16; none when W has an index of its own).
typedef struct {
    int64_t tally_at, order_at, order_values, index_at, index_values, total;
} pare_spmm_block_scratch;
pare_spmm_block_scratch pare_spmm_block_scratch_layout(pare_spmm_plan plan, const pare_bitmask_matrix *w,
                                                       int64_t row_lo, int64_t row_hi);

// The tile kernel prefetches the values of the row PREFETCH_ROWS ahead (measured: 2-8 all
// gain about 25 % at 50 % sparsity on AVX-512).
#define PREFETCH_ROWS 4

// The packed dense kernel's blocking (gemm_packed.inc): k in blocks of GEMM_KC, tokens in
// blocks of GEMM_MT. Measured on AVX-512 (Zen 5, one thread, against 256/192, 256/512,
// 128/384, 64/2048): 128/1024 keeps a panel's k slice (16 KiB) in L1 and the X block
// (512 KiB) in L2, and reads W once per product when T <= 1024.
#define GEMM_KC 128
#define GEMM_MT 1024

void pare_packed_gemm_avx512(const float *packed, int64_t rows, int64_t cols, const float *x, int64_t tokens,
                             float *y, int accumulate, int64_t panel_lo, int64_t panel_hi, float *xp);
void pare_packed_gemm_avx2(const float *packed, int64_t rows, int64_t cols, const float *x, int64_t tokens,
                           float *y, int accumulate, int64_t panel_lo, int64_t panel_hi, float *xp);

void pare_silu_mul_avx512(float *gate, const float *up, int64_t n);
void pare_silu_mul_avx2(float *gate, const float *up, int64_t n);
void pare_softmax_rows_avx512(float *x, int64_t rows, int64_t n);
void pare_softmax_rows_avx2(float *x, int64_t rows, int64_t n);
void pare_rms_norm_rows_avx512(const float *x, const float *w, float *y, float *inv_rms, int64_t rows, int64_t n, float eps);
void pare_rms_norm_rows_avx2(const float *x, const float *w, float *y, float *inv_rms, int64_t rows, int64_t n, float eps);

// Columns [col_lo, col_hi) of one tile of X^T: dst [cols, width] from x [valid, cols] (the
// tile's tokens), zero past them.
void pare_transpose_tile_avx2(const float *x, int64_t valid, int64_t cols, int width, int64_t col_lo,
                              int64_t col_hi, float *dst);

void pare_spmm_rows_avx512(const pare_bitmask_matrix *w, pare_spmm_plan plan, const float *x,
                           const float *xt, float *y, int accumulate, int64_t row_lo,
                           int64_t row_hi, float *scratch);
void pare_spmm_rows_avx2(const pare_bitmask_matrix *w, pare_spmm_plan plan, const float *x,
                         const float *xt, float *y, int accumulate, int64_t row_lo,
                         int64_t row_hi, float *scratch);
#endif
