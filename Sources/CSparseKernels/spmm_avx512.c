// The sparse kernels built for AVX-512 (16 floats per vector), chosen at run time.
#if defined(__x86_64__)
#include "sparse_kernels.h"
#include "isa_kernels.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)

#define VW 16
#define ISA_SUFFIX avx512
#define SPLAT(v) _mm512_set1_ps(v)
#define ACC_REGS 8
// Four floats p[0..3] in each 128-bit lane, and lane j of such a vector everywhere.
#define LOAD_SPLAT4(p) ((VF)_mm512_broadcast_f32x4(_mm_loadu_ps(p)))
#define LANE_SPLAT4(w, j) ((VF)_mm512_permute_ps((__m512)(w), 0x55 * (j)))
#define VREG "+v"

// Set bits of 64-bit mask words to column offsets, 16 columns at a time: vpcompressd packs
// the offsets whose bit is set, an unaligned store writes all 16 lanes (the extra lanes are
// overwritten by the next chunk; cols has 16 ints of slack).
static inline __attribute__((always_inline)) int64_t decode_columns_avx512(
    const uint64_t *words, int64_t nwords, int32_t *cols, int scale) {
    int64_t n = 0;
    __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(scale));
    const __m512i step = _mm512_set1_epi32(16 * scale);
    for (int64_t k = 0; k < nwords; k++) {
        const uint64_t word = words[k];
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++) {
            const __mmask16 m = (__mmask16)(word >> (16 * q));
            _mm512_storeu_si512((void *)(cols + n), _mm512_maskz_compress_epi32(m, offsets));
            n += __builtin_popcount(m);
            offsets = _mm512_add_epi32(offsets, step);
        }
    }
    return n;
}
#define DECODE_COLUMNS decode_columns_avx512
#include "spmm_tile.inc"

// The packed values of a 16-column chunk with mask m, expanded to their columns. The load is
// kept apart from vexpandps: its memory form is microcoded and several times slower on AMD
// Zen 4/5, and compilers fold a plain load into it.
static inline __attribute__((always_inline)) __m512 expand_chunk(__mmask16 m, const float *vals) {
    __m512 packed = _mm512_loadu_ps(vals);  // reads past the row's values: they are padded
    __asm__("" : "+v"(packed));
    return _mm512_maskz_expand_ps(m, packed);
}

// Few tokens: each 16-column chunk of a row expands its packed kept values into a dense
// vector with vexpandps and meets NT token rows of X directly. Work is that of a dense product,
// but only the mask and the kept values are read from memory, which is what bounds T = 1.
// A 64-bit mask word is four chunks: their value offsets come from popcounts of the word's
// low 16, 32 and 48 bits, so only one add per word is serial (not one per chunk), and the four
// chunks go to separate accumulators so the FMA chains overlap.
static inline __attribute__((always_inline)) void expand_tokens_avx512(
    const int NT, const pare_bitmask_matrix *w, const float *x, float *y, int64_t ldy,
    int64_t t0, int accumulate, int64_t row_lo, int64_t row_hi) {
    const int64_t cols = w->cols, chunks = cols / 16, full_words = cols / 64;
    for (int64_t r = row_lo; r < row_hi; r++) {
        const uint64_t *words = w->mask + r * w->words_per_row;
        const uint16_t *m16 = (const uint16_t *)words;
        const float *vals = w->values + w->row_start[r];
        __m512 acc[4][4];
#pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++)
#pragma clang loop unroll(full)
            for (int u = 0; u < 4; u++) acc[j][u] = _mm512_setzero_ps();
        for (int64_t k = 0; k < full_words; k++) {
            const uint64_t word = words[k];
            const int offset[4] = {0, __builtin_popcountll(word & 0xffff), __builtin_popcountll(word & 0xffffffff),
                                   __builtin_popcountll(word & 0xffffffffffffull)};
#pragma clang loop unroll(full)
            for (int u = 0; u < 4; u++) {
                const __m512 v = expand_chunk((__mmask16)(word >> (16 * u)), vals + offset[u]);
                const float *xc = x + t0 * cols + k * 64 + u * 16;
#pragma clang loop unroll(full)
                for (int j = 0; j < 4; j++)
                    if (j < NT) acc[j][u] = _mm512_fmadd_ps(v, _mm512_loadu_ps(xc + j * cols), acc[j][u]);
            }
            vals += __builtin_popcountll(word);
        }
        int64_t c = full_words * 4;
        for (; c < chunks; c++) {
            const __mmask16 m = m16[c];
            const __m512 v = expand_chunk(m, vals);
            vals += __builtin_popcount(m);
#pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++)
                if (j < NT) acc[j][0] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + (t0 + j) * cols + c * 16), acc[j][0]);
        }
        float tail[4] = {0, 0, 0, 0};
        for (int64_t col = chunks * 16; col < cols; col++) {
            if (!(w->mask[r * w->words_per_row + col / 64] >> (col % 64) & 1)) continue;
            const float v = *vals++;
            for (int j = 0; j < NT; j++) tail[j] += v * x[(t0 + j) * cols + col];
        }
#pragma clang loop unroll(full)
        for (int j = 0; j < 4; j++) {
            if (j >= NT) break;
            const __m512 s = _mm512_add_ps(_mm512_add_ps(acc[j][0], acc[j][1]), _mm512_add_ps(acc[j][2], acc[j][3]));
            const float v = _mm512_reduce_add_ps(s) + tail[j];
            float *out = y + (t0 + j) * ldy + r;
            *out = accumulate ? *out + v : v;
        }
    }
}

// One token through the column index: gather the input at each kept value's column, 64
// values per round in four independent chains (two chains of 16 ran 13 % slower at 90 %
// sparsity, A/B), then 32, then a masked tail. Reads only values and columns (6 bytes per kept
// weight), and no mask decoding, which at high sparsity is most of the expand kernel.
static void gather_one_token_avx512(const pare_bitmask_matrix *w, const float *x, float *y, int accumulate,
                                    int64_t row_lo, int64_t row_hi) {
    for (int64_t r = row_lo; r < row_hi; r++) {
        const int64_t start = w->row_start[r], n = w->row_start[r + 1] - start;
        const float *vals = w->values + start;
        const uint16_t *cols = w->columns + start;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(),
               acc3 = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 64 <= n; k += 64) {
            const __m512i c0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cols + k)));
            const __m512i c1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cols + k + 16)));
            const __m512i c2 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cols + k + 32)));
            const __m512i c3 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cols + k + 48)));
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(vals + k), _mm512_i32gather_ps(c0, x, 4), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(vals + k + 16), _mm512_i32gather_ps(c1, x, 4), acc1);
            acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(vals + k + 32), _mm512_i32gather_ps(c2, x, 4), acc2);
            acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(vals + k + 48), _mm512_i32gather_ps(c3, x, 4), acc3);
        }
        acc0 = _mm512_add_ps(acc0, acc2);
        acc1 = _mm512_add_ps(acc1, acc3);
        for (; k + 32 <= n; k += 32) {
            const __m512i c0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cols + k)));
            const __m512i c1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cols + k + 16)));
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(vals + k), _mm512_i32gather_ps(c0, x, 4), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(vals + k + 16), _mm512_i32gather_ps(c1, x, 4), acc1);
        }
        for (; k < n; k += 16) {
            const __mmask16 m = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
            const __m512i c = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, cols + k));
            acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, vals + k),
                                   _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, c, x, 4), acc0);
        }
        const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        y[r] = accumulate ? y[r] + v : v;
    }
}

#include "spmm_entry.inc"

#define GEMM_MR 12
#include "gemm_packed.inc"
#include "elementwise.inc"

#pragma clang attribute pop
#endif
