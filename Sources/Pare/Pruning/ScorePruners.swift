/// A pruner of one linear W [out, in], given the statistics of its calibration inputs.
public protocol LinearPruner: Sendable {
    func prune(_ w: inout Tensor, statistics: LinearStatistics, spec: PruningSpec) throws
}

/// Magnitude pruning: score |W|, one comparison group for the whole matrix (reference
/// behaviour) or one per output row.
public struct MagnitudePruner: LinearPruner {
    public init() {}
    public func prune(_ w: inout Tensor, statistics: LinearStatistics, spec: PruningSpec) throws {
        let scores = w.data.map { abs($0) }
        let keep = MaskSelection.keepMask(scores: scores, rows: w.rows, cols: w.cols, pattern: spec.pattern,
                                          sparsity: spec.sparsity, perRow: spec.magnitudePerRow)
        MaskSelection.apply(keep, to: &w)
    }
}

/// Wanda: score S_ij = |W_ij| * sqrt(r_j), compared within each output row.
public struct WandaPruner: LinearPruner {
    public init() {}

    public static func scores(_ w: Tensor, scalerRow r: [Float]) -> [Float] {
        let cols = w.cols
        let root = r.map { $0.squareRoot() }
        var s = [Float](repeating: 0, count: w.count)
        w.data.withUnsafeBufferPointer { wp in
            for i in 0..<wp.count { s[i] = abs(wp[i]) * root[i % cols] }
        }
        return s
    }

    public func prune(_ w: inout Tensor, statistics: LinearStatistics, spec: PruningSpec) throws {
        let keep = MaskSelection.keepMask(scores: Self.scores(w, scalerRow: statistics.scalerRow),
                                          rows: w.rows, cols: w.cols, pattern: spec.pattern,
                                          sparsity: spec.sparsity, perRow: true)
        MaskSelection.apply(keep, to: &w)
    }
}
