import ArgumentParser
import Foundation
import Pare

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Run a compression sweep recipe (experiments/*.yaml) and write a Markdown report.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Sweep recipe, e.g. experiments/results.yaml.") var config: String
    @Option(help: "Markdown file to write.") var output: String

    func run() throws {
        try runReportingErrors {
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
}
