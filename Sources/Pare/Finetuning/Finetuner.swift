import Foundation

/// How a pruned model is fine-tuned (docs/algorithms.md §6).
public enum FinetuneMethod: String, CaseIterable, Codable, Sendable {
    /// Sparse fine-tuning whose mask evolves by drop and grow (SEFT).
    case seft
    /// Sparse fine-tuning with the input's mask held fixed.
    case frozenMask = "frozen-mask"
    /// Dense fine-tuning of the seven linears, then pruned again as the input was.
    case dense
}

/// Everything `pare finetune` was asked to do.
public struct FinetuneOptions: Codable, Equatable, Sendable {
    public var method: FinetuneMethod = .seft
    public var steps = 500
    /// SEFT: a topology update every this many steps.
    public var updateInterval = 25
    /// SEFT: share p of active weights moved per update, decaying on `dropSchedule`.
    public var dropFraction = 0.2
    public var dropSchedule: DropSchedule = .cosine
    /// SEFT: which active weights are dropped: the smallest |w| (docs/algorithms.md §6), or the
    /// smallest |w| * RMS of the linear's inputs in this step's batch (Wanda's score).
    public var dropCriterion: DropCriterion = .magnitude
    public var learningRate = 5e-4
    public var minLearningRate = 5e-5
    public var warmupSteps = 20
    public var batchSize = 64
    public var seed: UInt64 = 1
    /// `PROMPT<TAB>ANSWER` lines or a `.jsonl` data set; nil = the training split of `tasks`.
    public var data: String? = nil
    /// Tasks to train on, equally weighted, by name (`TaskCatalog`); nil = the model's own
    /// training tasks (`TaskCatalog.defaults`), as `eval`, `prune` and `drop` default to.
    public var tasks: [String]? = nil
    /// Also train the RMSNorm weights.
    public var trainNorms = false
    public var gradClip = 1.0
    public var weightDecay = 0.0
    public var checkpointEvery = 100
    public var logEvery = 25

    public init() {}

    /// One sentence naming the first option out of range.
    public func problem() -> String? {
        if steps < 1 || steps > 10_000_000 { return "--steps must be in 1...10000000 (got \(steps))" }
        if updateInterval < 1 { return "--update-interval must be at least 1 (got \(updateInterval))" }
        if !(dropFraction >= 0 && dropFraction <= 1) { return "--drop-fraction must be in [0, 1] (got \(dropFraction))" }
        if !(learningRate > 0 && learningRate.isFinite) { return "--learning-rate must be positive (got \(learningRate))" }
        if !(minLearningRate >= 0 && minLearningRate <= learningRate) { return "the minimum learning rate must be in [0, learning rate]" }
        if batchSize < 1 || batchSize > 65_536 { return "--batch-size must be in 1...65536 (got \(batchSize))" }
        if !(gradClip > 0 && gradClip.isFinite) { return "the gradient clip must be positive (got \(gradClip))" }
        if warmupSteps < 0 || checkpointEvery < 1 || logEvery < 1 { return "warmup, checkpoint and log intervals must be positive" }
        if let tasks {
            let known = TaskCatalog.names.joined(separator: ", ")
            if tasks.isEmpty { return "--tasks: name at least one of \(known)" }
            if let bad = tasks.first(where: { TaskCatalog.named($0) == nil }) { return "--tasks: unknown task \"\(bad)\" (expected \(known))" }
            if Set(tasks).count != tasks.count { return "--tasks names a task twice" }
            if data != nil { return "--tasks and --data exclude each other: a run trains on tasks or on a data file" }
        }
        return nil
    }
}

/// How SEFT ranks active weights for dropping.
public enum DropCriterion: String, CaseIterable, Codable, Sendable {
    case magnitude, wanda
}

/// What a fine-tuning run has done so far (the checkpoint's state.json).
public struct FinetuneState: Codable, Equatable, Sendable {
    public var options: FinetuneOptions
    public var step = 0
    public var elapsedSeconds = 0.0
    public var tokensSeen = 0
    /// Per topology update: the step, the mean share of each matrix's mask that changed, and the
    /// mean share of each matrix's original kept weights still kept.
    public var churn: [ChurnPoint] = []

    public struct ChurnPoint: Codable, Equatable, Sendable {
        public var step: Int
        public var dropFraction: Double
        public var changed: Double
        public var overlapWithOriginal: Double
    }
}

/// Fine-tunes a pruned model on the masked-diffusion SFT loss, training only the seven block
/// linears (and the norms with `trainNorms`). With `seft` and `frozen-mask` every matrix keeps
/// its sparsity exactly: removed weights and their AdamW moments are held at zero, and SEFT's
/// topology updates move weights group by group (`TopologyUpdate`). Batches of step k depend on
/// (seed, k) alone, so a resumed run equals a straight one bit for bit.
public final class Finetuner {
    public let options: FinetuneOptions
    public let output: String
    public private(set) var model: LLaDAModel
    public private(set) var optimizer: AdamW
    public private(set) var state: FinetuneState
    /// Current and original masks of the block linears (empty for `dense`).
    public private(set) var masks: [ParameterKey: Mask] = [:]
    public let originalMasks: [ParameterKey: Mask]
    let updates: [ParameterKey: TopologyUpdate]
    let source: CheckpointHeader
    public let tokenizer: any Tokenizer
    let dataLines: [PromptAnswer]?
    /// The tasks batches are drawn from (nil with `data`): `options.tasks`, else the model's own.
    public let mix: TaskMix?

    /// The input's last pruning entry (method, pattern, sparsity), which `dense` prunes again with.
    public let pruning: PruningSpec?

    public static func directory(for output: String) -> String { output + ".finetune" }

    /// The input model's provenance history.
    public var sourceProvenance: [String] { source.provenance }

    /// A fresh run on the model at `path`, or (with `resume`) the continuation of the run whose
    /// checkpoint sits next to `output`.
    public init(modelPath path: String, options: FinetuneOptions, output: String, resume: Bool = false) throws {
        if let p = options.problem() { throw TrainingError.recipe("", p) }
        let loaded = try ModelFile.open(path, residency: .resident)
        source = loaded.header
        tokenizer = loaded.tokenizer
        self.output = output
        pruning = Self.lastPruning(loaded.header.provenance)
        dataLines = try options.data.map { try Self.readData($0, tokenizer: loaded.tokenizer, eos: loaded.config.eosTokenID) }
        if options.data != nil {
            mix = nil
        } else {
            // `problem()` has checked the names.
            mix = TaskMix(equal: options.tasks?.compactMap(TaskCatalog.named) ?? TaskCatalog.defaults(provenance: loaded.header.provenance))
        }
        let input = try LLaDAModel(loaded.weights)
        var original: [ParameterKey: Mask] = [:]
        var updates: [ParameterKey: TopologyUpdate] = [:]
        if options.method != .dense {
            for key in input.parameterKeys where key.isBlockLinear {
                let mask = Mask(nonZerosOf: input[key])
                original[key] = mask
                updates[key] = TopologyUpdate(constraint: SparsityConstraint.detect(mask, pattern: pruning?.pattern),
                                              original: mask)
            }
        } else if pruning == nil {
            throw TrainingError.recipe("", "--method dense prunes again as the input was pruned, but \(path) has no prune entry in its provenance")
        }
        originalMasks = original
        self.updates = updates
        if resume {
            let dir = Self.directory(for: output)
            let saved = try CheckpointFolder.loadState(FinetuneState.self, from: dir)
            guard saved.options == options else {
                throw TrainingError.state(dir, "the options differ from the ones this checkpoint was made with; start a fresh run")
            }
            let (m, opt) = try CheckpointFolder.loadModel(from: dir)
            model = m
            optimizer = opt
            optimizer.step = saved.step
            if options.method != .dense {
                let keep = try CheckpointFolder.loadTensors("masks", from: dir)
                masks = Dictionary(uniqueKeysWithValues: original.keys.map { ($0, Mask(nonZerosOf: keep[$0])) })
            }
            state = saved
        } else {
            model = input
            optimizer = AdamW(like: input)
            masks = original
            state = FinetuneState(options: options)
        }
        optimizer.beta1 = 0.9; optimizer.beta2 = 0.99; optimizer.weightDecay = Float(options.weightDecay)
        self.options = options
    }

    /// The parameters this run trains.
    var trainableKeys: [ParameterKey] {
        model.parameterKeys.filter { key in
            if key.isBlockLinear { return true }
            if case .norm = key { return options.trainNorms }
            return false
        }
    }

    var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: options.learningRate, floor: options.minLearningRate,
                             warmupSteps: options.warmupSteps, totalSteps: options.steps)
    }

    /// The examples of step k: lines of the data file, or examples of the mix's tasks drawn as
    /// `pare train` draws them (`TaskMix`).
    func batch(step: Int, rng: inout SplitMix64) throws -> [PromptAnswer] {
        if let lines = dataLines {
            return (0..<options.batchSize).map { _ in lines[Int(rng.next() % UInt64(lines.count))] }
        }
        return try mix!.batch(count: options.batchSize, tokenizer: tokenizer, eos: model.config.eosTokenID, rng: &rng)
    }

    public struct StepReport: Sendable {
        public var step: Int
        public var loss: Double
        public var tokens: Int
        public var churn: FinetuneState.ChurnPoint?
    }

    /// One optimizer step (with a topology update first when SEFT is due one).
    public func trainStep() throws -> StepReport {
        let step = state.step + 1
        let t0 = Date()
        var rng = DataSplit.train.stream(seed: options.seed, index: UInt64(step))
        let examples = try batch(step: step, rng: &rng)
        let noised = MaskedDiffusionLoss.noise(examples, form: .sft, maskID: model.config.maskTokenID, rng: &rng)
        try model.validate(noised.inputs)
        let (logits, cache) = model.forwardForTraining(noised.inputs)
        let (loss, dLogits) = MaskedDiffusionLoss.loss(logits: logits, targets: noised.targets, weights: noised.weights)
        guard loss.isFinite else { throw TrainingError.diverged(step: step, loss: loss) }
        var grads = model.backward(dLogits, cache: cache)

        // SEFT: move the masks with this step's dense gradient, before it is masked.
        var churn: FinetuneState.ChurnPoint?
        if options.method == .seft && step % options.updateInterval == 0 && step < options.steps {
            churn = evolveTopology(step: step, gradients: grads, activations: cache.blocks)
            state.churn.append(churn!)
        }
        // Only the trainable parameters' gradients count, inside their masks.
        let keys = trainableKeys
        for key in keys {
            guard let mask = masks[key] else { continue }
            var g = grads[key]
            mask.apply(to: &g)
            grads[key] = g
        }
        let norm = grads.norm(over: keys)
        if norm > options.gradClip { grads.scale(by: Float(options.gradClip / norm)) }
        optimizer.update(&model, gradients: grads, learningRate: Float(schedule.rate(at: step)), keys: keys, masks: masks)

        let tokens = noised.inputs.reduce(0) { $0 + $1.count }
        state.step = step
        state.tokensSeen += tokens
        state.elapsedSeconds += Date().timeIntervalSince(t0)
        return StepReport(step: step, loss: loss, tokens: tokens, churn: churn)
    }

    /// Drop and grow in every block linear; dropped weights and every changed position's
    /// moments are zeroed (grown weights start at 0).
    func evolveTopology(step: Int, gradients: LLaDAModel, activations: [BlockActivations]) -> FinetuneState.ChurnPoint {
        let p = options.dropSchedule.fraction(options.dropFraction, step: step, of: options.steps)
        var changed = 0.0, overlap = 0.0
        for key in masks.keys.sorted(by: { $0.description < $1.description }) {
            let before = masks[key]!
            var scale: [Float]?
            if options.dropCriterion == .wanda, case .linear(let block, let linear) = key {
                scale = Self.columnRMS(activations[block][linear.site])
            }
            let result = updates[key]!.apply(mask: before, weight: model[key], gradient: gradients[key], fraction: p,
                                             inputScale: scale)
            masks[key] = result.mask
            var w = model[key], m = optimizer.m[key], v = optimizer.v[key]
            for i in result.dropped + result.grown + result.sensitivityPruned { w.data[i] = 0; m.data[i] = 0; v.data[i] = 0 }
            model[key] = w; optimizer.m[key] = m; optimizer.v[key] = v
            changed += result.mask.changedFraction(from: before)
            let original = originalMasks[key]!
            overlap += original.keptCount > 0 ? Double(sharedKept(result.mask, original)) / Double(original.keptCount) : 1
        }
        let n = Double(max(1, masks.count))
        return FinetuneState.ChurnPoint(step: step, dropFraction: p, changed: changed / n, overlapWithOriginal: overlap / n)
    }

    /// sqrt(mean over rows of x_j^2) for every column j of x [tokens, in].
    static func columnRMS(_ x: Tensor) -> [Float] {
        var sums = [Double](repeating: 0, count: x.cols)
        x.data.withUnsafeBufferPointer { p in
            for r in 0..<x.rows { for j in 0..<x.cols { let v = Double(p[r * x.cols + j]); sums[j] += v * v } }
        }
        return sums.map { Float(($0 / Double(max(1, x.rows))).squareRoot()) }
    }

    /// Positions kept by both masks.
    func sharedKept(_ a: Mask, _ b: Mask) -> Int {
        zip(a.words, b.words).reduce(0) { $0 + ($1.0 & $1.1).nonzeroBitCount }
    }

    /// Runs to the last step, or until `maxSeconds` have passed (then checkpoints and returns
    /// false, ready for `resume`). Writes the output model when done.
    @discardableResult
    public func run(maxSeconds: Double? = nil, progress: (String) -> Void = { _ in }) throws -> Bool {
        let start = Date()
        var window = ThroughputWindow()
        while state.step < options.steps {
            let r = try trainStep()
            window.add(loss: r.loss, tokens: r.tokens, flops: 0, gradNorm: 0, clipped: false)
            if let c = r.churn {
                progress(String(format: "step %d: topology update, p %.3f, mask changed %.2f %%, overlap with the input's mask %.2f %%",
                                c.step, c.dropFraction, c.changed * 100, c.overlapWithOriginal * 100))
            }
            if r.step % options.logEvery == 0 || r.step == options.steps {
                progress(String(format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s", r.step, options.steps, window.meanLoss,
                                schedule.rate(at: r.step), window.tokensPerSecond))
                window = ThroughputWindow()
            }
            let outOfTime = maxSeconds.map { Date().timeIntervalSince(start) >= $0 } ?? false
            if r.step % options.checkpointEvery == 0 || outOfTime {
                try saveCheckpoint()
                progress("checkpoint at step \(r.step) -> \(Self.directory(for: output))")
            }
            if outOfTime && r.step < options.steps {
                progress("time budget reached at step \(r.step); continue with --resume")
                return false
            }
        }
        return true
    }

    public func saveCheckpoint() throws {
        var extra: [String: LLaDAModel] = [:]
        if !masks.isEmpty {
            var keep = model.zeroed()
            for (key, mask) in masks { keep[key] = Tensor(shape: [mask.rows, mask.cols], data: (0..<mask.count).map { mask[flat: $0] ? 1 : 0 }) }
            extra["masks"] = keep
        }
        try CheckpointFolder.save(model: model, optimizer: optimizer, tokenizer: source.tokenizer, extra: extra,
                                  state: state, to: Self.directory(for: output))
    }

    /// The finished model: re-pruned first for `dense`, then written with the input's storage
    /// precision and a provenance entry holding every option.
    public func finish(calibration: CalibrationSet? = nil, progress: (String) -> Void = { _ in }) throws -> LLaDAModel {
        var final = model
        if options.method == .dense, let spec = pruning {
            let calib = try calibration ?? CalibrationSet.tasks(mix?.tasks ?? TaskCatalog.defaults(provenance: source.provenance),
                                                                tokenizer: tokenizer, eos: model.config.eosTokenID)
            _ = try ModelPruner(spec: spec, calibration: calib).prune(&final, progress: progress)
        }
        var entry: [String: Any] = [
            "op": "finetune", "method": options.method.rawValue, "steps": options.steps,
            "update_interval": options.updateInterval, "drop_fraction": options.dropFraction,
            "drop_schedule": options.dropSchedule.rawValue, "drop_criterion": options.dropCriterion.rawValue, "learning_rate": options.learningRate,
            "min_learning_rate": options.minLearningRate, "warmup_steps": options.warmupSteps,
            "batch_size": options.batchSize, "seed": options.seed, "data": options.data.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "tasks:train",
            "train_norms": options.trainNorms, "grad_clip": options.gradClip, "weight_decay": options.weightDecay,
            "train_seconds": (state.elapsedSeconds * 10).rounded() / 10, "tokens_seen": state.tokensSeen,
        ]
        // The tasks as `train` records its mix, so the result defaults to them (`TaskCatalog.trained`).
        if let mix { entry["tasks"] = mix.weights }
        if let c = state.churn.last { entry["final_overlap_with_input_mask"] = (c.overlapWithOriginal * 1e4).rounded() / 1e4 }
        try ModelFile.write(final, tokenizer: source.tokenizer, to: output, dtype: ModelFile.dtypes(like: source),
                            provenance: { source.provenance + [Checkpoint.provenanceEntry(entry)] })
        return final
    }

    /// The most recent `prune` entry of a provenance history, as a spec.
    static func lastPruning(_ history: [String]) -> PruningSpec? {
        for text in history.reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  object["op"] as? String == "prune",
                  let method = (object["method"] as? String).flatMap(PruningMethod.init(rawValue:)),
                  let pattern = (object["pattern"] as? String).flatMap(SparsityPattern.init),
                  let sparsity = object["sparsity"] as? Double else { continue }
            var spec = PruningSpec()
            spec.method = method; spec.pattern = pattern; spec.sparsity = sparsity
            return spec
        }
        return nil
    }

    /// A `.jsonl` data set or `PROMPT<TAB>ANSWER` lines (a line without a tab is all answer),
    /// read as calibration files are; the answer gets EOS padding up to the 12-token generation region, at least one.
    static func readData(_ path: String, tokenizer: any Tokenizer, eos: Int) throws -> [PromptAnswer] {
        guard FileManager.default.isReadableFile(atPath: path) else { throw TrainingError.recipe(path, "cannot read the data file") }
        return try CalibrationSet.file(path, limit: nil, tokenizer: tokenizer).samples.map { sample in
            PromptAnswer(prompt: sample.prompt,
                         answer: sample.answer + [Int](repeating: eos, count: max(1, 12 - sample.answer.count)))
        }
    }
}
