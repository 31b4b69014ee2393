import Foundation
import Yams

/// A training recipe (`experiments/NAME.yaml`): the model shape, the data mix and the optimizer.
public struct TrainingRecipe: Codable, Equatable, Sendable {
    public struct ModelShape: Codable, Equatable, Sendable {
        public var dModel = 128
        public var nLayers = 8
        public var nHeads = 4
        public var nKVHeads: Int? = nil
        public var dFF = 344
        public var maxSeqLen = 64
        public var ropeTheta = 10_000.0
        public var normEps = 1e-5
        public var initStd = 0.02
        public var initScheme: InitScheme = .normal

        enum CodingKeys: String, CodingKey, CaseIterable {
            case dModel = "d_model", nLayers = "n_layers", nHeads = "n_heads", nKVHeads = "n_kv_heads", dFF = "d_ff"
            case maxSeqLen = "max_seq_len", ropeTheta = "rope_theta", normEps = "norm_eps", initStd = "init_std"
            case initScheme = "init"
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = ModelShape()
            dModel = try c.decode(.dModel, or: d.dModel)
            nLayers = try c.decode(.nLayers, or: d.nLayers)
            nHeads = try c.decode(.nHeads, or: d.nHeads)
            nKVHeads = try c.decodeIfPresent(Int.self, forKey: .nKVHeads)
            dFF = try c.decode(.dFF, or: d.dFF)
            maxSeqLen = try c.decode(.maxSeqLen, or: d.maxSeqLen)
            ropeTheta = try c.decode(.ropeTheta, or: d.ropeTheta)
            normEps = try c.decode(.normEps, or: d.normEps)
            initStd = try c.decode(.initStd, or: d.initStd)
            initScheme = try c.decode(.initScheme, or: d.initScheme)
        }
    }

    public var model = ModelShape()
    /// Sampling weight of each task (`TaskCatalog`) in a batch.
    public var tasks: [String: Double] = ["add": 1, "kv": 1, "rev": 1, "chain": 1]
    public var loss: MaskedDiffusionLoss.Form = .sft
    /// With the SFT loss: share of examples masked in the pretraining form (prompt included).
    public var pretrainShare = 0.0
    /// kv curriculum: share of kv examples drawn keyed (`ReferenceTask.kvSample(keyed:)`) in
    /// every step before `kvKeyedUntil`; plain kv from that step on. Held constant on purpose:
    /// the keyed examples keep the two fetch circuits rewarded until retrieval is built on them.
    public var kvKeyedShare = 0.0
    public var kvKeyedUntil = 0
    /// Start from this model file instead of a random initialisation (a second training stage);
    /// its shape must be the recipe's. Relative paths are taken from the working directory.
    public var initFrom: String? = nil
    public var batchSize = 64
    public var steps = 1000
    public var learningRate = 2e-3
    public var minLearningRate = 1e-4
    public var warmupSteps = 100
    public var weightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.99
    public var gradClip = 1.0
    public var seed: UInt64 = 0
    public var checkpointEvery = 500
    public var evalEvery = 500
    public var evalSamples = 100
    public var logEvery = 50
    /// Storage precision of the final model.
    public var store: StorageDType = .float32

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, tasks, loss, steps, seed, store, pretrainShare = "pretrain_share"
        case kvKeyedShare = "kv_keyed_share", kvKeyedUntil = "kv_keyed_until", initFrom = "init_from"
        case batchSize = "batch_size", learningRate = "learning_rate", minLearningRate = "min_learning_rate"
        case warmupSteps = "warmup_steps", weightDecay = "weight_decay", beta1, beta2, gradClip = "grad_clip"
        case checkpointEvery = "checkpoint_every", evalEvery = "eval_every", evalSamples = "eval_samples"
        case logEvery = "log_every"
    }

    /// Missing keys keep their defaults, so a recipe names only what it changes.
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingRecipe()
        model = try c.decode(.model, or: d.model)
        tasks = try c.decode(.tasks, or: d.tasks)
        loss = try c.decode(.loss, or: d.loss)
        pretrainShare = try c.decode(.pretrainShare, or: d.pretrainShare)
        kvKeyedShare = try c.decode(.kvKeyedShare, or: d.kvKeyedShare)
        kvKeyedUntil = try c.decode(.kvKeyedUntil, or: d.kvKeyedUntil)
        initFrom = try c.decodeIfPresent(String.self, forKey: .initFrom)
        batchSize = try c.decode(.batchSize, or: d.batchSize)
        steps = try c.decode(.steps, or: d.steps)
        learningRate = try c.decode(.learningRate, or: d.learningRate)
        minLearningRate = try c.decode(.minLearningRate, or: d.minLearningRate)
        warmupSteps = try c.decode(.warmupSteps, or: d.warmupSteps)
        weightDecay = try c.decode(.weightDecay, or: d.weightDecay)
        beta1 = try c.decode(.beta1, or: d.beta1)
        beta2 = try c.decode(.beta2, or: d.beta2)
        gradClip = try c.decode(.gradClip, or: d.gradClip)
        seed = try c.decode(.seed, or: d.seed)
        checkpointEvery = try c.decode(.checkpointEvery, or: d.checkpointEvery)
        evalEvery = try c.decode(.evalEvery, or: d.evalEvery)
        evalSamples = try c.decode(.evalSamples, or: d.evalSamples)
        logEvery = try c.decode(.logEvery, or: d.logEvery)
        store = try c.decode(.store, or: d.store)
    }

    /// Reads and validates a YAML recipe.
    public static func load(path: String) throws -> TrainingRecipe {
        let recipe: TrainingRecipe
        do {
            recipe = try YAMLDecoder().decode(TrainingRecipe.self, from: try RecipeText.read(path))
        } catch {
            throw TrainingError.recipe(path, "\(error)")
        }
        if let p = recipe.problem() { throw TrainingError.recipe(path, p) }
        return recipe
    }

    /// Share of kv examples drawn keyed at 1-based step `step`.
    public func kvKeyedShare(at step: Int) -> Double {
        step < kvKeyedUntil ? kvKeyedShare : 0
    }

    public var modelConfig: ModelConfig {
        let vocab = CharTokenizer.referenceVocab
        return ModelConfig(vocabSize: vocab.count, dModel: model.dModel, nLayers: model.nLayers, nHeads: model.nHeads,
                           nKVHeads: model.nKVHeads ?? model.nHeads, dFF: model.dFF, maxSeqLen: model.maxSeqLen,
                           maskTokenID: 1, eosTokenID: 0, ropeTheta: model.ropeTheta, normEps: model.normEps)
    }

    /// The task mix as (task, weight), in the tasks' canonical order.
    public func taskMix() throws -> [(any TaskDefinition, Double)] {
        try tasks.keys.sorted().forEach {
            if TaskCatalog.named($0) == nil {
                throw TrainingError.recipe("", "unknown task \"\($0)\" (known: \(TaskCatalog.names.joined(separator: ", ")))")
            }
        }
        return TaskCatalog.all.compactMap { t in tasks[t.name].flatMap { $0 > 0 ? (t, $0) : nil } }
    }

    public func problem() -> String? {
        if let p = modelConfig.problem() { return "model: \(p)" }
        if (try? taskMix())?.isEmpty ?? true { return "tasks: name at least one of \(TaskCatalog.names.joined(separator: ", ")) with a positive weight" }
        if !(0...1).contains(pretrainShare) { return "pretrain_share must be in [0, 1]" }
        if pretrainShare > 0 && loss != .sft { return "pretrain_share applies to loss: sft only" }
        if !(0...1).contains(kvKeyedShare) { return "kv_keyed_share must be in [0, 1]" }
        if kvKeyedUntil < 0 { return "kv_keyed_until must be >= 0" }
        if !(1...65_536).contains(batchSize) { return "batch_size must be in 1...65536 (got \(batchSize))" }
        if !(1...1_000_000_000).contains(steps) { return "steps must be in 1...1000000000 (got \(steps))" }
        if !(learningRate > 0 && learningRate.isFinite) || !(minLearningRate >= 0) || minLearningRate > learningRate {
            return "learning_rate must be > 0 and min_learning_rate in [0, learning_rate]"
        }
        if warmupSteps < 0 { return "warmup_steps must be >= 0" }
        if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) { return "beta1 and beta2 must be in [0, 1)" }
        if checkpointEvery < 1 || evalEvery < 1 || logEvery < 1 { return "checkpoint_every, eval_every and log_every must be at least 1" }
        if !(1...1_000_000).contains(evalSamples) { return "eval_samples must be in 1...1000000 (got \(evalSamples))" }
        if !(gradClip > 0 && gradClip.isFinite) { return "grad_clip must be a finite number > 0 (got \(gradClip))" }
        if let bad = tasks.first(where: { !$0.value.isFinite || $0.value < 0 }) {
            return "tasks: weight of \(bad.key) must be a finite number >= 0 (got \(bad.value))"
        }
        return nil
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case recipe(String, String)
    case state(String, String)
    case diverged(step: Int, loss: Double)

    public var description: String {
        switch self {
        case .recipe(let path, let why): return path.isEmpty ? "recipe: \(why)" : "\(path): \(why)"
        case .state(let path, let why): return "\(path): \(why)"
        case .diverged(let step, let loss): return "training diverged at step \(step) (loss \(loss)); lower learning_rate"
        }
    }
}
