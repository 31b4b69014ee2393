/// Chooses which weights to zero from a score matrix [out, in] (lower score = pruned first).
///
/// Ties: a stable ascending sort, so of two equal scores the lower index is zeroed first.
public enum MaskSelection {
    /// Returns keep-masks (true = kept) for the given pattern and comparison group.
    /// `perRow` false means one group for the whole matrix (magnitude's reference behaviour).
    public static func keepMask(scores: [Float], rows: Int, cols: Int, pattern: SparsityPattern,
                                sparsity: Double, perRow: Bool = true) -> [Bool] {
        var keep = [Bool](repeating: true, count: rows * cols)
        switch pattern {
        case .unstructured:
            if perRow {
                let k = Int((Double(cols) * sparsity).rounded(.down))
                for r in 0..<rows { zeroLowest(k, in: r * cols..<(r + 1) * cols, scores: scores, keep: &keep) }
            } else {
                let k = Int((Double(rows * cols) * sparsity).rounded(.down))
                zeroLowest(k, in: 0..<(rows * cols), scores: scores, keep: &keep)
            }
        case .nOfM(let n, let m):
            for r in 0..<rows {
                for g in stride(from: 0, to: cols, by: m) {
                    let lo = r * cols + g
                    zeroLowest(n, in: lo..<min(lo + m, (r + 1) * cols), scores: scores, keep: &keep)
                }
            }
        }
        return keep
    }

    /// Zeroes the k lowest scores of one contiguous range (ties: the lower index first).
    ///
    /// Each score becomes one 64-bit sort key, its order-preserving bit pattern above its offset
    /// in the range, so one sort of plain integers gives the stable order with no comparison
    /// closure (several times faster on rows of thousands of weights).
    static func zeroLowest(_ k: Int, in range: Range<Int>, scores: [Float], keep: inout [Bool]) {
        guard k > 0, !range.isEmpty else { return }
        precondition(range.count <= Int(UInt32.max), "zeroLowest: range too long")
        var keys = [UInt64](repeating: 0, count: range.count)
        scores.withUnsafeBufferPointer { sp in
            keys.withUnsafeMutableBufferPointer { kp in
                for j in 0..<kp.count {
                    let score = sp[range.lowerBound + j]
                    let bits = (score == 0 ? 0 : score).bitPattern     // -0 sorts as +0
                    // IEEE order as unsigned order: flip all bits of negatives, the sign bit of the rest.
                    let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
                    kp[j] = UInt64(ordered) << 32 | UInt64(j)
                }
                kp.sort()
            }
        }
        keep.withUnsafeMutableBufferPointer { kp in
            for key in keys.prefix(k) { kp[range.lowerBound + Int(key & 0xFFFF_FFFF)] = false }
        }
    }

    /// W with its lowest-scoring weights zeroed, and the mask that zeroed them.
    public static func pruned(_ w: Tensor, scores: [Float], pattern: SparsityPattern, sparsity: Double,
                              perRow: Bool) -> PrunedWeight {
        let mask = Mask(keep: keepMask(scores: scores, rows: w.rows, cols: w.cols, pattern: pattern,
                                       sparsity: sparsity, perRow: perRow), rows: w.rows, cols: w.cols)
        var weight = w
        mask.apply(to: &weight)
        return PrunedWeight(weight: weight, mask: mask)
    }
}
