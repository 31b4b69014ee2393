import Foundation

/// Cross-entropy of logits rows against target ids, for likelihood estimates (no gradient;
/// the training loss with its gradient is `MaskedDiffusionLoss.loss`).
public enum CrossEntropy {
    /// Per-row cross-entropy -log softmax(logits_r)[target_r] (no gradient).
    public static func perRow(logits: Tensor, rows: [Int], targets: [Int]) -> [Double] {
        let V = logits.cols
        return logits.data.withUnsafeBufferPointer { lp in
            zip(rows, targets).map { r, t in
                let row = lp.baseAddress! + r * V
                var mx = -Float.infinity
                for v in 0..<V { mx = max(mx, row[v]) }
                var sum = 0.0
                for v in 0..<V { sum += Double(VectorMath.exp(row[v] - mx)) }
                return Foundation.log(sum) + Double(mx) - Double(row[t])
            }
        }
    }
}
