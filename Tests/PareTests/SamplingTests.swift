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

    @Test func softmaxSumsToOneAndKeepsOrder() {
        var row: [Float] = (0..<37).map { Float($0 % 7) * 0.9 - 2 }
        row.withUnsafeMutableBufferPointer { VectorMath.softmaxInPlace($0.baseAddress!, $0.count) }
        #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        #expect(row[6] > row[5] && row[5] > row[0])
    }
}
