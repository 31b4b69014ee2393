import Foundation
import Testing
@testable import Pare

@Suite struct DepthTests {
    /// The reference tiny model with block 1 turned into the identity (zero residual contributions).
    static func modelWithIdentityBlock() throws -> (Checkpoint, LLaDAModel) {
        let c = try Checkpoint.load(from: Fixtures.path("reference/tiny-gqa.h5"))
        var m = try LLaDAModel(checkpoint: c)
        m.blocks[1].attnOut = Linear(Tensor(zeros: m.blocks[1].attnOut.shape))
        m.blocks[1].ffOut = Linear(Tensor(zeros: m.blocks[1].ffOut.shape))
        return (c, m)
    }

    static func calibration(_ c: Checkpoint) throws -> CalibrationSet {
        try CalibrationSet.file(Fixtures.path("wanda/calibration.txt"), limit: nil, tokenizer: CharTokenizer(vocab: c.vocab))
    }

    @Test func droppingAZeroResidualBlockLeavesLogitsUnchanged() throws {
        let (_, m) = try Self.modelWithIdentityBlock()
        let smaller = try BlockDropper.drop([1], from: m)
        #expect(smaller.blockCount == 2 && smaller.config.nLayers == 2 && smaller.kept == [0, 2])
        let seqs = [[3, 4, 38, 5, 6, 40, 1, 1], [20, 21, 1]]
        #expect(try smaller.logits(seqs) == m.logits(seqs))
    }

    @Test(arguments: [DepthCriterion.blockInfluence, .angular])
    func similarityCriteriaDropTheIdentityBlockFirst(criterion: DepthCriterion) throws {
        let (c, m) = try Self.modelWithIdentityBlock()
        let selection = DepthSelection(criterion: criterion, calibration: try Self.calibration(c))
        let scores = try selection.scores(model: m)
        #expect(scores.indices.min { scores[$0] < scores[$1] } == 1, "\(criterion): \(scores)")
        #expect(abs(scores[1]) < 1e-6)
        #expect(try selection.select(count: 1, model: m) == [1])
    }

    /// On a random model another block's removal may even lower the NLL, so the measured
    /// criterion is checked for what it promises: dropping the identity block costs nothing.
    @Test func measuredScoreOfTheIdentityBlockIsTheDenseNLL() throws {
        let (c, m) = try Self.modelWithIdentityBlock()
        let selection = DepthSelection(criterion: .measured, calibration: try Self.calibration(c))
        let scores = try selection.scores(model: m)
        let nll = try selection.nll(m)
        #expect(abs(scores[1] - nll) < 1e-9)
        #expect(scores.count == 3)
    }

    @Test func badLayerRequestsAreRejected() throws {
        let (_, m) = try Self.modelWithIdentityBlock()
        #expect(throws: DepthError.self) { try BlockDropper.drop([3], from: m) }
        #expect(throws: DepthError.self) { try BlockDropper.drop([0, 1, 2], from: m) }
        #expect(throws: DepthError.self) { try BlockDropper.parseLayers("2-x") }
        #expect(throws: DepthError.self) { try BlockDropper.parseLayers("5-3") }
        #expect(try BlockDropper.parseLayers("3,5-7,3") == [3, 5, 6, 7])
    }

    /// Calibration sequences longer than max_seq_len: every criterion fails cleanly.
    @Test(arguments: DepthCriterion.allCases)
    func shortMaxSeqLenIsAnError(criterion: DepthCriterion) throws {
        let (c, m) = try Self.modelWithIdentityBlock()
        var short = m
        short.config.maxSeqLen = 4
        let selection = DepthSelection(criterion: criterion, calibration: try Self.calibration(c))
        #expect(throws: ModelError.self) { try selection.select(count: 1, model: short) }
    }
}
