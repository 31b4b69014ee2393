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
            let (checkpoint, model) = try modelOptions.load()
            let report = ModelSummary(path: path, checkpoint: checkpoint, model: model)
            if modelOptions.json {
                printJSON(report.json)
            } else {
                print(report.text)
            }
        }
    }
}
