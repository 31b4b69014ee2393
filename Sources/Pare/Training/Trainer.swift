import Foundation

/// Masked-diffusion training on the reference tasks (docs/algorithms.md §2), with AdamW,
/// warmup + cosine, gradient clipping, periodic evaluation and resumable checkpoints.
///
/// Determinism: the batch and the masks of step k come from a generator seeded by
/// (recipe seed, k) alone, so N steps + resume + N steps equals 2N steps straight.
public final class Trainer {
    public let recipe: TrainingRecipe
    public let output: String
    public private(set) var model: LLaDAModel
    public private(set) var optimizer: AdamW
    public private(set) var state: TrainingState
    let tokenizer = CharTokenizer(vocab: CharTokenizer.referenceVocab)
    let mix: TaskMix
    /// History of the `init_from` model, continued by this run's entry.
    var baseProvenance: [String] = []

    /// A fresh run: from a random initialisation, or from the recipe's `init_from` model.
    public init(recipe: TrainingRecipe, output: String) throws {
        if let p = recipe.problem() { throw TrainingError.recipe("", p) }
        self.recipe = recipe
        self.output = output
        mix = TaskMix(try recipe.taskMix())
        if let base = recipe.initFrom {
            // The header alone decides a shape mismatch; the weights are read only when they fit.
            let reader = try CheckpointReader(path: base)
            guard reader.header.config == recipe.modelConfig else {
                let differing = reader.header.config.differences(from: recipe.modelConfig)
                    .map { "\($0.name) \($0.mine) in the file, \($0.theirs) in the recipe" }
                throw TrainingError.recipe("", "init_from \(base) does not have the recipe's shape: "
                    + (differing.isEmpty ? "the configs differ" : differing.joined(separator: ", ")))
            }
            let checkpoint = try reader.readAll()
            model = try LLaDAModel(checkpoint: checkpoint)
            baseProvenance = checkpoint.provenance
        } else {
            model = LLaDAModel.random(config: recipe.modelConfig, seed: recipe.seed, std: Float(recipe.model.initStd),
                                      scheme: recipe.model.initScheme)
        }
        optimizer = Self.makeOptimizer(recipe, model)
        state = TrainingState(recipe: recipe)
    }

    /// Continues the run whose checkpoint sits next to `output`; the recipe must be unchanged.
    public init(resuming recipe: TrainingRecipe, output: String) throws {
        self.recipe = recipe
        self.output = output
        mix = TaskMix(try recipe.taskMix())
        let (m, opt, st) = try TrainingCheckpoint.load(output: output)
        if let base = recipe.initFrom { baseProvenance = try CheckpointReader.inspect(path: base).provenance }
        guard st.recipe == recipe else {
            throw TrainingError.state(TrainingCheckpoint.directory(for: output),
                                      "the recipe differs from the one this checkpoint was trained with; start a fresh run")
        }
        model = m
        optimizer = Self.makeOptimizer(recipe, m)
        optimizer.m = opt.m; optimizer.v = opt.v; optimizer.step = opt.step
        state = st
    }

    static func makeOptimizer(_ r: TrainingRecipe, _ model: LLaDAModel) -> AdamW {
        var o = AdamW(like: model)
        o.beta1 = Float(r.beta1); o.beta2 = Float(r.beta2); o.weightDecay = Float(r.weightDecay)
        return o
    }

    var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: recipe.learningRate, floor: recipe.minLearningRate,
                             warmupSteps: recipe.warmupSteps, totalSteps: recipe.steps)
    }

    /// The examples of step k (1-based), drawn by task weight.
    func batch(step: Int, rng: inout SplitMix64) throws -> [PromptAnswer] {
        try mix.batch(count: recipe.batchSize, tokenizer: tokenizer, eos: model.config.eosTokenID,
                      kvKeyedShare: recipe.kvKeyedShare(at: step), rng: &rng)
    }

    /// One optimizer step; returns the loss, the gradient norm before clipping and the lengths
    /// of the sequences processed.
    func trainStep(_ step: Int) throws -> (loss: Double, gradNorm: Double, lengths: [Int]) {
        var rng = DataSplit.train.stream(seed: recipe.seed, index: UInt64(step))
        let examples = try batch(step: step, rng: &rng)
        let noised = MaskedDiffusionLoss.noise(examples, form: recipe.loss, maskID: model.config.maskTokenID,
                                               pretrainShare: recipe.pretrainShare, rng: &rng)
        try model.validate(noised.inputs)
        let (logits, cache) = model.forwardForTraining(noised.inputs)
        let (loss, dLogits) = MaskedDiffusionLoss.loss(logits: logits, targets: noised.targets, weights: noised.weights)
        guard loss.isFinite else { throw TrainingError.diverged(step: step, loss: loss) }
        var grads = model.backward(dLogits, cache: cache)
        let norm = grads.globalNorm
        if norm > recipe.gradClip { grads.scale(by: Float(recipe.gradClip / norm)) }
        optimizer.update(&model, gradients: grads, learningRate: Float(schedule.rate(at: step)))
        return (loss, norm, noised.inputs.map(\.count))
    }

    /// Accuracy per task on `evalSamples` test samples, one token per step (fixed sampler).
    public func evaluate() throws -> [String: Double] {
        var evaluator = TaskEvaluator(model: model, tokenizer: tokenizer, sampling: SamplingOptions())
        evaluator.samples = recipe.evalSamples
        evaluator.taskGenerationLengths = true
        let report = try evaluator.run(tasks: mix.tasks)
        return Dictionary(uniqueKeysWithValues: report.tasks.map { ($0.task, $0.accuracy) })
    }

    /// Trains until the recipe's last step, or until `maxSeconds` of this call have passed
    /// (then it checkpoints and returns, ready for `--resume`). Returns true when finished.
    @discardableResult
    public func run(maxSeconds: Double? = nil, stopAtStep: Int? = nil, progress: (String) -> Void = { _ in }) throws -> Bool {
        let start = Date()
        let lastStep = min(recipe.steps, stopAtStep ?? recipe.steps)
        var log = ThroughputWindow(), sinceEval = ThroughputWindow()
        while state.step < lastStep {
            let step = state.step + 1
            let t0 = Date()
            let (loss, gradNorm, lengths) = try trainStep(step)
            let tokens = lengths.reduce(0, +)
            state.elapsedSeconds += Date().timeIntervalSince(t0)
            state.step = step
            state.tokensSeen += tokens
            let flops = 3 * ForwardFLOPs.count(config: model.config, lengths: lengths)
            log.add(loss: loss, tokens: tokens, flops: flops, gradNorm: gradNorm, clipped: gradNorm > recipe.gradClip)
            sinceEval.add(loss: loss, tokens: tokens, flops: flops, gradNorm: gradNorm, clipped: gradNorm > recipe.gradClip)

            if step % recipe.logEvery == 0 || step == lastStep {
                let eta = log.seconds / Double(log.steps) * Double(recipe.steps - step)
                // Mean gradient norm before clipping, and the share of steps that clipping scaled down.
                progress(String(format: "step %d/%d  loss %.4f  |g| %.2f (%.0f%% clipped)  lr %.2e  %.0f tok/s  %.2f GFLOP/s  ETA %@",
                                step, recipe.steps, log.meanLoss, log.meanGradNorm, log.clippedShare * 100, schedule.rate(at: step),
                                log.tokensPerSecond, log.gflops, Self.duration(eta)))
                log = ThroughputWindow()
            }
            if step % recipe.evalEvery == 0 || step == recipe.steps {
                let acc = try evaluate()
                state.curve.append(CurvePoint(step: step, loss: sinceEval.meanLoss, learningRate: schedule.rate(at: step),
                                              accuracy: acc, elapsedSeconds: state.elapsedSeconds))
                progress("eval step \(step): " + mix.tasks.map { String(format: "%@ %.1f%%", $0.name, (acc[$0.name] ?? 0) * 100) }.joined(separator: "  "))
                sinceEval = ThroughputWindow()
            }
            let outOfTime = maxSeconds.map { Date().timeIntervalSince(start) >= $0 } ?? false
            if step % recipe.checkpointEvery == 0 || step == lastStep || outOfTime {
                try TrainingCheckpoint.save(model: model, optimizer: optimizer, state: state, output: output)
                progress("checkpoint at step \(step) -> \(TrainingCheckpoint.directory(for: output))")
            }
            if outOfTime && step < recipe.steps {
                progress("time budget reached at step \(step); continue with --resume")
                return false
            }
        }
        if state.step >= recipe.steps {
            try writeFinalModel()
            return true
        }
        return false
    }

    /// Writes the trained model (recipe's storage precision) with its training provenance.
    public func writeFinalModel() throws {
        let r = recipe
        let entry: [String: Any] = [
            "op": "train", "init_from": r.initFrom.map { URL(fileURLWithPath: $0).lastPathComponent } ?? NSNull(), "steps": r.steps, "batch_size": r.batchSize, "learning_rate": r.learningRate,
            "loss": r.loss.rawValue, "pretrain_share": r.pretrainShare,
            "kv_keyed_share": r.kvKeyedShare, "kv_keyed_until": r.kvKeyedUntil, "seed": r.seed, "tasks": r.tasks,
            "train_seconds": (state.elapsedSeconds * 10).rounded() / 10, "tokens_seen": state.tokensSeen,
            "tokens_per_second": (Double(state.tokensSeen) / max(1e-9, state.elapsedSeconds)).rounded(),
            // The learning curve travels with the model: `pare inspect --json` shows it.
            "curve": state.curve.map { p in
                ["step": p.step, "loss": (p.loss * 1e4).rounded() / 1e4, "accuracy": p.accuracy] as [String: Any]
            },
        ]
        try model.checkpoint(vocab: tokenizer.vocab, provenance: baseProvenance + [Checkpoint.provenanceEntry(entry)])
            .save(to: output, dtype: r.store)
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}

/// Loss and throughput accumulated since the window opened.
struct ThroughputWindow {
    let opened = Date()
    var steps = 0, tokens = 0, lossSum = 0.0, flops = 0.0, gradNormSum = 0.0, clippedSteps = 0

    mutating func add(loss: Double, tokens t: Int, flops f: Double, gradNorm: Double, clipped: Bool) {
        steps += 1; tokens += t; lossSum += loss; flops += f; gradNormSum += gradNorm
        if clipped { clippedSteps += 1 }
    }
    var meanGradNorm: Double { steps > 0 ? gradNormSum / Double(steps) : 0 }
    var clippedShare: Double { steps > 0 ? Double(clippedSteps) / Double(steps) : 0 }
    var seconds: Double { max(1e-9, Date().timeIntervalSince(opened)) }
    var meanLoss: Double { steps > 0 ? lossSum / Double(steps) : 0 }
    var tokensPerSecond: Double { Double(tokens) / seconds }
    var gflops: Double { flops / seconds / 1e9 }
}
