import Foundation
import Yams

/// The README's results table: the dense model against pruned and block-dropped variants,
/// every variant made from the same dense model and evaluated the same way.
public struct CompressionSweep {
    /// A sweep recipe (`make results`): the report recipes' variants (ReportRecipe.Variant, the
    /// same fields, checks and list expansion), of kind prune or drop, evaluated by one fixed
    /// comparison instead of chosen evaluations.
    public struct Recipe: Sendable {
        public var samples = 200
        public var seed: UInt64 = 0
        public var calibrationSamples = CalibrationSet.defaultSamples
        public var calibrationMaskRatio = CalibrationSet.defaultMaskRatio
        public var variants: [ReportRecipe.Variant] = []

        static let keys = ["samples", "seed", "calibration_samples", "calibration_mask_ratio", "variants"]

        public init() {}

        /// Reads and validates a YAML sweep recipe; every problem is one error naming the file.
        /// Missing keys keep their defaults; unknown keys are errors.
        public static func load(path: String) throws -> Recipe {
            var recipe = Recipe()
            do {
                guard let node = try Yams.compose(yaml: try RecipeText.read(path)) else { throw ReportError.badRecipe("empty recipe") }
                guard let map = node.mapping else { throw ReportError.badRecipe("the recipe must be a mapping of keys") }
                for (k, v) in map {
                    guard let key = k.string, keys.contains(key) else {
                        throw ReportError.badRecipe("unknown key \(k.string ?? "?") (known: \(keys.joined(separator: ", ")))")
                    }
                    switch key {
                    case "samples": recipe.samples = try ReportRecipe.number(v, key)
                    case "seed": recipe.seed = UInt64(try ReportRecipe.number(v, key) as Int)
                    case "calibration_samples": recipe.calibrationSamples = try ReportRecipe.number(v, key)
                    case "calibration_mask_ratio": recipe.calibrationMaskRatio = try ReportRecipe.number(v, key)
                    default: recipe.variants = try ReportRecipe.expand(v, key, allowed: ReportRecipe.variantKeys)
                    }
                }
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
            for (n, v) in variants.enumerated() {
                if !["prune", "drop"].contains(v.kind) { return "variants[\(n)]: kind must be prune or drop (got \(v.kind))" }
                if let p = v.problem() { return "variants[\(n)] \(p)" }
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
                let spec = v.pruningSpec
                if let p = spec.problem(for: dense.config) { throw PruningError.badSpec("sweep: \(v.label): \(p)") }
                let path = workDirectory + "/sweep-\(getpid())-\(n).h5"
                temporary = path
                let report = try ModelPruner(spec: spec, calibration: calibration).prune(source, writingTo: path)
                model = try ModelFile.open(path, residency: source.isStreamed ? .streamed : .resident).weights
                label = v.label
                costs.append(PruningCost(label: label, meanReconstructionError: report.meanReconstructionError ?? 0,   // calibrated: always measured
                                         seconds: report.seconds))
            default:   // drop (the recipe allows nothing else)
                let dropped = try v.droppedBlocks(of: dense, calibration: calibration, seed: recipe.seed)
                model = try BlockDropper.drop(dropped, from: dense)
                label = v.layers == nil ? v.label + " (\(dropped.map(String.init).joined(separator: ",")))" : v.label
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
