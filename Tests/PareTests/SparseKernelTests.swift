import Foundation
import Testing
@testable import Pare

/// The sparse kernels against dense BLAS (the oracle) on every SIMD level this CPU runs, the
/// bitmask format's exact round trip, sparse placement of a whole model, and `--kernels auto`'s
/// cached break-even.
@Suite struct SparseKernelTests {
    /// Every level from portable C up to the widest this machine has (AVX2 and AVX-512 builds
    /// are chosen at run time, so an AVX-512 machine tests all three).
    static let levels = SIMDLevel.allCases.filter { $0 <= SIMDLevel.best }

    /// A random [rows, cols] weight with `sparsity` of it zeroed at random, or N of every M kept.
    static func weight(_ rows: Int, _ cols: Int, sparsity: Double, nOfM: (Int, Int)? = nil, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let dense = Tensor(shape: [rows, cols], data: (0..<rows * cols).map { _ in Float(rng.uniform() * 2 - 1) })
        if let (n, m) = nOfM { return KernelBenchmark.prune(dense, .nOfM(n: n, m: m), rng: &rng) }
        return KernelBenchmark.prune(dense, .unstructured(sparsity: sparsity), rng: &rng)
    }

    static func input(_ tokens: Int, _ cols: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: [tokens, cols], data: (0..<tokens * cols).map { _ in Float(rng.uniform() * 2 - 1) })
    }

    /// |sparse - dense| <= 1e-5 * sum |w| |x| per output: the two differ only in summation order.
    static func expectClose(_ sparse: Tensor, _ dense: Tensor, bound x: Tensor, _ w: Tensor, _ what: String) {
        #expect(sparse.shape == dense.shape, "\(what): shape")
        let scale = BLAS.linear(Tensor(shape: x.shape, data: x.data.map(abs)), Tensor(shape: w.shape, data: w.data.map(abs)))
        var worst = 0.0
        for i in 0..<scale.count {
            worst = max(worst, Double(abs(sparse.data[i] - dense.data[i])) / Double(max(scale.data[i], 1e-30)))
        }
        #expect(worst <= 1e-5, "\(what): relative error \(worst)")
    }

    /// Token counts that hit each kernel (expand for T < 16, tiles of 16/32/64, 128 on AVX-512)
    /// and narrower last tiles (97 = 64 + 33 on AVX2, 129 = 128 + 1 on AVX-512);
    /// widths that are and are not multiples of 8, 16 and 64; several sparsities.
    @Test(arguments: levels)
    func kernelsMatchDenseBLAS(level: SIMDLevel) {
        // 9 x 1000 at 93 %: rows of about 70 kept weights, so one token's gather runs its
        // 32-value rounds, 8-value rounds and scalar tail.
        let shapes = [(rows: 70, cols: 200), (rows: 33, cols: 64), (rows: 9, cols: 1000)]
        let tokenCounts = [1, 3, 4, 7, 16, 17, 33, 64, 97, 129, 200]
        for (si, shape) in shapes.enumerated() {
            for (pi, sparsity) in [0.0, 0.5, 0.93, 1.0].enumerated() {
                let w = Self.weight(shape.rows, shape.cols, sparsity: sparsity, seed: UInt64(si * 10 + pi))
                let bitmask = BitmaskMatrix(dense: w)
                for t in tokenCounts {
                    let x = Self.input(t, shape.cols, seed: UInt64(t))
                    let what = "\(level) \(shape.rows)x\(shape.cols) \(sparsity) T=\(t) \(SparseKernels.variant(tokens: t, level: level))"
                    Self.expectClose(SparseKernels.linear(x, bitmask, level: level), BLAS.linear(x, w), bound: x, w, what)
                    // The accumulating form adds to what is there (a residual connection).
                    let start = Self.input(t, shape.rows, seed: 99)
                    var y = start
                    SparseKernels.linear(x, bitmask, into: &y, accumulate: true, level: level)
                    var expected = start
                    BLAS.linearAccumulate(x, w, into: &expected)
                    Self.expectClose(y, expected, bound: x, w, what + " accumulate")
                }
            }
        }
    }

    /// Products of several tiles prepare each row block once on AVX2 (a column index, rows
    /// ordered per panel by kept count) and take it through every tile (both levels): 1100 rows
    /// are 2 blocks of 64-token tiles and 3 of 128-token tiles on one thread; 300 inputs are several panels with a ragged last one; T = 200 ends in a
    /// narrower tile. Sparsity 0.3-0.8 leaves rows of many different counts per panel.
    @Test(arguments: levels.filter { $0 != .scalar })
    func rowBlocksPreparedForSeveralTiles(level: SIMDLevel) {
        for (si, sparsity) in [0.3, 0.5, 0.8].enumerated() {
            let w = Self.weight(1100, 300, sparsity: sparsity, seed: UInt64(40 + si))
            let bitmask = BitmaskMatrix(dense: w)
            #expect(bitmask.columns.isEmpty)  // the blocks' index is the kernels' own
            for t in [129, 200] {
                let x = Self.input(t, 300, seed: UInt64(t))
                let start = Self.input(t, 1100, seed: 98)
                var expected = start
                BLAS.linearAccumulate(x, w, into: &expected)
                for threads in [1, 2] {
                    let what = "\(level) 1100x300 \(sparsity) T=\(t) threads=\(threads)"
                    Self.expectClose(SparseKernels.linear(x, bitmask, level: level, threads: threads), BLAS.linear(x, w),
                                     bound: x, w, what)
                    var y = start
                    SparseKernels.linear(x, bitmask, into: &y, accumulate: true, level: level, threads: threads)
                    Self.expectClose(y, expected, bound: x, w, what + " accumulate")
                }
            }
        }
    }

    /// Kernel scratch is lent again once handed back (fresh pages cost more than the prepared
    /// blocks save): the smallest idle buffer that fits, a new one when none does, and at most
    /// `keep` idle, the largest. The kernel tests above run on reused, unzeroed scratch.
    @Test func scratchIsReusedBetweenProducts() {
        let pool = ScratchPool()
        let small = pool.take(1000), large = pool.take(5000)
        pool.give(small); pool.give(large)
        let again = pool.take(800)
        #expect(again.base == small.base && again.count == 1000)
        let fresh = pool.take(9000)
        #expect(fresh.base != small.base && fresh.base != large.base && fresh.count == 9000)
        pool.give(again); pool.give(fresh)
        for i in 0..<pool.keep { pool.give(pool.take(10_000 + i)) }  // each a new buffer: none idle fits
        #expect(pool.idleCount == pool.keep)
        #expect(pool.take(1000).count >= 10_000)  // the small ones went first
        #expect(pool.take(0).base == nil)
    }

    /// A transposition large enough to be shared by threads in column ranges (T x in >= 2^20;
    /// 4200 inputs: ranges of 16-column multiples and a ragged last one).
    @Test(arguments: levels.filter { $0 != .scalar })
    func largeInputsAreTransposedByThreads(level: SIMDLevel) {
        let w = Self.weight(9, 4200, sparsity: 0.5, seed: 5)
        let x = Self.input(300, 4200, seed: 6)
        for threads in [1, 2, 3] {
            Self.expectClose(SparseKernels.linear(x, BitmaskMatrix(dense: w), level: level, threads: threads),
                             BLAS.linear(x, w), bound: x, w, "\(level) 9x4200 T=300 threads=\(threads)")
        }
    }

    /// 2:4 and 4:8 weights, and one thread against several (rows split by kept weights).
    @Test(arguments: levels)
    func structuredPatternsAndThreadCounts(level: SIMDLevel) {
        for (n, m) in [(2, 4), (4, 8)] {
            let w = Self.weight(256, 256, sparsity: 0, nOfM: (n, m), seed: 7)
            #expect(abs(w.sparsity - (1 - Double(n) / Double(m))) < 1e-9)
            let bitmask = BitmaskMatrix(dense: w)
            for t in [2, 40, 300] {
                let x = Self.input(t, 256, seed: 3)
                let dense = BLAS.linear(x, w)
                for threads in [1, 2, 3] {
                    Self.expectClose(SparseKernels.linear(x, bitmask, level: level, threads: threads), dense, bound: x, w,
                                     "\(level) \(n):\(m) T=\(t) threads=\(threads)")
                }
            }
        }
    }

    /// Very sparse matrices carry the column of every kept value (the kernels read it instead of
    /// decoding the mask); others do not. kernelsMatchDenseBLAS runs both paths (0.93 and 0.5).
    @Test func columnIndexIsHeldOnlyWhenVerySparse() {
        let sparse = BitmaskMatrix(dense: Self.weight(70, 200, sparsity: 0.93, seed: 1))
        // One column per kept value, then the padding zeros the tiles may read ahead into.
        #expect(sparse.columns.count == sparse.keptCount + BitmaskMatrix.padding && sparse.keptCount > 0)
        var expected: [UInt16] = []
        let dense = sparse.dense
        for r in 0..<dense.rows {
            for c in 0..<dense.cols where dense.data[r * dense.cols + c] != 0 { expected.append(UInt16(c)) }
        }
        expected += [UInt16](repeating: 0, count: BitmaskMatrix.padding)
        #expect(sparse.columns == expected)
        #expect(sparse.residentBytes == sparse.storageBytes() + 2 * (sparse.keptCount + BitmaskMatrix.padding))
        #expect(BitmaskMatrix(dense: Self.weight(70, 200, sparsity: 0.5, seed: 1)).columns.isEmpty)
    }

    @Test func bitmaskRoundTripIsExact() throws {
        for (rows, cols) in [(5, 1), (3, 64), (7, 65), (4, 200)] {
            var w = Self.weight(rows, cols, sparsity: 0.6, seed: UInt64(cols))
            w.data[0] = -0.0  // a negative zero is a pruned weight too: no kept value is zero
            let b = BitmaskMatrix(dense: w)
            #expect(b.dense.data.map(\.bitPattern) == w.data.map { $0 == 0 ? 0 : $0.bitPattern })
            #expect(b.keptCount == w.data.filter { $0 != 0 }.count)
            let rebuilt = try BitmaskMatrix(rows: rows, cols: cols, mask: b.mask, values: Array(b.keptValues))
            #expect(rebuilt == b)
        }
    }

    @Test func inconsistentBitmaskPartsAreErrors() {
        let b = BitmaskMatrix(dense: Self.weight(4, 70, sparsity: 0.5, seed: 1))
        #expect(throws: SparseFormatError.self) { try BitmaskMatrix(rows: 4, cols: 70, mask: b.mask, values: Array(b.keptValues.dropLast())) }
        #expect(throws: SparseFormatError.self) { try BitmaskMatrix(rows: 4, cols: 70, mask: Array(b.mask.dropLast()), values: Array(b.keptValues)) }
        var pastTheEnd = b.mask
        pastTheEnd[1] |= 1 << 10  // column 64 + 10 = 74 of a 70-column row
        #expect(throws: SparseFormatError.self) { try BitmaskMatrix(rows: 4, cols: 70, mask: pastTheEnd, values: Array(b.keptValues) + [1]) }
    }

    /// The bundled model with half of each block linear's weights zeroed (smallest |w| per
    /// row): sparse kernels give logits within 1e-5 and the same generated tokens as dense.
    /// The four prompts pack to 43 tokens, so the products run on tiles, with q/k/v and
    /// gate/up each sharing one transposed input (handing gate the wrong one fails this).
    @Test func sparseModelMatchesDense() throws {
        var model = try ModelFile.open(BundledRecipeTests.path("models/pare-tiny.h5"), residency: .resident).weights as! LLaDAModel
        for i in model.blocks.indices {
            for l in BlockLinear.allCases {
                var w = model.blocks[i][l].weight
                for r in 0..<w.rows {
                    let row = Array(w.data[r * w.cols..<(r + 1) * w.cols])
                    let cut = row.map(abs).sorted()[w.cols / 2]
                    for c in 0..<w.cols where abs(row[c]) < cut { w.data[r * w.cols + c] = 0 }
                }
                model.blocks[i][l] = Linear(w)
            }
        }
        let sparse = try PlacedModel(model, placement: KernelPlacement(.sparse, tokens: 64))
        #expect(try sparse.sparseCount() == (sparse: 56, total: 56))
        let tokenizer = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        let prompts = try ["12+34=", "rev:abcdef=", "a:3,q:7,m:1?q=", "a=4;b=a+3?b="].map { try tokenizer.encode($0) }
        let dense = try model.logits(prompts), viaSparse = try sparse.logits(prompts)
        let scale = dense.data.map { abs(Double($0)) }.max()!
        let worst = zip(dense.data, viaSparse.data).map { abs(Double($0) - Double($1)) }.max()!
        #expect(worst <= 1e-5 * scale, "logits differ by \(worst) (scale \(scale))")
        var options = SamplingOptions()
        options.sampler = .threshold
        let a = try MaskedDiffusionSampler(model: model, options: options).generate(prompts)
        let b = try MaskedDiffusionSampler(model: sparse, options: options).generate(prompts)
        #expect(a.map(\.tokens) == b.map(\.tokens))
        #expect(a.map(\.nfe) == b.map(\.nfe))
    }

    /// auto: sparse exactly when a matrix's sparsity reaches the cached break-even for its
    /// shape and token count; the break-even is measured once and then read from the cache.
    @Test func autoPlacementFollowsTheCachedBreakEven() throws {
        let dir = Fixtures.temporaryDirectory()
        let cache = dir.appendingPathComponent("break-even.json")
        let key = BreakEvenTable(cacheURL: cache).key(out: 16, inputs: 32, tokens: 64)
        try #"{"\#(key)": 0.4}"#.write(to: cache, atomically: true, encoding: .utf8)
        let table = BreakEvenTable(cacheURL: cache)
        let placement = KernelPlacement(.auto, tokens: 70, breakEven: table)  // 70 tokens: the 64 bucket
        #expect(placement.place(Linear(Self.weight(16, 32, sparsity: 0.5, seed: 1))).isSparse)
        #expect(!placement.place(Linear(Self.weight(16, 32, sparsity: 0.1, seed: 1))).isSparse)
        #expect(table.measurements == 0)

        // A shape not in the cache is measured once, saved, and read back by a new table.
        let fresh = table.breakEven(out: 24, inputs: 40, tokens: 8)
        #expect((0...1).contains(fresh) && table.measurements == 1)
        #expect(table.breakEven(out: 24, inputs: 40, tokens: 8) == fresh && table.measurements == 1)
        let reread = BreakEvenTable(cacheURL: cache)
        #expect(reread.breakEven(out: 24, inputs: 40, tokens: 8) == fresh && reread.measurements == 0)

        // An entry measured with other kernels (another version in its key) is not trusted.
        let other = BreakEvenTable(cacheURL: nil).key(out: 8, inputs: 16, tokens: 4)
            .replacingOccurrences(of: "kernels=v\(SparseKernels.version)", with: "kernels=v\(SparseKernels.version - 1)")
        try #"{"\#(other)": 0.0}"#.write(to: cache, atomically: true, encoding: .utf8)
        let stale = BreakEvenTable(cacheURL: cache)
        _ = stale.breakEven(out: 8, inputs: 16, tokens: 4)
        #expect(stale.measurements == 1)
    }
}
