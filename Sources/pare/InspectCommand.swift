import ArgumentParser
import Foundation
import Pare

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's config, parameter count, sparsity and provenance.")

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        try runReportingErrors {
            let path = modelOptions.resolvedPath()
            let loaded = try modelOptions.load()
            let report = try ModelSummary(path: path, header: loaded.header, model: loaded.weights)
            if modelOptions.json {
                printJSON(report.json)
            } else {
                print(report.text)
            }
        }
    }
}
