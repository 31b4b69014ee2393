import Foundation

/// LLaDA's Monte-Carlo upper bound on -log p(answer | prompt) (docs/algorithms.md §2).
///
/// Draw k of K takes l_k in 1...L stratified over the K draws, masks exactly l_k answer
/// positions uniformly at random, and scores (L / l_k) * sum of CE over the masked positions;
/// the estimate is the mean over draws. The seed fixes the masks, so two models compared
/// with the same seed see the same masked inputs.
public struct LikelihoodEstimator {
    public var draws: Int
    public var seed: UInt64

    public init(draws: Int = 16, seed: UInt64 = 0) {
        self.draws = draws
        self.seed = seed
    }

    /// NLL estimate (nats) of each example's answer given its prompt.
    public func negativeLogLikelihood(model: any ModelWeights, examples: [PromptAnswer], batchSize: Int = 64) throws -> [Double] {
        var result: [Double] = []
        // Every (example, draw) is one masked input; they are independent, so batch them freely.
        var rng = SplitMix64(seed: seed)
        var inputs: [[Int]] = [], masks: [[Int]] = [], scales: [Double] = [], owner: [Int] = []
        for (e, ex) in examples.enumerated() {
            let L = ex.answer.count
            for k in 0..<draws {
                let l = min(L, 1 + Int((Double(k) + rng.uniform()) / Double(draws) * Double(L)))
                // Partial Fisher-Yates: the first l entries of a shuffled 0..<L.
                var order = Array(0..<L)
                for i in 0..<l {
                    let j = i + Int(rng.next() % UInt64(L - i))
                    order.swapAt(i, j)
                }
                let chosen = Array(order.prefix(l))
                var input = ex.prompt + ex.answer
                for i in chosen { input[ex.prompt.count + i] = model.config.maskTokenID }
                inputs.append(input); masks.append(chosen); scales.append(Double(L) / Double(l)); owner.append(e)
            }
        }
        var sums = [Double](repeating: 0, count: examples.count)
        for start in stride(from: 0, to: inputs.count, by: batchSize) {
            let range = start..<min(start + batchSize, inputs.count)
            let batch = Array(inputs[range])
            let layout = SequenceLayout(lengths: batch.map(\.count))
            // Only masked rows need logits.
            var rows: [Int] = [], targets: [Int] = [], rowOwner: [Int] = []
            for (slot, i) in range.enumerated() {
                let ex = examples[owner[i]]
                for m in masks[i] {
                    rows.append(layout.offsets[slot] + ex.prompt.count + m)
                    targets.append(ex.answer[m])
                    rowOwner.append(i)
                }
            }
            let h = try model.hidden(batch, layout: layout)
            let logits = try model.logits(hidden: h, layout: layout, rows: rows)
            // A NaN NLL would rank, report and average as a number.
            if !logits.isFinite { throw ModelError.nonFiniteActivations(block: try model.firstNonFiniteBlock(batch)) }
            let ce = CrossEntropy.perRow(logits: logits, rows: Array(0..<rows.count), targets: targets)
            for (r, i) in rowOwner.enumerated() { sums[owner[i]] += scales[i] * ce[r] }
        }
        for e in examples.indices { result.append(sums[e] / Double(draws)) }
        return result
    }
}

extension LikelihoodEstimator {
    /// Mean NLL per answer token over `examples` whose answers fill `length` positions (what
    /// `eval --likelihood` reports, with its perplexity exp(per token)).
    public func perToken(model: any ModelWeights, examples: [PromptAnswer], batchSize: Int, length: Int) throws -> Double {
        let nll = try negativeLogLikelihood(model: model, examples: examples, batchSize: batchSize)
        return nll.reduce(0, +) / Double(max(1, nll.count)) / Double(length)
    }
}
