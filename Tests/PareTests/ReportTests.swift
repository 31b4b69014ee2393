import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Pare

/// `pare report`: SVG plots are well-formed with a legend entry per series and labelled axes;
/// cells are cached so an interrupted sweep resumes; cells computed apart merge into the
/// same report as one full run; findings state what the numbers say.
@Suite struct ReportTests {
    // MARK: - SVG

    /// Parses an SVG with Foundation's XMLParser, collecting elements by class and the text of
    /// every <text> element.
    final class SVGReader: NSObject, XMLParserDelegate {
        var classes: [String: Int] = [:]
        var texts: [(cls: String?, text: String)] = []
        var elementCount = 0
        private var currentClass: String?
        private var parentClasses: [String?] = []
        private var buffer = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elementCount += 1
            if let c = attributes["class"] { classes[c, default: 0] += 1 }
            parentClasses.append(attributes["class"] ?? parentClasses.last ?? nil)
            if name == "text" { buffer = ""; currentClass = attributes["class"] }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { buffer += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            parentClasses.removeLast()
            if name == "text" { texts.append((currentClass, buffer)) }
        }

        static func read(_ svg: String) throws -> SVGReader {
            let reader = SVGReader()
            let parser = XMLParser(data: Data(svg.utf8))
            parser.delegate = reader
            guard parser.parse() else {
                throw ReportError.badCell("not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")")
            }
            return reader
        }

        func text(_ cls: String) -> String? { texts.first { $0.cls == cls }?.text }
    }

    @Test func linePlotIsWellFormedWithOneSeriesPerLegendEntryAndLabelledAxes() throws {
        let series = [PlotSeries("a & b", [(0.001, 1), (0.01, 5), (1, 7)]),
                      PlotSeries("c <d>", [(0.002, 3), (3, 2)], connected: false),
                      PlotSeries("e", [(0.5, 9)])]
        let plot = LinePlot(title: "T", x: PlotAxis("NLL (log)", log: true), y: PlotAxis("accuracy (%)"), series: series)
        let r = try SVGReader.read(plot.svg)
        #expect(r.classes["series"] == 3)
        #expect(r.classes["legend-entry"] == 3)
        #expect(r.text("x-label") == "NLL (log)")
        #expect(r.text("y-label") == "accuracy (%)")
        // Legend names survive escaping.
        #expect(r.texts.contains { $0.text == "a & b" } && r.texts.contains { $0.text == "c <d>" })
        // Log ticks: powers of ten covering 0.001 ... 3.
        #expect(r.texts.contains { $0.text == "0.001" } && r.texts.contains { $0.text == "10" })
    }

    @Test func heatMapIsWellFormedWithItsScaleAndLabels() throws {
        let map = HeatMap(title: "H", rows: ["add", "kv"], columns: ["block 0", "block 1", "block 2"],
                          values: [[1, 0.5, nil], [0, 0.25, 0.75]], rowLabel: "task", columnLabel: "dropped block", valueLabel: "acc")
        let r = try SVGReader.read(map.svg)
        #expect(r.classes["colour-scale"] == 1)
        #expect(r.text("x-label") == "dropped block")
        #expect(r.text("y-label") == "task")
        // One value printed per present cell (5 of 6), plus the three scale labels.
        #expect(r.texts.filter { $0.text == "0.50" }.count == 2)   // the cell and the scale's middle
        #expect(r.texts.contains { $0.text == "0.75" })
    }

    @Test func ticksAreNiceNumbers() {
        #expect(PlotAxis.ticks(0, 1, log: false) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(PlotAxis.ticks(0.05, 0.3, log: false) == [0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
        #expect(PlotAxis.ticks(0, 100, log: false) == [0, 20, 40, 60, 80, 100])
        #expect(PlotAxis.ticks(0, 7, log: false, integer: true) == [0, 2, 4, 6])
        #expect(PlotAxis.ticks(0, 2, log: false, integer: true) == [0, 1, 2])
        #expect(PlotAxis.ticks(0.001, 10, log: true) == [0.001, 0.01, 0.1, 1, 10])
        #expect(PlotAxis.ticks(1, 10, log: true) == [1, 2, 5, 10])
        #expect(PlotAxis.ticks(1, 2, log: true) == [1, 1.2, 1.4, 1.6, 1.8, 2])
        #expect(PlotAxis.ticks(0, 100, log: false).first?.sign == .plus)
        #expect(PlotAxis("", log: true).resolved([1, 12]) == 1...20)
        #expect(PlotAxis("", log: true).resolved([0.0019, 4.1]) == 0.001...5)
        #expect(PlotAxis("").resolved([0.13, 0.91]) == 0...1)
        #expect(PlotAxis.niceStep(0.13) == 0.2 && PlotAxis.niceStep(3) == 5 && PlotAxis.niceStep(70) == 100)
    }

    // MARK: - Cells, resume and merge

    static let model = BundledRecipeTests.path("models/pare-tiny.h5")

    /// Two variants × two evaluations on the bundled model, one test sample per task.
    static func recipe() throws -> ReportRecipe {
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("tiny.yaml").path
        try """
        report: depth-ablation
        model: \(model)
        samples: 1
        calibration_samples: 4
        variants:
          - {kind: dense}
          - {kind: drop, layers: 7}
        evaluations:
          - {name: fixed, sampler: fixed, steps: 4, likelihood: true}
          - {sampler: threshold, threshold: [0.9]}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return try ReportRecipe.load(path: path)
    }

    @Test func listValuedFieldsExpandIntoEveryCombination() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("grid.yaml").path
        try """
        variants:
          - {kind: prune, method: [magnitude, wanda], sparsity: [0.1, 0.5, 0.9]}
          - {kind: drop, layers: [0, "2-3"]}
        evaluations:
          - {sampler: threshold, threshold: [0.5, 0.9]}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try ReportRecipe.load(path: path)
        #expect(r.variants.count == 8 && r.evaluations.count == 2 && r.cells.count == 16)
        #expect(r.variants.map(\.label).prefix(3) == ["magnitude 10 %", "magnitude 50 %", "magnitude 90 %"])
        #expect(r.variants.last?.layers == "2-3")
        #expect(r.evaluations.map(\.label) == ["threshold 0.5", "threshold 0.9"])
    }

    @Test func kernelBenchmarksPairOnlyWithWeightVariants() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("kernels.yaml").path
        try """
        report: kernels
        model: \(Self.model)
        variants:
          - {kind: weight, shape: "64x32", sparsity: [0.5, 0.9]}
          - {kind: weight, shape: "64x32", pattern: "2:4"}
          - {kind: dense}
        evaluations:
          - {bench: kernels, tokens: [1, 4]}
          - {sampler: threshold, kernels: [dense, sparse]}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let recipe = try ReportRecipe.load(path: path)
        // 3 weights × 2 token counts, and the dense model × 2 kernel choices.
        #expect(recipe.cells.count == 8)
        #expect(recipe.cells.allSatisfy { ($0.variant.kind == "weight") == ($0.evaluation.bench != nil) })
        let run = try ReportRun(recipe: recipe, name: "kernels", directory: dir.path)
        // Timed cells carry the kernels' version in their key, so faster kernels are measured
        // again instead of read from the cache.
        #expect(run.cells.allSatisfy { $0.inputs.kernelsVersion == SparseKernels.version })
        try run.run(cell: 4, source: try ModelFile.open(Self.model, residency: .resident))   // 2:4 at T = 1
        let cell = try #require(run.cached(4)?.kernel)
        #expect(cell.pattern == "2:4" && cell.tokens == 1 && cell.shape == "64x32")
        #expect(abs(cell.sparsity - 0.5) < 1e-9)
        #expect(abs(cell.speedup - cell.denseSeconds / cell.sparseSeconds) < 1e-9 * cell.speedup)
    }

    @Test(arguments: ["variants:\n  - {kind: prune, method: lasso, sparsity: 0.5}\nevaluations:\n  - {sampler: fixed}\n",
                      "variants:\n  - {kind: dense, colour: red}\nevaluations:\n  - {sampler: fixed}\n",
                      "variants:\n  - {kind: dense}\nevaluations:\n  - {sampler: threshold, threshold: 1.5}\n",
                      "variants:\n  - {kind: drop, count: 2, by: chance}\nevaluations:\n  - {sampler: fixed}\n",
                      "variants:\n  - {kind: dense}\nevaluations: []\n",
                      "samples: many\nvariants:\n  - {kind: dense}\nevaluations:\n  - {sampler: fixed}\n",
                      "tasks: [add, hops]\nvariants:\n  - {kind: dense}\nevaluations:\n  - {sampler: fixed, steps: 32}\n",
                      "tasks: [add, dance]\nvariants:\n  - {kind: dense}\nevaluations:\n  - {sampler: fixed}\n",
                      "variants:\n  - {kind: seft, method: wanda, sparsity: 0.5}\nevaluations:\n  - {sampler: fixed}\n",
                      "tasks: [hops]\nvariants:\n  - {kind: seft, method: wanda, sparsity: 0.5, steps: 0}\nevaluations:\n  - {sampler: fixed}\n"])
    func badRecipesAreOneErrorNamingTheFile(text: String) throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("bad.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: ReportError.self) { try ReportRecipe.load(path: path) }
        #expect(error.map { "\($0)".hasPrefix(path) && !"\($0)".contains("\n") } == true)
    }

    @Test func anInterruptedSweepResumesWithoutRecomputingFinishedCells() throws {
        let recipe = try Self.recipe()
        let dir = Fixtures.temporaryDirectory().path
        let run = try ReportRun(recipe: recipe, name: "tiny", directory: dir)
        let source = try ModelFile.open(Self.model, residency: .resident)
        #expect(run.cells.count == 4)
        // The "interrupted" sweep finished cells 0 and 2 and died inside cell 1, leaving a
        // truncated result under its name (as a non-atomic writer would).
        #expect(try run.run(cell: 0, source: source))
        #expect(try run.run(cell: 2, source: source))
        try "{\"key\": ".write(toFile: run.cellPath(1), atomically: true, encoding: .utf8)
        let before = try [0, 2].map { try Data(contentsOf: URL(fileURLWithPath: run.cellPath($0))) }
        #expect(throws: ReportError.self) { try run.merge() }

        let computed = try run.runAll()
        #expect(computed == [1, 3])
        let after = try [0, 2].map { try Data(contentsOf: URL(fileURLWithPath: run.cellPath($0))) }
        #expect(before == after)
        // A finished sweep computes nothing.
        #expect(try run.runAll() == [])
        #expect(try run.run(cell: 3, source: source) == false)
    }

    @Test func cellKeysChangeWithEveryInput() throws {
        let recipe = try Self.recipe()
        let run = try ReportRun(recipe: recipe, name: "tiny", directory: "/nonexistent")
        var inputs = run.cells[0].inputs
        let key = inputs.key
        #expect(Set(run.cells.map(\.inputs.key)).count == 4)
        inputs.samples += 1
        #expect(inputs.key != key)
        inputs = run.cells[0].inputs
        inputs.modelHash = "0"
        #expect(inputs.key != key)
        inputs = run.cells[0].inputs
        inputs.algorithmVersion += 1
        #expect(inputs.key != key)
        #expect(run.cells[0].inputs.key == key)
    }

    /// Everything but the measured times.
    static func withoutTimes(_ data: Data) throws -> NSDictionary {
        func strip(_ o: Any) -> Any {
            if let d = o as? [String: Any] {
                return d.filter { !$0.key.hasSuffix("Seconds") && !$0.key.hasSuffix("seconds") }.mapValues(strip)
            }
            if let a = o as? [Any] { return a.map(strip) }
            return o
        }
        return strip(try JSONSerialization.jsonObject(with: data)) as! NSDictionary
    }

    @Test func mergingSeparatelyComputedCellsEqualsOneFullRun() throws {
        let recipe = try Self.recipe()
        let apart = Fixtures.temporaryDirectory().path, whole = Fixtures.temporaryDirectory().path
        // Apart: each cell by its own ReportRun and model, as separate processes would.
        for i in [3, 1, 0, 2] {
            let run = try ReportRun(recipe: recipe, name: "tiny", directory: apart)
            try run.run(cell: i, source: try ModelFile.open(Self.model, residency: .resident))
        }
        let merged = try ReportRun(recipe: recipe, name: "tiny", directory: apart).merge()
        let full = try ReportRun(recipe: recipe, name: "tiny", directory: whole)
        #expect(try full.runAll().count == 4)
        let fullFiles = try full.merge()
        #expect(merged.map { URL(fileURLWithPath: $0).lastPathComponent } == fullFiles.map { URL(fileURLWithPath: $0).lastPathComponent })
        for file in fullFiles.map({ URL(fileURLWithPath: $0).lastPathComponent }) {
            let a = try Data(contentsOf: URL(fileURLWithPath: apart + "/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: whole + "/" + file))
            switch file {
            case "results.json": #expect(try Self.withoutTimes(a) == Self.withoutTimes(b), "\(file)")
            case "results.csv":
                // The last two columns are times.
                let strip = { (d: Data) in String(decoding: d, as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast(2) } }
                #expect(strip(a) == strip(b), "\(file)")
            default: #expect(a == b, "\(file)")
            }
        }
        // Every plot the report wrote parses, with labelled axes.
        for file in fullFiles where file.hasSuffix(".svg") {
            let r = try SVGReader.read(try String(contentsOfFile: file, encoding: .utf8))
            #expect(r.text("x-label")?.isEmpty == false && r.text("y-label")?.isEmpty == false, "\(file)")
            #expect(r.classes["series"] == r.classes["legend-entry"], "\(file)")
        }
        #expect(fullFiles.contains { $0.hasSuffix("task-by-dropped-block.svg") })
    }

    @Test func theCommandComputesOneCellListsAndMergesWithOneLineErrors() throws {
        let dir = Fixtures.temporaryDirectory().path
        try """
        report: samplers
        model: \(Self.model)
        samples: 1
        calibration_samples: 4
        variants:
          - {kind: dense}
        evaluations:
          - {sampler: fixed, steps: [4, 2]}
        """.write(toFile: dir + "/two.yaml", atomically: true, encoding: .utf8)
        let pare = { (args: [String]) in try SparseCommandLineTests.pare(args, in: dir) }
        #expect(try pare(["report", "two.yaml", "--list"]).out.textLines.filter { !$0.isEmpty }.map { $0.split(separator: "\t")[2] } == ["todo", "todo"])
        let merge = try pare(["report", "two.yaml", "--merge"])
        #expect(merge.status == 1 && merge.err.contains("1 of 2 cells") == false && merge.err.contains("2 of 2 cells not computed yet"))
        #expect(try pare(["report", "two.yaml", "--cell", "1"]).status == 0)
        #expect(try pare(["report", "two.yaml", "--list"]).out.textLines.filter { !$0.isEmpty }.map { $0.split(separator: "\t")[2] } == ["todo", "done"])
        let missing = try pare(["report", "two.yaml", "--merge"])
        #expect(missing.status == 1 && missing.err.contains("cells 0)"))
        let out = try pare(["report", "two.yaml", "--json"])
        #expect(out.status == 0 && out.out.contains("\"computed\":1"))
        #expect(FileManager.default.fileExists(atPath: dir + "/reports/two/index.md"))
        let bad = try pare(["report", "two.yaml", "--cell", "2"])
        #expect(bad.status == 1 && bad.err.textLines.filter { !$0.isEmpty }.count == 1 && bad.err.contains("--cell 2 is out of range"))
        #expect(try pare(["report"]).status == 64)
    }

    // MARK: - Findings

    static let referenceTasks = ReferenceTask.allCases.map(\.rawValue)

    /// A synthetic cell: only the numbers the findings read. `order` gives every task the
    /// decode-order figures of one generation with these commit steps.
    static func cell(_ variant: ReportRecipe.Variant, _ evaluation: ReportRecipe.Evaluation, accuracy: [Double],
                     nfe: Double, nll: Double?, order: [Int]? = nil, kernel: KernelBenchmark.Cell? = nil) -> ReportCell.Result {
        let inputs = ReportCell.Inputs(algorithmVersion: 1, modelHash: "0", tasks: referenceTasks, samples: 1, seed: 0, calibrationSamples: 1,
                                       calibrationMaskRatio: 0.5, variant: variant, evaluation: evaluation)
        let tasks = zip(referenceTasks, accuracy).map {
            var summary = DecodeOrderSummary()
            if let order { summary.add(DecodeOrder(commitStep: order)) }
            return TaskEvaluator.TaskResult(task: $0, scoring: .exact, genLength: 12, samples: 1, accuracy: $1, nfeMean: nfe, tokensPerStep: 1,
                                            wallSeconds: 0, nllPerToken: nll, decodeOrder: summary)
        }
        return .init(key: inputs.key, inputs: inputs, variantLabel: variant.label, evaluationLabel: evaluation.label, dropped: nil,
                     sparsity: nil, tasks: tasks, macroAccuracy: accuracy.reduce(0, +) / Double(max(1, accuracy.count)), meanNFE: nfe,
                     nllPerToken: nll, layers: nil, kernel: kernel, evaluationSeconds: 0, cellSeconds: 0)
    }

    /// Every plot of a report parses, has labelled axes and one series per legend entry.
    static func checkPlots(_ doc: ReportDocument) throws {
        for p in doc.plots {
            let r = try SVGReader.read(p.svg)
            #expect(r.text("x-label")?.isEmpty == false && r.text("y-label")?.isEmpty == false, "\(p.file)")
            #expect(r.classes["series"] == r.classes["legend-entry"], "\(p.file)")
        }
    }

    /// The series names of one plot, in legend order.
    static func seriesNames(_ doc: ReportDocument, _ file: String) throws -> [String] {
        let plot = try #require(doc.plots.first { $0.file == file }, "\(file)")
        return plot.svg.components(separatedBy: "class=\"series\" data-name=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func depthFindingsStateWhatTheNumbersSay() {
        var main = ReportRecipe.Evaluation(); main.likelihood = true
        var dense = ReportRecipe.Variant(kind: "dense")
        func drop(_ by: String, _ k: Int) -> ReportRecipe.Variant { var v = ReportRecipe.Variant(kind: "drop"); v.by = by; v.count = k; return v }
        func single(_ b: String) -> ReportRecipe.Variant { var v = ReportRecipe.Variant(kind: "drop"); v.layers = b; return v }
        dense.kind = "dense"
        // "a" stays within 5 points up to k = 2, "b" loses more at k = 1. Block 0 matters to add
        // only; block 1 to nothing.
        let cells = [Self.cell(dense, main, accuracy: [1, 1, 1, 1], nfe: 12, nll: 0.01),
                     Self.cell(drop("a", 1), main, accuracy: [1, 1, 1, 0.9], nfe: 12, nll: 0.02),
                     Self.cell(drop("a", 2), main, accuracy: [1, 0.9, 1, 0.96], nfe: 12, nll: 0.05),
                     Self.cell(drop("a", 3), main, accuracy: [0.2, 0.2, 0.2, 0.2], nfe: 12, nll: 2),
                     Self.cell(drop("b", 1), main, accuracy: [0.5, 0.5, 0.5, 0.5], nfe: 12, nll: 1),
                     Self.cell(drop("b", 2), main, accuracy: [0.1, 0.1, 0.1, 0.1], nfe: 12, nll: 3),
                     Self.cell(drop("b", 3), main, accuracy: [0, 0, 0, 0], nfe: 12, nll: 4),
                     Self.cell(single("0"), main, accuracy: [0.3, 1, 1, 1], nfe: 12, nll: 0.5),
                     Self.cell(single("1"), main, accuracy: [1, 0.98, 1, 1], nfe: 12, nll: 0.015)]
        let doc = DepthAblationReport.make(ReportCells(cells, tasks: Self.referenceTasks))
        let text = doc.findings.joined(separator: "\n")
        #expect(text.contains("up to k = 2 by a, k = 0 by b"))
        #expect(text.contains("Which blocks go matters: at k = 1 a keeps 97.5 % (worst: b, 50.0 %); at k = 2 a keeps 96.5 % (worst: b, 10.0 %)"))
        #expect(text.contains("add without block 0; kv survives every single drop"))
        #expect(text.contains("Dropping block 1 alone costs no task more than 5 points"))
        // NLL and accuracy fall in exact opposite rank order over the eight dropped models.
        #expect(text.contains("rank correlation of NLL per token and accuracy is -1.00"))
        #expect(doc.plots.map(\.file).contains("likelihood-vs-generation.svg"))
    }

    @Test func samplerFindingsAndPlotsCarryTheDecodeOrder() throws {
        var dense = ReportRecipe.Variant(kind: "dense")
        dense.kind = "dense"
        var wanda = ReportRecipe.Variant(kind: "prune"); wanda.method = "wanda"; wanda.sparsity = 0.5
        func fixed(_ steps: Int) -> ReportRecipe.Evaluation { var e = ReportRecipe.Evaluation(); e.steps = steps; return e }
        func threshold(_ t: Double) -> ReportRecipe.Evaluation { var e = ReportRecipe.Evaluation(); e.sampler = "threshold"; e.threshold = t; return e }
        let rightToLeft = Array((1...12).reversed()), leftToRight = Array(1...12), pairs = (0..<12).map { $0 / 2 + 1 }
        let cells = [Self.cell(dense, fixed(12), accuracy: [1, 1, 1, 1], nfe: 12, nll: nil, order: rightToLeft),
                     Self.cell(dense, threshold(0.9), accuracy: [1, 1, 1, 1], nfe: 6, nll: nil, order: pairs),
                     Self.cell(dense, threshold(0.5), accuracy: [1, 1, 1, 0.5], nfe: 2, nll: nil, order: (0..<12).map { $0 / 6 + 1 }),
                     Self.cell(wanda, fixed(12), accuracy: [1, 1, 1, 0.8], nfe: 12, nll: nil, order: leftToRight),
                     Self.cell(wanda, threshold(0.9), accuracy: [1, 1, 1, 0.8], nfe: 8, nll: nil, order: pairs)]
        let doc = SamplersReport.make(ReportCells(cells, tasks: Self.referenceTasks))
        let text = doc.findings.joined(separator: "\n")
        // Right to left: only position 0 was leftmost when committed (1 of 12 = 8 %).
        #expect(text.contains("With one token per step, dense commits 8 % of its tokens at the leftmost masked position "
                              + "(rank correlation of commit step with position -1.00); wanda 50 % 100 % (1.00, more left to right)."))
        #expect(try Self.seriesNames(doc, "spearman-vs-nfe.svg") == ["dense", "wanda 50 %"])
        #expect(try Self.seriesNames(doc, "leftmost-vs-nfe.svg") == ["dense", "wanda 50 %"])
        try Self.checkPlots(doc)
    }

    /// A seft variant is set against the same pruning without repair: full-step accuracy, and
    /// NFE and accuracy at τ = 0.9.
    @Test func samplerFindingsSetSEFTAgainstItsPruning() throws {
        var wanda = ReportRecipe.Variant(kind: "prune"); wanda.method = "wanda"; wanda.sparsity = 0.5
        var seft = wanda; seft.kind = "seft"; seft.steps = 100
        func fixed(_ steps: Int) -> ReportRecipe.Evaluation { var e = ReportRecipe.Evaluation(); e.steps = steps; return e }
        func threshold(_ t: Double) -> ReportRecipe.Evaluation { var e = ReportRecipe.Evaluation(); e.sampler = "threshold"; e.threshold = t; return e }
        let cells = [Self.cell(wanda, fixed(12), accuracy: [1, 1, 0.5, 0.5], nfe: 12, nll: nil),
                     Self.cell(wanda, threshold(0.9), accuracy: [1, 1, 0.5, 0.3], nfe: 8, nll: nil),
                     Self.cell(seft, fixed(12), accuracy: [1, 1, 1, 0.9], nfe: 12, nll: nil),
                     Self.cell(seft, threshold(0.9), accuracy: [1, 1, 1, 0.8], nfe: 5.5, nll: nil)]
        let text = SamplersReport.make(ReportCells(cells, tasks: Self.referenceTasks)).findings.joined(separator: "\n")
        #expect(text.contains("SEFT fine-tuning: wanda 50 % + seft 100 steps takes wanda 50 % from 75.0 % to 97.5 % with one token per step, "
                              + "and at τ = 0.9 from 8.00 NFE (70.0 %) to 5.50 NFE (95.0 %)."), "\(text)")
        // Without the unrepaired pruning in the report there is nothing to set it against.
        #expect(!SamplersReport.make(ReportCells(Array(cells.suffix(2)), tasks: Self.referenceTasks)).findings.joined().contains("SEFT"))
    }

    @Test func kernelSpeedupAgainstTokensHasOneSeriesPerSparsityOnLogAxes() throws {
        func weight(_ sparsity: Double?, _ pattern: String?) -> ReportRecipe.Variant {
            var v = ReportRecipe.Variant(kind: "weight"); v.shape = "64x32"; v.sparsity = sparsity; v.pattern = pattern; return v
        }
        func bench(_ t: Int) -> ReportRecipe.Evaluation { var e = ReportRecipe.Evaluation(); e.bench = "kernels"; e.tokens = t; return e }
        var cells: [ReportCell.Result] = []
        for (sparsity, pattern) in [(0.5, nil), (0.9, nil), (nil, "2:4")] as [(Double?, String?)] {
            for t in [1, 16, 256] {
                let speedup = (sparsity ?? 0.5) * 4 / Double(t).squareRoot()
                let k = KernelBenchmark.Cell(shape: "64x32", tokens: t, pattern: pattern ?? "unstructured", sparsity: sparsity ?? 0.5,
                                             denseSeconds: speedup, sparseSeconds: 1, speedup: speedup, denseRoutine: t == 1 ? "sgemv" : "sgemm",
                                             kernel: "test", speedupVsPareDense: nil)
                cells.append(Self.cell(weight(sparsity, pattern), bench(t), accuracy: [], nfe: 0, nll: nil, kernel: k))
            }
        }
        let doc = KernelsReport.make(ReportCells(cells, tasks: Self.referenceTasks))
        #expect(try Self.seriesNames(doc, "speedup-vs-tokens-64x32.svg") == ["50 %", "90 %", "2:4"])
        let plot = try #require(doc.plots.first { $0.file == "speedup-vs-tokens-64x32.svg" })
        let r = try SVGReader.read(plot.svg)
        #expect(r.text("x-label") == "tokens per product T (log scale)" && r.text("y-label") == "speedup over dense (log scale)")
        // The x axis spans 1 ... 256 in powers of ten.
        #expect(r.texts.contains { $0.text == "1" } && r.texts.contains { $0.text == "100" })
        try Self.checkPlots(doc)
    }

    @Test func sparsityFindingsAndPlotsShowSEFTRepairs() throws {
        var dense = ReportRecipe.Variant(kind: "dense")
        dense.kind = "dense"
        func pruned(_ kind: String, _ x: Double) -> ReportRecipe.Variant {
            var v = ReportRecipe.Variant(kind: kind); v.method = "wanda"; v.sparsity = x; if kind == "seft" { v.steps = 200 }; return v
        }
        var main = ReportRecipe.Evaluation(); main.likelihood = true
        var threshold = ReportRecipe.Evaluation(); threshold.sampler = "threshold"
        let cells = [Self.cell(dense, main, accuracy: [1, 1, 1, 1], nfe: 12, nll: 0.01),
                     Self.cell(dense, threshold, accuracy: [1, 1, 1, 1], nfe: 1, nll: nil),
                     Self.cell(pruned("prune", 0.5), main, accuracy: [1, 1, 0.6, 0.6], nfe: 12, nll: 0.1),
                     Self.cell(pruned("prune", 0.5), threshold, accuracy: [1, 1, 0.6, 0.6], nfe: 1.5, nll: nil),
                     Self.cell(pruned("prune", 0.7), main, accuracy: [0, 0, 0.2, 0.2], nfe: 12, nll: 1),
                     Self.cell(pruned("prune", 0.7), threshold, accuracy: [0, 0, 0.2, 0.2], nfe: 3, nll: nil),
                     Self.cell(pruned("seft", 0.5), main, accuracy: [1, 1, 1, 0.9], nfe: 12, nll: 0.02),
                     Self.cell(pruned("seft", 0.5), threshold, accuracy: [1, 1, 1, 0.9], nfe: 1.1, nll: nil),
                     Self.cell(pruned("seft", 0.7), main, accuracy: [1, 0.8, 1, 0.8], nfe: 12, nll: 0.05),
                     Self.cell(pruned("seft", 0.7), threshold, accuracy: [1, 0.8, 1, 0.8], nfe: 1.3, nll: nil)]
        let doc = SparsitySweepReport.make(ReportCells(cells, tasks: Self.referenceTasks))
        let text = doc.findings.joined(separator: "\n")
        #expect(text.contains("SEFT fine-tuning for 200 steps raises mean accuracy of wanda 50 % from 80.0 % to 97.5 % and wanda 70 % from 10.0 % to 90.0 %."))
        // The plain pruner's curve stays unchanged by the seft cells: dense, 50 %, 70 %.
        #expect(text.contains("up to 0 % with wanda"))
        for file in ["accuracy-vs-sparsity.svg", "nll-vs-sparsity.svg", "nfe-vs-sparsity.svg"] {
            #expect(try Self.seriesNames(doc, file) == ["wanda", "wanda + seft 200 steps"], "\(file)")
        }
        try Self.checkPlots(doc)
    }

    /// A recipe naming its tasks evaluates and reports only those; a seft cell prunes, then
    /// fine-tunes on those tasks keeping the sparsity, and the variant's other evaluations reuse
    /// its fine-tuned model; cells carry the decode order.
    @Test func namedTasksSEFTAndDecodeOrderInRealCells() throws {
        let dir = Fixtures.temporaryDirectory()
        // A tiny random model (as FinetuneTests' one): SEFT steps on pare-tiny are slow in a debug build.
        let model = dir.appendingPathComponent("tiny.h5").path
        let config = ModelConfig(vocabSize: CharTokenizer.referenceVocab.count, dModel: 32, nLayers: 2, nHeads: 4,
                                 nKVHeads: 2, dFF: 48, maxSeqLen: 48, maskTokenID: 1, eosTokenID: 0)
        try LLaDAModel.random(config: config, seed: 3, std: 0.2).checkpoint(vocab: CharTokenizer.referenceVocab, provenance: []).save(to: model)
        let path = dir.appendingPathComponent("tasks.yaml").path
        try """
        report: sparsity-sweep
        model: \(model)
        tasks: [rev, add]
        samples: 2
        calibration_samples: 4
        variants:
          - {kind: dense}
          - {kind: seft, method: wanda, sparsity: 0.5, steps: 2}
        evaluations:
          - {sampler: fixed, steps: 1}
          - {sampler: fixed, steps: 2}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let recipe = try ReportRecipe.load(path: path)
        #expect(recipe.variants.map(\.label) == ["dense", "wanda 50 % + seft 2 steps"])
        let run = try ReportRun(recipe: recipe, name: "tasks", directory: dir.path)
        // Only seft cells carry the SEFT version, so the other cells' keys stay as they were.
        #expect(run.cells.map { $0.inputs.seftVersion } == [nil, nil, ReportCell.seftVersion, ReportCell.seftVersion])
        #expect(!String(decoding: run.cells[0].inputs.canonicalJSON, as: UTF8.self).contains("seft"))
        #expect(run.cells.allSatisfy { $0.inputs.kernelsVersion == nil })  // no timed cell here
        var logs: [String] = []
        try run.run(cell: 2, source: try ModelFile.open(model, residency: .resident)) { logs.append($0) }
        // The fine-tuned model is kept for the variant, and it trained on the recipe's tasks.
        let kept = try FileManager.default.contentsOfDirectory(atPath: run.cellDirectory).filter { $0.hasSuffix(".seft.h5") }
        #expect(kept.count == 1)
        let history = try CheckpointReader.read(path: run.cellDirectory + "/" + kept[0]).provenance
        #expect(TaskCatalog.trained(provenance: history)?.map(\.name) == ["add", "rev"])
        #expect(!logs.contains { $0.contains("reusing") })
        try run.run(cell: 3, source: try ModelFile.open(model, residency: .resident)) { logs.append($0) }
        #expect(logs.contains { $0.contains("reusing the fine-tuned model") })
        #expect(try run.runAll() == [0, 1])
        let results = try run.results()
        #expect(results.allSatisfy { $0.tasks.map(\.task) == ["rev", "add"] })
        // A seft variant on the dependent tasks is a valid recipe now.
        let dependent = dir.appendingPathComponent("dep.yaml").path
        try "tasks: [hops]\nvariants:\n  - {kind: seft, method: wanda, sparsity: 0.5, steps: 10}\nevaluations:\n  - {sampler: fixed, steps: 32}\n"
            .write(toFile: dependent, atomically: true, encoding: .utf8)
        #expect(try ReportRecipe.load(path: dependent).variants.first?.kind == "seft")
        // All twelve positions in one step: every commit is in the leftmost run, and there is
        // no order for a rank correlation to measure.
        let dense = results[0]
        #expect(dense.leftmostShare == 1 && dense.spearman == nil && dense.tokensPerStep == 12 && dense.meanNFE == 1)
        // SEFT keeps every matrix's zero count: half of the block linears.
        let seft = try #require(results[2].sparsity)
        #expect(abs(seft - 0.5) < 0.01)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())).contains { $0.hasPrefix("pare-report-\(getpid())-") })
        try run.merge()
        let header = try String(contentsOfFile: dir.path + "/results.csv", encoding: .utf8).textLines.first ?? ""
        #expect(header.contains("accuracy_rev,accuracy_add,macro_accuracy") && !header.contains("accuracy_kv"))
        #expect(header.contains("tokens_per_step,leftmost_share,spearman,prophet_share,prophet_step"))
    }

    /// Every report `make reports` makes has a recipe that loads: its tasks exist and every
    /// evaluation suits each task's generation length.
    @Test func everyCommittedReportRecipeLoads() throws {
        let makefile = try String(contentsOfFile: BundledRecipeTests.path("Makefile"), encoding: .utf8)
        let line = try #require(makefile.textLines.first { $0.hasPrefix("REPORTS :=") })
        let names = line.dropFirst("REPORTS :=".count).split(separator: " ").map(String.init)
        #expect(names.contains("depth-ablation-dep") && names.contains("samplers-dep"))
        for name in names {
            let recipe = try ReportRecipe.load(path: BundledRecipeTests.path("experiments/\(name).yaml"))
            #expect(!recipe.cells.isEmpty, "\(name)")
            if name.hasSuffix("-dep") { #expect(recipe.model == "models/pare-dep.h5" && recipe.tasks.contains("hops"), "\(name)") }
        }
    }
}
