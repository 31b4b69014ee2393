/// A pruned weight: the new values (exact zeros where removed) and which positions it keeps.
public struct PrunedWeight: Sendable {
    public var weight: Tensor   // [out, in]
    public var mask: Mask
}

/// A pruner of one linear W [out, in], given the statistics of its calibration inputs.
public protocol LinearPruner: Sendable {
    func prune(_ w: Tensor, statistics: LinearStatistics, spec: PruningSpec) throws -> PrunedWeight
}

/// Magnitude pruning: score |W|, one comparison group for the whole matrix (reference
/// behaviour) or one per output row.
public struct MagnitudePruner: LinearPruner {
    public init() {}
    public func prune(_ w: Tensor, statistics: LinearStatistics, spec: PruningSpec) throws -> PrunedWeight {
        let scores = w.data.map { abs($0) }
        return MaskSelection.pruned(w, scores: scores, pattern: spec.pattern, sparsity: spec.sparsity,
                                    perRow: spec.magnitudePerRow)
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

    public func prune(_ w: Tensor, statistics: LinearStatistics, spec: PruningSpec) throws -> PrunedWeight {
        MaskSelection.pruned(w, scores: Self.scores(w, scalerRow: statistics.scalerRow), pattern: spec.pattern,
                             sparsity: spec.sparsity, perRow: true)
    }
}
