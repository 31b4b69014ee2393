import ArgumentParser
import Foundation
import Pare

struct GenerateBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Time the decode loop on a model and a prompt set: tokens/s, NFE/s, time per step, share in matrix products.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompts from this reference task's test split (add, kv, rev, chain).") var task = "rev"
    @Option(help: "Number of task prompts (or of random prompts).") var samples = 256
    @Option(help: "A file with one prompt per line (instead of --task).") var prompts: String?
    @Option(help: "Random prompts of this many token ids (any id but the mask), for models without a text vocabulary.")
    var randomPromptLength: Int?
    @Option(help: "Prompts decoded together in one batch.") var batchSize = 64
    @Option(help: "Timed rounds (median reported).") var repeats = 3
    @Option(help: "Untimed decodes before the timed ones.") var warmups = 1
    @Flag(help: "With --json: add the prompt ids and generated ids of every sequence.") var printTokens = false
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var kernelArguments: KernelArguments

    func validate() throws {
        try requireRange("--samples", samples, 1...1_000_000)
        try requireRange("--batch-size", batchSize, 1...65_536)
        try requireRange("--repeats", repeats, 1...1_000)
        try requireRange("--warmups", warmups, 0...100)
        if let randomPromptLength { try requireRange("--random-prompt-length", randomPromptLength, 1...1_048_576) }
        if prompts != nil && randomPromptLength != nil {
            throw ValidationError("give at most one of --prompts and --random-prompt-length")
        }
        if ReferenceTask(rawValue: task) == nil {
            throw ValidationError("--task: unknown task \"\(task)\" (expected add, kv, rev, chain)")
        }
    }

    func run() throws {
        try runReportingErrors {
            var loaded = try modelOptions.load()
            let config = loaded.weights.config
            let ids: [[Int]]
            if let randomPromptLength {
                var rng = SplitMix64(seed: sampling.seed)
                // Every id but the mask: a random prompt is any text the model could be given.
                let draw = { () -> Int in
                    let v = Int(rng.next() % UInt64(config.vocabSize - 1))
                    return v >= config.maskTokenID ? v + 1 : v
                }
                ids = (0..<samples).map { _ in (0..<randomPromptLength).map { _ in draw() } }
            } else if let prompts {
                guard let data = FileManager.default.contents(atPath: prompts) else { throw CLIError("cannot read prompts file \(prompts)") }
                let lines = String(decoding: data, as: UTF8.self).textLines.filter { !$0.isEmpty }.map(String.init)
                if lines.isEmpty { throw CLIError("prompts file \(prompts) holds no prompt (every line is empty)") }
                ids = try lines.map { try loaded.tokenizer.encode($0) }
            } else {
                ids = try ReferenceTask(rawValue: task)!.samples(samples, split: .test, seed: sampling.seed)
                    .map { try loaded.tokenizer.encode($0.prompt) }
            }
            let tokens = min(batchSize, ids.count) * ((ids.map(\.count).max() ?? 0) + sampling.options.genLength)
            let model = try kernelArguments.place(&loaded, tokens: tokens, quiet: modelOptions.json)
            var bench = GenerateBenchmark(model: model, prompts: ids, sampling: sampling.options,
                                          batchSize: batchSize, repeats: repeats)
            bench.warmups = warmups
            let r = try bench.run(progress: log)
            if modelOptions.json {
                var o: [String: Any] = [
                    "model": modelOptions.resolvedPath(), "prompts": ids.count, "batch_size": batchSize,
                    "gen_length": sampling.options.genLength, "steps": sampling.options.resolvedSteps,
                    "sampler": sampling.sampler.rawValue, "repeats": repeats, "threads": denseThreads,
                    "wall_seconds": r.wallSeconds, "round_seconds": r.roundSeconds,
                    "tokens_per_second": r.tokensPerSecond, "nfe_per_second": r.nfePerSecond,
                    "sequence_nfe": r.sequenceNFE, "batched_steps": r.batchedSteps,
                    "seconds_per_step": r.secondsPerStep, "product_share": r.productShare,
                    "product_cpu_seconds": r.productCPUSeconds, "cpu_seconds": r.cpuSeconds,
                    "page_faults": r.pageFaults, "openblas_threads": r.openBLASThreads]
                if printTokens {
                    o["prompt_ids"] = ids
                    o["generations"] = r.generations.map(\.tokens)
                }
                printJSON(o)
            } else {
                print(String(format: "%d prompts, gen length %d, %@ sampler, batch %d, %d threads",
                             ids.count, sampling.options.genLength, sampling.sampler.rawValue, batchSize, denseThreads))
                print(String(format: "wall        %.3f s (median of %d)", r.wallSeconds, repeats))
                print(String(format: "tokens/s    %.1f", r.tokensPerSecond))
                print(String(format: "NFE/s       %.1f  (%d sequence NFE in %d batched steps)", r.nfePerSecond, r.sequenceNFE, r.batchedSteps))
                print(String(format: "per step    %.2f ms (one batched forward pass and its sampling)", r.secondsPerStep * 1000))
                print(String(format: "page faults %d in the round (%.1f per step: steps reuse freed memory)",
                             r.pageFaults, Double(r.pageFaults) / Double(max(r.batchedSteps, 1))))
                print(String(format: "products    %.1f %% of %.3f s CPU time in matrix products (BLAS, Pare's kernels); the rest: softmax, norms, RoPE, SwiGLU, sampling",
                             r.productShare * 100, r.cpuSeconds))
                print("OpenBLAS    \(r.openBLASThreads) thread(s) of its own (1: Pare's threads split the products)")
            }
        }
    }
}
