import Foundation
import Testing
@testable import Pare

/// Dream in the model core: biases stored, streamed and carried through pruning and block
/// dropping; samplers, the likelihood estimator and depth scores run on it unchanged. (The
/// forward itself is checked against the official code in HFConvertTests.)
@Suite struct DreamModelTests {
    static let config = ModelConfig(architecture: "dream", vocabSize: CharTokenizer.referenceVocab.count, dModel: 32, nLayers: 3,
                                    nHeads: 4, nKVHeads: 2, dFF: 48, maxSeqLen: 48, maskTokenID: 1, eosTokenID: 0,
                                    ropeTheta: 1_000_000, normEps: 1e-6)

    static func write(_ model: LLaDAModel, in dir: URL, name: String = "dream.h5") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try model.checkpoint(vocab: CharTokenizer.referenceVocab, provenance: []).save(to: path)
        return path
    }

    @Test func biasesAreStoredAndStreamedLikeEveryTensor() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = LLaDAModel.random(config: Self.config, seed: 3)
        #expect(model.blocks[0].biases.keys.sorted { $0.rawValue < $1.rawValue } == [.kProj, .qProj, .vProj])
        #expect(model.blocks[0].biases[.kProj]?.shape == [16])
        let path = try Self.write(model, in: dir)
        let header = try CheckpointReader.inspect(path: path)
        #expect(header.tensors.contains { $0.name == "model.transformer.blocks.2.v_proj.bias" })
        let resident = try ModelFile.open(path, residency: .resident), streamed = try ModelFile.open(path, residency: .streamed)
        #expect(try LLaDAModel(resident.weights) == model)
        let ids = [[5, 6, 7, 1, 1, 1], [9, 1, 1]]
        #expect(try resident.weights.logits(ids) == streamed.weights.logits(ids))
        // The biases matter: without them the logits change.
        var unbiased = model
        for i in unbiased.blocks.indices { unbiased.blocks[i].biases = [:] }
        #expect(try unbiased.logits(ids) != model.logits(ids))
    }

    @Test func pruningAndDroppingKeepTheBiases() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = LLaDAModel.random(config: Self.config, seed: 4)
        let loaded = try ModelFile.open(try Self.write(model, in: dir), residency: .resident)
        let calibration = try CalibrationSet.referenceTasks(count: 8, tokenizer: loaded.tokenizer, eos: 0)
        var spec = PruningSpec()
        spec.method = .wanda
        var pruned = model
        _ = try ModelPruner(spec: spec, calibration: calibration).prune(&pruned)
        for (a, b) in zip(pruned.blocks, model.blocks) {
            #expect(a.biases == b.biases)
            #expect(abs(a.qProj.sparsity - 0.5) < 0.01)
        }
        let scores = try DepthProbe(model: pruned, calibration: calibration).blockInfluence()
        #expect(scores.count == 3 && scores.allSatisfy { $0.isFinite })
        let dropped = KeptBlocks(base: pruned, kept: [0, 2])
        let path = dir.appendingPathComponent("dropped.h5").path
        try ModelFile.write(dropped, tokenizer: loaded.header.tokenizer, to: path, dtype: { _ in .float32 }, provenance: { [] })
        let back = try LLaDAModel(reader: CheckpointReader(path: path))
        #expect(back.blocks[1].biases == pruned.blocks[2].biases)
        #expect(try back.logits([[4, 5, 1, 1]]) == dropped.logits([[4, 5, 1, 1]]))
    }

    @Test func samplersAndLikelihoodRunOnDreamAndFinetuneRefusesIt() throws {
        let model = LLaDAModel.random(config: Self.config, seed: 5)
        for kind in [SamplerKind.fixed, .threshold] {
            var options = SamplingOptions()
            options.genLength = 6
            options.sampler = kind
            let out = try MaskedDiffusionSampler(model: model, options: options).generate([[4, 5, 6], [7]])
            #expect(out.count == 2 && out.allSatisfy { $0.tokens.count == 6 && !$0.tokens.contains(1) })
        }
        // The likelihood estimator reads the shifted rows too: for a one-token answer (always
        // masked) its NLL is the cross-entropy of the logits `logits` gives for that position.
        let (prompt, answer) = ([4, 5, 6], 9)
        let nll = try LikelihoodEstimator(draws: 1).negativeLogLikelihood(model: model, examples: [PromptAnswer(prompt: prompt, answer: [answer])])
        let row = try model.logits([prompt + [1]], outputRows: [3..<4]).data.map(Double.init)
        let top = row.max()!
        let expected = log(row.map { exp($0 - top) }.reduce(0, +)) + top - row[answer]
        #expect(abs(nll[0] - expected) < 1e-4)
        // Fine-tuning refuses Dream with a clear error rather than training it wrongly.
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.write(model, in: dir)
        #expect(throws: TrainingError.self) {
            _ = try Finetuner(modelPath: path, options: FinetuneOptions(), output: dir.appendingPathComponent("ft.h5").path)
        }
    }
}
