import Foundation

/// `pare eval`: exact-match accuracy, NFE and optionally likelihood on the reference tasks' test split.
public struct TaskEvaluator {
    public struct TaskResult: Codable, Sendable {
        public var task: String
        public var samples: Int
        public var accuracy: Double
        public var nfeMean: Double
        /// Generated tokens per forward pass over the whole task (L * samples / total NFE).
        public var tokensPerStep: Double
        public var wallSeconds: Double
        /// Monte-Carlo NLL per answer token (with --likelihood).
        public var nllPerToken: Double?
        public var perplexity: Double?
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
                                        "samples": t.samples, "wall_seconds": t.wallSeconds, "accuracy_stderr": t.accuracyStandardError]
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

    public init(model: any ModelWeights, tokenizer: any Tokenizer, sampling: SamplingOptions) {
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling
    }

    /// Tokens one forward pass feeds the linears: a full batch of these tasks' prompts (mean
    /// length over their first test samples) plus the generation region. `--kernels auto`
    /// places each linear for this workload.
    public func typicalForwardTokens(tasks: [ReferenceTask]) throws -> Int {
        let prompts = try tasks.flatMap { task in
            try task.samples(16, split: .test, seed: seed).map { try tokenizer.encode($0.prompt).count }
        }
        let meanPrompt = prompts.isEmpty ? 0 : prompts.reduce(0, +) / prompts.count
        return min(batchSize, samples) * (meanPrompt + sampling.genLength)
    }

    public func run(tasks: [ReferenceTask], progress: (String) -> Void = { _ in }) throws -> Report {
        let start = Date()
        var results: [TaskResult] = []
        let sampler = try MaskedDiffusionSampler(model: model, options: sampling)
        let eos = model.config.eosTokenID
        for task in tasks {
            let t0 = Date()
            let data = task.samples(samples, split: .test, seed: seed)
            let prompts = try data.map { try tokenizer.encode($0.prompt) }
            var correct = 0, nfe = 0
            for b in stride(from: 0, to: prompts.count, by: batchSize) {
                let range = b..<min(b + batchSize, prompts.count)
                let gens = try sampler.generate(Array(prompts[range]))
                for (g, sample) in zip(gens, data[range]) {
                    if tokenizer.decodeAnswer(g.tokens, eos: eos) == sample.answer { correct += 1 }
                    nfe += g.nfe
                }
            }
            var r = TaskResult(task: task.rawValue, samples: data.count,
                               accuracy: Double(correct) / Double(max(1, data.count)),
                               nfeMean: Double(nfe) / Double(max(1, data.count)),
                               tokensPerStep: Double(sampling.genLength * data.count) / Double(max(1, nfe)),
                               wallSeconds: 0)
            if likelihood {
                let examples = try zip(data, prompts).map { sample, prompt in
                    PromptAnswer(prompt: prompt, answer: try sample.answerTokens(tokenizer, eos: eos, length: sampling.genLength))
                }
                let nll = try LikelihoodEstimator(draws: likelihoodDraws, seed: seed)
                    .negativeLogLikelihood(model: model, examples: examples, batchSize: batchSize)
                let perToken = nll.reduce(0, +) / Double(max(1, nll.count)) / Double(sampling.genLength)
                r.nllPerToken = perToken
                r.perplexity = Foundation.exp(perToken)
            }
            r.wallSeconds = Date().timeIntervalSince(t0)
            results.append(r)
            progress(String(format: "%@: accuracy %.1f %%, NFE %.2f, %.2f s", task.rawValue, r.accuracy * 100, r.nfeMean, r.wallSeconds))
        }
        return Report(tasks: results, wallSeconds: Date().timeIntervalSince(start))
    }
}
