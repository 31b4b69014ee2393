import Foundation

/// One SEFT topology update of one matrix (docs/algorithms.md §6): drop the active weights with
/// the smallest |w|, grow as many inactive positions with the largest |dense gradient|, then
/// prune any group still above its target count by the smallest |w * g| (sensitivity).
///
/// Every group of the constraint keeps its count: drops and grows are matched group by group
/// (within each row, each N:M group, or the whole matrix). Positions dropped by this update are
/// not grown back by it. Ties go to the lower index.
public struct TopologyUpdate: Sendable {
    public var constraint: SparsityConstraint
    /// Kept weights each group must hold (from the input model).
    public var targets: [Int]

    public init(constraint: SparsityConstraint, original: Mask) {
        self.constraint = constraint
        targets = original.groupCounts(constraint)
    }

    public struct Result: Sendable {
        public var mask: Mask
        public var dropped: [Int]
        public var grown: [Int]
        /// Positions pruned by sensitivity to bring a group back to its target.
        public var sensitivityPruned: [Int]
    }

    /// w and g: the weight and its dense gradient [out, in]; `fraction`: the share p of active
    /// weights to move; `inputScale`: per input column, a scale the drop score |w| is multiplied
    /// by (the RMS of the linear's inputs, for the Wanda-style drop criterion; nil = |w| alone).
    /// The caller zeroes the dropped weights and the moments of every changed position (grown
    /// weights start at 0).
    public func apply(mask: Mask, weight w: Tensor, gradient g: Tensor, fraction p: Double,
                      inputScale: [Float]? = nil) -> Result {
        let cols = mask.cols
        func dropScore(_ i: Int) -> Float { abs(w.data[i]) * (inputScale?[i % cols] ?? 1) }
        let groups = constraint.groups(rows: mask.rows, cols: mask.cols)
        var dropped: [Int] = [], grown: [Int] = [], pruned: [Int] = []
        /// Indices sorted by key ascending, ties to the lower index.
        func ascending(_ indices: [Int], _ key: (Int) -> Float) -> [Int] {
            indices.sorted { let a = key($0), b = key($1); return a < b || (a == b && $0 < $1) }
        }
        switch constraint {
        case .perMatrix, .perRow:
            for group in groups {
                let active = group.filter { mask[flat: $0] }
                let k = Int((p * Double(active.count)).rounded(.down))
                guard k > 0 else { continue }
                let drops = Array(ascending(active, dropScore).prefix(k))
                let dropSet = Set(drops)
                let candidates = group.filter { !mask[flat: $0] && !dropSet.contains($0) }
                let grows = Array(ascending(candidates) { -abs(g.data[$0]) }.prefix(drops.count))
                dropped += drops.prefix(grows.count)   // drop only as many as can grow back: the count holds
                grown += grows
            }
        case .nOfM:
            // The smallest |w| over the whole matrix, at most as many per group as it has
            // inactive positions to grow into.
            let groupOf = Dictionary(uniqueKeysWithValues: groups.enumerated().flatMap { gi, members in members.map { ($0, gi) } })
            let active = (0..<mask.count).filter { mask[flat: $0] }
            let k = Int((p * Double(active.count)).rounded(.down))
            var perGroup = [Int](repeating: 0, count: groups.count)
            var drops: [Int] = []
            for i in ascending(active, dropScore) where drops.count < k {
                let gi = groupOf[i]!
                let inactive = groups[gi].count - targets[gi]
                if perGroup[gi] < inactive { perGroup[gi] += 1; drops.append(i) }
            }
            let dropSet = Set(drops)
            for (gi, members) in groups.enumerated() where perGroup[gi] > 0 {
                let candidates = members.filter { !mask[flat: $0] && !dropSet.contains($0) }
                grown += ascending(candidates) { -abs(g.data[$0]) }.prefix(perGroup[gi])
            }
            dropped = drops
        }
        var next = mask.changing(removed: dropped, added: grown)
        // Sensitivity-driven pruning: any group above its target loses its smallest |w * g|.
        for (gi, group) in groups.enumerated() {
            let active = group.filter { next[flat: $0] }
            guard active.count > targets[gi] else { continue }
            pruned += ascending(active) { abs(w.data[$0] * g.data[$0]) }.prefix(active.count - targets[gi])
        }
        if !pruned.isEmpty { next = next.changing(removed: pruned, added: []) }
        return Result(mask: next, dropped: dropped, grown: grown, sensitivityPruned: pruned)
    }
}

/// Drop-fraction schedules: p decays from its initial value to 0 over training.
public enum DropSchedule: String, CaseIterable, Codable, Sendable {
    case cosine, linear, constant

    /// p at `step` of `total` (1-based), starting from `initial`.
    public func fraction(_ initial: Double, step: Int, of total: Int) -> Double {
        let progress = min(1, max(0, Double(step) / Double(max(1, total))))
        switch self {
        case .cosine: return initial * 0.5 * (1 + cos(.pi * progress))
        case .linear: return initial * (1 - progress)
        case .constant: return initial
        }
    }
}
