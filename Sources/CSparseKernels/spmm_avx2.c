// The sparse kernels built for AVX2 + FMA (8 floats per vector), chosen at run time.
#if defined(__x86_64__)
#include "sparse_kernels.h"
#include "isa_kernels.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)

#define VW 8
#define ISA_SUFFIX avx2
#define SPLAT(v) _mm256_set1_ps(v)
#define ACC_REGS 8
// Four floats p[0..3] in each 128-bit lane, and lane j of such a vector everywhere.
#define LOAD_SPLAT4(p) ((VF)_mm256_broadcast_ps((const __m128 *)(p)))
#define LANE_SPLAT4(w, j) ((VF)_mm256_permute_ps((__m256)(w), 0x55 * (j)))
#define VREG "+x"
// AVX2 has no vexpandps: for an 8-bit mask m, expand_values sends packed value k to the lane
// of the k-th set bit and zeroes the other lanes. Lane l's 4-bit field of expand_nibbles[m]
// holds k (bits 0-2, all vpermps reads) and whether lane l is kept (bit 3, which a shift moves
// to the sign bit vblendvps reads). This 1 KiB table replaced two lookups in 8 KiB tables of
// vectors (a permutation and a lane mask): the one-token kernel runs 2.2x faster at 50 %
// sparsity and 2.1x at 70 % (T = 1, 4096 x 4096, one thread, A/B).
static uint32_t expand_nibbles[256] __attribute__((aligned(64)));
// ... and compress_perm[m] lists the lanes of m's set bits first (the inverse: packing).
static int32_t compress_perm[256][8] __attribute__((aligned(32)));

__attribute__((constructor)) static void fill_expand_tables(void) {
    for (int m = 0; m < 256; m++) {
        int k = 0;
        for (int lane = 0; lane < 8; lane++) {
            const int kept = m >> lane & 1;
            if (kept) expand_nibbles[m] |= (uint32_t)(8 | k) << (4 * lane);
            if (kept) compress_perm[m][k] = lane;
            k += kept;
        }
    }
}

// Set bits of 64-bit mask words to column offsets, 8 columns at a time through
// compress_perm (cols has 8 ints of slack for the full-width stores).
static inline __attribute__((always_inline)) int64_t decode_columns_avx2(
    const uint64_t *words, int64_t nwords, int32_t *cols, int scale) {
    int64_t n = 0;
    __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(scale));
    const __m256i step = _mm256_set1_epi32(8 * scale);
    for (int64_t k = 0; k < nwords; k++) {
        const uint64_t word = words[k];
#pragma clang loop unroll(full)
        for (int q = 0; q < 8; q++) {
            const int m = (int)(word >> (8 * q)) & 0xff;
            const __m256i packed = _mm256_permutevar8x32_epi32(offsets, _mm256_load_si256((const __m256i *)compress_perm[m]));
            _mm256_storeu_si256((__m256i *)(cols + n), packed);
            n += __builtin_popcount(m);
            offsets = _mm256_add_epi32(offsets, step);
        }
    }
    return n;
}
#define DECODE_COLUMNS decode_columns_avx2

// The 8 values of a chunk whose mask byte is m, expanded from `packed` (its kept values).
static inline __attribute__((always_inline)) __m256 expand_values(const float *packed, int m) {
    const __m256i fields = _mm256_srlv_epi32(_mm256_set1_epi32((int)expand_nibbles[m]), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    return _mm256_blendv_ps(_mm256_setzero_ps(), _mm256_permutevar8x32_ps(_mm256_loadu_ps(packed), fields),
                            _mm256_castsi256_ps(_mm256_slli_epi32(fields, 28)));
}

#include "spmm_tile.inc"

// Few tokens: as the AVX-512 expand kernel, in 8-column chunks (see spmm_avx512.c).
static inline __attribute__((always_inline)) void expand_tokens_avx2(
    const int NT, const pare_bitmask_matrix *w, const float *x, float *y, int64_t ldy,
    int64_t t0, int accumulate, int64_t row_lo, int64_t row_hi) {
    const int64_t cols = w->cols, chunks = cols / 8, full_words = cols / 64;
    for (int64_t r = row_lo; r < row_hi; r++) {
        const uint64_t *words = w->mask + r * w->words_per_row;
        const uint8_t *m8 = (const uint8_t *)words;
        const float *vals = w->values + w->row_start[r];
        __m256 acc[4][4];
#pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++)
#pragma clang loop unroll(full)
            for (int u = 0; u < 4; u++) acc[j][u] = _mm256_setzero_ps();
        // A word is eight chunks; their value offsets are popcounts of the word's low bits, so
        // one add per word is serial (see the AVX-512 kernel).
        for (int64_t k = 0; k < full_words; k++) {
            const uint64_t word = words[k];
#pragma clang loop unroll(full)
            for (int u = 0; u < 8; u++) {
                const int m = (int)(word >> (8 * u)) & 0xff;
                const int offset = u == 0 ? 0 : __builtin_popcountll(word & ((1ull << (8 * u)) - 1));
                // Reads up to 8 values past this row's last one: values are padded for it.
                const __m256 v = expand_values(vals + offset, m);
                const float *xc = x + t0 * cols + k * 64 + u * 8;
#pragma clang loop unroll(full)
                for (int j = 0; j < 4; j++)
                    if (j < NT) acc[j][u % 4] = _mm256_fmadd_ps(v, _mm256_loadu_ps(xc + j * cols), acc[j][u % 4]);
            }
            vals += __builtin_popcountll(word);
        }
        int64_t c = full_words * 8;
        for (; c < chunks; c++) {
            const int m = m8[c];
            const __m256 v = expand_values(vals, m);
            vals += __builtin_popcount(m);
#pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++)
                if (j < NT) acc[j][0] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + (t0 + j) * cols + c * 8), acc[j][0]);
        }
        float tail[4] = {0, 0, 0, 0};
        for (int64_t col = chunks * 8; col < cols; col++) {
            if (!(w->mask[r * w->words_per_row + col / 64] >> (col % 64) & 1)) continue;
            const float v = *vals++;
            for (int j = 0; j < NT; j++) tail[j] += v * x[(t0 + j) * cols + col];
        }
#pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++) {
            if (j >= NT) break;
            const __m256 s = _mm256_add_ps(_mm256_add_ps(acc[j][0], acc[j][1]), _mm256_add_ps(acc[j][2], acc[j][3]));
            const __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
            const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
            const float v = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1))) + tail[j];
            float *out = y + (t0 + j) * ldy + r;
            *out = accumulate ? *out + v : v;
        }
    }
}

// One token through the column index (see the AVX-512 kernel), 32 values per round in four
// chains (5 % faster than two at 90 % sparsity, one thread, A/B), then 8 at a time.
static void gather_one_token_avx2(const pare_bitmask_matrix *w, const float *x, float *y, int accumulate,
                                  int64_t row_lo, int64_t row_hi) {
    for (int64_t r = row_lo; r < row_hi; r++) {
        const int64_t start = w->row_start[r], n = w->row_start[r + 1] - start;
        const float *vals = w->values + start;
        const uint16_t *cols = w->columns + start;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
        int64_t k = 0;
        for (; k + 32 <= n; k += 32) {
            const __m256i c0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(cols + k)));
            const __m256i c1 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(cols + k + 8)));
            const __m256i c2 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(cols + k + 16)));
            const __m256i c3 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(cols + k + 24)));
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + k), _mm256_i32gather_ps(x, c0, 4), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + k + 8), _mm256_i32gather_ps(x, c1, 4), acc1);
            acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + k + 16), _mm256_i32gather_ps(x, c2, 4), acc2);
            acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + k + 24), _mm256_i32gather_ps(x, c3, 4), acc3);
        }
        for (; k + 8 <= n; k += 8) {
            const __m256i c0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(cols + k)));
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + k), _mm256_i32gather_ps(x, c0, 4), acc0);
        }
        acc0 = _mm256_add_ps(acc0, acc2); acc1 = _mm256_add_ps(acc1, acc3);
        float tail = 0;
        for (; k < n; k++) tail += vals[k] * x[cols[k]];
        const __m256 s = _mm256_add_ps(acc0, acc1);
        const __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
        const float v = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1))) + tail;
        y[r] = accumulate ? y[r] + v : v;
    }
}

#include "spmm_entry.inc"

// X^T for the tile kernel in 8 x 8 blocks (transpose8x8.inc). Two blocks side by side, so
// each token's row is read a whole cache line (16 inputs) at a time: rows of 4096 inputs lie
// 16 KiB apart, all in one L1 set, and a line left half read is gone before the next block
// would use it.
void pare_transpose_tile_avx2(const float *x, int64_t valid, int64_t cols, int width, int64_t col_lo,
                              int64_t col_hi, float *dst) {
    const int64_t c16 = col_lo + (col_hi - col_lo) / 16 * 16, t8 = valid / 8 * 8;
    for (int64_t c = col_lo; c < c16; c += 16) {
        for (int64_t t = 0; t < t8; t += 8) {
            transpose8x8_avx2(x + t * cols + c, cols, dst + c * width + t, width, 0);
            transpose8x8_avx2(x + t * cols + c + 8, cols, dst + (c + 8) * width + t, width, 0);
        }
        for (int64_t i = 0; i < 16; i++) {
            for (int64_t t = t8; t < valid; t++) dst[(c + i) * width + t] = x[t * cols + c + i];
            for (int64_t t = valid; t < width; t++) dst[(c + i) * width + t] = 0;
        }
    }
    for (int64_t c = c16; c < col_hi; c++) {
        for (int64_t t = 0; t < valid; t++) dst[c * width + t] = x[t * cols + c];
        for (int64_t t = valid; t < width; t++) dst[c * width + t] = 0;
    }
}

#define GEMM_MR 6
#include "gemm_packed.inc"
#include "elementwise.inc"

#pragma clang attribute pop
#endif
