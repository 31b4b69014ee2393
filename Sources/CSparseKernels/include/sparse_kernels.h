// Sparse x dense products for pruned linears: Y[T, out] (+)= X[T, in] W^T, with W held in the
// row-aligned bitmask format (one bit per weight, kept values packed in row order).
//
// Three builds of the same kernels exist: AVX-512, AVX2+FMA and portable C. The caller picks
// one at run time with pare_sparse_best_isa() (what this CPU can run) or forces a lower one.
// Threading is the caller's: each call computes the output columns [row_lo, row_hi) of W.
#ifndef PARE_SPARSE_KERNELS_H
#define PARE_SPARSE_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The kernels' version: bump it whenever a kernel of this target (sparse or packed dense)
// changes speed. Break-evens measured and cached on disk (Pare's BreakEvenTable) are keyed by
// it, so a cache measured with older kernels is not trusted. 2: column index prefetched and
// read from 85 % sparsity with AVX-512 too; AVX-512 tiles no longer prefetch partial sums.
// 3: panels chosen per tile width; AVX2 tiles take four kept weights per round; the AVX2
// expand kernel computes its lane mask. 4: a fixed prefetch count per row and panel, offsets
// loaded two weights ahead, panels per instruction set. 5: tiles write their partial sums
// back in 8 x 8 register transposes. 6: AVX2 tiles load each round's offsets a round ahead.
// 7: tiles reading the column index load it two weights ahead too. 8: with several tiles, row
// blocks go through all of them, each decoded once to a column index with its rows ordered
// per panel by kept count. 9: AVX-512 tiles take four kept weights per round too. 10: a single
// tile of at most 64 tokens orders rows per panel when W has a column index. 11: only AVX2
// prepares row blocks for several tiles.
enum { PARE_KERNELS_VERSION = 11 };

enum {
    PARE_ISA_SCALAR = 0,
    PARE_ISA_AVX2 = 1,
    PARE_ISA_AVX512 = 2,
};

// The widest instruction set this CPU and this build can run.
int pare_sparse_best_isa(void);

// W [rows, cols] = [out, in].
typedef struct {
    int64_t rows, cols;
    int64_t words_per_row;       // ceil(cols / 64)
    const uint64_t *mask;        // [rows, words_per_row]; bit j of word w is column 64 w + j
    const float *values;         // the kept weights, row by row; readable 16 floats past the end
    const int64_t *row_start;    // [rows + 1]: row r's values are values[row_start[r] ..< row_start[r+1]]
    // NULL, or the column of every kept value (parallel to values; very sparse matrices only):
    // the kernels then read columns instead of decoding mask bits (pare_bitmask_wants_columns).
    // Readable 16 entries past the end, as values (the tiles read two columns ahead).
    const uint16_t *columns;
} pare_bitmask_matrix;

// Whether a matrix keeping `density` of its weights over `cols` inputs should carry a column
// index: decoding the mask costs the same per 16 weights at any density, so where few are kept
// it dominates the product (T = 1 at 90 % sparsity: 1.4x faster with the index).
int pare_bitmask_wants_columns(double density, int64_t cols);

// The tokens of one product, and which kernel handles them: the "tile" kernel walks X^T in
// tiles of `tile_tokens` (16, 32, 64, or 128 on AVX-512) tokens; the "expand" kernel (tile_tokens == 0) expands
// the packed values into dense vectors and works on X rows directly (few tokens).
// panel_cols (a multiple of 64) is how many columns of X^T the tile kernel reads in one pass.
// index_blocks: more than one tile reads each row block (AVX2), so the kernel first decodes the
// block's mask to a column index (when W has no index of its own) and orders its rows per panel.
typedef struct {
    int64_t tokens;
    int tile_tokens;
    int panel_cols;
    int index_blocks;
} pare_spmm_plan;

// The plan for `tokens` tokens on a matrix keeping `density` of its weights.
pare_spmm_plan pare_spmm_make_plan(int isa, int64_t tokens, double density);

// The width of the tile that starts with `remaining` tokens left: `tile`, or for the last
// tile the narrowest of 16, 32, 64 that holds them.
int pare_tile_width(int64_t remaining, int tile);

// X^T for the tile kernel, tile by tile: the tile of tokens [t0, t0 + width) starts at
// xt + t0 * cols and is [cols, width] (width from pare_tile_width), zero past the last token.
// xt needs at most ceil(tokens / tile) * tile * cols floats. x is [tokens, cols] row-major.
void pare_transpose_tiles(const float *x, int64_t tokens, int64_t cols, int tile, float *xt);
// The same for columns [col_lo, col_hi) of every tile only (col_lo a multiple of 16), so that
// threads can share the work.
void pare_transpose_tiles_columns(const float *x, int64_t tokens, int64_t cols, int tile, int64_t col_lo,
                                  int64_t col_hi, float *xt);

// Output rows [row_lo, row_hi) of Y [tokens, rows] (+)= X W^T. `accumulate` adds to Y.
// tile kernel: reads xt from pare_transpose_tiles; scratch holds
// pare_spmm_scratch_floats(plan, w, row_lo, row_hi) floats, 64-byte aligned.
// expand kernel: reads x [tokens, cols] directly; scratch unused (may be NULL).
void pare_spmm_rows(int isa, const pare_bitmask_matrix *w, pare_spmm_plan plan,
                    const float *x, const float *xt, float *y, int accumulate,
                    int64_t row_lo, int64_t row_hi, float *scratch);

// One row of a dense weight to the bitmask format: its mask words (ceil(cols / 64) of them;
// returns the number kept), then its kept values packed in column order. values needs room
// for one float past the kept ones (the packing writes every weight, advancing past kept ones).
int64_t pare_bitmask_count_row(const float *row, int64_t cols, uint64_t *words);
void pare_bitmask_pack_row(const float *row, int64_t cols, float *values);

// Floats of scratch one pare_spmm_rows call over output rows [row_lo, row_hi) of w needs.
int64_t pare_spmm_scratch_floats(pare_spmm_plan plan, const pare_bitmask_matrix *w, int64_t row_lo, int64_t row_hi);

#ifdef __cplusplus
}
#endif
#endif
