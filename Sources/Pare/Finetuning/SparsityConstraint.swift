/// What a matrix's mask must keep while it evolves: the count of kept weights of the whole
/// matrix, of every row, or of every group of M input columns (N:M).
public enum SparsityConstraint: Equatable, Sendable, CustomStringConvertible {
    case perMatrix
    case perRow
    case nOfM(n: Int, m: Int)

    /// The constraint a pruned matrix was made under: N:M when `pattern` says so and every group
    /// holds it; per row when every row has the same number of zeros (Wanda, per-row magnitude);
    /// otherwise the whole matrix (magnitude, SparseGPT).
    public static func detect(_ mask: Mask, pattern: SparsityPattern?) -> SparsityConstraint {
        if case .nOfM(let n, let m)? = pattern, mask.cols % m == 0,
           mask.groupCounts(.nOfM(n: n, m: m)).allSatisfy({ $0 == m - n }) {
            return .nOfM(n: n, m: m)
        }
        let rows = mask.groupCounts(.perRow)
        if rows.count > 1, Set(rows).count == 1, rows[0] < mask.cols { return .perRow }
        return .perMatrix
    }

    /// The flat indices of each group, in order.
    func groups(rows: Int, cols: Int) -> [[Int]] {
        switch self {
        case .perMatrix: return [Array(0..<(rows * cols))]
        case .perRow: return (0..<rows).map { r in Array((r * cols)..<((r + 1) * cols)) }
        case .nOfM(_, let m):
            return (0..<rows).flatMap { r in
                stride(from: 0, to: cols, by: m).map { c in Array((r * cols + c)..<(r * cols + min(c + m, cols))) }
            }
        }
    }

    public var description: String {
        switch self {
        case .perMatrix: return "per matrix"
        case .perRow: return "per row"
        case .nOfM(let n, let m): return "\(n):\(m)"
        }
    }
}

extension Mask {
    /// Kept weights in each group of `constraint`.
    public func groupCounts(_ constraint: SparsityConstraint) -> [Int] {
        constraint.groups(rows: rows, cols: cols).map { $0.reduce(0) { $0 + (self[flat: $1] ? 1 : 0) } }
    }

    /// This mask with the positions `removed` cleared and `added` set.
    func changing(removed: [Int], added: [Int]) -> Mask {
        var keep = (0..<count).map { self[flat: $0] }
        for i in removed { keep[i] = false }
        for i in added { keep[i] = true }
        return Mask(keep: keep, rows: rows, cols: cols)
    }
}
