import Foundation
import Testing
@testable import Pare

/// The packed dense kernel against dense BLAS (the oracle) on every SIMD level this CPU runs,
/// and the packing's exact round trip.
@Suite struct PackedWeightTests {
    /// Shapes whose out is and is not a multiple of the panel widths (8, 16, 32) and whose in
    /// crosses the kernel's k blocks (128); token counts below, at and above the micro-tiles
    /// (6 and 12 tokens) with every remainder.
    @Test(arguments: SparseKernelTests.levels)
    func packedKernelMatchesBLAS(level: SIMDLevel) {
        for (rows, cols) in [(70, 300), (32, 128), (5, 17), (129, 64)] {
            let w = SparseKernelTests.weight(rows, cols, sparsity: 0, seed: UInt64(rows * cols))
            let packed = PackedWeight(w, level: level)
            #expect(packed.dense == w, "\(level) \(rows)x\(cols): unpacking gives the weight back exactly")
            for tokens in [1, 5, 11, 12, 13, 25, 40] {
                let x = SparseKernelTests.input(tokens, cols, seed: UInt64(tokens))
                let what = "\(level) \(rows)x\(cols) T=\(tokens)"
                var y = Tensor(zeros: [tokens, rows])
                packed.apply(x, into: &y, accumulate: false)
                SparseKernelTests.expectClose(y, BLAS.linear(x, w), bound: x, w, what)
                // Accumulating adds to what is there (the residual connection).
                var residual = SparseKernelTests.input(tokens, rows, seed: 99)
                let expected = Tensor(shape: residual.shape, data: zip(residual.data, BLAS.linear(x, w).data).map { $0 + $1 })
                packed.apply(x, into: &residual, accumulate: true)
                SparseKernelTests.expectClose(residual, expected, bound: x, w, what + " accumulate")
            }
        }
    }

    /// A row range unpacks exactly those rows, and the zero count leaves out the panels'
    /// padding (70 outputs: a partial last panel at every width).
    @Test(arguments: SparseKernelTests.levels)
    func rowRangesAndSparsityOfAPackedWeight(level: SIMDLevel) {
        let w = SparseKernelTests.weight(70, 45, sparsity: 0.6, seed: 5)
        var linear = Linear(w)
        linear.storage = .packed(PackedWeight(w, level: level))
        for range in [0..<70, 0..<1, 31..<33, 64..<70, 17..<17] {
            #expect(linear.rows(in: range) == w.sliceRows(range), "\(level) rows \(range)")
        }
        #expect(abs(linear.sparsity - w.sparsity) < 1e-12, "\(level): \(linear.sparsity) against \(w.sparsity)")
        // The same through a sparse (bitmask) weight, which decodes only the rows asked for:
        // 130 inputs, so rows span three mask words, the last one partial.
        let wide = SparseKernelTests.weight(70, 130, sparsity: 0.6, seed: 6)
        let sparse = Linear(wide).storedSparse()
        for range in [0..<70, 0..<1, 31..<33, 64..<70, 17..<17] {
            #expect(sparse.rows(in: range) == wide.sliceRows(range), "sparse rows \(range)")
        }
    }

    /// Calls covering 16 panels or more copy X into micro-panels first (gemm_packed.inc):
    /// 530 outputs are 17+ panels at every width; 300 inputs cross the k blocks.
    @Test(arguments: SparseKernelTests.levels)
    func packedInputPathMatchesBLAS(level: SIMDLevel) {
        let w = SparseKernelTests.weight(530, 300, sparsity: 0, seed: 11)
        let packed = PackedWeight(w, level: level)
        for tokens in [5, 13, 30] {
            let x = SparseKernelTests.input(tokens, 300, seed: UInt64(tokens) + 7)
            var y = Tensor(zeros: [tokens, 530])
            packed.apply(x, into: &y, accumulate: false, parts: 1)
            SparseKernelTests.expectClose(y, BLAS.linear(x, w), bound: x, w, "\(level) 530x300 T=\(tokens) packed input")
        }
    }

    /// Split across threads (as products above PackedWeight.threadFromWork are), into 2 and 3
    /// panel ranges of a weight with 10 panels of 32 and a partial one.
    @Test func threadedProductMatchesBLAS() {
        let w = SparseKernelTests.weight(330, 256, sparsity: 0, seed: 3)
        let x = SparseKernelTests.input(64, 256, seed: 4)
        for parts in [2, 3] {
            var y = Tensor(zeros: [64, 330])
            PackedWeight(w).apply(x, into: &y, accumulate: false, parts: parts)
            SparseKernelTests.expectClose(y, BLAS.linear(x, w), bound: x, w, "\(parts) threads")
        }
    }

    /// The dense kernel placement keeps the weight and is only packed where it is faster.
    @Test func placementForTheDenseKernel() {
        let w = SparseKernelTests.weight(40, 64, sparsity: 0.5, seed: 5)
        let placed = Linear(w).storedForDenseKernel(tokens: 256)
        #expect(placed.weight == w)
        #expect(placed.sparsity == Linear(w).sparsity)
        if case .packed = placed.storage { #expect(PackedWeight.isFaster(tokens: 256)) } else { #expect(!PackedWeight.isFaster(tokens: 256)) }
        if case .packed = Linear(w).storedForDenseKernel(tokens: 1).storage { Issue.record("one token must stay on BLAS (gemv)") }
    }
}
