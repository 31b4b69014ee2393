import ArgumentParser
import Foundation
import Pare

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Evaluate several models the same way and print them side by side.")

    @Argument(help: "Model files, each optionally LABEL=PATH.") var models: [String]
    @Option(help: "Test samples per task.") var samples = 200
    @Option(help: "Seed of the test samples and likelihood masks.") var seed: UInt64 = 0
    @Option(help: "Confidence threshold of the threshold sampler.") var threshold = 0.9
    @Option(help: "Also write the table as Markdown to this file.") var markdown: String?
    @Flag(help: "Print one JSON object on stdout.") var json = false
    @Flag(help: "Stream each model's blocks from its file.") var stream = false
    @Flag(help: "Hold each model wholly in memory.") var resident = false
    @OptionGroup var kernelArguments: KernelArguments

    func validate() throws {
        if models.isEmpty { throw ValidationError("name at least one model") }
        try requireRange("--samples", samples, 1...1_000_000)
        if !(threshold > 0 && threshold <= 1) { throw ValidationError("--threshold must be in (0, 1]") }
        if stream && resident { throw ValidationError("give at most one of --stream and --resident") }
    }

    func run() throws {
        try runReportingErrors {
            var comparison = ModelComparison()
            comparison.samples = samples; comparison.seed = seed; comparison.threshold = threshold
            var rows: [ModelComparison.Row] = []
            for spec in models {
                let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
                let (label, path) = parts.count == 2 ? (parts[0], parts[1]) : (URL(fileURLWithPath: spec).lastPathComponent, spec)
                var loaded = try ModelFile.open(path, residency: stream ? .streamed : resident ? .resident : .auto)
                let tokens = try TaskEvaluator(model: loaded.weights, tokenizer: loaded.tokenizer, sampling: SamplingOptions())
                    .typicalForwardTokens(tasks: comparison.tasks)
                let model = try kernelArguments.place(&loaded, tokens: tokens, quiet: json)
                rows.append(try comparison.evaluate(label: label, model: model, tokenizer: loaded.tokenizer, progress: log))
            }
            if let markdown {
                try AtomicFile.write(comparison.markdown(rows) + "\n", to: markdown)
            }
            if json {
                printJSON(["models": rows.map { r in
                    ["label": r.label, "accuracy": r.accuracy, "macro_accuracy": r.macroAccuracy,
                     "threshold_nfe_mean": r.thresholdNFE, "threshold_macro_accuracy": r.thresholdAccuracy,
                     "nll_per_token": r.nllPerToken] as [String: Any]
                }])
            } else {
                print(comparison.text(rows))
            }
        }
    }
}
