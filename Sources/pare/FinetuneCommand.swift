import ArgumentParser
import Foundation
import Pare

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a pruned model: SEFT (evolving mask), frozen mask, or dense then re-pruned.")

    @Option(help: "The pruned model (pare-dlm).") var model: String
    @Option(help: "seft, frozen-mask or dense.") var method: FinetuneMethod = .seft
    @Option(help: "Optimizer steps.") var steps = 500
    @Option(help: "SEFT: steps between topology updates.") var updateInterval = 25
    @Option(help: "SEFT: share of active weights dropped and regrown per update, at the start.") var dropFraction = 0.2
    @Option(help: "SEFT: how the drop fraction decays: cosine, linear or constant.") var dropSchedule: DropSchedule = .cosine
    @Option(help: "SEFT: drop the smallest |w| (magnitude) or |w| * input RMS (wanda).") var dropCriterion: DropCriterion = .magnitude
    @Option(help: "Peak learning rate (warmup, then cosine to a tenth of it).") var learningRate = 5e-4
    @Option(help: "Sequences per step.") var batchSize = 64
    @Option(help: "Seed of the batches and masks.") var seed: UInt64 = 1
    @Option(help: "Comma-separated tasks among \(TaskCatalog.names.joined(separator: ", ")) whose training split to train on, equally weighted (default: the model's training tasks from its provenance, else add,kv,rev,chain).") var tasks: String?
    @Option(help: "A .jsonl data set ({\"prompt\": ..., \"answer\": ...} per line) or PROMPT<TAB>ANSWER lines to train on instead of tasks.") var data: String?
    @Flag(help: "Also train the RMSNorm weights.") var trainNorms = false
    @Option(help: "Output file (default: <model>.<method>.h5 in the current folder).") var output: String?
    @Flag(help: "Continue the run whose checkpoint sits next to the output.") var resume = false
    @Option(help: "Stop (after a checkpoint) when this many minutes have passed; continue with --resume.") var maxMinutes: Double?
    @Option(help: "Test samples per task for the final evaluation (0 skips it).") var evalSamples = 200
    @Flag(help: "Print one JSON object on stdout; progress goes to stderr.") var json = false

    var options: FinetuneOptions {
        var o = FinetuneOptions()
        o.method = method; o.steps = steps; o.updateInterval = updateInterval; o.dropFraction = dropFraction
        o.dropSchedule = dropSchedule; o.dropCriterion = dropCriterion; o.learningRate = learningRate; o.minLearningRate = learningRate / 10
        o.batchSize = batchSize; o.seed = seed; o.data = data; o.trainNorms = trainNorms
        o.tasks = (try? parsedTasks())??.map(\.name)
        return o
    }

    /// The named tasks, or nil for the model's own.
    func parsedTasks() throws -> [any TaskDefinition]? {
        try tasks.map { try parseTaskList($0, option: "--tasks") }
    }

    func validate() throws {
        _ = try parsedTasks()
        if let p = options.problem() { throw ValidationError(p) }
        if let m = maxMinutes, !(m > 0) { throw ValidationError("--max-minutes must be positive") }
        if evalSamples < 0 || evalSamples > 100_000 { throw ValidationError("--eval-samples must be in 0...100000") }
    }

    func run() throws {
        try runReportingErrors {
            let out = output ?? URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent + ".\(method.rawValue).h5"
            let tuner = try Finetuner(modelPath: model, options: options, output: out, resume: resume)
            let done = try tuner.run(maxSeconds: maxMinutes.map { $0 * 60 }, progress: log)
            guard done else { return }
            let final = try tuner.finish(progress: log)
            try? FileManager.default.removeItem(atPath: Finetuner.directory(for: out))
            let seconds = tuner.state.elapsedSeconds
            var result: [String: Any] = [
                "output": out, "method": method.rawValue, "steps": steps, "train_seconds": seconds,
                "seconds_per_step": seconds / Double(max(1, steps)),
            ]
            if let c = tuner.state.churn.last { result["overlap_with_input_mask"] = c.overlapWithOriginal }
            var row: ModelComparison.Row?
            // The evaluation scores the tasks the run trained on (with --data: the model's own).
            var comparison = ModelComparison()
            comparison.tasks = tuner.mix?.tasks ?? TaskCatalog.defaults(provenance: tuner.sourceProvenance)
            if evalSamples > 0 {
                comparison.samples = evalSamples
                row = try comparison.evaluate(label: method.rawValue, model: final,
                                              tokenizer: tuner.tokenizer, progress: log)
            }
            if let memory = peakResidentMemoryMiB() { result["peak_memory_mib"] = memory }
            if let row {
                result["accuracy"] = row.accuracy; result["macro_accuracy"] = row.macroAccuracy
                result["threshold_nfe_mean"] = row.thresholdNFE; result["nll_per_token"] = row.nllPerToken
            }
            if json {
                printJSON(result)
            } else {
                if let row { print(comparison.text([row])) }
                print(String(format: "%d steps in %.1f s (%.3f s/step)%@; wrote %@", steps, seconds, seconds / Double(max(1, steps)),
                             (result["peak_memory_mib"] as? Double).map { String(format: ", peak memory %.0f MiB", $0) } ?? "", out))
            }
        }
    }
}

extension FinetuneMethod: ExpressibleByArgument {}
extension DropSchedule: ExpressibleByArgument {}
extension DropCriterion: ExpressibleByArgument {}
