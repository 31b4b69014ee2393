import Foundation

/// `pare eval`: accuracy (exact match or validity, as each task declares), NFE, decode order and
/// optionally likelihood on the tasks' test split.
public struct TaskEvaluator {
    public struct TaskResult: Codable, Sendable {
        public var task: String
        /// How the task's outputs were judged.
        public var scoring: TaskScoring
        public var genLength: Int
        public var samples: Int
        public var accuracy: Double
        public var nfeMean: Double
        /// Generated tokens per forward pass over the whole task (L * samples / total NFE).
        public var tokensPerStep: Double
        public var wallSeconds: Double
        /// Monte-Carlo NLL per answer token (with --likelihood).
        public var nllPerToken: Double?
        public var perplexity: Double?
        /// In which order the answers were decoded (docs/algorithms.md §3.9).
        public var decodeOrder = DecodeOrderSummary()
        /// For a user data set: how its answers were matched (`--match`), reported as its scoring.
        public var match: AnswerMatch?
    }

    public struct Report: Sendable {
        public var tasks: [TaskResult]
        public var macroAccuracy: Double { tasks.isEmpty ? 0 : tasks.map(\.accuracy).reduce(0, +) / Double(tasks.count) }
        public var wallSeconds: Double

        /// The `eval` JSON object (README "JSON output").
        public var json: [String: Any] {
            var perTask: [String: Any] = [:]
            for t in tasks {
                var o: [String: Any] = ["accuracy": t.accuracy, "nfe_mean": t.nfeMean, "tokens_per_step": t.tokensPerStep,
                                        "samples": t.samples, "wall_seconds": t.wallSeconds, "accuracy_stderr": t.accuracyStandardError,
                                        "decode_order": t.decodeOrder.json, "scoring": t.match?.rawValue ?? t.scoring.rawValue, "gen_length": t.genLength]
                if let nll = t.nllPerToken { o["nll_per_token"] = nll }
                if let ppl = t.perplexity { o["perplexity"] = ppl }
                perTask[t.task] = o
            }
            return ["tasks": perTask, "macro_accuracy": macroAccuracy, "wall_seconds": wallSeconds]
        }
    }

    public var model: any ModelWeights
    public var tokenizer: any Tokenizer
    public var sampling: SamplingOptions
    public var samples = 500
    public var seed: UInt64 = 0
    public var likelihood = false
    public var likelihoodDraws = 16
    public var batchSize = 64
    /// Decode each task with its own generation length instead of `sampling.genLength`
    /// (`pare eval` without `--gen-length`; training's evaluation).
    public var taskGenerationLengths = false

    public init(model: any ModelWeights, tokenizer: any Tokenizer, sampling: SamplingOptions) {
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling
    }

    /// Tokens one forward pass feeds the linears: a full batch of these tasks' prompts (mean
    /// length over their first test samples) plus the generation region. `--kernels auto`
    /// places each linear for this workload.
    public func typicalForwardTokens(tasks: [any TaskDefinition]) throws -> Int {
        let lengths = try tasks.flatMap { task in
            try task.examples(16, split: .test, seed: seed).map { try tokenizer.encode($0.prompt).count + options(for: task).genLength }
        }
        let mean = lengths.isEmpty ? 0 : lengths.reduce(0, +) / lengths.count
        return min(batchSize, samples) * mean
    }

    /// The sampling options a task is decoded with.
    public func options(for task: any TaskDefinition) -> SamplingOptions {
        var o = sampling
        if taskGenerationLengths { o.genLength = task.generationLength }
        return o
    }

    public func run(tasks: [any TaskDefinition], progress: (String) -> Void = { _ in }) throws -> Report {
        let start = Date()
        var results: [TaskResult] = []
        let eos = model.config.eosTokenID
        for task in tasks {
            let t0 = Date()
            let sampling = options(for: task)
            let sampler = try MaskedDiffusionSampler(model: model, options: sampling)
            let data = task.examples(samples, split: .test, seed: seed)
            let prompts = try data.map { try tokenizer.encode($0.prompt) }
            // A region shorter than the answers would score every sample wrong, silently.
            let longest = try data.map { try tokenizer.encode($0.answer).count }.max() ?? 0
            if longest > sampling.genLength {
                throw SamplingError.badOption("--gen-length \(sampling.genLength) is shorter than \(task.name)'s longest answer "
                    + "(\(longest) tokens); leave --gen-length out to decode it at its own \(task.generationLength)")
            }
            var correct = 0, nfe = 0
            var order = DecodeOrderSummary()
            for b in stride(from: 0, to: prompts.count, by: batchSize) {
                let range = b..<min(b + batchSize, prompts.count)
                let gens = try sampler.generate(Array(prompts[range]))
                for (g, sample) in zip(gens, data[range]) {
                    if task.score(tokenizer.decodeAnswer(g.tokens, eos: eos), for: sample) { correct += 1 }
                    nfe += g.nfe
                    order.add(DecodeOrder(g))
                }
            }
            var r = TaskResult(task: task.name, scoring: task.scoring, genLength: sampling.genLength, samples: data.count,
                               accuracy: Double(correct) / Double(max(1, data.count)),
                               nfeMean: Double(nfe) / Double(max(1, data.count)),
                               tokensPerStep: Double(sampling.genLength * data.count) / Double(max(1, nfe)),
                               wallSeconds: 0, decodeOrder: order)
            if likelihood {
                let examples = try zip(data, prompts).map { sample, prompt in
                    PromptAnswer(prompt: prompt, answer: try sample.answerTokens(tokenizer, eos: eos, length: sampling.genLength))
                }
                let perToken = try LikelihoodEstimator(draws: likelihoodDraws, seed: seed)
                    .perToken(model: model, examples: examples, batchSize: batchSize, length: sampling.genLength)
                r.nllPerToken = perToken
                r.perplexity = Foundation.exp(perToken)
            }
            r.wallSeconds = Date().timeIntervalSince(t0)
            results.append(r)
            progress(String(format: "%@: accuracy %.1f %%, NFE %.2f, %.2f s", task.name, r.accuracy * 100, r.nfeMean, r.wallSeconds))
        }
        return Report(tasks: results, wallSeconds: Date().timeIntervalSince(start))
    }
}
