import Foundation
import Yams

/// A report recipe (`experiments/NAME.yaml`, docs/format.md "Report recipes"): a grid of model
/// variants × evaluations. Every (variant, evaluation) pair is one cell, computed on its own
/// and cached; `kind` picks the plots and findings the merged report makes from the cells.
public struct ReportRecipe: Sendable {
    /// The plots and findings of a report.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case depthAblation = "depth-ablation", sparsitySweep = "sparsity-sweep", samplers, kernels, table
    }

    /// How one model variant is made from the recipe's model.
    public struct Variant: Codable, Equatable, Sendable {
        /// dense, prune, seft (prune, then SEFT fine-tuning for `steps`), drop or weight.
        public var kind: String
        public var method: String?
        public var pattern: String?
        public var sparsity: Double?
        /// drop: how many blocks, chosen `by` a criterion (block-influence, angular, measured, last).
        public var count: Int?
        public var by: String?
        /// drop: these blocks (`"3"`, `"3,5-7"`), instead of count and by.
        public var layers: String?
        /// weight: a random weight of this shape (`"4096x4096"`, out x in) pruned at random to
        /// `sparsity` or `pattern`, for kernel benchmarks (no model).
        public var shape: String?
        /// seft: fine-tuning steps after pruning.
        public var steps: Int?

        public init(kind: String) { self.kind = kind }

        /// What is wrong with the variant's fields, if anything ("(label): reason").
        public func problem() -> String? {
            switch kind {
            case "dense": break
            case "prune", "seft":
                if kind == "seft" {
                    guard let steps, (1...100_000).contains(steps) else { return "(\(label)): a seft variant needs steps in 1...100000" }
                }
                guard let m = method, PruningMethod(rawValue: m) != nil else {
                    return "(\(label)): method must be one of \(PruningMethod.allCases.map(\.rawValue).joined(separator: ", "))"
                }
                guard SparsityPattern(pattern ?? "unstructured") != nil else { return "(\(label)): bad pattern \(pattern ?? "")" }
                if (pattern ?? "unstructured") == "unstructured", !((sparsity ?? -1) >= 0 && (sparsity ?? 1) < 1) {
                    return "(\(label)): sparsity must be in [0, 1)"
                }
            case "drop":
                if layers == nil {
                    guard let c = count, c >= 1 else { return "(\(label)): a drop needs count >= 1 (or layers)" }
                    guard let by, by == "last" || DepthCriterion(rawValue: by) != nil else {
                        return "(\(label)): by must be last or one of \(DepthCriterion.allCases.map(\.rawValue).joined(separator: ", "))"
                    }
                }
            case "weight":
                guard shape.flatMap(ReportCell.parseShape) != nil else { return "(\(label)): shape must be OUTxIN with both in 1...65536 (got \(shape ?? "none"))" }
                if let p = pattern {
                    guard case .nOfM? = SparsityPattern(p) else { return "(\(label)): pattern must be N:M (got \(p))" }
                } else if !((sparsity ?? -1) >= 0 && (sparsity ?? 1) < 1) {
                    return "(\(label)): sparsity must be in [0, 1)"
                }
            default: return "(\(label)): kind must be dense, prune, seft, drop or weight"
            }
            return nil
        }

        /// The pruning a prune or seft variant asks for (fields checked by `problem()`).
        public var pruningSpec: PruningSpec {
            var spec = PruningSpec()
            spec.method = PruningMethod(rawValue: method ?? "") ?? .wanda
            spec.pattern = SparsityPattern(pattern ?? "unstructured") ?? .unstructured
            spec.sparsity = sparsity ?? spec.effectiveSparsity
            return spec
        }

        /// The blocks a drop variant removes from `model`: its `layers`, the last `count`, or
        /// `count` chosen `by` a criterion on the calibration set (`seed` for the measured one).
        public func droppedBlocks(of model: any ModelWeights, calibration: CalibrationSet, seed: UInt64) throws -> [Int] {
            let n = model.blockCount
            let chosen: [Int]
            if let layers {
                chosen = try BlockDropper.parseLayers(layers)
            } else {
                let count = count ?? 0
                if count < 1 || count >= n { throw ReportError.badCell("\(label): count must be in 1...\(n - 1) for a model of \(n) blocks") }
                if by == "last" {
                    chosen = Array((n - count)..<n)
                } else {
                    var selection = DepthSelection(criterion: DepthCriterion(rawValue: by ?? "") ?? .blockInfluence, calibration: calibration)
                    selection.seed = seed
                    chosen = try selection.select(count: count, model: model)
                }
            }
            if let bad = chosen.first(where: { $0 >= n }) { throw ReportError.badCell("\(label): block \(bad) does not exist (\(n) blocks)") }
            return chosen
        }

        /// A short human name, e.g. "wanda 50 %", "wanda 2:4", "drop 2 by angular", "drop block 3".
        public var label: String {
            switch kind {
            case "prune":
                let p = pattern ?? "unstructured"
                return p == "unstructured" ? String(format: "%@ %.0f %%", method ?? "?", (sparsity ?? 0) * 100) : "\(method ?? "?") \(p)"
            case "seft":
                var pruned = self
                pruned.kind = "prune"
                return pruned.label + " + seft \(steps ?? 0) steps"
            case "drop":
                if let layers { return "drop block \(layers)" }
                return "drop \(count ?? 0) by \(by ?? "?")"
            case "weight":
                return "\(shape ?? "?") " + (pattern.map { $0 } ?? String(format: "%.0f %%", (sparsity ?? 0) * 100))
            default: return kind
            }
        }
    }

    /// How one cell evaluates its model: a sampler setting and whether to estimate likelihood.
    public struct Evaluation: Codable, Equatable, Sendable {
        public var name: String?
        /// fixed (the default), random, threshold or factor.
        public var sampler: String?
        public var steps: Int?
        public var threshold: Double?
        public var factor: Double?
        public var prophet: Bool?
        public var likelihood: Bool?
        /// dense or sparse: which kernels run the block linears (timed cells).
        public var kernels: String?
        /// kernels: time the sparse kernel against dense on a `weight` variant at `tokens` tokens.
        public var bench: String?
        public var tokens: Int?

        public init() {}

        /// The explicit name, or one made from the settings ("threshold 0.9", "fixed 6 steps").
        public var label: String {
            if let name { return name }
            if bench != nil { return "T = \(tokens ?? 1)" }
            var s = samplerName
            if let steps { s += steps == 1 ? " 1 step" : " \(steps) steps" }
            if samplerName == "threshold" { s += " \(SVG.trim(threshold ?? 0.9))" }
            if samplerName == "factor" { s += " \(SVG.trim(factor ?? 1))" }
            if prophet == true { s += " + prophet" }
            if let kernels { s += " (\(kernels) kernels)" }
            return s
        }

        public var samplerName: String { sampler ?? "fixed" }

        public var options: SamplingOptions {
            var o = SamplingOptions()
            o.sampler = SamplerKind(rawValue: samplerName) ?? .fixed
            o.steps = steps
            if let threshold { o.threshold = threshold }
            if let factor { o.factor = factor }
            o.prophet = prophet ?? false
            return o
        }
    }

    public var kind: Kind = .table
    public var title = ""
    /// The model every variant is made from; relative to the current folder.
    public var model = "models/pare-tiny.h5"
    /// The tasks every cell evaluates (and calibrates on), by name (docs/tasks.md); each is
    /// decoded with its own generation length.
    public var tasks: [String] = ReferenceTask.allCases.map(\.rawValue)
    public var samples = 50
    public var seed: UInt64 = 0
    public var calibrationSamples = CalibrationSet.defaultSamples
    public var calibrationMaskRatio = CalibrationSet.defaultMaskRatio
    public var variants: [Variant] = []
    public var evaluations: [Evaluation] = []
    /// Sentences printed under the findings: what the report does not cover yet, and why.
    public var notes: [String] = []

    public init() {}

    /// The cells in order, variant-major. A kernel benchmark (`bench`) pairs only with `weight`
    /// variants and every other evaluation only with models, so one recipe can hold both.
    public var cells: [(variant: Variant, evaluation: Evaluation)] {
        variants.flatMap { v in evaluations.filter { ($0.bench != nil) == (v.kind == "weight") }.map { (v, $0) } }
    }

    /// Reads a recipe. A variant or evaluation field given as a list expands into one entry
    /// per value (several lists: every combination, in the order the keys are listed below).
    public static func load(path: String) throws -> ReportRecipe {
        let node: Node
        do {
            guard let n = try Yams.compose(yaml: try RecipeText.read(path)) else { throw ReportError.badRecipe("\(path): empty recipe") }
            node = n
        } catch let e as ReportError { throw e } catch {
            throw ReportError.badRecipe("\(path): \(error)")
        }
        do {
            let recipe = try parse(node)
            if let p = recipe.problem() { throw ReportError.badRecipe("\(path): \(p)") }
            return recipe
        } catch let e as ReportError {
            if case .badRecipe(let s) = e, s.hasPrefix(path) { throw e }
            throw ReportError.badRecipe("\(path): \(e)")
        } catch {
            throw ReportError.badRecipe("\(path): \(error)")
        }
    }

    static let topKeys = ["report", "title", "model", "tasks", "samples", "seed", "calibration_samples", "calibration_mask_ratio",
                          "variants", "evaluations", "notes"]
    static let variantKeys = ["kind", "method", "pattern", "sparsity", "count", "by", "layers", "shape", "steps"]
    static let evaluationKeys = ["name", "sampler", "steps", "threshold", "factor", "prophet", "likelihood", "kernels", "bench", "tokens"]

    static func parse(_ node: Node) throws -> ReportRecipe {
        guard let map = node.mapping else { throw ReportError.badRecipe("the recipe must be a mapping of keys") }
        var r = ReportRecipe()
        for (k, v) in map {
            guard let key = k.string, topKeys.contains(key) else { throw ReportError.badRecipe("unknown key \(k.string ?? "?")") }
            switch key {
            case "report":
                guard let s = v.string, let kind = Kind(rawValue: s) else {
                    throw ReportError.badRecipe("report must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                r.kind = kind
            case "title": r.title = try scalar(v, key)
            case "model": r.model = try scalar(v, key)
            case "tasks": r.tasks = try (v.sequence.map(Array.init) ?? [v]).map { try scalar($0, key) }
            case "samples": r.samples = try number(v, key)
            case "seed": r.seed = UInt64(try number(v, key) as Int)
            case "calibration_samples": r.calibrationSamples = try number(v, key)
            case "calibration_mask_ratio": r.calibrationMaskRatio = try number(v, key)
            case "notes": r.notes = try (v.sequence.map(Array.init) ?? [v]).map { try scalar($0, key) }
            case "variants": r.variants = try expand(v, key, allowed: variantKeys)
            case "evaluations": r.evaluations = try expand(v, key, allowed: evaluationKeys)
            default: break
            }
        }
        return r
    }

    static func scalar(_ node: Node, _ key: String) throws -> String {
        guard let s = node.string else { throw ReportError.badRecipe("\(key) must be a text value") }
        return s
    }

    static func number<T: LosslessStringConvertible>(_ node: Node, _ key: String) throws -> T {
        guard let s = node.string, let v = T(s) else { throw ReportError.badRecipe("\(key) must be a number (got \(node.string ?? "a list"))") }
        return v
    }

    /// A list of mappings whose list-valued fields expand into every combination, each
    /// decoded as `T` from its JSON (so unknown or mistyped fields are errors naming the entry).
    static func expand<T: Decodable>(_ node: Node, _ key: String, allowed: [String]) throws -> [T] {
        guard let list = node.sequence else { throw ReportError.badRecipe("\(key) must be a list") }
        var out: [T] = []
        for (n, entry) in list.enumerated() {
            guard let fields = entry.mapping else { throw ReportError.badRecipe("\(key)[\(n)] must be a mapping") }
            var combos: [[String: Any]] = [[:]]
            for name in allowed {
                guard let value = fields[name] else { continue }
                let choices = value.sequence.map(Array.init) ?? [value]
                if choices.isEmpty { throw ReportError.badRecipe("\(key)[\(n)].\(name) is an empty list") }
                // Layer lists and names stay text even when they look like numbers ("3").
                let text = ["layers", "name", "pattern", "kind", "by", "method", "sampler", "kernels", "shape", "bench"].contains(name)
                combos = combos.flatMap { c in choices.map { choice in c.merging([name: text ? (choice.string ?? "") : json(choice)]) { $1 } } }
            }
            for k in fields.keys where !allowed.contains(k.string ?? "") {
                throw ReportError.badRecipe("\(key)[\(n)]: unknown key \(k.string ?? "?") (known: \(allowed.joined(separator: ", ")))")
            }
            for c in combos {
                do {
                    out.append(try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: c)))
                } catch {
                    throw ReportError.badRecipe("\(key)[\(n)]: a field has the wrong type (\(c.keys.sorted().joined(separator: ", ")))")
                }
            }
        }
        return out
    }

    /// A YAML scalar as the JSON value it reads as: a number, a boolean or a string.
    static func json(_ node: Node) -> Any {
        guard let s = node.string else { return "" }
        if node.scalar?.style == .plain {
            if let i = Int(s) { return i }
            if let d = Double(s) { return d }
            if s == "true" { return true }
            if s == "false" { return false }
        }
        return s
    }

    /// What is wrong with the recipe's values, if anything.
    public func problem() -> String? {
        if !(1...100_000).contains(samples) { return "samples must be in 1...100000 (got \(samples))" }
        if !(1...100_000).contains(calibrationSamples) { return "calibration_samples must be in 1...100000 (got \(calibrationSamples))" }
        if !(calibrationMaskRatio >= 0 && calibrationMaskRatio <= 1) {
            return "calibration_mask_ratio must be in [0, 1] (got \(calibrationMaskRatio))"
        }
        if tasks.isEmpty { return "tasks must name at least one task" }
        if let bad = tasks.first(where: { TaskCatalog.named($0) == nil }) {
            return "tasks: unknown task \(bad) (known: \(TaskCatalog.names.joined(separator: ", ")))"
        }
        if Set(tasks).count != tasks.count { return "tasks names a task twice" }
        if cells.isEmpty { return "a report needs at least one variant and one evaluation that pair (bench evaluations pair with weight variants)" }
        if cells.count > 10_000 { return "\(cells.count) cells is more than 10000" }
        for (n, v) in variants.enumerated() {
            if let p = v.problem() { return "variants[\(n)] \(p)" }
        }
        for (n, e) in evaluations.enumerated() {
            guard SamplerKind(rawValue: e.samplerName) != nil else {
                return "evaluations[\(n)]: sampler must be one of \(SamplerKind.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            // Each task is decoded at its own generation length: the settings must suit every one.
            for task in tasks.compactMap(TaskCatalog.named) {
                var o = e.options
                o.genLength = task.generationLength
                if let p = o.problem() { return "evaluations[\(n)] (\(e.label)) on \(task.name): \(p)" }
            }
            if let k = e.kernels, KernelChoice(rawValue: k) == nil { return "evaluations[\(n)]: kernels must be dense, sparse or auto" }
            if let b = e.bench, b != "kernels" { return "evaluations[\(n)]: bench must be kernels (got \(b))" }
            if e.bench != nil, !(1...4096).contains(e.tokens ?? 1) { return "evaluations[\(n)]: tokens must be in 1...4096" }
        }
        return nil
    }
}

public enum ReportError: Error, CustomStringConvertible {
    case badRecipe(String)
    case missingCells(String)
    case badCell(String)

    public var description: String {
        switch self {
        case .badRecipe(let s), .missingCells(let s), .badCell(let s): return s
        }
    }
}

extension SVG {
    /// A number without trailing zeros: 0.9, 0.95, 1.
    static func trim(_ v: Double) -> String {
        var s = String(format: "%.4f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
