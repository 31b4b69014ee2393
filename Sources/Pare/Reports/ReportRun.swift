import Foundation

/// `pare report experiments/NAME.yaml`: computes the recipe's cells into `DIR/cells/` (each
/// one on its own, skipped when its cached result exists) and merges them into `DIR/index.md`,
/// `DIR/results.csv`, `DIR/results.json` and SVG plots. Cells can run in separate processes
/// (`--cell K`, e.g. a make job or a Slurm array task each) and be merged afterwards (`--merge`).
public struct ReportRun {
    public let recipe: ReportRecipe
    /// The recipe's file name without extension: the report's name.
    public let name: String
    public let directory: String
    public let cells: [ReportCell]
    /// The recipe's path as the user gave it, quoted in index.md.
    public var recipePath: String

    public init(recipe: ReportRecipe, name: String, directory: String, recipePath: String? = nil) throws {
        self.recipe = recipe
        self.recipePath = recipePath ?? "experiments/\(name).yaml"
        self.name = name
        self.directory = directory
        let modelHash = try FNV1a64.file(recipe.model)
        cells = recipe.cells.map { v, e in
            ReportCell(inputs: .init(algorithmVersion: ReportCell.algorithmVersion, modelHash: modelHash, tasks: recipe.tasks, samples: recipe.samples,
                                     seed: recipe.seed, calibrationSamples: recipe.calibrationSamples,
                                     calibrationMaskRatio: recipe.calibrationMaskRatio, variant: v, evaluation: e),
                       modelCache: directory + "/cells")
        }
    }

    public var cellDirectory: String { directory + "/cells" }
    public func cellPath(_ index: Int) -> String { cellDirectory + "/" + cells[index].inputs.key + ".json" }

    /// The cached result of cell `index`, if it exists and was computed from the same inputs.
    public func cached(_ index: Int) -> ReportCell.Result? {
        guard let data = FileManager.default.contents(atPath: cellPath(index)),
              let result = try? JSONDecoder().decode(ReportCell.Result.self, from: data),
              result.inputs == cells[index].inputs else { return nil }
        return result
    }

    /// Computes cell `index` unless its result is cached; true when it computed. The result
    /// is written to a temporary name and renamed, so an interrupted cell leaves no result.
    @discardableResult
    public func run(cell index: Int, source: @autoclosure () throws -> LoadedModel,
                    progress: (String) -> Void = { _ in }) throws -> Bool {
        guard cells.indices.contains(index) else {
            throw ReportError.badRecipe("--cell \(index) is out of range: \(name) has cells 0...\(cells.count - 1)")
        }
        if cached(index) != nil { return false }
        let cell = cells[index]
        let result = cell.inputs.variant.kind == "weight" ? try cell.benchmark(progress: progress)
                                                          : try cell.compute(source: try source(), progress: progress)
        try FileManager.default.createDirectory(atPath: cellDirectory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(result), to: cellPath(index))
        return true
    }

    /// Computes every cell not cached yet, in order; returns the indices it computed.
    public func runAll(progress: (String) -> Void = { _ in }) throws -> [Int] {
        var source: LoadedModel?
        var computed: [Int] = []
        for i in cells.indices {
            let model = { () throws -> LoadedModel in
                if let source { return source }
                source = try ModelFile.open(recipe.model, residency: .resident)
                return source!
            }
            if try run(cell: i, source: try model(), progress: progress) { computed.append(i) }
        }
        return computed
    }

    /// Every cell's result, in cell order; an error listing the cells not computed yet.
    public func results() throws -> [ReportCell.Result] {
        var out: [ReportCell.Result] = [], missing: [Int] = []
        for i in cells.indices {
            guard var r = cached(i) else { missing.append(i); continue }
            // Labels are presentation: the current code names the cell, whenever it was computed.
            r.variantLabel = cells[i].inputs.variant.label
            r.evaluationLabel = cells[i].inputs.evaluation.label
            out.append(r)
        }
        if !missing.isEmpty {
            let shown = missing.prefix(12).map(String.init).joined(separator: ", ") + (missing.count > 12 ? ", ..." : "")
            throw ReportError.missingCells("\(name): \(missing.count) of \(cells.count) cells not computed yet (cells \(shown)); "
                                           + "run pare report with --cell K for each, or without --merge")
        }
        return out
    }

    /// Writes index.md, results.csv, results.json and the plots from the cached cells;
    /// returns the files written.
    @discardableResult
    public func merge() throws -> [String] {
        let results = try self.results()
        let document = ReportDocument.make(recipe: recipe, results: results)
        var written: [String] = []
        for plot in document.plots {
            let path = directory + "/" + plot.file
            try AtomicFile.write(plot.svg, to: path)
            written.append(path)
        }
        try AtomicFile.write(csv(results), to: directory + "/results.csv")
        try AtomicFile.write(try json(results), to: directory + "/results.json")
        try AtomicFile.write(markdown(document, results), to: directory + "/index.md")
        return written + ["results.csv", "results.json", "index.md"].map { directory + "/" + $0 }
    }

    // MARK: - Output files

    var tasks: [String] { recipe.tasks }

    /// How the recipe's tasks are scored, for the sentence above the findings.
    var scoringSentence: String {
        let validity = tasks.filter { TaskCatalog.named($0)?.scoring == .validity }
        if validity.isEmpty { return "Accuracy is exact match" }
        return "Accuracy is exact match (for \(validity.joined(separator: ", ")): validity, any right answer counts)"
    }

    func markdown(_ doc: ReportDocument, _ results: [ReportCell.Result]) -> String {
        let r = recipe
        var out = ["# \(r.title.isEmpty ? name : r.title)", "",
                   "Generated by `pare report \(recipePath)` (all reports: `make reports`) from "
                   + "\(results.count) cells (\(r.variants.count) model variants × \(r.evaluations.count) evaluations). "
                   + "Model `\(r.model)`; \(r.samples) test samples per task (seed \(r.seed)); calibration "
                   + "\(r.calibrationSamples) training samples, answer mask ratio \(SVG.trim(r.calibrationMaskRatio)). "
                   + "\(scoringSentence), NFE the mean forward passes per answer, NLL the Monte-Carlo estimate per "
                   + "answer token (16 draws). Decode order (docs/algorithms.md §3.9): tokens committed per forward pass, the share "
                   + "of commits at the leftmost masked position and the rank correlation of commit step with position "
                   + "(1 = left to right), each the mean over tasks. Raw numbers: [results.csv](results.csv), [results.json](results.json); "
                   + "one cached result per cell in `cells/`.", "", "## Findings", ""]
        out += doc.findings.enumerated().map { "\($0 + 1). \($1)" }
        if !r.notes.isEmpty || !doc.notes.isEmpty {
            out += ["", "## Not covered yet", ""] + (r.notes + doc.notes).map { "- \($0)" }
        }
        out += ["", "## Plots", ""]
        for p in doc.plots { out += ["![\(p.caption)](\(p.file))", "", "*\(p.caption)*", ""] }
        out += ["## All cells", "",
                "| variant | evaluation | " + tasks.map { "\($0) acc." }.joined(separator: " | ")
                    + " | mean acc. | NFE | NLL / token | tokens / step | leftmost | Spearman |",
                "|---|---|" + tasks.map { _ in "---:|" }.joined() + "---:|---:|---:|---:|---:|---:|"]
        let two = { (v: Double?) in v.map { String(format: "%.2f", $0) } ?? "" }
        for c in results {
            let accs = tasks.map { t in c.tasks.first { $0.task == t }.map { String(format: "%.1f %%", $0.accuracy * 100) } ?? "" }
            out.append("| \(c.variantLabel)\(c.dropped.map { " (\($0.map(String.init).joined(separator: ",")))" } ?? "") | \(c.evaluationLabel) | "
                       + accs.joined(separator: " | ")
                       + String(format: " | %.1f %% | %.2f | %@ | %@ | %@ | %@ |", c.macroAccuracy * 100, c.meanNFE,
                                c.nllPerToken.map { String(format: "%.4f", $0) } ?? "", two(c.tokensPerStep), two(c.leftmostShare),
                                two(c.spearman)))
        }
        return out.joined(separator: "\n") + "\n"
    }

    func csv(_ results: [ReportCell.Result]) -> String {
        let header = ["cell", "key", "variant", "evaluation", "kind", "method", "pattern", "target_sparsity", "count", "by", "layers",
                      "dropped", "sparsity", "seft_steps", "sampler", "steps", "threshold", "factor", "prophet", "kernels"]
            + tasks.map { "accuracy_\($0)" } + ["macro_accuracy"] + tasks.map { "nfe_\($0)" }
            + ["mean_nfe", "nll_per_token", "tokens_per_step", "leftmost_share", "spearman", "prophet_share", "prophet_step", "shape", "tokens", "kernel", "kernel_speedup", "evaluation_seconds", "cell_seconds"]
        func field(_ s: String?) -> String {
            guard let s else { return "" }
            return s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        func num(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        var lines = [header.joined(separator: ",")]
        for (i, c) in results.enumerated() {
            let v = c.inputs.variant, e = c.inputs.evaluation
            var row = [String(i), c.key, field(c.variantLabel), field(c.evaluationLabel), v.kind, field(v.method), field(v.pattern),
                       num(v.sparsity), v.count.map(String.init) ?? "", field(v.by), field(v.layers),
                       field(c.dropped?.map(String.init).joined(separator: " ")), num(c.sparsity),
                       v.steps.map(String.init) ?? "", e.samplerName, e.steps.map(String.init) ?? "", num(e.threshold), num(e.factor),
                       e.prophet.map { $0 ? "true" : "false" } ?? "", field(e.kernels)]
            row += tasks.map { t in num(c.tasks.first { $0.task == t }?.accuracy) } + [num(c.macroAccuracy)]
            row += tasks.map { t in num(c.tasks.first { $0.task == t }?.nfeMean) }
            row += [num(c.meanNFE), num(c.nllPerToken), num(c.tokensPerStep), num(c.leftmostShare), num(c.spearman),
                    num(c.prophetShare), num(c.prophetStep), field(v.shape), e.tokens.map(String.init) ?? "", field(c.kernel?.kernel),
                    num(c.kernel?.speedup), String(format: "%.3f", c.evaluationSeconds), String(format: "%.3f", c.cellSeconds)]
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func json(_ results: [ReportCell.Result]) throws -> Data {
        struct Document: Encodable {
            var report: String, title: String, model: String, cells: [ReportCell.Result]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(Document(report: name, title: recipe.title, model: recipe.model, cells: results))
    }
}

/// What a report says: findings computed from the cells, plots, and notes on what it lacks.
public struct ReportDocument {
    public struct Plot {
        public var file: String
        public var caption: String
        public var svg: String
    }

    public var findings: [String] = []
    public var plots: [Plot] = []
    public var notes: [String] = []

    static func make(recipe: ReportRecipe, results: [ReportCell.Result]) -> ReportDocument {
        let cells = ReportCells(results, tasks: recipe.tasks)
        switch recipe.kind {
        case .depthAblation: return DepthAblationReport.make(cells)
        case .sparsitySweep: return SparsitySweepReport.make(cells)
        case .samplers: return SamplersReport.make(cells)
        case .kernels: return KernelsReport.make(cells)
        case .table: return ReportDocument()
        }
    }
}

/// The cells of a report with the look-ups the report kinds need.
struct ReportCells {
    let all: [ReportCell.Result]
    /// The recipe's tasks, in its order.
    let tasks: [String]
    init(_ all: [ReportCell.Result], tasks: [String]) { self.all = all; self.tasks = tasks }

    /// Cells whose variant and evaluation match.
    func filter(_ variant: (ReportRecipe.Variant) -> Bool, _ evaluation: (ReportRecipe.Evaluation) -> Bool = { _ in true }) -> [ReportCell.Result] {
        all.filter { variant($0.inputs.variant) && evaluation($0.inputs.evaluation) }
    }

    /// The evaluation labels in recipe order.
    var evaluations: [String] {
        var seen: [String] = []
        for c in all where !seen.contains(c.evaluationLabel) { seen.append(c.evaluationLabel) }
        return seen
    }

    static func accuracy(_ c: ReportCell.Result, _ task: String) -> Double? { c.tasks.first { $0.task == task }?.accuracy }
}

extension Double {
    /// A share as "83.5 %".
    var percent: String { String(format: "%.1f %%", self * 100) }
}
