import Foundation
import Yams

/// The README's results table: the dense model against pruned and block-dropped variants,
/// every variant made from the same dense model and evaluated the same way.
public struct CompressionSweep {
    public struct Variant: Codable, Sendable {
        /// "prune" or "drop".
        public var kind: String
        public var method: String?
        public var pattern: String?
        public var sparsity: Double?
        public var count: Int?
        public var by: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case kind, method, pattern, sparsity, count, by }

        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            method = try c.decodeIfPresent(String.self, forKey: .method)
            pattern = try c.decodeIfPresent(String.self, forKey: .pattern)
            sparsity = try c.decodeIfPresent(Double.self, forKey: .sparsity)
            count = try c.decodeIfPresent(Int.self, forKey: .count)
            by = try c.decodeIfPresent(String.self, forKey: .by)
        }
    }

    public struct Recipe: Codable, Sendable {
        public var samples = 200
        public var seed: UInt64 = 0
        public var calibrationSamples = CalibrationSet.defaultSamples
        public var calibrationMaskRatio = CalibrationSet.defaultMaskRatio
        public var variants: [Variant] = []

        enum CodingKeys: String, CodingKey, CaseIterable {
            case samples, seed, variants
            case calibrationSamples = "calibration_samples", calibrationMaskRatio = "calibration_mask_ratio"
        }

        public init() {}

        /// Missing keys keep their defaults; unknown keys are errors.
        public init(from decoder: Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Recipe()
            samples = try c.decode(.samples, or: d.samples)
            seed = try c.decode(.seed, or: d.seed)
            calibrationSamples = try c.decode(.calibrationSamples, or: d.calibrationSamples)
            calibrationMaskRatio = try c.decode(.calibrationMaskRatio, or: d.calibrationMaskRatio)
            variants = try c.decode(.variants, or: [])
        }

        /// Reads and validates a YAML sweep recipe; every problem is one error naming the file.
        public static func load(path: String) throws -> Recipe {
            let recipe: Recipe
            do {
                recipe = try YAMLDecoder().decode(Recipe.self, from: try RecipeText.read(path))
            } catch {
                throw PruningError.badSpec("\(path): \(error)")
            }
            if let p = recipe.problem() { throw PruningError.badSpec("\(path): \(p)") }
            return recipe
        }

        /// What is wrong with the recipe's values, if anything.
        public func problem() -> String? {
            if !(1...1_000_000).contains(samples) { return "samples must be in 1...1000000 (got \(samples))" }
            if !(1...1_000_000).contains(calibrationSamples) {
                return "calibration_samples must be in 1...1000000 (got \(calibrationSamples))"
            }
            if !(calibrationMaskRatio >= 0 && calibrationMaskRatio <= 1) {
                return "calibration_mask_ratio must be in [0, 1] (got \(calibrationMaskRatio))"
            }
            for (n, v) in variants.enumerated() where !["prune", "drop"].contains(v.kind) {
                return "variants[\(n)]: kind must be prune or drop (got \(v.kind))"
            }
            return nil
        }
    }

    /// Pruning cost of one pruned variant.
    public struct PruningCost: Sendable {
        public var label: String
        public var meanReconstructionError: Double
        public var seconds: Double
    }

    public var recipe: Recipe
    public init(recipe: Recipe) { self.recipe = recipe }

    /// Evaluates the dense model and every variant. Pruned variants are written block by block
    /// to a temporary file in `workDirectory` and read back the way the source is (resident or
    /// streamed), so a sweep never holds two models; dropped variants are views of the source.
    public func run(source: LoadedModel, workDirectory: String,
                    progress: (String) -> Void = { _ in }) throws -> (rows: [ModelComparison.Row], costs: [PruningCost]) {
        let dense = source.weights, tokenizer = source.tokenizer
        var comparison = ModelComparison()
        comparison.samples = recipe.samples
        comparison.seed = recipe.seed
        let calibration = try CalibrationSet.referenceTasks(count: recipe.calibrationSamples,
                                                            maskRatio: recipe.calibrationMaskRatio, seed: recipe.seed,
                                                            tokenizer: tokenizer, eos: dense.config.eosTokenID)
        var rows = [try comparison.evaluate(label: "dense", model: dense, tokenizer: tokenizer, progress: progress)]
        var costs: [PruningCost] = []
        for (n, v) in recipe.variants.enumerated() {
            let model: any ModelWeights
            let label: String
            var temporary: String?
            defer { if let temporary { unlink(temporary) } }
            switch v.kind {
            case "prune":
                var spec = PruningSpec()
                guard let m = v.method.flatMap(PruningMethod.init(rawValue:)),
                      let p = SparsityPattern(v.pattern ?? "unstructured") else {
                    throw PruningError.badSpec("sweep: bad prune variant \(v)")
                }
                spec.method = m; spec.pattern = p; spec.sparsity = v.sparsity ?? spec.effectiveSparsity
                let path = workDirectory + "/sweep-\(getpid())-\(n).h5"
                temporary = path
                let report = try ModelPruner(spec: spec, calibration: calibration).prune(source, writingTo: path)
                model = try ModelFile.open(path, residency: source.isStreamed ? .streamed : .resident).weights
                label = p == .unstructured ? String(format: "%@ %.0f %%", m.rawValue, spec.sparsity * 100) : "\(m.rawValue) \(p)"
                costs.append(PruningCost(label: label, meanReconstructionError: report.meanReconstructionError ?? 0,   // calibrated: always measured
                                         seconds: report.seconds))
            case "drop":
                guard let by = v.by.flatMap(DepthCriterion.init(rawValue:)), let count = v.count else {
                    throw DepthError.badLayers("sweep: bad drop variant \(v)")
                }
                let dropped = try DepthSelection(criterion: by, calibration: calibration).select(count: count, model: dense)
                model = try BlockDropper.drop(dropped, from: dense)
                label = "drop \(count) by \(by.rawValue) (\(dropped.map(String.init).joined(separator: ",")))"
            default:
                throw PruningError.badSpec("sweep: variant kind must be prune or drop (got \(v.kind))")
            }
            rows.append(try comparison.evaluate(label: label, model: model, tokenizer: tokenizer, progress: progress))
        }
        return (rows, costs)
    }

    /// The whole report as Markdown.
    public func markdown(rows: [ModelComparison.Row], costs: [PruningCost], modelPath: String) -> String {
        var comparison = ModelComparison()
        comparison.samples = recipe.samples
        var out = ["Model `\(modelPath)`; \(recipe.samples) test samples per task (seed \(recipe.seed)); accuracy with the fixed "
                   + "sampler, one token per step; NFE and its accuracy with the threshold sampler (tau 0.9); NLL per answer "
                   + "token from the Monte-Carlo estimator (16 draws). Calibration: \(recipe.calibrationSamples) training "
                   + "samples, answer mask ratio \(recipe.calibrationMaskRatio).", "", comparison.markdown(rows)]
        if !costs.isEmpty {
            out += ["", "| pruned variant | mean reconstruction error | pruning time (s) |", "|---|---:|---:|"]
            out += costs.map { String(format: "| %@ | %.4f | %.2f |", $0.label, $0.meanReconstructionError, $0.seconds) }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
