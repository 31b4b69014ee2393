import Foundation
import Testing
@testable import Pare

/// SEFT and its baselines keep sparsity exact, move the mask only when asked, train only the
/// block linears, and resume bit for bit.
@Suite struct FinetuneTests {
    /// A tiny random model pruned with `pattern` (Wanda, 8 calibration samples), written to `dir`.
    /// `provenance` is the dense model's history (e.g. a `train` entry naming its tasks);
    /// `maxSeqLen` 72 fits the dependent tasks' 32-token answers.
    static func prunedModel(_ pattern: SparsityPattern, in dir: URL, provenance: [String] = [],
                            maxSeqLen: Int = 48) throws -> String {
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 32, nLayers: 2, nHeads: 4,
                                 nKVHeads: 2, dFF: 48, maxSeqLen: maxSeqLen, maskTokenID: 1, eosTokenID: 0)
        let dense = dir.appendingPathComponent("dense.h5").path
        try LLaDAModel.random(config: config, seed: 3, std: 0.2)
            .checkpoint(vocab: CharTokenizer.referenceVocab, provenance: provenance).save(to: dense)
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

    /// The masked-diffusion loss of `model` on `examples`, with masks drawn from `seed`.
    static func loss(_ model: LLaDAModel, _ examples: [PromptAnswer], seed: UInt64) throws -> Double {
        var rng = SplitMix64(seed: seed)
        let noised = MaskedDiffusionLoss.noise(examples, form: .sft, maskID: model.config.maskTokenID, rng: &rng)
        let (logits, _) = model.forwardForTraining(noised.inputs)
        return MaskedDiffusionLoss.loss(logits: logits, targets: noised.targets, weights: noised.weights).loss
    }

    /// Test-split examples of `tasks`, encoded as training examples are.
    static func heldOut(_ tasks: [String], count: Int) throws -> [PromptAnswer] {
        let tokenizer = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        return try tasks.flatMap { name -> [PromptAnswer] in
            let task = try #require(TaskCatalog.named(name))
            return try task.examples(count, split: .test).map {
                PromptAnswer(prompt: try tokenizer.encode($0.prompt),
                             answer: try $0.answerTokens(tokenizer, eos: 0, length: task.generationLength))
            }
        }
    }

    /// `--tasks` trains on exactly those tasks, through `pare train`'s data path: every example
    /// of a batch is one of theirs, the loss on their test split falls, the run is a function
    /// of its seed, and the provenance records the tasks as `train` records its mix.
    @Test func explicitTasksAreTrainedOnAndRecorded() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = try Self.prunedModel(.unstructured, in: dir, maxSeqLen: 72)
        var options = Self.options(.seft)
        options.tasks = ["rev", "carry"]
        options.steps = 30; options.batchSize = 8; options.updateInterval = 10; options.learningRate = 2e-2
        let out = dir.appendingPathComponent("t.h5").path
        let tuner = try Finetuner(modelPath: path, options: options, output: out)
        #expect(tuner.mix?.tasks.map(\.name) == ["rev", "carry"])
        // rev answers are 12 tokens, carry's 32: a batch of 8 holds only those, both here.
        var rng = DataSplit.train.stream(seed: options.seed, index: 1)
        let lengths = Set(try tuner.batch(step: 1, rng: &rng).map(\.answer.count))
        #expect(lengths == [12, DependentTask.generationLength])
        let heldOut = try Self.heldOut(["rev", "carry"], count: 8)
        let before = try Self.loss(tuner.model, heldOut, seed: 5)
        try tuner.run()
        let after = try Self.loss(tuner.model, heldOut, seed: 5)
        #expect(after < 0.8 * before, "held-out loss \(before) -> \(after)")
        _ = try tuner.finish()
        let written = try CheckpointReader.read(path: out)
        let entry = try #require(try JSONSerialization.jsonObject(with: Data((written.provenance.last ?? "").utf8)) as? [String: Any])
        #expect(entry["op"] as? String == "finetune")
        #expect(entry["tasks"] as? [String: Double] == ["rev": 1, "carry": 1])
        #expect(entry["data"] as? String == "tasks:train")
        // The same seed gives the same model; another seed another one.
        let again = try Finetuner(modelPath: path, options: options, output: dir.appendingPathComponent("u.h5").path)
        try again.run()
        #expect(again.model == tuner.model)
        var otherSeed = options
        otherSeed.seed = 2
        let one = try Finetuner(modelPath: path, options: options, output: dir.appendingPathComponent("v.h5").path)
        let two = try Finetuner(modelPath: path, options: otherSeed, output: dir.appendingPathComponent("w.h5").path)
        for _ in 0..<2 { _ = try one.trainStep(); _ = try two.trainStep() }
        #expect(one.model != two.model)
    }

    /// Without `--tasks`, a run trains on the tasks of the model's newest training entry, and
    /// its own entry keeps them the default; a run on other tasks makes those the default, and
    /// a run on a data file leaves the default alone.
    @Test func defaultTasksFollowTheNewestTrainingEntry() throws {
        let dir = Fixtures.temporaryDirectory()
        let train = #"{"op":"train","steps":10,"tasks":{"carry":1.5,"hops":1}}"#
        let path = try Self.prunedModel(.unstructured, in: dir, provenance: [#"{"op":"train","tasks":{"add":1}}"#, train], maxSeqLen: 72)
        var options = Self.options(.seft)
        options.steps = 2
        let defaults = { (file: String) in TaskCatalog.defaults(provenance: try CheckpointReader.read(path: file).provenance).map(\.name) }
        let repaired = dir.appendingPathComponent("r.h5").path
        let tuner = try Finetuner(modelPath: path, options: options, output: repaired)
        #expect(tuner.mix?.tasks.map(\.name) == ["hops", "carry"])
        try tuner.run()
        _ = try tuner.finish()
        #expect(try defaults(repaired) == ["hops", "carry"])
        // Fine-tuned again on rev: rev is the default now.
        options.tasks = ["rev"]
        let onRev = dir.appendingPathComponent("rev.h5").path
        let second = try Finetuner(modelPath: repaired, options: options, output: onRev)
        try second.run()
        _ = try second.finish()
        #expect(try defaults(onRev) == ["rev"])
        // On a data file: still rev.
        let data = dir.appendingPathComponent("d.txt").path
        try "12+3=\t15\n".write(toFile: data, atomically: true, encoding: .utf8)
        options.tasks = nil; options.data = data
        let onData = dir.appendingPathComponent("data.h5").path
        let third = try Finetuner(modelPath: onRev, options: options, output: onData)
        #expect(third.mix == nil)
        try third.run()
        _ = try third.finish()
        #expect(try defaults(onData) == ["rev"])
    }

    /// A bad task list is one usage line (exit 64) before any model is read.
    @Test func badTaskListsAreUsageErrors() throws {
        let dir = Fixtures.temporaryDirectory().path
        let cases: [([String], String)] = [
            (["--tasks", "add,dance"], #"--tasks: unknown task "dance" (expected "# + TaskCatalog.names.joined(separator: ", ") + ")"),
            (["--tasks", ","], "--tasks: name at least one of add, kv, rev, chain"),
            (["--tasks", "add,add"], "--tasks names a task twice"),
            (["--tasks", "add", "--data", dir + "/d.txt"], "--tasks and --data exclude each other"),
        ]
        for (arguments, message) in cases {
            let r = try SparseCommandLineTests.pare(["finetune", "--model", dir + "/none.h5"] + arguments, in: dir)
            #expect(r.status == 64, "\(arguments): exit \(r.status), \(r.err)")
            #expect(r.err.contains(message), "\(arguments): \(r.err)")
        }
        var options = FinetuneOptions()
        options.tasks = ["sudoku"]
        #expect(options.problem()?.contains(#"unknown task "sudoku""#) == true)
    }
}
