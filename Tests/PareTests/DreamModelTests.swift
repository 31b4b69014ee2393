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

    @Test func samplersAndLikelihoodRunOnDream() throws {
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
    }

    /// Dream's training forward shifts like the inference one, and its backward is the LLaDA
    /// backward (checked against finite differences in GradientTests) of the same weights with
    /// dLoss/dLogits scatter-added back through the shift.
    @Test func trainingForwardAndBackwardFollowTheShift() throws {
        var config = Self.config
        config.nLayers = 2
        let dream = LLaDAModel.random(config: config, seed: 6, std: 0.3)
        var unshifted = dream
        unshifted.config.architecture = "llada"          // same weights and biases, no shift
        let sequences = [[4, 5, 1, 6, 1], [7, 1, 8]]
        let (logits, cache) = dream.forwardForTraining(sequences)
        let inference = try dream.logits(sequences)
        #expect(zip(logits.data, inference.data).allSatisfy { abs($0 - $1) < 1e-4 })

        var rng = SplitMix64(seed: 8)
        let dShifted = Tensor(shape: logits.shape, data: logits.data.map { _ in Float(rng.uniform() - 0.5) })
        let layout = SequenceLayout(lengths: sequences.map(\.count))
        var dUnshifted = Tensor(zeros: logits.shape)
        for (r, from) in dream.predictingRows(Array(0..<layout.totalTokens), layout: layout).enumerated() {
            for v in 0..<logits.cols { dUnshifted.data[from * logits.cols + v] += dShifted.data[r * logits.cols + v] }
        }
        let a = dream.backward(dShifted, cache: cache)
        let b = unshifted.backward(dUnshifted, cache: unshifted.forwardForTraining(sequences).cache)
        for key in dream.parameterKeys {
            let scale = b[key].data.map(abs).max()! + 1e-6
            let gap = zip(a[key].data, b[key].data).map { abs($0 - $1) }.max()!
            #expect(gap / scale < 1e-4, "\(key): \(gap) of \(scale)")
        }
        // Position 0 and 1 both read row 0: row 0's gradient is the sum of both.
        #expect(dream.predictingRows([0, 1, 2, 5, 6], layout: layout) == [0, 0, 1, 5, 5])
    }

    @Test func seftFinetunesAPrunedDreamModelKeepingSparsityAndBiases() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dense = try Self.write(LLaDAModel.random(config: Self.config, seed: 7, std: 0.2), in: dir)
        let loaded = try ModelFile.open(dense)
        let calibration = try CalibrationSet.referenceTasks(count: 8, tokenizer: loaded.tokenizer, eos: 0)
        let pruned = dir.appendingPathComponent("pruned.h5").path
        _ = try ModelPruner(spec: PruningSpec(), calibration: calibration).prune(loaded, writingTo: pruned)
        let input = try LLaDAModel(reader: CheckpointReader(path: pruned))
        var options = FinetuneOptions()
        options.steps = 4; options.updateInterval = 2; options.batchSize = 4; options.learningRate = 1e-2; options.warmupSteps = 1
        let tuner = try Finetuner(modelPath: pruned, options: options, output: dir.appendingPathComponent("ft.h5").path)
        var losses: [Double] = []
        for _ in 0..<4 { losses.append(try tuner.trainStep().loss) }
        #expect(losses.allSatisfy { $0.isFinite })
        for key in input.parameterKeys where key.isBlockLinear {
            #expect(Mask(nonZerosOf: tuner.model[key]).keptCount == Mask(nonZerosOf: input[key]).keptCount, "\(key)")
        }
        #expect(tuner.model.blocks.map(\.biases) == input.blocks.map(\.biases))
        #expect(tuner.model.blocks[0].qProj.weight != input.blocks[0].qProj.weight)
    }
}
