import Foundation
import Testing
@testable import Pare

/// Commit-policy arithmetic and option validation, checked against hand-worked cases
/// from docs/algorithms.md §3 (the numpy reference checks the whole loop).
@Suite struct SamplingTests {
    @Test func fixedScheduleSpreadsTheRemainderOverTheFirstSteps() {
        let p = StepSchedulePolicy(randomConfidence: false)
        let ordered = [Float](repeating: 0.5, count: 10)
        // M = 10 masks over s = 4 steps: 3, 3, 2, 2.
        let counts = (0..<4).map { p.commitCount(ordered: ordered, step: $0, stepsPerBlock: 4, maskedAtBlockStart: 10) }
        #expect(counts == [3, 3, 2, 2])
        #expect(!p.blockFinished(stepsTaken: 3, stepsPerBlock: 4, masksLeft: 0))
        #expect(p.blockFinished(stepsTaken: 4, stepsPerBlock: 4, masksLeft: 0))
    }

    @Test func thresholdCommitsTopOnePlusConfidentOnes() {
        let p = ThresholdPolicy(tau: 0.9)
        #expect(p.commitCount(ordered: [0.5, 0.4], step: 0, stepsPerBlock: 1, maskedAtBlockStart: 2) == 1)
        #expect(p.commitCount(ordered: [0.99, 0.95, 0.9, 0.89], step: 0, stepsPerBlock: 1, maskedAtBlockStart: 4) == 3)
        #expect(p.blockFinished(stepsTaken: 1, stepsPerBlock: 99, masksLeft: 0))
        #expect(!p.blockFinished(stepsTaken: 50, stepsPerBlock: 1, masksLeft: 1))
    }

    @Test func factorCommitsTheLongestPrefixAboveItsBound() {
        // f = 1: bounds for r = 2, 3, 4 are 1 - 1/3, 1 - 1/4, 1 - 1/5 = 0.667, 0.75, 0.8.
        let p = FactorPolicy(factor: 1)
        #expect(p.commitCount(ordered: [0.1, 0.05], step: 0, stepsPerBlock: 1, maskedAtBlockStart: 2) == 1)
        #expect(p.commitCount(ordered: [0.9, 0.7, 0.76, 0.79, 0.99], step: 0, stepsPerBlock: 1, maskedAtBlockStart: 5) == 3)
        #expect(p.commitCount(ordered: [0.9, 0.66], step: 0, stepsPerBlock: 1, maskedAtBlockStart: 2) == 1)
    }

    @Test func prophetThresholdsFollowProgress() {
        #expect(ProphetEarlyCommit.threshold(step: 1, of: 12) == 7.5)
        #expect(ProphetEarlyCommit.threshold(step: 4, of: 12) == 5.0)   // 0.333 >= 0.33
        #expect(ProphetEarlyCommit.threshold(step: 8, of: 12) == 5.0)   // 0.667 < 0.67
        #expect(ProphetEarlyCommit.threshold(step: 9, of: 12) == 2.5)
        let p = ProphetEarlyCommit()
        #expect(p.shouldCommitAll(gaps: [8, 8, 8, 8, 7, 0, 0], step: 1, of: 12))    // mean of first 5 = 7.8
        #expect(!p.shouldCommitAll(gaps: [8, 8, 8, 8, 5, 99], step: 1, of: 12))    // mean 7.4
    }

    @Test func badOptionsNameTheOption() {
        var o = SamplingOptions()
        o.blockLength = 5
        #expect(o.problem()?.contains("--block-length") == true)
        o = SamplingOptions(); o.blockLength = 4; o.steps = 4
        #expect(o.problem()?.contains("--steps") == true)       // 4 steps over 3 blocks
        o = SamplingOptions(); o.threshold = 1.5
        #expect(o.problem()?.contains("--threshold") == true)
        o = SamplingOptions(); o.genLength = 0
        #expect(o.problem()?.contains("--gen-length") == true)
        o = SamplingOptions(); o.temperature = -1
        #expect(o.problem()?.contains("--temperature") == true)
        #expect(SamplingOptions().problem() == nil)
    }

    @Test func splitMix64MatchesPublishedValues() {
        // First outputs of SplitMix64 seeded with 0 (reference values of the algorithm).
        var r = SplitMix64(seed: 0)
        #expect(r.next() == 0xE220_A839_7B1D_CDAF)
        #expect(r.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}

@Suite struct VectorMathTests {
    @Test func vectorExpIsAccurate() {
        var worst: Float = 0
        var x: Float = -80
        while x < 80 {
            let ours = VectorMath.exp(x), ref = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(ours - ref) / ref)
            x += 0.0137
        }
        #expect(worst < 5e-7, "worst relative error \(worst)")
    }

    /// The C element-wise kernels on every SIMD level this CPU runs, against float64 formulas,
    /// on lengths with and without a vector tail.
    @Test(arguments: SparseKernelTests.levels)
    func elementwiseKernelsMatchFloat64(level: SIMDLevel) {
        for n in [1, 7, 24, 37, 344] {
            var rng = SplitMix64(seed: UInt64(n))
            let a = (0..<2 * n).map { _ in Float(rng.uniform() * 16 - 8) }, b = (0..<2 * n).map { _ in Float(rng.uniform() * 4 - 2) }
            var worst = 0.0
            // silu(g) * u
            var g = a
            g.withUnsafeMutableBufferPointer { gp in b.withUnsafeBufferPointer { VectorMath.siluMultiply(gp.baseAddress!, $0.baseAddress!, 2 * n, level: level) } }
            for i in 0..<2 * n {
                let x = Double(a[i]), ref = x / (1 + Foundation.exp(-x)) * Double(b[i])
                worst = max(worst, abs(Double(g[i]) - ref) / max(abs(ref), 1e-3))
            }
            // softmax of two rows
            var rows = a
            rows.withUnsafeMutableBufferPointer { VectorMath.softmaxRows($0.baseAddress!, rows: 2, n, level: level) }
            for r in 0..<2 {
                let xs = a[(r * n)..<((r + 1) * n)].map(Double.init), m = xs.max()!
                let total = xs.map { Foundation.exp($0 - m) }.reduce(0, +)
                for i in 0..<n { worst = max(worst, abs(Double(rows[r * n + i]) - Foundation.exp(xs[i] - m) / total)) }
            }
            // RMSNorm of two rows, with their reciprocal RMS
            var y = [Float](repeating: 0, count: 2 * n), inv = [Float](repeating: 0, count: 2)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in inv.withUnsafeMutableBufferPointer { ip in
                VectorMath.rmsNorm(ap.baseAddress!, bp.baseAddress!, yp.baseAddress!, invRMS: ip.baseAddress!, rows: 2, n, eps: 1e-5, level: level)
            }}}}
            for r in 0..<2 {
                let xs = a[(r * n)..<((r + 1) * n)].map(Double.init)
                let ref = 1 / (xs.map { $0 * $0 }.reduce(0, +) / Double(n) + 1e-5).squareRoot()
                worst = max(worst, abs(Double(inv[r]) - ref) / ref)
                for i in 0..<n { worst = max(worst, abs(Double(y[r * n + i]) - Double(b[i]) * xs[i] * ref) / max(abs(Double(b[i]) * xs[i] * ref), 1e-3)) }
            }
            #expect(worst < 2e-5, "\(level) n=\(n): worst error \(worst)")
        }
    }

    @Test func softmaxSumsToOneAndKeepsOrder() {
        var row: [Float] = (0..<37).map { Float($0 % 7) * 0.9 - 2 }
        row.withUnsafeMutableBufferPointer { VectorMath.softmaxInPlace($0.baseAddress!, $0.count) }
        #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        #expect(row[6] > row[5] && row[5] > row[0])
    }
}
