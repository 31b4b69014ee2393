import Foundation

/// The calibration inputs every calibrated pruner and depth criterion reads.
///
/// Each sample is fed as its own sequence, unpadded. A DLM never sees a clean answer at
/// inference: it sees the prompt and a partly masked answer. So by default half of the
/// answer tokens are masked (the mean masking ratio of decoding, where t ~ U(0, 1)), which
/// keeps calibration activations close to the ones the model meets while it decodes.
public struct CalibrationSet: Sendable {
    public var samples: [PromptAnswer]
    public var maskRatio: Double
    public var seed: UInt64
    /// Where the samples came from, for provenance.
    public var source: String

    public static let defaultSamples = 128
    public static let defaultMaskRatio = 0.5

    /// `count` samples from the reference tasks' training split, cycling add, kv, rev, chain.
    public static func referenceTasks(count: Int = defaultSamples, maskRatio: Double = defaultMaskRatio,
                                      seed: UInt64 = 0, tokenizer: any Tokenizer, eos: Int) throws -> CalibrationSet {
        let perTask = (count + ReferenceTask.allCases.count - 1) / ReferenceTask.allCases.count
        let lists = ReferenceTask.allCases.map { $0.samples(perTask, split: .train, seed: seed) }
        var samples: [PromptAnswer] = []
        for i in 0..<perTask {
            for list in lists where samples.count < count {
                let s = list[i]
                samples.append(PromptAnswer(prompt: try tokenizer.encode(s.prompt),
                                            answer: try s.answerTokens(tokenizer, eos: eos)))
            }
        }
        return CalibrationSet(samples: samples, maskRatio: maskRatio, seed: seed,
                              source: "reference-tasks:train:\(count)")
    }

    /// One sample per non-empty line. A `.jsonl` file holds `{"prompt": ..., "answer": ...}`
    /// objects (`DataSet`); otherwise `PROMPT<TAB>ANSWER` marks the answer (the part that
    /// masking may touch) and a line without a tab is all answer.
    public static func file(_ path: String, limit: Int?, maskRatio: Double = defaultMaskRatio,
                            seed: UInt64 = 0, tokenizer: any Tokenizer) throws -> CalibrationSet {
        if DataSet.isJSONL(path) {
            let set = try DataSet.read(path)
            let samples = try set.samples.prefix(limit ?? Int.max).map { s in
                do {
                    return PromptAnswer(prompt: try tokenizer.encode(s.prompt), answer: try tokenizer.encode(s.answer))
                } catch {
                    throw DataSetError(path: path, line: s.line, reason: "\(error)")
                }
            }
            return CalibrationSet(samples: samples, maskRatio: maskRatio, seed: seed, source: "file:\(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PruningError.calibration("cannot read calibration file \(path)")
        }
        var samples: [PromptAnswer] = []
        for (n, text) in String(decoding: data, as: UTF8.self).textLines.enumerated() {
            if text.isEmpty { continue }
            let parts = text.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            do {
                let prompt = parts.count == 2 ? try tokenizer.encode(String(parts[0])) : []
                let answer = try tokenizer.encode(String(parts.count == 2 ? parts[1] : parts[0]))
                samples.append(PromptAnswer(prompt: prompt, answer: answer))
            } catch {
                throw PruningError.calibration("\(path):\(n + 1): \(error)")
            }
            if let limit, samples.count >= limit { break }
        }
        if samples.isEmpty { throw PruningError.calibration("calibration file \(path) has no samples") }
        return CalibrationSet(samples: samples, maskRatio: maskRatio, seed: seed, source: "file:\(path)")
    }

    /// The model inputs: prompt + answer with round(ratio * answer length) answer tokens masked,
    /// chosen by a seeded shuffle per sample.
    public func sequences(maskID: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed ^ 0xCA11_B8A7)
        return samples.map { s in
            var seq = s.prompt + s.answer
            let k = Int((maskRatio * Double(s.answer.count)).rounded())
            var order = Array(0..<s.answer.count)
            for i in 0..<k {
                order.swapAt(i, i + Int(rng.next() % UInt64(order.count - i)))
                seq[s.prompt.count + order[i]] = maskID
            }
            return seq
        }
    }
}
