import Foundation
import Glibc

/// One cell of a report: a model variant under one evaluation. Its result is cached in
/// `cells/<key>.json`, where the key hashes everything the result depends on (`Inputs`), so a
/// finished cell is never recomputed and a changed recipe, model file or algorithm version
/// never reuses a stale one.
public struct ReportCell: Sendable {
    /// Bump when a change to Pare changes what a cell computes for the same inputs (a
    /// pruner, the depth criteria, a sampler, the evaluator); every cached cell then misses.
    /// 2: cells evaluate the recipe's tasks at their own generation lengths, keep the
    /// decode-order figures, and know the seft variant kind.
    public static let algorithmVersion = 2
    /// Bump when SEFT computes something else for the same inputs; only seft cells then miss.
    public static let seftVersion = 2

    /// Everything a cell's result depends on, hashed into its cache key.
    public struct Inputs: Codable, Equatable, Sendable {
        public var algorithmVersion: Int
        /// FNV-1a 64 of the model file's bytes.
        public var modelHash: String
        /// The tasks evaluated and calibrated on, by name.
        public var tasks: [String]
        public var samples: Int
        public var seed: UInt64
        public var calibrationSamples: Int
        public var calibrationMaskRatio: Double
        public var variant: ReportRecipe.Variant
        public var evaluation: ReportRecipe.Evaluation
        /// seft variants only (absent for the others, whose keys it leaves alone): 2 = SEFT
        /// trains on the recipe's tasks through `pare train`'s data path (`TaskMix`); before,
        /// it drew the reference tasks its own way.
        public var seftVersion: Int?
        /// Cells that time kernels (a kernel benchmark, or decoding on chosen kernels) only:
        /// `SparseKernels.version`, so faster kernels are measured again rather than read from
        /// the cache. Absent for the others, whose keys it leaves alone.
        public var kernelsVersion: Int?

        public init(algorithmVersion: Int, modelHash: String, tasks: [String], samples: Int, seed: UInt64,
                    calibrationSamples: Int, calibrationMaskRatio: Double, variant: ReportRecipe.Variant,
                    evaluation: ReportRecipe.Evaluation) {
            self.algorithmVersion = algorithmVersion; self.modelHash = modelHash; self.tasks = tasks
            self.samples = samples; self.seed = seed; self.calibrationSamples = calibrationSamples
            self.calibrationMaskRatio = calibrationMaskRatio; self.variant = variant; self.evaluation = evaluation
            seftVersion = variant.kind == "seft" ? ReportCell.seftVersion : nil
            kernelsVersion = evaluation.bench != nil || evaluation.kernels != nil ? SparseKernels.version : nil
        }

        /// The inputs as canonical JSON (sorted keys, no whitespace).
        public var canonicalJSON: Data {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try! e.encode(self)
        }

        /// The cache key: FNV-1a 64 of the canonical JSON, in hex.
        public var key: String { FNV1a64.hex(canonicalJSON) }
    }

    /// What a cell computed. Times are measurements, not inputs: everything else is a
    /// deterministic function of the inputs.
    public struct Result: Codable, Sendable {
        public var key: String
        public var inputs: Inputs
        public var variantLabel: String
        public var evaluationLabel: String
        /// Blocks dropped, in the source model's numbering (drop variants).
        public var dropped: [Int]?
        /// Share of zeros over the block linears, as measured on the variant.
        public var sparsity: Double?
        public var tasks: [TaskEvaluator.TaskResult]
        public var macroAccuracy: Double
        public var meanNFE: Double
        public var nllPerToken: Double?
        /// Per linear, for pruned variants.
        public var layers: [LayerPruningReport]?
        /// The timing of a kernel benchmark cell (`weight` variant).
        public var kernel: KernelBenchmark.Cell?
        public var evaluationSeconds: Double
        public var cellSeconds: Double
    }

    public var inputs: Inputs
    /// Where a seft variant's fine-tuned model is kept (`<key of the variant>.seft.h5`), so
    /// that the report's other evaluations of it reuse it; nil keeps nothing.
    public var modelCache: String?
    public init(inputs: Inputs, modelCache: String? = nil) { self.inputs = inputs; self.modelCache = modelCache }

    /// "4096x4096" as (out, in), each in 1...65536.
    static func parseShape(_ text: String) -> (out: Int, inputs: Int)? {
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ (1...65_536).contains($0) }) else { return nil }
        return (parts[0], parts[1])
    }

    /// Times the sparse kernel against dense on a random weight (a `weight` variant under a
    /// `bench: kernels` evaluation): one cell of `pare bench kernels`.
    public func benchmark(progress: (String) -> Void = { _ in }) throws -> Result {
        let start = Date()
        let v = inputs.variant
        guard let shape = v.shape.flatMap(Self.parseShape) else { throw ReportError.badCell("\(v.label): bad shape") }
        var bench = KernelBenchmark()
        bench.shapes = [.init(out: shape.out, inputs: shape.inputs)]
        bench.tokens = [inputs.evaluation.tokens ?? 1]
        bench.seed = inputs.seed
        if let p = v.pattern, case .nOfM(let n, let m)? = SparsityPattern(p) {
            bench.patterns = [.nOfM(n: m - n, m: m)]        // the benchmark names what is kept
        } else {
            bench.patterns = [.unstructured(sparsity: v.sparsity ?? 0)]
        }
        guard let cell = bench.run().cells.first else { throw ReportError.badCell("\(v.label): the benchmark measured nothing") }
        progress(String(format: "%@ / %@: sparse %.3g s, dense %.3g s, speedup %.2fx (%@)", v.label, inputs.evaluation.label,
                        cell.sparseSeconds, cell.denseSeconds, cell.speedup, cell.kernel))
        return Result(key: inputs.key, inputs: inputs, variantLabel: v.label, evaluationLabel: inputs.evaluation.label,
                      dropped: nil, sparsity: cell.sparsity, tasks: [], macroAccuracy: 0, meanNFE: 0, nllPerToken: nil, layers: nil,
                      kernel: cell, evaluationSeconds: cell.sparseSeconds, cellSeconds: Date().timeIntervalSince(start))
    }

    /// Makes the variant from `source` and evaluates it.
    public func compute(source: LoadedModel, progress: (String) -> Void = { _ in }) throws -> Result {
        let start = Date()
        let v = inputs.variant, e = inputs.evaluation
        let dense = source.weights, tokenizer = source.tokenizer
        let tasks = try inputs.tasks.map { name -> any TaskDefinition in
            guard let t = TaskCatalog.named(name) else { throw ReportError.badCell("unknown task \(name)") }
            return t
        }
        let calibration = try CalibrationSet.tasks(tasks, count: inputs.calibrationSamples, maskRatio: inputs.calibrationMaskRatio,
                                                   seed: inputs.seed, tokenizer: tokenizer, eos: dense.config.eosTokenID)
        var model: any ModelWeights = dense
        var dropped: [Int]?
        var layers: [LayerPruningReport]?
        switch v.kind {
        case "prune", "seft":
            guard var resident = dense as? LLaDAModel else {
                throw ReportError.badCell("\(v.label): pruning in a report needs the model resident in memory")
            }
            let spec = v.pruningSpec
            if let p = spec.problem(for: dense.config) { throw ReportError.badCell("\(v.label): \(p)") }
            if v.kind == "seft" {
                model = try seft(source: source, spec: spec, calibration: calibration, steps: v.steps ?? 0, progress: progress)
            } else {
                layers = try ModelPruner(spec: spec, calibration: calibration).prune(&resident).layers
                model = resident
            }
        case "drop":
            let chosen = try v.droppedBlocks(of: dense, calibration: calibration, seed: inputs.seed)
            dropped = chosen
            model = try BlockDropper.drop(chosen, from: dense)
        default:
            break
        }
        var sparsity: Double?
        if v.kind == "prune" || v.kind == "seft" {
            var zeros = 0.0, total = 0.0
            for i in 0..<model.blockCount {
                let block = try model.block(i)
                for l in BlockLinear.allCases {
                    let c = Double(block[l].outFeatures * block[l].inFeatures)
                    zeros += block[l].sparsity * c; total += c
                }
            }
            sparsity = total > 0 ? zeros / total : 0
        }

        var evaluator = TaskEvaluator(model: model, tokenizer: tokenizer, sampling: e.options)
        evaluator.samples = inputs.samples
        evaluator.seed = inputs.seed
        evaluator.likelihood = e.likelihood ?? false
        evaluator.taskGenerationLengths = true
        if let k = e.kernels.flatMap(KernelChoice.init(rawValue:)) {
            evaluator.model = try PlacedModel(model, placement: KernelPlacement(k, tokens: try evaluator.typicalForwardTokens(tasks: tasks)))
        }
        let report = try evaluator.run(tasks: tasks)
        let nll = report.tasks.compactMap(\.nllPerToken)
        let result = Result(key: inputs.key, inputs: inputs, variantLabel: v.label, evaluationLabel: e.label,
                            dropped: dropped, sparsity: sparsity, tasks: report.tasks, macroAccuracy: report.macroAccuracy,
                            meanNFE: report.tasks.map(\.nfeMean).reduce(0, +) / Double(max(1, report.tasks.count)),
                            nllPerToken: nll.isEmpty ? nil : nll.reduce(0, +) / Double(nll.count),
                            layers: layers, kernel: nil, evaluationSeconds: report.wallSeconds,
                            cellSeconds: Date().timeIntervalSince(start))
        progress(String(format: "%@ / %@: accuracy %.1f %%, NFE %.2f%@, %.1f s", result.variantLabel, result.evaluationLabel,
                        result.macroAccuracy * 100, result.meanNFE,
                        result.nllPerToken.map { String(format: ", NLL/token %.4f", $0) } ?? "", result.cellSeconds))
        return result
    }
}

extension ReportCell {
    /// A seft variant: the source pruned by `spec`, then repaired by `pare finetune --method
    /// seft --tasks <the recipe's tasks>` for `steps` steps with its other defaults (README
    /// "Sparse fine-tuning"). The fine-tuner works on files, so the pruned and the repaired model
    /// pass through a temporary folder, removed afterwards. The repaired model is the file as
    /// written (in the source's storage precision), read back: with `modelCache` it is kept
    /// there, and every evaluation of the same variant reads it instead of fine-tuning again.
    func seft(source: LoadedModel, spec: PruningSpec, calibration: CalibrationSet, steps: Int,
              progress: (String) -> Void = { _ in }) throws -> LLaDAModel {
        let cached = modelCache.map { $0 + "/" + variantKey + ".seft.h5" }
        // One process fine-tunes a variant at a time (`make -j2` runs two of its cells at
        // once): the others wait on its lock, then read what it wrote. The OS drops the lock
        // of a process that dies.
        var lock: Int32 = -1
        defer { if lock >= 0 { close(lock) } }
        if let cached, let cache = modelCache {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            lock = open(cached + ".lock", O_CREAT | O_RDWR, 0o644)
            if lock >= 0 { _ = flock(lock, LOCK_EX) }
            if FileManager.default.fileExists(atPath: cached) {
                progress("\(inputs.variant.label): reusing the fine-tuned model \(cached)")
                return try LLaDAModel(ModelFile.open(cached, residency: .resident).weights)
            }
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pare-report-\(getpid())-\(inputs.key)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pruned = folder + "/pruned.h5"
        _ = try ModelPruner(spec: spec, calibration: calibration).prune(source, writingTo: pruned)
        var options = FinetuneOptions()
        options.method = .seft
        options.steps = steps
        options.tasks = inputs.tasks
        options.checkpointEvery = steps        // one checkpoint, at the end: nothing resumes it
        options.logEvery = steps
        let repaired = folder + "/seft.h5"
        let tuner = try Finetuner(modelPath: pruned, options: options, output: repaired)
        try tuner.run()
        _ = try tuner.finish()
        if let cached {
            // Copied to a temporary name, then renamed: no cell ever reads half a file.
            let partial = cached + ".\(getpid()).tmp"
            try? FileManager.default.removeItem(atPath: partial)
            try FileManager.default.copyItem(atPath: repaired, toPath: partial)
            if rename(partial, cached) != 0 { try? FileManager.default.removeItem(atPath: partial) }
        }
        return try LLaDAModel(ModelFile.open(repaired, residency: .resident).weights)
    }

    /// The key of this cell's variant alone: the inputs without the evaluation.
    var variantKey: String {
        var v = inputs
        v.evaluation = ReportRecipe.Evaluation()
        return "variant-" + v.key
    }
}

extension ReportCell.Result {
    /// Decode-order figures (docs/algorithms.md §3.9) averaged over the tasks, each task weighing
    /// the same as in the macro accuracy.
    private func mean(_ value: (DecodeOrderSummary) -> Double?) -> Double? {
        let values = tasks.compactMap { value($0.decodeOrder) }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Share of commits at the leftmost still-masked position (1 = left to right).
    public var leftmostShare: Double? { mean { $0.commits == 0 ? nil : $0.leftmostShare } }
    /// Rank correlation of commit step against position (1 = left to right, -1 = right to left).
    public var spearman: Double? { mean(\.meanSpearman) }
    /// Answer tokens committed per forward pass.
    public var tokensPerStep: Double? { tasks.isEmpty ? nil : tasks.map(\.tokensPerStep).reduce(0, +) / Double(tasks.count) }
    /// Share of answers Prophet ended early, and the mean step at which it did.
    public var prophetShare: Double? { inputs.evaluation.prophet == true ? mean(\.prophetShare) : nil }
    public var prophetStep: Double? { mean(\.meanProphetStep) }
}

/// FNV-1a, 64 bits: a small, well-known, dependency-free hash for cache keys (not for security).
public enum FNV1a64 {
    public static let offset: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    public static func update(_ h: inout UInt64, _ bytes: UnsafeRawBufferPointer) {
        for b in bytes { h = (h ^ UInt64(b)) &* prime }
    }

    public static func hex(_ data: Data) -> String {
        var h = offset
        data.withUnsafeBytes { update(&h, $0) }
        return String(format: "%016llx", h)
    }

    /// The hash of a file's bytes, read in 1 MiB pieces.
    public static func file(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ReportError.badRecipe("cannot read the model \(path)") }
        defer { try? handle.close() }
        var h = offset
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { update(&h, $0) }
        }
        return String(format: "%016llx", h)
    }
}
