import Foundation
import Testing
@testable import Pare

/// SEFT and its baselines keep sparsity exact, move the mask only when asked, train only the
/// block linears, and resume bit for bit.
@Suite struct FinetuneTests {
    /// A tiny random model pruned with `pattern` (Wanda, 8 calibration samples), written to `dir`.
    static func prunedModel(_ pattern: SparsityPattern, in dir: URL) throws -> String {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 32, nLayers: 2, nHeads: 4,
                                 nKVHeads: 2, dFF: 48, maxSeqLen: 48, maskTokenID: 1, eosTokenID: 0)
        let dense = dir.appendingPathComponent("dense.h5").path
        try LLaDAModel.random(config: config, seed: 3, std: 0.2)
            .checkpoint(vocab: CharTokenizer.referenceVocab, provenance: []).save(to: dense)
        let loaded = try ModelFile.open(dense)
        var spec = PruningSpec()
        spec.pattern = pattern
        spec.sparsity = pattern == .unstructured ? 0.6 : spec.effectiveSparsity
        let calibration = try CalibrationSet.referenceTasks(count: 8, tokenizer: loaded.tokenizer, eos: 0)
        let out = dir.appendingPathComponent("pruned-\(pattern.description.replacingOccurrences(of: ":", with: "of")).h5").path
        _ = try ModelPruner(spec: spec, calibration: calibration).prune(loaded, writingTo: out)
        return out
    }

    static func options(_ method: FinetuneMethod) -> FinetuneOptions {
        var o = FinetuneOptions()
        o.method = method; o.steps = 6; o.updateInterval = 2; o.dropFraction = 0.3; o.batchSize = 4
        o.learningRate = 1e-2; o.warmupSteps = 1; o.checkpointEvery = 3
        return o
    }

    @Test(arguments: [SparsityPattern.unstructured, .nOfM(n: 2, m: 4)])
    func sparsityStaysExactAndOnlyTheMaskMovesUnderSEFT(pattern: SparsityPattern) throws {
        let dir = Fixtures.temporaryDirectory()
        let path = try Self.prunedModel(pattern, in: dir)
        let input = try LLaDAModel(checkpoint: Checkpoint.load(from: path))
        for method in [FinetuneMethod.seft, .frozenMask] {
            let tuner = try Finetuner(modelPath: path, options: Self.options(method), output: dir.appendingPathComponent("\(method).h5").path)
            var churned = false
            for _ in 0..<6 {
                let report = try tuner.trainStep()
                if let c = report.churn, c.changed > 0 { churned = true }
                for key in input.parameterKeys where key.isBlockLinear {
                    let w = tuner.model[key], mask = tuner.masks[key]!, original = Mask(nonZerosOf: input[key])
                    // Removed weights are exactly zero, and every group keeps its count.
                    #expect((0..<w.count).allSatisfy { mask[flat: $0] || w.data[$0] == 0 }, "\(key) has a non-zero outside its mask")
                    switch pattern {
                    case .nOfM(let n, let m):
                        #expect(mask.groupCounts(.nOfM(n: n, m: m)).allSatisfy { $0 == m - n }, "\(key) breaks \(pattern)")
                    case .unstructured:
                        // Wanda pruned per row, so every row keeps its count.
                        #expect(mask.groupCounts(.perRow) == original.groupCounts(.perRow), "\(key) row counts moved")
                    }
                    #expect(mask.keptCount == original.keptCount)
                    if method == .frozenMask { #expect(mask == original, "\(key): frozen mask moved") }
                }
                // Only the block linears train.
                for key in input.parameterKeys where !key.isBlockLinear {
                    #expect(tuner.model[key] == input[key], "\(key) changed")
                }
            }
            #expect(churned == (method == .seft), "\(method): churn \(churned)")
            #expect(tuner.state.churn.isEmpty == (method == .frozenMask))
        }
    }

    @Test func trainNormsTrainsTheNorms() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = try Self.prunedModel(.unstructured, in: dir)
        var options = Self.options(.seft)
        options.trainNorms = true
        let tuner = try Finetuner(modelPath: path, options: options, output: dir.appendingPathComponent("n.h5").path)
        let before = tuner.model
        _ = try tuner.trainStep()
        #expect(tuner.model[.norm(0, .attnNorm)] != before[.norm(0, .attnNorm)])
        #expect(tuner.model[.wte] == before[.wte] && tuner.model[.head] == before[.head])
    }

    /// 3 steps, checkpoint, resume, 3 more equals 6 straight: weights, moments and masks.
    @Test func resumeIsBitExact() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = try Self.prunedModel(.unstructured, in: dir)
        let straight = try Finetuner(modelPath: path, options: Self.options(.seft), output: dir.appendingPathComponent("a.h5").path)
        for _ in 0..<6 { _ = try straight.trainStep() }
        let out = dir.appendingPathComponent("b.h5").path
        let first = try Finetuner(modelPath: path, options: Self.options(.seft), output: out)
        for _ in 0..<3 { _ = try first.trainStep() }
        try first.saveCheckpoint()
        let resumed = try Finetuner(modelPath: path, options: Self.options(.seft), output: out, resume: true)
        for _ in 0..<3 { _ = try resumed.trainStep() }
        #expect(resumed.model == straight.model)
        #expect(resumed.masks == straight.masks)
        #expect(resumed.optimizer.m == straight.optimizer.m && resumed.optimizer.v == straight.optimizer.v)
        #expect(resumed.state.churn == straight.state.churn)
    }

    /// A kill between the two renames of the fallback checkpoint swap (injected) leaves the
    /// previous checkpoint stepped aside; `--resume` finds it.
    @Test func resumeAfterAKillBetweenTheTwoRenames() throws {
        struct Killed: Error {}
        let dir = Fixtures.temporaryDirectory()
        let path = try Self.prunedModel(.unstructured, in: dir)
        let out = dir.appendingPathComponent("b.h5").path
        let folder = Finetuner.directory(for: out)
        let first = try Finetuner(modelPath: path, options: Self.options(.seft), output: out)
        _ = try first.trainStep()
        try first.saveCheckpoint()
        _ = try first.trainStep()
        OutputPath.faultInjection.set(folder) { throw Killed() }
        defer { OutputPath.faultInjection.set(folder, nil) }
        #expect(throws: Killed.self) { try first.saveCheckpoint() }
        #expect(!FileManager.default.fileExists(atPath: folder))
        let resumed = try Finetuner(modelPath: path, options: Self.options(.seft), output: out, resume: true)
        #expect(resumed.state.step == 1)
    }

    /// Dense fine-tuning ends pruned again with the input's method and sparsity.
    @Test func denseIsPrunedAgain() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = try Self.prunedModel(.nOfM(n: 2, m: 4), in: dir)
        var options = Self.options(.dense)
        options.steps = 2
        let out = dir.appendingPathComponent("d.h5").path
        let tuner = try Finetuner(modelPath: path, options: options, output: out)
        #expect(tuner.pruning?.pattern == .nOfM(n: 2, m: 4))
        try tuner.run()
        let final = try tuner.finish(calibration: CalibrationSet.referenceTasks(count: 8, tokenizer: tuner.tokenizer, eos: 0))
        for key in final.parameterKeys where key.isBlockLinear {
            #expect(Mask(nonZerosOf: final[key]).groupCounts(.nOfM(n: 2, m: 4)).allSatisfy { $0 <= 2 })
        }
        let written = try CheckpointReader.read(path: out)
        #expect(written.provenance.last?.contains(#""op":"finetune""#) == true)
    }

    @Test func topologyUpdateMovesWithinGroups() {
        // One row of 8, 4 kept: drop the smallest |w| (index 1), grow the largest |g| among the
        // rest of the inactive (index 6; index 1 itself is not regrown).
        let mask = Mask(keep: [true, true, false, false, true, true, false, false], rows: 1, cols: 8)
        let w = Tensor(shape: [1, 8], data: [0.9, 0.1, 0, 0, 0.5, 0.7, 0, 0])
        let g = Tensor(shape: [1, 8], data: [0, 5, 1, 2, 0, 0, 3, 0.5])
        let update = TopologyUpdate(constraint: .perRow, original: mask)
        let r = update.apply(mask: mask, weight: w, gradient: g, fraction: 0.25)
        #expect(r.dropped == [1] && r.grown == [6] && r.sensitivityPruned.isEmpty)
        #expect(r.mask == Mask(keep: [true, false, false, false, true, true, true, false], rows: 1, cols: 8))
        // A group above its target is pruned back by |w * g|.
        let dense = Mask(keepingAll: 1, 8)
        let over = update.apply(mask: dense, weight: w, gradient: g, fraction: 0)
        #expect(over.mask.keptCount == 4 && over.sensitivityPruned.count == 4)
    }
}
