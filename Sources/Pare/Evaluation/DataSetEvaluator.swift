import Foundation

/// `pare eval --data FILE.jsonl`: accuracy (with its standard error), NFE and optionally the
/// likelihood on a user data set, scored by an `AnswerMatch`, with one log entry per sample.
public struct DataSetEvaluator {
    /// What one sample produced (`--log-samples`, one JSON object per line).
    public struct SampleLog: Sendable {
        public var line: Int
        public var prompt: String
        public var answer: String
        /// The text before the first EOS.
        public var generated: String
        /// The whole generation region, EOS padding included.
        public var tokens: [Int]
        public var correct: Bool
        public var nfe: Int

        public var json: [String: Any] {
            ["line": line, "prompt": prompt, "answer": answer, "generated": generated,
             "tokens": tokens, "correct": correct, "nfe": nfe]
        }
    }

    public var model: any ModelWeights
    public var tokenizer: any Tokenizer
    public var sampling: SamplingOptions
    public var match: AnswerMatch
    public var seed: UInt64 = 0
    public var likelihood = false
    public var likelihoodDraws = 16
    public var batchSize = 64

    public init(model: any ModelWeights, tokenizer: any Tokenizer, sampling: SamplingOptions, match: AnswerMatch) {
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling
        self.match = match
    }

    /// The tokens of the part of `sample`'s answer that must fit in the generation region: the
    /// whole normalised answer, or for `number` the answer's last number in its shortest form
    /// (its canonical value: "1,000.0" needs the tokens of "1000").
    func requiredTokens(_ sample: DataSet.Sample, in set: DataSet) throws -> Int {
        let text: String
        if match == .number {
            guard let number = AnswerMatch.lastNumber(in: sample.answer) else {
                throw DataSetError(path: set.path, line: sample.line, reason: "the answer \"\(sample.answer)\" has no number (--match number)")
            }
            text = number.value
        } else {
            text = AnswerMatch.normalize(sample.answer)
        }
        return try encode(text, sample, set).count
    }

    func encode(_ text: String, _ sample: DataSet.Sample, _ set: DataSet) throws -> [Int] {
        do { return try tokenizer.encode(text) } catch {
            throw DataSetError(path: set.path, line: sample.line, reason: "\(error)")
        }
    }

    /// The generation length `eval --data` uses without `--gen-length`: the usual default (12,
    /// `SamplingOptions`), or the longest answer (`requiredTokens`) plus one when that is
    /// longer, so every answer fits with room for the EOS that ends it; rounded up to a multiple
    /// of `blockLength` when one is given. Never shorter than 12: a DLM answers on the canvas
    /// length it was trained with, and a shorter canvas changes its answers (the bundled model,
    /// trained on 12, answers `rev` not at all at `--gen-length 8`).
    public func defaultGenLength(_ set: DataSet, blockLength: Int? = nil) throws -> Int {
        let longest = try set.samples.map { try requiredTokens($0, in: set) }.max() ?? 0
        let length = max(SamplingOptions().genLength, longest + 1)
        guard let b = blockLength, b > 0 else { return length }
        return (length + b - 1) / b * b
    }

    /// Refuses a data set this evaluation cannot score fairly: an answer (its number, for
    /// `number`) longer than the generation region would be cut and never match, and a prompt
    /// plus the region must fit in the model's context.
    public func check(_ set: DataSet) throws {
        let L = sampling.genLength, context = model.config.maxSeqLen
        for sample in set.samples {
            let need = try requiredTokens(sample, in: set)
            if need > L {
                throw DataSetError(path: set.path, line: sample.line,
                                   reason: "the answer takes \(need) tokens, more than --gen-length \(L): it could never match (raise --gen-length, or leave it out to fit the longest answer)")
            }
            let prompt = try encode(sample.prompt, sample, set).count
            if prompt + L > context {
                throw DataSetError(path: set.path, line: sample.line,
                                   reason: "the prompt (\(prompt) tokens) plus --gen-length \(L) exceeds the model's max_seq_len \(context)")
            }
        }
    }

    /// Tokens one forward pass feeds the linears (a full batch of prompts of mean length plus the
    /// generation region), for `--kernels auto`.
    public func typicalForwardTokens(_ set: DataSet) throws -> Int {
        let prompts = try set.samples.prefix(64).map { try encode($0.prompt, $0, set).count }
        let mean = prompts.isEmpty ? 0 : prompts.reduce(0, +) / prompts.count
        return min(batchSize, set.samples.count) * (mean + sampling.genLength)
    }

    /// Decodes every sample and scores it. The result is named `name` in the eval report.
    public func run(_ set: DataSet, name: String, progress: (String) -> Void = { _ in }) throws
        -> (result: TaskEvaluator.TaskResult, samples: [SampleLog]) {
        try check(set)
        let t0 = Date()
        let sampler = try MaskedDiffusionSampler(model: model, options: sampling)
        let eos = model.config.eosTokenID
        let prompts = try set.samples.map { try encode($0.prompt, $0, set) }
        var logs: [SampleLog] = []
        var order = DecodeOrderSummary()
        for b in stride(from: 0, to: prompts.count, by: batchSize) {
            let range = b..<min(b + batchSize, prompts.count)
            let gens = try sampler.generate(Array(prompts[range]))
            for (g, sample) in zip(gens, set.samples[range]) {
                order.add(DecodeOrder(g))
                let text = tokenizer.decodeAnswer(g.tokens, eos: eos)
                logs.append(SampleLog(line: sample.line, prompt: sample.prompt, answer: sample.answer, generated: text,
                                      tokens: g.tokens, correct: match.matches(generated: text, answer: sample.answer), nfe: g.nfe))
            }
        }
        let n = logs.count, nfe = logs.map(\.nfe).reduce(0, +)
        let correct = logs.filter(\.correct).count
        let accuracy = Double(correct) / Double(max(1, n))
        let nfeMean = Double(nfe) / Double(max(1, n))
        let tokensPerStep = Double(sampling.genLength * n) / Double(max(1, nfe))
        var r = TaskEvaluator.TaskResult(task: name, scoring: .exact, genLength: sampling.genLength, samples: n,
                                         accuracy: accuracy, nfeMean: nfeMean, tokensPerStep: tokensPerStep,
                                         wallSeconds: 0, decodeOrder: order, match: match)
        if likelihood {
            // The normalised answer then EOS padding over the generation region, as the
            // reference tasks score their answers.
            let examples = try zip(set.samples, prompts).map { sample, prompt in
                let answer = try encode(AnswerMatch.normalize(sample.answer), sample, set)
                return PromptAnswer(prompt: prompt, answer: answer + [Int](repeating: eos, count: max(0, sampling.genLength - answer.count)))
            }
            let perToken = try LikelihoodEstimator(draws: likelihoodDraws, seed: seed)
                .perToken(model: model, examples: examples, batchSize: batchSize, length: sampling.genLength)
            r.nllPerToken = perToken
            r.perplexity = Foundation.exp(perToken)
        }
        r.wallSeconds = Date().timeIntervalSince(t0)
        progress(String(format: "%@: accuracy %.1f %% +- %.1f, NFE %.2f, %.2f s", name, r.accuracy * 100,
                        r.accuracyStandardError * 100, r.nfeMean, r.wallSeconds))
        return (r, logs)
    }

    /// The `--log-samples` file: one JSON object per sample, in file order.
    public static func jsonLines(_ logs: [SampleLog]) throws -> String {
        try logs.map { log in
            String(decoding: try JSONSerialization.data(withJSONObject: log.json, options: [.sortedKeys, .withoutEscapingSlashes]),
                   as: UTF8.self) + "\n"
        }.joined()
    }
}

extension TaskEvaluator.TaskResult {
    /// sqrt(p (1 - p) / n): the binomial standard error of `accuracy`.
    public var accuracyStandardError: Double { AnswerMatch.standardError(accuracy: accuracy, samples: samples) }
}
