import Foundation

/// The masked-diffusion training objective of docs/algorithms.md §2.
///
/// Forward process: t ~ U(0, 1), p = (1 - eps) t + eps, each token masked with probability p.
/// - SFT form: only answer tokens (including EOS padding) can be masked;
///   loss_b = sum over masked i of CE_i / p / answer_length, averaged over the batch.
/// - Pretraining form: every token can be masked; loss = sum CE / p / tokens in the batch.
public enum MaskedDiffusionLoss {
    public enum Form: String, Codable, Sendable { case sft, pretrain }

    public static let eps = 1e-3

    /// A noised batch: the model input, the clean targets, and each row's loss weight
    /// (0 for unmasked rows, so only masked positions carry loss).
    public struct NoisedBatch: Sendable {
        public var inputs: [[Int]]
        public var targets: [Int]        // [tokens], the clean ids, batch-packed
        public var weights: [Float]      // [tokens]
        public var maskedCount: Int
    }

    /// Masks a batch of examples with the forward process (seeded through `rng`).
    ///
    /// `pretrainShare` (SFT form only): the share of examples noised in the pretraining form
    /// instead (prompt maskable too, weight 1/p per masked token over the example's length).
    /// It gives prompt positions a loss of their own, which is what teaches them to carry
    /// their neighbours (models/README.md, "Why kv stalls"). 0 is the plain SFT form.
    public static func noise(_ examples: [PromptAnswer], form: Form, maskID: Int, pretrainShare: Double = 0,
                             rng: inout SplitMix64) -> NoisedBatch {
        var inputs: [[Int]] = [], targets: [Int] = [], weights: [Float] = []
        var masked = 0
        let totalTokens = examples.reduce(0) { $0 + $1.prompt.count + $1.answer.count }
        for ex in examples {
            // Drawn only when asked for, so plain SFT batches stay those of earlier versions.
            let wholeSequence = form == .sft && pretrainShare > 0 && rng.uniform() < pretrainShare
            let t = rng.uniform()
            let p = (1 - eps) * t + eps
            let clean = ex.prompt + ex.answer
            var input = clean
            let firstMaskable = form == .sft && !wholeSequence ? ex.prompt.count : 0
            // Weight of one masked CE term: 1/p, normalised per example (SFT, and whole-sequence
            // examples inside an SFT batch) or per batch (pretrain).
            let w: Double = form == .pretrain ? 1 / p / Double(totalTokens)
                : 1 / p / Double(wholeSequence ? clean.count : ex.answer.count) / Double(examples.count)
            var rowWeights = [Float](repeating: 0, count: clean.count)
            for i in firstMaskable..<clean.count where rng.uniform() < p {
                input[i] = maskID
                rowWeights[i] = Float(w)
                masked += 1
            }
            inputs.append(input)
            targets += clean
            weights += rowWeights
        }
        return NoisedBatch(inputs: inputs, targets: targets, weights: weights, maskedCount: masked)
    }

    /// Weighted cross-entropy over the rows and its gradient with respect to the logits.
    /// logits: [tokens, vocab]. Returns (loss, dLoss/dLogits [tokens, vocab]).
    public static func loss(logits: Tensor, targets: [Int], weights: [Float]) -> (loss: Double, dLogits: Tensor) {
        let V = logits.cols
        var d = Tensor(zeros: logits.shape)
        var total = 0.0
        logits.data.withUnsafeBufferPointer { lp in
            d.data.withUnsafeMutableBufferPointer { dp in
                for r in 0..<logits.rows where weights[r] != 0 {
                    let row = lp.baseAddress! + r * V, grad = dp.baseAddress! + r * V
                    var mx = -Float.infinity
                    for v in 0..<V { mx = max(mx, row[v]) }
                    var sum: Float = 0
                    for v in 0..<V { let e = VectorMath.exp(row[v] - mx); grad[v] = e; sum += e }
                    let ce = Double(Foundation.log(sum) + mx - row[targets[r]])
                    total += Double(weights[r]) * ce
                    // d(w * CE)/dlogit = w * (softmax - onehot)
                    let scale = weights[r] / sum
                    for v in 0..<V { grad[v] *= scale }
                    grad[targets[r]] -= weights[r]
                }
            }
        }
        return (total, d)
    }
}
