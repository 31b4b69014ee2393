// Run-time choice between the AVX-512, AVX2 and portable builds of the sparse kernels, the
// portable kernel itself, and the helpers every build shares.
#include "sparse_kernels.h"
#include "isa_kernels.h"
#include <string.h>

int pare_sparse_best_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw"))
        return PARE_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return PARE_ISA_AVX2;
#endif
    return PARE_ISA_SCALAR;
}

int pare_tile_width(int64_t remaining, int tile) {
    // The last tile of a product is only as wide as its tokens need (from 16, 32, 64 and the
    // plan's own width), so T = 129 on 128-token tiles runs 128 + 16, not 2 x 128.
    if (remaining >= tile) return tile;
    const int widths[3] = {16, 32, 64};
    for (int i = 0; i < 3; i++)
        if (remaining <= widths[i] && widths[i] < tile) return widths[i];
    return tile;
}

void pare_transpose_tiles(const float *x, int64_t tokens, int64_t cols, int tile, float *xt) {
    pare_transpose_tiles_columns(x, tokens, cols, tile, 0, cols, xt);
}

void pare_transpose_tiles_columns(const float *x, int64_t tokens, int64_t cols, int tile, int64_t col_lo,
                                  int64_t col_hi, float *xt) {
    static int simd = -1;  // the AVX2 transposition where the CPU has it (the same floats either way)
    if (simd < 0) simd = pare_sparse_best_isa() >= PARE_ISA_AVX2;
    for (int64_t t0 = 0; t0 < tokens;) {
        const int width = pare_tile_width(tokens - t0, tile);
        float *dst = xt + t0 * cols;  // this tile: [cols, width]
        const int64_t valid = tokens - t0 < width ? tokens - t0 : width;
#if defined(__x86_64__)
        if (simd) {
            pare_transpose_tile_avx2(x + t0 * cols, valid, cols, width, col_lo, col_hi, dst);
            t0 += width;
            continue;
        }
#endif
        // Portable: in blocks of 16 columns, so each token's 16 inputs are one cache line of x
        // and the 16 destination rows ([16, width] floats, at most 8 KiB) stay in L1 while every
        // token of the tile is written into them.
        for (int64_t c0 = col_lo; c0 < col_hi; c0 += 16) {
            const int64_t n = col_hi - c0 < 16 ? col_hi - c0 : 16;
            for (int64_t t = 0; t < valid; t++) {
                const float *src = x + (t0 + t) * cols + c0;
                for (int64_t j = 0; j < n; j++) dst[(c0 + j) * width + t] = src[j];
            }
            for (int64_t j = 0; j < n; j++)
                for (int64_t t = valid; t < width; t++) dst[(c0 + j) * width + t] = 0;
        }
        t0 += width;
    }
}

// Portable C: walk each row's set bits and meet every token. The reference the SIMD builds
// are tested against (together with dense BLAS).
static void spmm_rows_scalar(const pare_bitmask_matrix *w, int64_t tokens, const float *x,
                             float *y, int accumulate, int64_t row_lo, int64_t row_hi) {
    // Ignores a column index: the mask is the truth the SIMD builds are checked against.
    for (int64_t r = row_lo; r < row_hi; r++) {
        const uint64_t *words = w->mask + r * w->words_per_row;
        for (int64_t t = 0; t < tokens; t++) {
            const float *vals = w->values + w->row_start[r];
            const float *xr = x + t * w->cols;
            float sum = 0;
            for (int64_t k = 0; k < w->words_per_row; k++)
                for (uint64_t bits = words[k]; bits; bits &= bits - 1)
                    sum += *vals++ * xr[k * 64 + __builtin_ctzll(bits)];
            float *out = y + t * w->rows + r;
            *out = accumulate ? *out + sum : sum;
        }
    }
}

void pare_spmm_rows(int isa, const pare_bitmask_matrix *w, pare_spmm_plan plan,
                    const float *x, const float *xt, float *y, int accumulate,
                    int64_t row_lo, int64_t row_hi, float *scratch) {
    switch (isa) {
#if defined(__x86_64__)
    case PARE_ISA_AVX512:
        pare_spmm_rows_avx512(w, plan, x, xt, y, accumulate, row_lo, row_hi, scratch);
        return;
    case PARE_ISA_AVX2:
        pare_spmm_rows_avx2(w, plan, x, xt, y, accumulate, row_lo, row_hi, scratch);
        return;
#endif
    default:
        spmm_rows_scalar(w, plan.tokens, x, y, accumulate, row_lo, row_hi);
    }
}

// Measured with `pare bench kernels` (AVX-512 and AVX2, 4096 x 4096): below 16 tokens the
// expand kernel wins, and the widest tile that T fills is best. The panel (columns every row
// of a block visits before the next) trades L1 hits for per-panel bookkeeping: X^T slices of
// 32-48 KiB (L1) suit dense-ish W, where each row reads many of the panel's columns, and wider
// slices suit sparser W, where a row has few kept weights per panel.
pare_spmm_plan pare_spmm_make_plan(int isa, int64_t tokens, double density) {
    pare_spmm_plan plan = {tokens, 0, 64, 0};
    if (isa == PARE_ISA_SCALAR || tokens < 16) return plan;
    // The widest tile: 8 accumulator vectors, 128 tokens on AVX-512 and 64 on AVX2. (96-token
    // tiles on AVX2, 12 of its 16 registers, gained 15 % at 80-90 % sparsity in a one-thread
    // microbenchmark but lost 3-5 % in `pare bench kernels` at T = 256.)
    const int widest = isa == PARE_ISA_AVX512 ? 128 : 64;
    plan.tile_tokens = tokens <= 16 ? 16 : tokens <= 32 ? 32 : tokens < widest ? 64 : widest;
    // Panel columns by instruction set, tile width and density: the fastest of 64-2048 columns
    // in a one-thread sweep (4096 x 4096; T = 16, 32, 64 and 256; 20-95 % sparsity). Narrow
    // panels keep the X^T slice in L1 but cost a loop exit per row and panel; since the
    // prefetch count no longer follows each row (spmm_tile.inc) they cost less, and the
    // narrowest panel wins down to density 0.15 on 128-token tiles (70 % sparsity: 64 columns
    // instead of 128, 8 % faster).
    //                                  density >= 0.7  >= 0.45  >= 0.25  >= 0.15  >= 0.08  below
    static const int panel512[4][6] = {{256, 512, 512, 512, 512, 2048},   // TT = 16
                                       {256, 256, 384, 512, 512, 2048},   // TT = 32
                                       {128, 128, 128, 256, 256, 512},    // TT = 64
                                       {64, 64, 64, 64, 128, 256}};       // TT = 128
    static const int panel2[3][6] = {{256, 512, 512, 512, 1024, 1024},    // TT = 16
                                     {256, 256, 384, 384, 1024, 1024},    // TT = 32
                                     {128, 128, 192, 256, 256, 1024}};    // TT = 64
    const int tile = plan.tile_tokens == 16 ? 0 : plan.tile_tokens == 32 ? 1 : plan.tile_tokens == 64 ? 2 : 3;
    const int band = density >= 0.7 ? 0 : density >= 0.45 ? 1 : density >= 0.25 ? 2 : density >= 0.15 ? 3 : density >= 0.08 ? 4 : 5;
    plan.panel_cols = isa == PARE_ISA_AVX512 ? panel512[tile][band] : panel2[tile][band];
    // Several tiles share one prepared row block on AVX2 only: its decoding (a table lookup per
    // 8 columns) is what the index saves. AVX-512 decodes 16 columns in one vpcompressd, and
    // its index cost more memory traffic than it saved on wide inputs (4096 x 12288, T = 256,
    // 2 threads, 3 A/B pairs: 5-10 % slower at 50 % and 90 %; 12288 x 4096 the same, 4096 x
    // 4096 within 3 %).
    plan.index_blocks = tokens > plan.tile_tokens && isa == PARE_ISA_AVX2;
    return plan;
}

pare_spmm_block_scratch pare_spmm_block_scratch_layout(pare_spmm_plan plan, const pare_bitmask_matrix *w,
                                                       int64_t row_lo, int64_t row_hi) {
    // partial sums [block, tile], row cursors (int64), two buffers of decoded columns (int32);
    // the narrowest tile (16 tokens, the last tile's possible width) has the most rows per block.
    pare_spmm_block_scratch s = {0, 0, 0, 0, 0, 0};
    if (plan.tile_tokens == 0) return s;
    const int64_t most_rows = ROW_BLOCK_FLOATS / 16;
    s.total = ROW_BLOCK_FLOATS + 2 * most_rows + 2 * (plan.panel_cols + 16) + 16;
    // Row blocks are prepared for several tiles (index and order), and for a single tile of
    // at most 64 tokens when W has an index of its own (order only, nothing to decode: 90 %
    // sparsity, 2 threads, 3 A/B pairs: AVX2 1.03-1.16x at T = 16-64, AVX-512 1.04-1.38x; on
    // one 128-token tile AVX-512 lost 2-6 %).
    const int order_only = w->columns != NULL && plan.tile_tokens <= 64;
    if (!(plan.index_blocks || order_only) || w->cols > 65536) return s;
    const int64_t block = ROW_BLOCK_FLOATS / plan.tile_tokens, npanels = (w->cols + plan.panel_cols - 1) / plan.panel_cols;
    int64_t kept = 0;  // the most kept values of one block
    for (int64_t rb = row_lo; rb < row_hi; rb += block) {
        const int64_t re = rb + block < row_hi ? rb + block : row_hi;
        if (w->row_start[re] - w->row_start[rb] > kept) kept = w->row_start[re] - w->row_start[rb];
    }
    // Offsets stay multiples of 16 floats (64 bytes). The tally holds a decoded row (cols + 16
    // int32) or a sort's bins and unsorted counts (at most cols + 2 int32 and block uint16).
    s.tally_at = s.total;
    s.order_at = s.tally_at + (w->cols + 16 + block / 2 + 15) / 16 * 16;
    s.order_values = npanels * block;
    s.index_at = s.order_at + (s.order_values + 15) / 16 * 16;  // order and counts: 2 x order_values uint16
    s.index_values = w->columns != NULL ? 0 : kept + 16;  // none when W has its own
    s.total = s.index_at + (s.index_values / 2 + 16);
    return s;
}

int64_t pare_spmm_scratch_floats(pare_spmm_plan plan, const pare_bitmask_matrix *w, int64_t row_lo, int64_t row_hi) {
    return pare_spmm_block_scratch_layout(plan, w, row_lo, row_hi).total;
}

// Measured with a one-thread microbenchmark on Zen 5 (4096 x 4096, T = 1): the gather over
// stored columns beats the expand kernel from about 85 % sparsity (0.5 against 0.75 ms at 90 %,
// 1.0 against 0.76 ms at 80 %). 16-bit columns need cols <= 65536.
int pare_bitmask_wants_columns(double density, int64_t cols) {
    return density <= 0.15 && cols <= 65536;
}

int64_t pare_bitmask_count_row(const float *row, int64_t cols, uint64_t *words) {
    // Branch-free: a pruned weight is an exact zero, and which weights are zero is random, so
    // a branch per weight would mispredict about once in three.
    int64_t kept = 0;
    for (int64_t k = 0; k * 64 < cols; k++) {
        const int64_t end = (k + 1) * 64 < cols ? 64 : cols - k * 64;
        uint64_t word = 0;
        for (int64_t j = 0; j < end; j++) word |= (uint64_t)(row[k * 64 + j] != 0) << j;
        words[k] = word;
        kept += __builtin_popcountll(word);
    }
    return kept;
}

void pare_bitmask_pack_row(const float *row, int64_t cols, float *values) {
    int64_t n = 0;
    for (int64_t c = 0; c < cols; c++) {
        values[n] = row[c];
        n += row[c] != 0;
    }
}
