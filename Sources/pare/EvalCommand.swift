import ArgumentParser
import Foundation
import Pare

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy (exact match or validity, per task), NFE, decode order and likelihood on the tasks' test split.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Comma-separated tasks among \(TaskCatalog.names.joined(separator: ", ")).") var tasks = "add,kv,rev,chain"
    @Option(help: "Test samples per task.") var samples = 500
    @Flag(help: "Also estimate the Monte-Carlo NLL per answer token.") var likelihood = false
    @Option(help: "Monte-Carlo draws per answer for --likelihood.") var likelihoodDraws = 16
    @Option(help: "Sequences decoded together.") var batchSize = 64
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var kernelArguments: KernelArguments

    func parsedTasks() throws -> [any TaskDefinition] {
        let known = TaskCatalog.names.joined(separator: ", ")
        let names = tasks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names.isEmpty { throw ValidationError("--tasks: name at least one of \(known)") }
        return try names.map {
            guard let t = TaskCatalog.named($0) else {
                throw ValidationError("--tasks: unknown task \"\($0)\" (expected \(known))")
            }
            return t
        }
    }

    func validate() throws {
        _ = try parsedTasks()
        try requireRange("--samples", samples, 1...1_000_000)
        try requireRange("--likelihood-draws", likelihoodDraws, 1...10_000)
        try requireRange("--batch-size", batchSize, 1...65_536)
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try modelOptions.load()
            var evaluator = TaskEvaluator(model: loaded.weights, tokenizer: loaded.tokenizer, sampling: sampling.options)
            evaluator.samples = samples; evaluator.seed = sampling.seed; evaluator.likelihood = likelihood
            evaluator.likelihoodDraws = likelihoodDraws; evaluator.batchSize = batchSize
            // Without --gen-length each task decodes with its own generation length.
            evaluator.taskGenerationLengths = sampling.genLength == nil
            let tasks = try parsedTasks()
            evaluator.model = try kernelArguments.place(loaded.weights, tokens: try evaluator.typicalForwardTokens(tasks: tasks),
                                                        quiet: modelOptions.json)
            let report = try evaluator.run(tasks: tasks, progress: log)
            if modelOptions.json {
                printJSON(report.json)
            } else {
                print("task    scoring   accuracy    NFE    tok/step" + (likelihood ? "   NLL/token" : ""))
                for t in report.tasks {
                    var line = t.task.padding(toLength: 7, withPad: " ", startingAt: 0) + " "
                        + t.scoring.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                        + String(format: " %7.1f %%  %5.2f  %8.2f", t.accuracy * 100, t.nfeMean, t.tokensPerStep)
                    if let nll = t.nllPerToken { line += String(format: "   %9.4f", nll) }
                    print(line)
                    print("        " + t.decodeOrder.line)
                }
                print(String(format: "macro accuracy %.1f %%, %.1f s", report.macroAccuracy * 100, report.wallSeconds))
            }
        }
    }
}
