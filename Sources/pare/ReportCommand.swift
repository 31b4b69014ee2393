import ArgumentParser
import Foundation
import Pare

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compute a report recipe's cells and merge them into reports/NAME/ (index.md, SVG plots, CSV, JSON).",
        discussion: """
        pare report experiments/NAME.yaml            computes every cell not cached yet, then merges
        pare report experiments/NAME.yaml --list     one line per cell: index, cache key, done or todo, label
        pare report experiments/NAME.yaml --cell K   computes cell K only (a make job, a Slurm array task)
        pare report experiments/NAME.yaml --merge    writes the report from the cached cells
        pare report --config experiments/results.yaml --output reports/results.md   the README results table
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Report recipe, e.g. experiments/depth-ablation.yaml.") var recipe: String?
    @Option(help: "Compute only this cell (0-based; see --list).") var cell: Int?
    @Flag(help: "Merge the cached cells into the report without computing any.") var merge = false
    @Flag(help: "List the cells: index, cache key, done or todo, label.") var list = false
    @Option(help: "Sweep recipe of the README results table (with --output FILE.md).") var config: String?
    @Option(help: "Report folder (default reports/NAME), or with --config the Markdown file to write.") var output: String?

    func validate() throws {
        if config != nil {
            if recipe != nil || cell != nil || merge || list { throw ValidationError("--config takes no recipe, --cell, --merge or --list") }
            if output == nil { throw ValidationError("--config needs --output FILE.md") }
        } else if recipe == nil {
            throw ValidationError("give a report recipe (experiments/NAME.yaml) or --config with --output")
        }
        if [cell != nil, merge, list].filter({ $0 }).count > 1 { throw ValidationError("--cell, --merge and --list exclude each other") }
        if let cell { try requireRange("--cell", cell, 0...9_999) }
    }

    func run() throws {
        try runReportingErrors {
            if let config { return try resultsTable(config: config, output: output!) }
            let path = recipe!
            var parsed = try ReportRecipe.load(path: path)
            if let model = modelOptions.model { parsed.model = model }
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let report = try ReportRun(recipe: parsed, name: name, directory: output ?? "reports/\(name)", recipePath: path)
            if list {
                for (i, c) in report.cells.enumerated() {
                    print("\(i)\t\(c.inputs.key)\t\(report.cached(i) == nil ? "todo" : "done")\t\(c.inputs.variant.label) / \(c.inputs.evaluation.label)")
                }
                return
            }
            if let cell {
                let computed = try report.run(cell: cell, source: try ModelFile.open(parsed.model, residency: .resident), progress: log)
                log("\(name) cell \(cell): \(computed ? "computed" : "cached") \(report.cellPath(cell))")
                if modelOptions.json { printJSON(["cell": cell, "computed": computed, "path": report.cellPath(cell)]) }
                return
            }
            var computed: [Int] = []
            if !merge {
                log("\(name): \(report.cells.count) cells, \(report.cells.indices.filter { report.cached($0) == nil }.count) to compute")
                computed = try report.runAll(progress: log)
            }
            let files = try report.merge()
            log("wrote \(report.directory)/index.md and \(files.count - 1) more files")
            if modelOptions.json { printJSON(["report": name, "cells": report.cells.count, "computed": computed.count, "files": files]) }
        }
    }

    /// The README results table (`make results`).
    func resultsTable(config: String, output: String) throws {
        let recipe = try CompressionSweep.Recipe.load(path: config)
        let path = modelOptions.resolvedPath()
        let loaded = try modelOptions.load()
        let sweep = CompressionSweep(recipe: recipe)
        let work = URL(fileURLWithPath: output).deletingLastPathComponent().path
        let (rows, costs) = try sweep.run(source: loaded, workDirectory: work.isEmpty ? "." : work, progress: log)
        try AtomicFile.write(sweep.markdown(rows: rows, costs: costs, modelPath: path), to: output)
        log("wrote \(output)")
        if modelOptions.json { printJSON(["output": output, "variants": rows.count]) }
    }
}
