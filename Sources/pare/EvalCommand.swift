import ArgumentParser
import Foundation
import Pare

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy (exact match or validity, per task), NFE, decode order and likelihood on the tasks' test split or a JSONL data set.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Comma-separated tasks among \(TaskCatalog.names.joined(separator: ", ")) (default: the model's training tasks from its provenance, else add,kv,rev,chain; none with --data).") var tasks: String?
    @Option(help: "A JSONL data set, one {\"prompt\": ..., \"answer\": ...} object per line.") var data: String?
    @Option(help: "How --data answers are scored: exact, number or contains (after normalisation).") var match: AnswerMatch = .exact
    @Option(help: "Write one JSON line per --data sample (prompt, answer, generated text, tokens, correct, nfe).") var logSamples: String?
    @Option(help: "Test samples per task.") var samples = 500
    @Flag(help: "Also estimate the Monte-Carlo NLL per answer token.") var likelihood = false
    @Option(help: "Monte-Carlo draws per answer for --likelihood.") var likelihoodDraws = 16
    @Option(help: "Sequences decoded together.") var batchSize = 64
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var kernelArguments: KernelArguments

    /// The named tasks; none with only --data; nil for the model's defaults.
    func parsedTasks() throws -> [any TaskDefinition]? {
        if tasks == nil && data != nil { return [] }
        return try tasks.map { try parseTaskList($0, option: "--tasks") }
    }

    func validate() throws {
        _ = try parsedTasks()
        try requireRange("--samples", samples, 1...1_000_000)
        try requireRange("--likelihood-draws", likelihoodDraws, 1...10_000)
        try requireRange("--batch-size", batchSize, 1...65_536)
        if match != .exact && data == nil { throw ValidationError("--match applies to --data only") }
        if logSamples != nil && data == nil { throw ValidationError("--log-samples applies to --data only") }
    }

    func run() throws {
        try runReportingErrors {
            // Refused before the model loads: a bad data set or log path wastes no evaluation.
            let dataSet = try data.map(DataSet.read)
            if let logSamples { _ = try OutputPath(logSamples) }
            var loaded = try modelOptions.load()
            let tasks = try parsedTasks() ?? TaskCatalog.defaults(provenance: loaded.header.provenance)
            // The evaluators for a model. Made twice: first on the loaded model, to check the data
            // set and count the tokens per forward pass that kernel placement is chosen for, then
            // on the placed model. Evaluators kept from the first would hold every dense block
            // through placement, which otherwise frees each block once placed.
            func evaluators(_ model: any ModelWeights) throws -> (TaskEvaluator, DataSetEvaluator) {
                var evaluator = TaskEvaluator(model: model, tokenizer: loaded.tokenizer, sampling: sampling.options)
                evaluator.samples = samples; evaluator.seed = sampling.seed; evaluator.likelihood = likelihood
                evaluator.likelihoodDraws = likelihoodDraws; evaluator.batchSize = batchSize
                // Without --gen-length each task decodes with its own generation length.
                evaluator.taskGenerationLengths = sampling.genLength == nil
                var dataEvaluator = DataSetEvaluator(model: model, tokenizer: loaded.tokenizer, sampling: sampling.options, match: match)
                dataEvaluator.seed = sampling.seed; dataEvaluator.likelihood = likelihood
                dataEvaluator.likelihoodDraws = likelihoodDraws; dataEvaluator.batchSize = batchSize
                if let dataSet, sampling.genLength == nil {
                    dataEvaluator.sampling.genLength = try dataEvaluator.defaultGenLength(dataSet, blockLength: sampling.blockLength)
                    if let p = dataEvaluator.sampling.problem() { throw CLIError(p) }
                }
                if let dataSet { try dataEvaluator.check(dataSet) }
                return (evaluator, dataEvaluator)
            }
            let forwardTokens = try {
                let (evaluator, dataEvaluator) = try evaluators(loaded.weights)
                return try dataSet.map(dataEvaluator.typicalForwardTokens) ?? evaluator.typicalForwardTokens(tasks: tasks)
            }()
            let (evaluator, dataEvaluator) = try evaluators(try kernelArguments.place(&loaded, tokens: forwardTokens, quiet: modelOptions.json))
            var report = try evaluator.run(tasks: tasks, progress: log)
            if let dataSet {
                let (result, logs) = try dataEvaluator.run(dataSet, name: URL(fileURLWithPath: dataSet.path).lastPathComponent, progress: log)
                report.tasks.append(result)
                report.wallSeconds += result.wallSeconds
                if let logSamples { try AtomicFile.write(try DataSetEvaluator.jsonLines(logs), to: logSamples) }
            }
            if modelOptions.json {
                printJSON(report.json)
            } else {
                let width = max(7, report.tasks.map(\.task.count).max() ?? 0)
                print("task".padding(toLength: width, withPad: " ", startingAt: 0) + " scoring   accuracy +- stderr   NFE    tok/step" + (likelihood ? "   NLL/token" : ""))
                for t in report.tasks {
                    var line = t.task.padding(toLength: width, withPad: " ", startingAt: 0) + " "
                        + (t.match?.rawValue ?? t.scoring.rawValue).padding(toLength: 8, withPad: " ", startingAt: 0)
                        + String(format: " %7.1f %% +- %4.1f  %5.2f  %8.2f", t.accuracy * 100, t.accuracyStandardError * 100, t.nfeMean, t.tokensPerStep)
                    if let nll = t.nllPerToken { line += String(format: "   %9.4f", nll) }
                    print(line)
                    print("        " + t.decodeOrder.line)
                }
                print(String(format: "macro accuracy %.1f %%, %.1f s", report.macroAccuracy * 100, report.wallSeconds))
            }
        }
    }
}

extension AnswerMatch: ExpressibleByArgument {}
