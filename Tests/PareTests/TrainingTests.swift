import Foundation
import Testing
@testable import Pare

/// Training engine: loss goes down, resume is exact, recipes are validated.
@Suite(.serialized) struct TrainingTests {
    static func tinyRecipe(steps: Int) -> TrainingRecipe {
        var r = TrainingRecipe()
        r.model.dModel = 16; r.model.nLayers = 2; r.model.nHeads = 2; r.model.nKVHeads = 1
        r.model.dFF = 24; r.model.maxSeqLen = 40
        r.tasks = ["rev": 1, "add": 1]
        r.batchSize = 8; r.steps = steps; r.learningRate = 1e-2; r.minLearningRate = 1e-3; r.warmupSteps = 2
        r.checkpointEvery = 1000; r.evalEvery = 1000; r.evalSamples = 4; r.logEvery = 1000
        return r
    }

    @Test func lossDecreases() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try Trainer(recipe: Self.tinyRecipe(steps: 60), output: dir.appendingPathComponent("m.h5").path)
        var early: [Double] = [], late: [Double] = []
        for step in 1...60 {
            let loss = try trainer.trainStep(step).loss
            if step <= 10 { early.append(loss) } else if step > 50 { late.append(loss) }
        }
        let before = early.reduce(0, +) / 10, after = late.reduce(0, +) / 10
        #expect(after < 0.7 * before, "mean loss went from \(before) to \(after)")
    }

    /// 2N steps straight equal N steps, a checkpoint, a fresh process-like resume, and N more.
    @Test func resumeIsExact() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var recipe = Self.tinyRecipe(steps: 8)
        recipe.checkpointEvery = 4
        let straight = try Trainer(recipe: recipe, output: dir.appendingPathComponent("a.h5").path)
        try straight.run()

        let outB = dir.appendingPathComponent("b.h5").path
        let first = try Trainer(recipe: recipe, output: outB)
        #expect(try first.run(stopAtStep: 4) == false)
        let second = try Trainer(resuming: recipe, output: outB)
        #expect(second.state.step == 4)
        #expect(try second.run() == true)

        for key in straight.model.parameterKeys {
            #expect(straight.model[key] == second.model[key], "\(key) differs after resume")
        }
        // The written models are identical too.
        let a = try Checkpoint.load(from: dir.appendingPathComponent("a.h5").path)
        let b = try Checkpoint.load(from: outB)
        #expect(a.tensors == b.tensors)
    }

    /// Where the file system cannot swap two folders, a checkpoint replaces the previous one in
    /// two renames; a kill between them (injected here on that exact path) leaves no `.train`
    /// folder, only the previous checkpoint stepped aside. `--resume` restores it and the run
    /// ends exactly as an uninterrupted one.
    @Test func resumeAfterAKillBetweenTheTwoRenames() throws {
        struct Killed: Error {}
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var recipe = Self.tinyRecipe(steps: 6)
        recipe.checkpointEvery = 2
        let straight = try Trainer(recipe: recipe, output: dir.appendingPathComponent("a.h5").path)
        try straight.run()

        let out = dir.appendingPathComponent("b.h5").path
        let folder = TrainingCheckpoint.directory(for: out)
        let first = try Trainer(recipe: recipe, output: out)
        #expect(try first.run(stopAtStep: 2) == false)
        OutputPath.faultInjection.set(folder) { throw Killed() }
        defer { OutputPath.faultInjection.set(folder, nil) }
        #expect(throws: Killed.self) { try first.run(stopAtStep: 4) }
        #expect(!FileManager.default.fileExists(atPath: folder), "the kill left no checkpoint folder")
        let aside = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".pare-old-") }
        #expect(aside.count == 1, "\(aside)")
        OutputPath.faultInjection.set(folder, nil)

        let resumed = try Trainer(resuming: recipe, output: out)
        #expect(resumed.state.step == 2)
        #expect(try resumed.run() == true)
        for key in straight.model.parameterKeys {
            #expect(straight.model[key] == resumed.model[key], "\(key) differs after the restored resume")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".pare-") }.isEmpty)
    }

    @Test func resumeRefusesAChangedRecipe() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.h5").path
        var recipe = Self.tinyRecipe(steps: 4)
        recipe.checkpointEvery = 2
        _ = try Trainer(recipe: recipe, output: out).run(stopAtStep: 2)
        recipe.learningRate = 5e-3
        #expect(throws: TrainingError.self) { try Trainer(resuming: recipe, output: out) }
    }

    @Test func recipeParsesYAMLAndRejectsBadValues() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.yaml").path
        try "model: {d_model: 32, n_layers: 2, n_heads: 4}\nsteps: 7\ntasks: {kv: 1}\n".write(toFile: good, atomically: true, encoding: .utf8)
        let r = try TrainingRecipe.load(path: good)
        #expect(r.model.dModel == 32 && r.steps == 7 && r.batchSize == 64)
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "model: {d_model: 30, n_heads: 4}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: TrainingError.self) { try TrainingRecipe.load(path: bad) }
        try "steps: 10\ntasks: {nope: 1}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: TrainingError.self) { try TrainingRecipe.load(path: bad) }
        for line in ["pretrain_share: 1.5", "loss: pretrain\npretrain_share: 0.5", "kv_keyed_share: -0.1", "kv_keyed_until: -3"] {
            try line.write(toFile: bad, atomically: true, encoding: .utf8)
            #expect(throws: TrainingError.self, "\(line)") { try TrainingRecipe.load(path: bad) }
        }
    }

    @Test func maskedDiffusionLossMatchesHandComputedCrossEntropy() {
        // Two rows over a 3-token vocabulary; only row 1 is masked (weight 0.5).
        let logits = Tensor(shape: [2, 3], data: [0, 0, 0, 1, 2, 3])
        let (loss, d) = MaskedDiffusionLoss.loss(logits: logits, targets: [0, 2], weights: [0, 0.5])
        let lse = Foundation.log(Foundation.exp(1.0) + Foundation.exp(2.0) + Foundation.exp(3.0))
        #expect(abs(loss - 0.5 * (lse - 3)) < 1e-6)
        #expect(d.data[0...2].allSatisfy { $0 == 0 })
        let p2 = Foundation.exp(3 - lse)
        #expect(abs(Double(d.data[5]) - 0.5 * (p2 - 1)) < 1e-6)
    }

    /// pretrain_share 1 masks prompt tokens too, weighting each by 1/p over the whole example;
    /// share 0 draws exactly the batches of plain SFT.
    @Test func pretrainShareMasksWholeSequences() {
        let ex = PromptAnswer(prompt: [5, 6, 7], answer: [8, 9, 0, 0])
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9), c = SplitMix64(seed: 9)
        var promptMasked = 0
        for _ in 0..<50 {
            let plain = MaskedDiffusionLoss.noise([ex], form: .sft, maskID: 1, rng: &a)
            let zero = MaskedDiffusionLoss.noise([ex], form: .sft, maskID: 1, pretrainShare: 0, rng: &b)
            #expect(plain.inputs == zero.inputs && plain.weights == zero.weights)
            let whole = MaskedDiffusionLoss.noise([ex], form: .sft, maskID: 1, pretrainShare: 1, rng: &c)
            promptMasked += whole.inputs[0].prefix(3).filter { $0 == 1 }.count
            // Every masked token carries the same weight 1/p/7; unmasked ones none.
            let w = Set(zip(whole.inputs[0], whole.weights).filter { $0.0 == 1 }.map(\.1))
            #expect(w.count <= 1)
            #expect(zip(whole.inputs[0], whole.weights).allSatisfy { $0.0 == 1 || $0.1 == 0 })
        }
        #expect(promptMasked > 0)
    }

    /// Keyed kv samples (curriculum) have value = letter index mod 10; plain ones are the task's.
    @Test func keyedKVSamplesFollowTheirKeys() throws {
        var rng = SplitMix64(seed: 4), same = SplitMix64(seed: 4)
        for _ in 0..<100 {
            let s = ReferenceTask.kvSample(&rng, keyed: true)
            #expect(try ReferenceTaskTests.solve(s) == s.answer)
            for pair in s.prompt.split(separator: "?")[0].split(separator: ",") {
                let key = pair.first!.asciiValue! - Character("a").asciiValue!
                #expect(Int(String(pair.last!)) == Int(key) % 10, "\(s.prompt)")
            }
            _ = ReferenceTask.kvSample(&same, keyed: true)
        }
        var r1 = SplitMix64(seed: 5), r2 = SplitMix64(seed: 5)
        #expect((0..<20).map { _ in ReferenceTask.kvSample(&r1, keyed: false) }
                == (0..<20).map { _ in ReferenceTask.kv.sample(&r2) })
        var recipe = TrainingRecipe()
        recipe.kvKeyedShare = 0.5; recipe.kvKeyedUntil = 100
        #expect(recipe.kvKeyedShare(at: 1) == 0.5 && recipe.kvKeyedShare(at: 99) == 0.5 && recipe.kvKeyedShare(at: 100) == 0)
    }

    /// A max_seq_len shorter than the task sequences is an error naming it, not a trap.
    @Test func shortMaxSeqLenIsAnError() throws {
        var r = Self.tinyRecipe(steps: 1)
        r.model.maxSeqLen = 8
        let out = Fixtures.temporaryDirectory().appendingPathComponent("short.h5").path
        let trainer = try Trainer(recipe: r, output: out)
        #expect(throws: ModelError.self) { try trainer.run() }
    }

        /// init_from starts from the given model's weights and refuses a model of another shape.
    @Test func initFromStartsFromTheModel() throws {
        let dir = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = dir.appendingPathComponent("first.h5").path
        let stage1 = Self.tinyRecipe(steps: 3)
        try Trainer(recipe: stage1, output: first).run()
        var stage2 = Self.tinyRecipe(steps: 2)
        stage2.initFrom = first
        let trainer = try Trainer(recipe: stage2, output: dir.appendingPathComponent("second.h5").path)
        let base = try LLaDAModel(checkpoint: Checkpoint.load(from: first))
        for key in base.parameterKeys { #expect(trainer.model[key] == base[key]) }
        try trainer.run()
        let written = try Checkpoint.load(from: dir.appendingPathComponent("second.h5").path)
        #expect(written.provenance.count == 2)
        stage2.model.dFF = 32
        #expect(throws: TrainingError.self) { try Trainer(recipe: stage2, output: dir.appendingPathComponent("x.h5").path) }
        // The error names the differing attribute with both values.
        do {
            _ = try Trainer(recipe: stage2, output: dir.appendingPathComponent("x.h5").path)
        } catch {
            #expect("\(error)".contains("d_ff 24 in the file, 32 in the recipe"), "\(error)")
        }
    }

    @Test func sftNoiseNeverMasksThePrompt() {
        var rng = SplitMix64(seed: 3)
        let ex = PromptAnswer(prompt: [5, 6, 7], answer: [8, 9, 0, 0])
        for _ in 0..<50 {
            let b = MaskedDiffusionLoss.noise([ex], form: .sft, maskID: 1, rng: &rng)
            #expect(Array(b.inputs[0].prefix(3)) == [5, 6, 7])
            #expect(b.weights.prefix(3).allSatisfy { $0 == 0 })
        }
    }
}

@Suite struct ReferenceTaskTests {
    @Test func samplesAreDeterministicAndWellFormed() throws {
        let tok = CharTokenizer(vocab: CharTokenizer.referenceVocab)
        for task in ReferenceTask.allCases {
            let a = task.samples(200, split: .train, seed: 1), b = task.samples(200, split: .train, seed: 1)
            #expect(a == b)
            #expect(task.samples(50, split: .train, seed: 1) == Array(a.prefix(50)))
            #expect(a != task.samples(200, split: .test, seed: 1))
            for s in a {
                _ = try tok.encode(s.prompt + s.answer)
                #expect(s.answer.count <= ReferenceTask.generationLength)
                #expect(try Self.solve(s) == s.answer, "\(s.prompt) -> \(s.answer)")
            }
        }
    }

    /// An independent solver for each task, parsing the prompt text.
    static func solve(_ s: TaskSample) throws -> String {
        let p = s.prompt
        switch s.task {
        case .add:
            let parts = p.dropLast().split(separator: "+").map { Int($0)! }
            #expect(parts.allSatisfy { (0...99).contains($0) })
            return String(parts[0] + parts[1])
        case .kv:
            let q = p.split(separator: "?")
            let pairs = q[0].split(separator: ",").map { $0.split(separator: ":") }
            #expect((2...5).contains(pairs.count))
            #expect(Set(pairs.map { $0[0] }).count == pairs.count)
            let key = q[1].dropLast()
            return String(pairs.first { $0[0] == key }![1])
        case .rev:
            let body = p.dropFirst(4).dropLast()
            #expect((3...10).contains(body.count))
            return String(body.reversed())
        case .chain:
            var env: [Substring: Int] = [:]
            let q = p.split(separator: "?")
            let stmts = q[0].split(separator: ";")
            #expect((2...4).contains(stmts.count))
            for st in stmts {
                let kv = st.split(separator: "=")
                let rhs = kv[1]
                if let n = Int(rhs) { env[kv[0]] = n; continue }
                let op = rhs.contains("+") ? "+" : "-"
                let ab = rhs.split(separator: Character(op))
                let v = env[ab[0]]! + (op == "+" ? 1 : -1) * Int(ab[1])!
                #expect((0...99).contains(v))
                env[kv[0]] = v
            }
            return String(env[q[1].dropLast()]!)
        }
    }
}
