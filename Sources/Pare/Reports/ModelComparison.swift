import Foundation

/// Several models evaluated the same way, side by side (the demo and the README results table).
///
/// Each model gets: exact-match accuracy per task under the fixed sampler (one token per step),
/// mean NFE under the threshold sampler, and the Monte-Carlo NLL per answer token, all on the
/// same test samples and the same likelihood masks.
public struct ModelComparison {
    public struct Row: Sendable {
        public var label: String
        public var accuracy: [String: Double]
        public var macroAccuracy: Double
        public var thresholdNFE: Double
        public var thresholdAccuracy: Double
        public var nllPerToken: Double
    }

    public var tasks: [any TaskDefinition] = ReferenceTask.allCases
    public var samples = 200
    public var seed: UInt64 = 0
    public var threshold = 0.9

    public init() {}

    public func evaluate(label: String, model: any ModelWeights, tokenizer: any Tokenizer,
                         progress: (String) -> Void = { _ in }) throws -> Row {
        var fixed = TaskEvaluator(model: model, tokenizer: tokenizer, sampling: SamplingOptions())
        fixed.samples = samples; fixed.seed = seed; fixed.likelihood = true
        // Each task decodes its own generation region (12 tokens for the reference tasks).
        fixed.taskGenerationLengths = true
        let a = try fixed.run(tasks: tasks)
        var options = SamplingOptions()
        options.sampler = .threshold; options.threshold = threshold
        var fast = TaskEvaluator(model: model, tokenizer: tokenizer, sampling: options)
        fast.samples = samples; fast.seed = seed; fast.taskGenerationLengths = true
        let b = try fast.run(tasks: tasks)
        let row = Row(label: label,
                      accuracy: Dictionary(uniqueKeysWithValues: a.tasks.map { ($0.task, $0.accuracy) }),
                      macroAccuracy: a.macroAccuracy,
                      thresholdNFE: b.tasks.map(\.nfeMean).reduce(0, +) / Double(max(1, b.tasks.count)),
                      thresholdAccuracy: b.macroAccuracy,
                      nllPerToken: a.tasks.compactMap(\.nllPerToken).reduce(0, +) / Double(max(1, a.tasks.count)))
        progress(String(format: "%@: macro accuracy %.1f %%, threshold NFE %.2f, NLL/token %.4f",
                        label, row.macroAccuracy * 100, row.thresholdNFE, row.nllPerToken))
        return row
    }

    /// A Markdown table, one row per model.
    public func markdown(_ rows: [Row]) -> String {
        var lines = ["| model | " + tasks.map { "\($0.name) acc." }.joined(separator: " | ")
                     + " | mean acc. | NFE (threshold \(threshold)) | acc. (threshold) | NLL / token |",
                     "|---|" + tasks.map { _ in "---:|" }.joined() + "---:|---:|---:|---:|"]
        for r in rows {
            let accs = tasks.map { String(format: "%.1f %%", (r.accuracy[$0.name] ?? 0) * 100) }
            lines.append("| \(r.label) | " + accs.joined(separator: " | ")
                         + String(format: " | %.1f %% | %.2f | %.1f %% | %.4f |", r.macroAccuracy * 100, r.thresholdNFE,
                                  r.thresholdAccuracy * 100, r.nllPerToken))
        }
        return lines.joined(separator: "\n")
    }

    /// A plain-text table for the terminal.
    public func text(_ rows: [Row]) -> String {
        let width = max(8, rows.map(\.label.count).max() ?? 8)
        var lines = ["model".padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                     + tasks.map { $0.name.padding(toLength: 7, withPad: " ", startingAt: 0) }.joined(separator: " ")
                     + "  mean     NFE(thr)  acc(thr)  NLL/token"]
        for r in rows {
            lines.append(r.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                         + tasks.map { String(format: "%5.1f%% ", (r.accuracy[$0.name] ?? 0) * 100) }.joined(separator: " ")
                         + String(format: " %5.1f%%   %6.2f    %5.1f%%    %.4f", r.macroAccuracy * 100, r.thresholdNFE,
                                  r.thresholdAccuracy * 100, r.nllPerToken))
        }
        return lines.joined(separator: "\n")
    }
}
