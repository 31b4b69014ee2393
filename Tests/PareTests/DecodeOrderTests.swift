import Foundation
import Testing
@testable import Pare

/// Decode-order metrics (docs/algorithms.md §3.9) on hand-worked commit orders, and the
/// sampler's record of them on a small random model.
@Suite struct DecodeOrderTests {
    @Test func leftToRightOneAtATime() {
        let o = DecodeOrder(commitStep: [1, 2, 3, 4])
        #expect(o.commitsPerStep == [1, 1, 1, 1])
        #expect(o.leftmostCommits == 4 && o.leftmostShare == 1)
        #expect(o.spearman == 1)
        #expect(o.prophetStep == nil)
    }

    @Test func rightToLeftOnlyTheLastCommitIsLeftmost() {
        // Step 1 commits position 3 while 0-2 are masked, ...; only step 4 (position 0) is leftmost.
        let o = DecodeOrder(commitStep: [4, 3, 2, 1])
        #expect(o.leftmostCommits == 1 && o.leftmostShare == 0.25)
        #expect(o.spearman == -1)
    }

    @Test func oneStepHasNoOrder() {
        let o = DecodeOrder(commitStep: [1, 1, 1, 1], prophetStep: 1)
        #expect(o.commitsPerStep == [4])
        // All four form the contiguous run from the leftmost masked position.
        #expect(o.leftmostShare == 1)
        #expect(o.spearman == nil)
        #expect(o.prophetStep == 1)
        #expect(DecodeOrder(commitStep: [1]).spearman == nil)
    }

    @Test func interleavedStepsWithTies() {
        // Step 1 commits 1 and 3 while 0 is masked: neither is leftmost. Step 2 commits 0 and 2:
        // both are (nothing left of 0; left of 2 only same-step or earlier commits).
        let o = DecodeOrder(commitStep: [2, 1, 2, 1])
        #expect(o.commitsPerStep == [2, 2])
        #expect(o.leftmostCommits == 2)
        // Step ranks 3.5, 1.5, 3.5, 1.5 against positions 1...4: -2 / sqrt(4 * 5).
        #expect(abs(o.spearman! - (-2 / 20.0.squareRoot())) < 1e-12)
        // Left-to-right two at a time, then one: ranks 1.5, 1.5, 3.5, 3.5, 5 -> 9 / sqrt(9 * 10).
        let p = DecodeOrder(commitStep: [1, 1, 2, 2, 3])
        #expect(p.commitsPerStep == [2, 2, 1] && p.leftmostShare == 1)
        #expect(p.line.hasPrefix("commits/step 2x2,1, leftmost 1.00, spearman 0.95"))
        #expect(DecodeOrder(commitStep: [1, 1, 2, 3, 4]).line.hasPrefix("commits/step 2,1x3,"))
        #expect(abs(p.spearman! - 9 / 90.0.squareRoot()) < 1e-12)
    }

    @Test func summaryPoolsCommitsAndAveragesDefinedCorrelations() {
        var s = DecodeOrderSummary()
        s.add(DecodeOrder(commitStep: [2, 1, 2, 1]))
        s.add(DecodeOrder(commitStep: [1, 1, 1, 1], prophetStep: 1))
        #expect(s.commitsPerStepHistogram == [2: 2, 4: 1])
        #expect(s.leftmostShare == 6.0 / 8.0)
        #expect(abs(s.meanSpearman! - (-2 / 20.0.squareRoot())) < 1e-12)
        #expect(s.spearmanCount == 1 && s.generations == 2)
        #expect(s.prophetShare == 0.5 && s.meanProphetStep == 1)
        #expect(DecodeOrderSummary().meanSpearman == nil)
    }

    /// The sampler records a commit step for every position, consistent with its NFE and policy.
    @Test func samplerRecordsEveryCommit() throws {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 16, nLayers: 2, nHeads: 2, nKVHeads: 2,
                                 dFF: 24, maxSeqLen: 32, maskTokenID: 1, eosTokenID: 0)
        let model = LLaDAModel.random(config: config, seed: 5, std: 0.3)
        let prompts = [[3, 4, 5], [6, 7]]
        var o = SamplingOptions(); o.genLength = 8
        for g in try MaskedDiffusionSampler(model: model, options: o).generate(prompts) {
            #expect(g.nfe == 8 && Set(g.commitStep) == Set(1...8))
            #expect(DecodeOrder(g).commitsPerStep == [Int](repeating: 1, count: 8))
        }
        o.steps = 1
        for g in try MaskedDiffusionSampler(model: model, options: o).generate(prompts) {
            #expect(g.commitStep == [Int](repeating: 1, count: 8) && g.prophetStep == nil)
        }
        // Semi-autoregressive blocks of 2, one step each: block b is committed at step b + 1.
        o.steps = 4; o.blockLength = 2
        for g in try MaskedDiffusionSampler(model: model, options: o).generate(prompts) {
            #expect(g.commitStep == [1, 1, 2, 2, 3, 3, 4, 4])
            #expect(DecodeOrder(g).leftmostShare == 1 && abs(DecodeOrder(g).spearman! - 1) > 0.01)
        }
        o = SamplingOptions(); o.genLength = 8; o.sampler = .threshold; o.threshold = 0.5
        for g in try MaskedDiffusionSampler(model: model, options: o).generate(prompts) {
            #expect(g.commitStep.allSatisfy { (1...g.nfe).contains($0) } && g.commitStep.max() == g.nfe)
        }
    }

    /// Prophet's step is recorded, and every position still masked then is committed at it.
    /// The bundled model is confident on add, so Prophet fires there.
    @Test func prophetStepIsRecorded() throws {
        let loaded = try ModelFile.open(BundledRecipeTests.path("models/pare-tiny.h5"), residency: .resident)
        let prompts = try ["12+34=", "7+88=", "rev:abcdef="].map { try loaded.tokenizer.encode($0) }
        var o = SamplingOptions(); o.prophet = true
        let gens = try MaskedDiffusionSampler(model: loaded.weights, options: o).generate(prompts)
        #expect(gens.contains { $0.prophetStep != nil })
        for g in gens {
            if let p = g.prophetStep {
                #expect(g.nfe == p && g.commitStep.max() == p && p < 12)
                // Steps 1...p-1 committed one token each; Prophet committed the other L - (p - 1).
                #expect(g.commitStep.filter { $0 == p }.count == 12 - (p - 1))
                #expect(DecodeOrder(g).prophetStep == p)
            } else {
                #expect(g.nfe == 12)
            }
        }
        o.prophet = false
        #expect(try MaskedDiffusionSampler(model: loaded.weights, options: o).generate(prompts).allSatisfy { $0.prophetStep == nil })
    }
}
